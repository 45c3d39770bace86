-- SPDX-License-Identifier: MIT
-- The results store on a real PostgreSQL 15 (spec/pg_helpers.lua): the
-- same operations and order as LMDB, its schema and version, writes that
-- change nothing when made twice, reads sent to a streaming replica, and
-- errors that name the server without its password.
local H = require "spec.helpers"
local PG = require "spec.pg_helpers"
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local results = require "causal_eval.results"
local store_core = require "causal_eval.store_core"

local SEP = "\0"

describe("the PostgreSQL store", function()
  local pg, dir
  setup(function() pg = PG.start() end)
  teardown(function() if pg then pg:stop() end end)
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rm(dir) end)

  -- every (key, value) a scan visits, in order
  local function scan(st, db, prefix, opts)
    local out = {}
    assert(st:scan(db, prefix, function(k, v) out[#out + 1] = k .. "=" .. v end, opts))
    return out
  end

  it("holds what LMDB holds and scans it in the same order", function()
    local url = pg:database()
    local lm = assert(results.open(dir .. "/lmdb"))
    local ps = assert(results.open(dir .. "/pg", { url = url }))
    local keys = {
      { "runs", "20260101-000000-aaaaaa" }, { "runs", "20260102-000000-bbbbbb" }, { "runs", "2026" },
      { "meta", "last" }, { "meta", "serve-recent\0" .. "\0\255\1" }, { "meta", "serve-recent\0\255\255" },
      { "meta", "serve-recent\1" }, { "meta", "alert\0r1\0" .. "1" },
    }
    for _, run in ipairs({ "r1", "r10", "r2", "r1x" }) do
      for _, model in ipairs({ "m", "m2", "mé", "m\u{10FFFF}" }) do
        for q = 1, 3 do keys[#keys + 1] = { "scores", run .. SEP .. model .. SEP .. "q" .. q } end
      end
    end
    keys[#keys + 1] = { "records", "r1" .. SEP .. "m" .. SEP .. "q1" }
    for i, k in ipairs(keys) do
      local v = json.encode({ i = i, c = i % 2, f = "fam" .. (i % 3), day = "2026-01-0" .. (i % 9 + 1) })
      assert(lm:put(k[1], k[2], v))
      assert(ps:put(k[1], k[2], v))
    end
    local scans = {
      { "runs", "" }, { "runs", "2026" }, { "runs", "20260101" }, { "meta", "serve-recent\0" }, { "meta", "" },
      { "scores", "" }, { "scores", "r1" .. SEP }, { "scores", "r1" }, { "scores", "r1" .. SEP .. "m" },
      { "scores", "r1" .. SEP .. "m" .. SEP }, { "scores", "r1" .. SEP .. "m\u{10FFFF}" .. SEP .. "q" },
      { "scores", "r1" .. SEP .. "m" .. SEP .. "q2" }, { "scores", "nothing" }, { "records", "r1" .. SEP },
      { "scores", "r1" .. SEP .. "m" .. SEP .. "q1" .. SEP }, { "scores", "r1\xC3" },
    }
    for _, sc in ipairs(scans) do
      for _, reverse in ipairs({ false, true }) do
        local what = ("%s %q reverse=%s"):format(sc[1], sc[2], tostring(reverse))
        assert.are.same(scan(lm, sc[1], sc[2], { reverse = reverse }), scan(ps, sc[1], sc[2], { reverse = reverse }), what)
      end
    end
    -- a scan that stops early, and one with a limit, past a page's end
    for n = 1, 90 do
      local k = ("big" .. SEP .. "m" .. SEP .. "q%03d"):format(n)
      assert(lm:put("scores", k, "{}"))
      assert(ps:put("scores", k, "{}"))
    end
    assert.are.same(scan(lm, "scores", "big" .. SEP, { limit = 70 }), scan(ps, "scores", "big" .. SEP, { limit = 70 }))
    assert.are.same(scan(lm, "scores", "big" .. SEP, { reverse = true }), scan(ps, "scores", "big" .. SEP, { reverse = true }))
    assert.are.equal(90, #scan(ps, "scores", "big" .. SEP))
    for _, k in ipairs(keys) do assert.are.equal(lm:get(k[1], k[2]), ps:get(k[1], k[2])) end
    assert.is_nil(ps:get("scores", "no" .. SEP .. "such" .. SEP .. "key"))
    assert.is_nil(ps:get("scores", "not a three-part key"))
    assert(ps:delete("meta", "last"))
    assert.is_nil(ps:get("meta", "last"))
    assert.are.equal("postgresql", ps:backend())
    assert.are.equal("lmdb", lm:backend())
    lm:close()
    ps:close()
  end)

  it("gives every results command and compare the answers LMDB gives for the same runs", function()
    local url = pg:database()
    local stores = { lmdb = { "--data", dir .. "/lmdb" }, pg = { "--data", dir .. "/pgdata", "--store", url } }
    local out = {}
    for name, args in pairs(stores) do
      for _, seed in ipairs({ 1, 2 }) do
        -- runs in different seconds: `results recent` orders by time, and two
        -- runs of the same second may come in either order on either store
        if seed > 1 then host.sleep(1.1) end
        local r = H.run(H.concat({ "run", "--quiet", "--bench", "ladder,intervention", "--n", "15", "--seed", tostring(seed) },
          args))
        assert.are.equal(0, r.code, r.stderr)
      end
      local function cmd(words)
        local r = H.run(H.concat(words, args))
        assert.are.equal(0, r.code, r.stderr)
        return r.stdout
      end
      -- what does not depend on the store: run ids, times and latencies aside
      local function strip(text)
        return (text:gsub('"run_id":"[^"]*"', ""):gsub('"id":"%d+%-%d+%-%x+"', ""):gsub('"finished_at":%d+', "")
          :gsub('"latency_ms":[%d.e+-]+', ""):gsub('"created":%d+', ""):gsub('"started":%d+', "")
          :gsub('"finished":%d+', ""):gsub('"elapsed_s":[%d.e+-]+', ""):gsub('"throughput":[%d.e+-]+', "")
          :gsub('"mean":[%d.e+-]+', ""):gsub('"p%d+":[%d.e+-]+', ""):gsub('"run_[ab]":"[^"]*"', ""))
      end
      out[name] = {
        export = strip(cmd({ "results", "export", "last" })),
        show = strip(cmd({ "results", "show", "last", "--json" })),
        recent = strip(cmd({ "results", "recent", "--json" })),
        trend = cmd({ "results", "trend", "--json" }),
        compare = strip(cmd({ "compare", "last", "--json", "--iters", "200" })),
        list = #json.decode(cmd({ "results", "list", "--json" })),
      }
    end
    assert.are.equal(2, out.pg.list)
    for _, what in ipairs({ "export", "show", "recent", "trend", "compare" }) do
      assert.are.equal(out.lmdb[what], out.pg[what], what)
    end
    assert.truthy(#out.pg.export > 1000)
  end)

  it("refuses what its text columns cannot hold, naming the entry", function()
    local ps = assert(results.open(dir .. "/pg", { url = pg:database() }))
    local ok, err = ps:put("scores", "r" .. SEP .. "m\255" .. SEP .. "q", "{}")
    assert.is_nil(ok)
    assert.truthy(err:find("cannot hold this scores entry: its key is not UTF-8 text", 1, true), err)
    ok, err = ps:put("records", "r" .. SEP .. "m", "{}")
    assert.truthy(err:find("its key is not run \\0 model \\0 question", 1, true), err)
    ok, err = ps:put("runs", "r1", "caf\233")
    assert.truthy(err:find("its value is not UTF-8 text", 1, true), err)
    assert(ps:start_writer{ batch = 10, flush_ms = 1 })
    local eok, eerr = pcall(ps.enqueue_record, ps, "r" .. SEP .. "m" .. SEP .. "q", "{}", "\0")
    assert.is_false(eok)
    assert.truthy(tostring(eerr):find("its value is not UTF-8 text", 1, true), tostring(eerr))
    assert(ps:sync())
    ps:close()
  end)

  it("keeps daily totals per model and run that agree with the score lines, a key written again counted once", function()
    local url, db = pg:database()
    local ps = assert(results.open(dir .. "/pg", { url = url }))
    assert(ps:start_writer{ batch = 7, flush_ms = 1 })
    local function line(c, e, day) return json.encode({ c = c, e = e, day = day or "2026-03-01", f = "ladder", l = 10 }) end
    for q = 1, 50 do
      local e = q <= 3 and "server" or (q == 4 and "bad_question" or nil)
      ps:enqueue_record("r1" .. SEP .. "m" .. SEP .. ("q%02d"):format(q), '{"n":1}', line(q % 2, e), 0, store_core.DONE)
      ps:enqueue_record("r2" .. SEP .. "m" .. SEP .. ("q%02d"):format(q), '{"n":1}', line(1, nil, "2026-03-02"), 0,
        store_core.DONE)
    end
    assert(ps:sync())
    -- written again: the server error is now a correct answer (--retry-errors)
    ps:enqueue_record("r1" .. SEP .. "m" .. SEP .. "q01", '{"n":2}', line(1), 0, store_core.DONE)
    assert(ps:sync())
    local by_model = ps:totals{ by = "model" }
    assert.are.same({ { model = "m", answers = 100, counted = 99, correct = 75, errors = 2, runs = 2 } }, by_model)
    local by_day = ps:totals{ by = "model_day", since = "2026-03-02" }
    assert.are.same({ { model = "m", day = "2026-03-02", answers = 50, counted = 50, correct = 50, errors = 0, runs = 1 } },
      by_day)
    local per = assert(results.run_totals(ps, { { id = "r1" }, { id = "r2" }, { id = "none" } }))
    assert.are.same({ n = 49, correct = 25, errors = 2, invalid = 1 }, per.r1.m)
    assert.are.same({}, per.none)
    assert.are.equal('{"n":2}', ps:get("records", "r1" .. SEP .. "m" .. SEP .. "q01"))
    ps:close()
    -- what the totals say, counted from the score lines themselves
    assert.are.equal(pg:sql("SELECT sum(answers), sum(counted), sum(correct), sum(errors) FROM causal_eval.model_days", { db = db }),
      pg:sql("SELECT count(*), count(*) FILTER (WHERE error_class IS DISTINCT FROM 'bad_question'), "
        .. "count(*) FILTER (WHERE correct AND error_class IS DISTINCT FROM 'bad_question'), "
        .. "count(*) FILTER (WHERE error_class <> 'bad_question') FROM causal_eval.scores", { db = db }))
  end)

  it("creates its schema at version 1 and refuses a newer one by name", function()
    local url, db = pg:database()
    local r = H.run({ "results", "list", "--store", url, "--data", dir .. "/d" })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("holds no causal-eval results (no schema causal_eval)", 1, true), r.stderr)
    r = H.run({ "run", "--quiet", "--model", "baseline:random", "--bench", "ladder", "--n", "3", "--store", url,
                "--data", dir .. "/d" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("1", pg:sql("SELECT max(version) FROM causal_eval.schema_version", { db = db }))
    pg:sql("INSERT INTO causal_eval.schema_version (version, program) VALUES (7, 'a later causal-eval')", { db = db })
    for _, args in ipairs({ { "results", "list" }, { "run", "--quiet", "--model", "baseline:random", "--bench", "ladder",
                                                     "--n", "1" } }) do
      r = H.run(H.concat(args, { "--store", url, "--data", dir .. "/d" }))
      assert.are.equal(1, r.code, r.stderr)
      assert.truthy(r.stderr:find("holds results in schema version 7, newer than this causal-eval knows (1)", 1, true),
        r.stderr)
    end
  end)

  it("lets processes that open a new database at the same moment all make and use its schema", function()
    -- each waits for the schema lock in turn; one that began its transaction
    -- before the wait saw no schema and failed with "relation
    -- schema_version already exists" (7 of 16 runs before the fix)
    for round = 1, 3 do
      local url = pg:database()
      local cmds = {}
      for i = 1, 4 do
        cmds[i] = ("(%s run --quiet --bench ladder --n 3 --data %s --store %s >%s 2>&1; echo $? >%s) &"):format(
          H.quote(H.bin), H.quote(("%s/d%d-%d"):format(dir, round, i)), H.quote(url),
          H.quote(("%s/out%d-%d"):format(dir, round, i)), H.quote(("%s/rc%d-%d"):format(dir, round, i)))
      end
      H.sh(table.concat(cmds, " ") .. " wait")
      for i = 1, 4 do
        local out = H.read(("%s/out%d-%d"):format(dir, round, i)) or ""
        assert.are.equal("0", (H.read(("%s/rc%d-%d"):format(dir, round, i)) or ""):match("%d+"), out)
      end
      local runs = json.decode(H.run({ "results", "list", "--json", "--data", dir .. "/list", "--store", url }).stdout)
      assert.are.equal(4, #runs)
    end
  end)

  it("reads from the replica and writes to the primary", function()
    local url, db = pg:database()
    local rep = pg:replica()
    local data = dir .. "/d"
    local env = { CAUSAL_EVAL_STORE_URL = url, CAUSAL_EVAL_STORE_READ_URL = rep.url:gsub("/postgres$", "/" .. db) }
    local function run_n(n)
      local r = H.run({ "run", "--quiet", "--json", "--model", "baseline:random", "--bench", "ladder", "--n", tostring(n),
                        "--data", data }, { env = env })
      assert.are.equal(0, r.code, r.stderr)
      return json.decode(r.stdout).run_id
    end
    local first = run_n(2)
    pg:wait_replica(rep)
    -- the replica stops replaying: what is written from now on reaches only the primary
    rep:sql("SELECT pg_wal_replay_pause()", { db = db })
    local second = run_n(3)
    assert.are.equal("2", pg:sql("SELECT count(*) FROM causal_eval.runs", { db = db }))
    local r = H.run({ "results", "list", "--json", "--data", data }, { env = env })
    assert.are.equal(0, r.code, r.stderr)
    local ids = {}
    for _, run in ipairs(json.decode(r.stdout)) do ids[#ids + 1] = run.id end
    assert.are.same({ first }, ids)
    r = H.run({ "results", "show", second, "--data", data }, { env = env })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("no run '" .. second .. "'", 1, true), r.stderr)
    rep:sql("SELECT pg_wal_replay_resume()", { db = db })
    pg:wait_replica(rep)
    r = H.run({ "results", "show", second, "--json", "--data", data }, { env = env })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(3, json.decode(r.stdout).models[1].n)
    -- --store names the primary alone: then it is read too
    rep:sql("SELECT pg_wal_replay_pause()", { db = db })
    local third = run_n(1)
    r = H.run({ "results", "show", third, "--json", "--data", data, "--store", url },
      { env = { CAUSAL_EVAL_STORE_URL = false, CAUSAL_EVAL_STORE_READ_URL = false } })
    assert.are.equal(0, r.code, r.stderr)
    rep:sql("SELECT pg_wal_replay_resume()", { db = db })
  end)

  it("names the server without its password when it cannot be reached, and refuses a URL that is not one", function()
    local port = pg.port
    local url = ("postgresql://causal:s3cret@127.0.0.1:%d/postgres"):format(port == 65535 and 65534 or port + 1)
    local r = H.run({ "run", "--quiet", "--model", "baseline:random", "--bench", "ladder", "--n", "1", "--store", url,
                      "--data", dir .. "/d", "--set", "database.connect_timeout=2" })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find(("cannot connect to PostgreSQL at postgresql://causal:***@127.0.0.1:%d/postgres")
      :format(port == 65535 and 65534 or port + 1), 1, true), r.stderr)
    assert.is_nil(r.stderr:find("s3cret", 1, true), r.stderr)
    r = H.run({ "results", "list", "--store", "mysql://u:pw@h/db" })
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("--store: 'mysql://u:***@h/db' is not a PostgreSQL URL", 1, true), r.stderr)
    r = H.run({ "config", "show" }, { env = { CAUSAL_EVAL_STORE_URL = "postgresql://h/db?nosuchparameter=1" } })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find('store.url: PostgreSQL URL \'postgresql://h/db?nosuchparameter=1\': invalid URI query parameter: "nosuchparameter"',
      1, true), r.stderr)
  end)
end)
