-- SPDX-License-Identifier: MIT
-- The layered cache through Lua: bounds, TTL, tags on every layer, preload,
-- memoize, a real redis-server (pipelined batches, corruption, outages), and
-- the `cache` commands.
local H = require "spec.helpers"
local host = require "causal_eval.host"
local json = require "causal_eval.json"
local rng = require "causal_eval.rng"
local cache = require "causal_eval.cache"

local concat = H.concat

describe("causal_eval.cache", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rm(dir) end)

  it("keeps the memory layer within its bound, least recently used out first", function()
    local c = assert(cache.open{ memory_mb = 1, shards = 1 })
    local v = ("x"):rep(20000)
    for i = 1, 100 do assert.is_true(c:set("k" .. i, v)) end
    local st = c:stats().memory
    assert.is_true(st.bytes <= 1024 * 1024)
    assert.is_true(st.evictions >= 45)
    assert.is_nil(c:get("k1"))
    assert.are.equal(v, c:get("k100"))
    c:close()
  end)

  it("expires entries after their TTL on memory and disk", function()
    local c = assert(cache.open{ memory_mb = 4, disk_path = dir .. "/d", disk_gb = 0.1, ttl = 3600 })
    c:set("short", "v", { ttl = 0.05 })
    c:set("long", "v")
    assert.are.equal("v", c:get("short"))
    host.sleep(0.08)
    assert.is_nil(c:get("short"))
    assert.are.equal("v", c:get("long"))
    local e = c:get_entry("long")
    assert.is_true(math.abs(e.expires - e.created - 3600) < 1)
    c:close()
  end)

  it("invalidates a tag in O(1) on memory and disk, across processes", function()
    local c = assert(cache.open{ memory_mb = 4, disk_path = dir .. "/d", disk_gb = 0.1 })
    c:set("a", "1", { tags = { "model_update" } })
    c:set("b", "2", { tags = { "task_change" } })
    c:set("c", "3")
    -- another process invalidates through the shared disk layer
    local r = H.run({ "-e", ([[
      local c = assert(require("causal_eval.cache").open{ disk_path = %q, disk_gb = 0.1 })
      assert(c:invalidate("model_update"))]]):format(dir .. "/d") })
    assert.are.equal(0, r.code, r.stderr)
    c:close()
    c = assert(cache.open{ memory_mb = 4, disk_path = dir .. "/d", disk_gb = 0.1 })
    assert.is_nil(c:get("a"))
    assert.are.equal("2", c:get("b"))
    assert.are.equal("3", c:get("c"))
    -- and here, memory included
    assert.are.equal("2", c:get("b"))
    c:invalidate("task_change")
    assert.is_nil(c:get("b"))
    c:close()
  end)

  it("makes the folders above a disk cache itself, without a shell", function()
    -- (a `mkdir -p` through os.execute forked the process and ran two
    -- programs every time a cache opened; with no PATH it failed)
    local r = H.run({ "-e", ([[
      local c = assert(require("causal_eval.cache").open{ disk_path = %q, disk_gb = 0.1 })
      assert(c:set("k", "v"))
      io.write((c:get("k")))]]):format(dir .. "/deep/er/cache") }, { env = { PATH = dir .. "/no-programs" } })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("v", r.stdout)
  end)

  it("finds on disk what another process stored after a lookup missed", function()
    -- a lookup's read transaction is kept for the next one, renewed: it
    -- must see every commit made since, not the snapshot of the last miss
    local c = assert(cache.open{ disk_path = dir .. "/renew", disk_gb = 0.1 })
    for round = 1, 3 do
      local key = "late" .. round
      assert.is_nil(c:get(key))
      local r = H.run({ "-e", ([[
        local c = assert(require("causal_eval.cache").open{ disk_path = %q, disk_gb = 0.1 })
        assert(c:set(%q, "v%d", { tags = { "t" } }))
        if %d == 3 then assert(c:invalidate("t")) end]]):format(dir .. "/renew", key, round, round) })
      assert.are.equal(0, r.code, r.stderr)
      if round < 3 then assert.are.equal("v" .. round, c:get(key)) else assert.is_nil(c:get(key)) end
    end
    c:close()
  end)

  it("stores a batch under each of its tags' current versions", function()
    -- set_many reads a tag's version once a batch and layer: each tag keeps
    -- its own, and the next batch reads them again
    local c = assert(cache.open{ memory_mb = 4, disk_path = dir .. "/batch", disk_gb = 0.1 })
    c:invalidate("t1")
    c:invalidate("t1") -- t1 at version 2, t2 at 0
    assert.are.equal(3, c:set_many({ { "k1", "v1" }, { "k2", "v2" }, { "k3", "v3" } }, { tags = { "t1", "t2" } }))
    c:invalidate("t1")
    assert.are.equal(2, c:set_many({ { "k4", "v4" }, { "k5", "v5" } }, { tags = { "t2", "t1" } }))
    for _, layers in ipairs({ "memory and disk", "disk" }) do
      if layers == "disk" then
        c:close()
        c = assert(cache.open{ disk_path = dir .. "/batch", disk_gb = 0.1 })
      end
      for i = 1, 3 do assert.is_nil(c:get("k" .. i), layers) end -- stored before t1's last change
      assert.are.equal("v4", c:get("k4"), layers)
      assert.are.equal("v5", c:get("k5"), layers)
    end
    c:invalidate("t2")
    assert.is_nil(c:get("k4"))
    assert.is_nil(c:get("k5"))
    c:close()
  end)

  it("preloads the memory layer from the disk layer by label wildcards", function()
    local d = assert(cache.open{ disk_path = dir .. "/d", disk_gb = 0.1 })
    local function put(key, model, task) d:set(key, key, { labels = cache.labels{ model = model, task = task } }) end
    put("1", "gpt-4", "causal_attribution")
    put("2", "gpt-4", "intervention")
    put("3", "claude", "intervention")
    put("4", "claude", "causal_attribution")
    put("5", "gpt-4o", "causal_attribution")
    d:close()
    local c = assert(cache.open{ memory_mb = 4, disk_path = dir .. "/d", disk_gb = 0.1 })
    local n = c:preload{ { model = "gpt-4", task = "causal_attribution" }, { model = "*", task = "intervention" } }
    assert.are.equal(3, n)
    for key, layer in pairs({ ["1"] = "memory", ["2"] = "memory", ["3"] = "memory", ["4"] = "disk", ["5"] = "disk" }) do
      local _, got = c:get(key)
      assert.are.equal(layer, got, key)
    end
    c:close()
  end)

  it("memoizes a function until an event it depends on", function()
    local c = assert(cache.open{ memory_mb = 4 })
    local calls = 0
    local f = cache.memoize(function(a, b)
      calls = calls + 1
      return { sum = a + b }
    end, { cache = c, ttl = 3600, invalidate_on = { "model_update", "task_change" } })
    assert.are.same({ sum = 3 }, f(1, 2))
    assert.are.same({ sum = 3 }, f(1, 2))
    assert.are.same({ sum = 5 }, f(2, 3))
    assert.are.equal(2, calls)
    c:invalidate("task_change")
    f(1, 2)
    assert.are.equal(3, calls)
    c:close()
  end)

  it("builds request keys from adapter, model and canonical body", function()
    local body = { model = "m", temperature = 0, messages = { { role = "user", content = "q" } } }
    local k1 = cache.request_key("openai", "m@u", body, "ladder")
    local l1 = cache.request_labels("openai", "m@u", body, "ladder")
    -- the JSON an adapter sends is the same key as its table
    assert.are.equal(k1, cache.request_key("openai", "m@u", json.encode(body), "ladder"))
    local k2 = cache.request_key("openai", "m@u", { messages = { { content = "q", role = "user" } }, temperature = 0, model = "m" }, "ladder")
    local k3 = cache.request_key("openai", "m@u", { model = "m", temperature = 0.5, messages = { { role = "user", content = "q" } } }, "ladder")
    assert.are.equal(k1, k2)
    assert.are_not.equal(k1, k3)
    assert.matches("^m=m@u|t=ladder|%x+$", k1)
    local labels = cache.parse_labels(l1)
    assert.are.equal("openai", labels.adapter)
    assert.are.equal("0", labels["body.temperature"])
  end)

  it("makes request keys in C exactly as the Lua formula did", function()
    -- the key, before it was made in C: every cache written since holds these
    local function lua_key(adapter, model, body, task)
      local canonical = type(body) == "string" and body or json.encode(body)
      return ("m=%s|t=%s|%s"):format(model, task or "", rng.hex(adapter .. "\0" .. model .. "\0" .. canonical))
    end
    local r = rng.new(7, 1)
    local function text(n)
      local t = {}
      for i = 1, n do t[i] = string.char(r:int(0, 255)) end
      return table.concat(t)
    end
    local cases = {
      { "openai", "gpt@http://x/v1", '{"messages":[{"content":"q","role":"user"}],"model":"m"}', "ladder" },
      { "anthropic", "claude@u:cot", { model = "m", messages = { { role = "user", content = "Ü \0 é" } } }, nil },
      { "openai", "m", "", false },
      { "a\0b", "m", "body\0with zeros", 42 },
      { "", "", "x", "" },
    }
    for _ = 1, 200 do cases[#cases + 1] = { text(r:int(0, 12)), "m" .. r:int(0, 999), text(r:int(0, 3000)), "t" } end
    for i, c in ipairs(cases) do
      assert.are.equal(lua_key(c[1], c[2], c[3], c[4]), cache.request_key(c[1], c[2], c[3], c[4]), "case " .. i)
    end
  end)

  it("labels a request the same from the fields the adapter encoded as from its table", function()
    -- the adapters hand their fields' JSON on (json.encode_fields) so the
    -- labels hash the messages without encoding them again
    local q = { id = "q1", prompt = "Does \"A\" cause B?\nAnswer yes or no.", family = "ladder" }
    local convo = { id = "q2", prompt = "p", family = "ladder",
                    messages = { { role = "system", content = "Be brief." }, { role = "user", content = "Ü \0 é" },
                                 { role = "assistant", content = "no" }, { role = "user", content = "p" } } }
    local models = {
      { name = "openai", m = { model = "gpt", base_url = "http://x", temperature = 0, max_tokens = 64, seed = 3,
                               system = "sys", extra_body = { stop = { "\n\n" }, response_format = { type = "text" } } } },
      { name = "openai", m = { model = "gpt", base_url = "http://x", temperature = 0.5, logprobs = true } },
      { name = "anthropic", m = { model = "claude", base_url = "http://x", temperature = 1e-3, system = "sys\nline two",
                                  extra_body = { metadata = { user_id = "u" } } } },
    }
    for _, t in ipairs(models) do
      local adapter = require("adapters." .. t.name)
      for _, question in ipairs({ q, convo }) do
        local req = adapter.request(t.m, question, "key")
        assert.is_table(req.field_json)
        for k, v in pairs(req.fields) do
          -- the lists and objects, which the labels hash
          assert.are.equal(type(v) == "table" and json.encode(v) or nil, req.field_json[k], t.name .. " field " .. k)
        end
        assert.are.equal(json.encode(req.fields), req.body)
        -- the labels as cache.labels writes them, from each field's JSON
        local want = { adapter = t.name, model = "m@u\nx", task = "ladder" }
        for k, v in pairs(req.fields) do
          want["body." .. k] = type(v) == "table" and ("#" .. rng.hex(json.encode(v)):sub(1, 16)) or tostring(v)
        end
        assert.are.equal(cache.labels(want), cache.request_labels(t.name, "m@u\nx", req.fields, "ladder"))
        assert.are.equal(cache.labels(want), cache.request_labels(t.name, "m@u\nx", req.fields, "ladder", req.field_json))
        -- made together with the key (its hash beside the messages'): the same key and labels
        local key, labels = cache.request_key_labels(t.name, "m@u:cot", "m@u\nx", req.body, "ladder", req.fields,
          req.field_json)
        assert.are.equal(cache.request_key(t.name, "m@u:cot", req.body, "ladder"), key)
        assert.are.equal(cache.labels(want), labels)
      end
    end
    -- a field named by a number, a table without its JSON given: the same text
    local odd = { [1] = "x", model = "m" }
    assert.are.equal(cache.labels({ adapter = "a", model = "m", task = "", ["body.1"] = "x", ["body.model"] = "m" }),
      cache.request_labels("a", "m", odd, nil))
    assert.are.equal(cache.labels({ adapter = "a", model = "m", task = "t", ["body.messages"] = "#" .. rng.hex("[1]") }),
      cache.request_labels("a", "m", { messages = { 1 } }, "t", {}))
    -- numbers and booleans as tostring writes them: a whole float keeps
    -- its ".0", and so on
    local scalars = { temperature = 1.0, top_p = -0.0, big = 1e300, small = 2.5e-7, n = math.mininteger,
                      logprobs = false, stream = true, name = "x\ny" }
    local want = { adapter = "a", model = "m", task = "7" }
    for k, v in pairs(scalars) do want["body." .. k] = tostring(v):gsub("\n", " ") end
    assert.are.equal(cache.labels(want), cache.request_labels("a", "m", scalars, 7, {}))
    -- with no field to hash, or several, or no task: each as made alone
    local bodies = { odd, { messages = { 1 }, tools = { { name = "f" } }, stop = { "\n" }, model = "m" }, {} }
    for i, body in ipairs(bodies) do
      for _, task in ipairs({ "t", false, 7 }) do
        local text = json.encode(body)
        local key, labels = cache.request_key_labels("a", "k\0m", "m", text, task or nil, body, {})
        assert.are.equal(cache.request_key("a", "k\0m", text, task or nil), key, "body " .. i)
        assert.are.equal(cache.request_labels("a", "m", body, task or nil, {}), labels, "body " .. i)
      end
    end
    -- json.encode_fields: the text json.encode gives, and each string key's list or object as encoded
    local text, fields = json.encode_fields({ b = { 1, 2.5, "x" }, a = json.null, [3] = "int key", c = {}, d = 1.5,
                                              e = "text", f = { x = { 1 } } })
    assert.are.equal(json.encode({ b = { 1, 2.5, "x" }, a = json.null, [3] = "int key", c = {}, d = 1.5, e = "text",
                                   f = { x = { 1 } } }), text)
    assert.are.same({ b = '[1,2.5,"x"]', c = "{}", f = '{"x":[1]}' }, fields)
    local big = {}
    for i = 1, 100 do big["k" .. i] = { i } end
    local btext, bfields = json.encode_fields(big)
    assert.are.equal(json.encode(big), btext)
    local n = 0
    for k, v in pairs(bfields) do
      n = n + 1
      assert.are.equal(json.encode(big[k]), v)
    end
    assert.are.equal(64, n)
  end)

  describe("with redis-server", function()
    local redis
    setup(function() redis = H.redis() end)
    teardown(function() if redis then redis:stop() end end)
    before_each(function() redis:cli("FLUSHALL") end)

    it("stores with TTL, reads in pipelined batches, shares between processes", function()
      local c = assert(cache.open{ redis_url = redis.url })
      c:set("a", "1", { ttl = 60 })
      c:set("b", "2")
      local ttl = tonumber(redis:cli("PTTL", "ce:a"))
      assert.is_true(ttl > 59000 and ttl <= 60000, tostring(ttl))
      assert.are.equal(3, c:set_many({ { "m1", "x" }, { "m2", "y" }, { "m3", "z" } }, { ttl = 30 }))
      assert.are.equal("y", (c:get("m2")))
      local ttl2 = tonumber(redis:cli("TTL", "ce:m2"))
      assert.is_true(ttl2 > 28 and ttl2 <= 30, tostring(ttl2))
      local vals, layers = c:get_many{ "a", "zz", "b" }
      assert.are.same({ "1", false, "2" }, vals)
      assert.are.same({ "redis", false, "redis" }, layers)
      local r = H.run({ "-e", ([[
        local c = assert(require("causal_eval.cache").open{ redis_url = %q })
        io.write((c:get("a")))]]):format(redis.url) })
      assert.are.equal("1", r.stdout)
      c:close()
    end)

    it("promotes Redis hits into memory and disk", function()
      local c = assert(cache.open{ redis_url = redis.url })
      c:set("k", "v")
      c:close()
      c = assert(cache.open{ memory_mb = 4, disk_path = dir .. "/d", disk_gb = 0.1, redis_url = redis.url })
      local _, layer = c:get("k")
      assert.are.equal("redis", layer)
      _, layer = c:get("k")
      assert.are.equal("memory", layer)
      c:close()
      c = assert(cache.open{ disk_path = dir .. "/d", disk_gb = 0.1 })
      _, layer = c:get("k")
      assert.are.equal("disk", layer)
      c:close()
    end)

    -- stats counted no Redis entries, and a new process no disk evictions
    it("counts Redis's entries, not its tags, and the disk's evictions of every process", function()
      local a = assert(cache.open{ redis_url = redis.url })
      for i = 1, 30 do a:set("e" .. i, "v", { tags = { "t" } }) end
      a:invalidate("t")
      a:close()
      local c = assert(cache.open{ redis_url = redis.url })
      assert.are.equal(30, c:stats().redis.entries)
      c:close()
      local d = assert(cache.open{ disk_path = dir .. "/ev", disk_gb = 0.0002 })
      for i = 1, 400 do d:set("k" .. i, ("x"):rep(2000)) end
      local evicted = d:stats().disk.evictions
      d:close()
      assert.is_true(evicted > 0)
      d = assert(cache.open{ disk_path = dir .. "/ev", disk_gb = 0.0002 })
      assert.are.equal(evicted, d:stats().disk.evictions)
      d:close()
    end)

    it("invalidates tags in Redis for every client", function()
      local a = assert(cache.open{ redis_url = redis.url })
      local b = assert(cache.open{ redis_url = redis.url })
      a:set("x", "1", { tags = { "model_update" } })
      assert.are.equal("1", b:get("x"))
      a:invalidate("model_update")
      assert.are.equal("1", redis:cli("GET", "ce:tag:model_update"))
      -- b reads tag versions through a one-second local copy
      host.sleep(1.05)
      assert.is_nil(b:get("x"))
      a:close()
      b:close()
    end)

    it("treats a corrupt entry as a miss and deletes it", function()
      local c = assert(cache.open{ redis_url = redis.url })
      redis:cli("SET", "ce:bad", "garbage")
      assert.is_nil(c:get("bad"))
      assert.are.equal(1, c:stats().redis.corrupt)
      assert.are.equal("0", redis:cli("EXISTS", "ce:bad"))
      c:close()
    end)

    -- every pipeline entry is tagged; the scan once held the layer's lock
    -- into the tag check and hung. Under `timeout` a regression fails.
    it("preloads, walks and explains tagged entries without hanging", function()
      local script = ([[
        local cache = require "causal_eval.cache"
        local c = assert(cache.open{ redis_url = %q })
        c:set("a", "1", { tags = { "model:x" }, labels = cache.labels{ model = "m", task = "t" } })
        c:set("b", "2", { tags = { "model:x" }, labels = cache.labels{ model = "n", task = "t" } })
        local c2 = assert(cache.open{ memory_mb = 4, redis_url = %q })
        local n = c2:preload{ { model = "m", task = "*" } }
        local seen = 0
        c2:each("redis", function(key) seen = seen + 1; c2:get(key); return false end)
        io.write(n, " ", seen)]]):format(redis.url, redis.url)
      local r = H.run("timeout 20 " .. H.quote(H.bin) .. " -e " .. H.quote(script))
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("1 2", r.stdout)
      -- the command a user runs: a miss makes explain walk the Redis layer
      local qfile = H.questions(dir, { "ladder", "--n", "3" })
      local mock = H.mock()
      local function ce(args)
        return H.run(H.concat({ "timeout", "20", H.bin }, args, { "--set", "cache.disk.max_size_gb=0",
          "--set", "cache.redis.url=" .. redis.url }), { bin = false })
      end
      r = ce({ "run", "--quiet", "--model", "openai:a@" .. mock.url, "--questions", qfile, "--data", dir .. "/d" })
      assert.are.equal(0, r.code, r.stderr)
      r = ce({ "run", "--quiet", "--model", "openai:b@" .. mock.url, "--questions", qfile, "--data", dir .. "/d",
               "--cache", "off" })
      assert.are.equal(0, r.code, r.stderr)
      local qid = json.decode(H.read(qfile):match("^[^\n]+")).id
      r = ce({ "cache", "explain", qid, "--data", dir .. "/d" })
      mock:stop()
      assert.are.equal(0, r.code, r.stderr)
      assert.truthy(r.stdout:find("the nearest entry (redis layer) differs in 2 components", 1, true), r.stdout)
    end)

    it("reconnects with backoff once Redis is back", function()
      local c = assert(cache.open{ redis_url = redis.url })
      c:set("before", "1")
      redis:kill()
      assert.is_nil(c:get("before"))          -- lost: a miss, not an error
      assert.is_false(c:set("during", "2"))   -- no layer took it
      redis:restart()
      host.sleep(0.6)                         -- past the first backoff steps
      assert.is_true(c:set("after", "3"))
      local other = assert(cache.open{ redis_url = redis.url })
      assert.are.equal("3", (other:get("after")))
      other:close()
      assert.is_true(c:stats().redis.up)
      c:close()
    end)

    it("keeps a run going when Redis is lost mid-run, with one warning", function()
      local mock = H.mock({ "--latency-ms", "20" })
      local qfile = H.questions(dir, { "ladder", "--n", "120" })
      local victim = H.redis()
      local cmd = ("(sleep 0.4; kill %d) & %s run --json --quiet --model openai:m@%s --questions %s --concurrency 4 " ..
        "--data %s --set cache.disk.max_size_gb=0 --set cache.redis.url=%s"):format(victim.pid, H.quote(H.bin), mock.url,
        qfile, dir .. "/data", victim.url)
      local r = H.run(cmd)
      assert.are.equal(0, r.code, r.stderr)
      local rep = json.decode(r.stdout)
      assert.are.equal(120, rep.models[1].n)
      assert.are.equal(0, rep.models[1].errors)
      local _, warnings = r.stderr:gsub("unreachable", "")
      assert.are.equal(1, warnings, r.stderr)
      victim:stop()
      -- unreachable from the start: the same, one warning
      r = H.run({ "run", "--json", "--quiet", "--model", "openai:m@" .. mock.url, "--questions", qfile, "--limit", "20",
                  "--data", dir .. "/data2", "--set", "cache.redis.url=redis://127.0.0.1:1/0" })
      assert.are.equal(0, r.code, r.stderr)
      _, warnings = r.stderr:gsub("unreachable", "")
      assert.are.equal(1, warnings, r.stderr)
      mock:stop()
    end)

    -- a stopped Redis still accepts connections (the kernel completes them)
    -- but answers nothing: each reconnect looked like a recovery until the
    -- next command timed out
    it("gives up on a stopped Redis for a while, with one warning and no false recovery", function()
      local mock = H.mock({ "--latency-ms", "10" })
      local qfile = H.questions(dir, { "ladder", "--n", "400" })
      local victim = H.redis()
      local cmd = ("(sleep 0.3; kill -STOP %d) & %s run --json --quiet --model openai:m@%s --questions %s --concurrency 4 " ..
        "--data %s --set cache.disk.max_size_gb=0 --set cache.redis.url=%s"):format(victim.pid, H.quote(H.bin), mock.url,
        qfile, dir .. "/data", victim.url)
      local r = H.run(cmd)
      H.sh("kill -CONT " .. victim.pid)
      victim:stop()
      mock:stop()
      assert.are.equal(0, r.code, r.stderr)
      local rep = json.decode(r.stdout)
      assert.are.equal(400, rep.models[1].n)
      assert.are.equal(0, rep.models[1].errors)
      local _, warnings = r.stderr:gsub("unreachable", "")
      local _, recovered = r.stderr:gsub("reconnected", "")
      assert.are.equal(1, warnings, r.stderr)
      assert.are.equal(0, recovered, r.stderr)
    end)
  end)
end)

describe("causal-eval cache", function()
  local dir, mock, qfile
  setup(function()
    dir = H.tmpdir()
    qfile = H.questions(dir, { "ladder", "--n", "10" })
    mock = H.mock({ "--questions", qfile })
  end)
  teardown(function()
    mock:stop()
    H.rm(dir)
  end)

  local function ce(args, env)
    return H.run(concat(args, { "--set", "cache.disk.path=" .. dir .. "/cache" }), { env = env })
  end

  it("refuses a folder that is not a cache (a results store), and leaves the store as it was", function()
    local data = dir .. "/results"
    local r = H.run({ "run", "--quiet", "--model", "baseline:always_yes", "--bench", "ladder", "--n", "3", "--data", data })
    assert.are.equal(0, r.code, r.stderr)
    for _, cmd in ipairs({ { "cache", "stats" }, { "cache", "clear" }, { "cache", "prune", "--older-than", "1d" } }) do
      r = H.run(concat(cmd, { "--set", "cache.disk.path=" .. data }))
      assert.are.equal(1, r.code, table.concat(cmd, " "))
      assert.matches(data .. ': not a response cache: it holds "', r.stderr, 1, true)
    end
    r = H.run({ "results", "list", "--data", data })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("completed", r.stdout, 1, true)
  end)

  -- a bad URL once reached the cache's C side and came back as an internal error with a traceback
  it("refuses a bad Redis URL before anything starts, naming the key and where it came from", function()
    local cfg = H.write(dir .. "/bad.yaml", "development:\n  cache:\n    redis:\n      url: \"redis://a b\"\n")
    for _, case in ipairs({
      { { "--set", "cache.redis.url=notaurl" }, nil,
        "--set cache.redis.url=notaurl: cache.redis.url: expected redis://[:password@]host[:port][/db], got string \"notaurl\"" },
      { {}, { CAUSAL_EVAL_CACHE_REDIS_URL = "redis://h:99999" },
        "CAUSAL_EVAL_CACHE_REDIS_URL: cache.redis.url: expected redis://" },
      { { "--config", cfg }, nil, cfg .. ":4:12: development.cache.redis.url: expected redis://" },
      { {}, { CAUSAL_EVAL_REDIS_URL = "http://x" },
        "CAUSAL_EVAL_REDIS_URL: expected redis://[:password@]host[:port][/db], got 'http://x'" },
      -- text from --set was never checked against the choices either
      { { "--set", "cache.mode=bogus" }, nil, "cache.mode: must be one of readwrite, read, write, off" },
    }) do
      local r = ce(concat({ "cache", "stats" }, case[1]), case[2])
      assert.are_not.equal(0, r.code)
      assert.truthy(r.stderr:find(case[3], 1, true), r.stderr)
      assert.is_nil(r.stderr:find("traceback", 1, true), r.stderr)
    end
    local r = ce({ "run", "--model", "baseline:random", "--bench", "ladder", "--n", "1", "--data", dir .. "/never",
                   "--set", "cache.redis.url=notaurl" })
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("cache.redis.url: expected redis://", 1, true), r.stderr)
    assert.is_nil(H.read(dir .. "/never/data.mdb"), "a run was stored")
  end)

  -- answers are written to the disk cache 256 at a time, or once the
  -- oldest waiting has waited a second: a slow run's answers reach the
  -- cache while it works, not only when it ends
  it("puts a slow run's answers in the disk cache as it goes", function()
    local slow, own = H.mock({ "--latency-ms", "150" }), H.tmpdir()
    local qf = H.questions(own, { "ladder", "--n", "30" })
    local lines = select(2, H.read(qf):gsub("\n", ""))
    local path, stop = own .. "/cache", own .. "/done"
    local cmd = ("(while [ ! -e %s ]; do %s cache stats --json --set cache.disk.path=%s >> %s/snaps; sleep 0.3; done) & " ..
      "%s run --quiet --model openai:slow@%s --questions %s --concurrency 1 --data %s/slow-data " ..
      "--set cache.disk.path=%s; rc=$?; touch %s; wait; exit $rc"):format(stop, H.quote(H.bin), path, own,
      H.quote(H.bin), slow.url, qf, own, path, stop)
    local r = H.run(cmd)
    slow:stop()
    assert.are.equal(0, r.code, r.stderr)
    local snaps, during = H.read(own .. "/snaps") or "", 0
    for line in snaps:gmatch("[^\n]+") do
      local n = json.decode(line).disk.entries
      if n > 0 and n < lines then during = during + 1 end
    end
    assert.is_true(during > 0, "no snapshot saw the cache part-filled: " .. snaps)
    r = H.run({ "cache", "stats", "--json", "--set", "cache.disk.path=" .. path })
    assert.are.equal(lines, json.decode(r.stdout).disk.entries)
    H.rm(own)
  end)

  it("reports stats, explains a miss by the differing component, prunes and clears", function()
    local r = ce({ "run", "--quiet", "--model", "openai:a@" .. mock.url, "--questions", qfile, "--data", dir .. "/d" })
    assert.are.equal(0, r.code, r.stderr)
    r = ce({ "cache", "stats", "--json" })
    assert.are.equal(10, json.decode(r.stdout).disk.entries)
    local qid = json.decode(H.read(qfile):match("^[^\n]+")).id
    r = ce({ "cache", "explain", qid, "--data", dir .. "/d" })
    assert.truthy(r.stdout:find("hit in the disk layer", 1, true), r.stdout)
    -- the same questions to another model name: a miss that names the model
    ce({ "run", "--quiet", "--model", "openai:b@" .. mock.url, "--questions", qfile, "--data", dir .. "/d", "--cache", "read" })
    r = ce({ "cache", "explain", qid, "--data", dir .. "/d", "--json" })
    local out = json.decode(r.stdout)
    local diffs = {}
    for _, d in ipairs(out.models[1].differences) do diffs[d.component] = d end
    assert.are.equal("b", diffs["body.model"].requested)
    assert.are.equal("a", diffs["body.model"].nearest)
    -- a run in an evaluation mode is explained as it asked: its hits are hits
    -- (rebuilt without the mode, a --cot run's hit read as a miss)
    for i, mode in ipairs({ { "--cot" }, { "--shots", "2" }, { "--samples", "2", "--temperature", "0.5" } }) do
      local data = dir .. "/mode" .. i
      r = ce(concat({ "run", "--quiet", "--model", "openai:c@" .. mock.url, "--bench", "ladder", "--n", "2", "--data", data },
        mode))
      assert.are.equal(0, r.code, r.stderr)
      local rec = json.decode(H.run({ "results", "export", "last", "--data", data }).stdout:match("^[^\n]+"))
      r = ce({ "cache", "explain", rec.question_id, "--data", data })
      assert.are.equal(0, r.code, r.stderr)
      assert.truthy(r.stdout:find("hit in the disk layer", 1, true), mode[1] .. ": " .. r.stdout)
    end
    r = ce({ "cache", "prune", "--older-than", "7d" })
    assert.truthy(r.stdout:find("pruned 0 entries", 1, true))
    r = ce({ "cache", "prune", "--older-than", "bogus" })
    assert.are.equal(2, r.code)
    r = ce({ "cache", "clear" })
    assert.are.equal(0, r.code)
    r = ce({ "cache", "stats", "--json" })
    assert.are.equal(0, json.decode(r.stdout).disk.entries)
  end)
end)
