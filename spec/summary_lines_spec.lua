-- SPDX-License-Identifier: MIT
-- A run's summary reads its score lines a model at a time through a
-- json.picker, without building each line's table: its figures must be
-- those of decoding every line, also for lines a damaged or hand-edited
-- store holds (fields of the wrong kind, objects where text belongs, no
-- object at all, invalid JSON, keys of no model of the run). Groups named
-- by an object or array are compared as one.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local results = require "causal_eval.results"
local rng = require "causal_eval.rng"

-- a group's name, where one read from an object or array shows an
-- address ("table: 0x..", "causal_eval.json_array: 0x..", json.container's
-- "userdata: 0x.."; decoded, a line's table may even reuse a freed one's):
-- only that it is one
local function norm(k)
  k = tostring(k)
  if k:find(": 0x", 1, true) then return "object or array" end
  return k
end

-- counts by key, where a key read whole from an object or array is a
-- table of its own each time: all such keys as one
local function by_kind(t)
  local out = {}
  for k, n in pairs(t) do
    local name = norm(k)
    out[name] = (out[name] or 0) + n
  end
  return out
end

-- a model's groups (name -> { n, ... }) as name -> { n, right }, the
-- names norm gives merged
local function merged(groups, right_of)
  local t = {}
  for k, g in pairs(groups) do
    local name = norm(k)
    local c = t[name] or { 0, 0 }
    t[name] = { c[1] + g.n, c[2] + right_of(g) }
  end
  return t
end

-- the summary's reading of a store before the picker: every line of the
-- run decoded whole (results.summarize as it was, its figures only)
local function reference(st, run)
  local models, order = {}, {}
  for i, label in ipairs(run.models) do
    local key = results.model_key(label)
    models[key] = { n = 0, scored = 0, correct = 0, unparseable = 0, errors = 0, error_classes = {}, invalid = 0,
                    lat = results.latencies(), tokens_in = 0, tokens_out = 0, cached = 0, fam = {}, diff = {}, rung = {} }
    order[i] = key
  end
  local function group_add(groups, key, correct)
    if key == nil then return end
    key = tostring(key)
    local g = groups[key] or { n = 0, correct = 0 }
    groups[key] = g
    g.n = g.n + 1
    if correct then g.correct = g.correct + 1 end
  end
  assert(st:scan(results.DB.scores, run.id .. results.SEP, function(k, v)
    local _, mk = results.split_key(k)
    local m = models[mk]
    if not m then return end
    local s = json.decode(v)
    if type(s) ~= "table" then return end
    if not results.counts(s) then
      m.invalid = m.invalid + 1
      return
    end
    m.n = m.n + 1
    local correct = s.c == 1
    if s.e then
      m.errors = m.errors + 1
      local class = type(s.e) == "string" and s.e or "invalid" -- as a JSON key can be
      m.error_classes[class] = (m.error_classes[class] or 0) + 1
    elseif s.u then
      m.unparseable = m.unparseable + 1
    else
      m.scored = m.scored + 1
    end
    if correct then m.correct = m.correct + 1 end
    if type(s.l) == "number" and not s.e then results.latency_add(m.lat, s.l) end
    m.tokens_in = m.tokens_in + (tonumber(s.ti) or 0)
    m.tokens_out = m.tokens_out + (tonumber(s.to) or 0)
    if s.cached then m.cached = m.cached + 1 end
    group_add(m.fam, s.f, correct)
    group_add(m.diff, s.d, correct)
    group_add(m.rung, s.r, correct)
  end))
  local out = {}
  for _, key in ipairs(order) do
    local m = models[key]
    local groups = {}
    for name, g in pairs({ fam = m.fam, diff = m.diff, rung = m.rung }) do
      groups[name] = merged(g, function(x) return x.correct end)
    end
    out[#out + 1] = { n = m.n, scored = m.scored, correct = m.correct, unparseable = m.unparseable, errors = m.errors,
                      invalid = m.invalid, error_classes = m.error_classes, tokens = { m.tokens_in, m.tokens_out },
                      cached = m.cached, lat_n = m.lat.n, lat_sum = m.lat.sum, groups = groups }
  end
  return out
end

local function figures(rows)
  local out = {}
  for i, r in ipairs(rows) do
    local groups = {}
    for name, by in pairs({ fam = r.by_family, diff = r.by_difficulty, rung = r.by_rung }) do
      groups[name] = merged(by, function(g) return math.floor(g.n * (g.accuracy == json.null and 0 or g.accuracy) + 0.5) end)
    end
    out[i] = { n = r.n, scored = r.scored, correct = r.correct, unparseable = r.unparseable, errors = r.errors,
               invalid = r.invalid, error_classes = r.error_classes, tokens = { r.tokens.input, r.tokens.output },
               cached = r.cached, lat_n = r.latency_ms.mean == json.null and 0 or nil, lat_sum = nil, groups = groups }
  end
  return out
end

describe("a run's summary, read through the score lines' fields", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("gives the figures of decoding each line whole, for lines of every shape", function()
    local st = assert(results.open(dir .. "/data"))
    local run = { id = "r1", created = os.time(), status = "completed", models = { "a", "bb", "a:b" }, benchmarks = { "x" } }
    results.put_run(st, run)
    local r = rng.new(16, 0)
    local VALUES = { "null", "true", "false", "0", "1", "2", "2.5", '"x"', '"ladder"', '"bad_question"', '"timeout"',
                     "[]", "{}", '[1,2]', '{"a":1}' }
    local FIELDS = { "f", "d", "r", "c", "u", "e", "l", "ti", "to", "cached", "day", "zz" }
    local n = 0
    for i = 1, 3000 do
      local model = ({ "a", "bb", "a:b", "other" })[r:int(1, 4)]
      local v
      local kind = r:uniform()
      if kind < 0.7 then
        -- a score line as a run writes it
        local rec = { family = ({ "ladder", "corr2cause" })[r:int(1, 2)], difficulty = "easy", rung = r:int(1, 3),
                      correct = r:bernoulli(0.6), latency_ms = 10 + 100 * r:uniform(),
                      tokens = { input = r:int(1, 99), output = r:int(1, 9) }, day = "2026-12-05" }
        if r:bernoulli(0.1) then rec.error, rec.correct = { class = ({ "timeout", "bad_question" })[r:int(1, 2)] }, nil end
        if r:bernoulli(0.1) then rec.unparseable = "no answer" end
        if r:bernoulli(0.2) then rec.cached = "disk" end
        v = results.score_line(rec)
      elseif kind < 0.95 then
        -- a line edited by hand: any field, any value, keys repeated
        local parts = {}
        for k = 1, r:int(0, 8) do
          parts[k] = json.encode(FIELDS[r:int(1, #FIELDS)]) .. ":" .. VALUES[r:int(1, #VALUES)]
        end
        v = "{" .. table.concat(parts, ",") .. "}"
      else
        v = ({ "[1,2]", "5", '"text"', "null", "{", "", '{"c":1', "[{\"c\":1}]" })[r:int(1, 8)]
      end
      n = n + 1
      assert(st:put(results.DB.scores, results.key("r1", model, "q" .. i), v))
    end
    -- a line of another run, and a key without a question part
    assert(st:put(results.DB.scores, results.key("r0", "a", "q1"), '{"c":1}'))
    assert(st:put(results.DB.scores, "r1\0a", '{"c":1}'))
    local got = assert(results.summarize(st, run))
    local want = reference(st, run)
    assert.are.equal(3, #got)
    for i = 1, 3 do
      local g, w = figures({ got[i] })[1], want[i]
      w.lat_sum, w.lat_n = nil, w.lat_n > 0 and nil or 0
      for _, k in ipairs({ "n", "scored", "correct", "unparseable", "errors", "invalid", "cached" }) do
        assert.are.equal(w[k], g[k], ("model %d: %s"):format(i, k))
      end
      assert.are.same(by_kind(w.error_classes), by_kind(g.error_classes))
      assert.are.same(w.tokens, g.tokens)
      assert.are.same(w.groups, g.groups)
    end
    -- and it can be written as JSON (an error class of null was a key
    -- json.encode refused: `results show --json` stopped on an internal error)
    assert(json.encode(got))
    st:close()
  end)

  -- A model's lines are added up in C (st:score_sums) up to the first line
  -- not written as a run writes one; that line and the rest go through the
  -- Lua that reads each line. The summary must be the Lua one's to the
  -- byte, latency sums and quantiles included.
  it("adds up a model's lines in C as the Lua reading does, to the byte", function()
    local r = rng.new(17, 0)
    local ODD = { '{"c":1,"l":50}', '{"c":1,"ti":2.5}', '{"c":1,"ti":"7"}', '{"ft":1,"j":1,"s":0.5,"c":1}',
                  '{"c":1,"r":2.5}', '{"c":1,"f":true}', '{"c":1,"e":null}', '{"c":1,"e":5}', "{" }
    -- lines the C takes, read as Lua reads them: 1.0 is 1, false is not
    -- set, 0 is, "" names a group, an array holds no fields
    local TAKEN = { '{"c":1.0,"f":"ladder","l":12.5,"u":false,"cached":0}', '{"c":1,"e":"","f":"","d":""}',
                    '{"c":true,"r":-3,"zz":[1,{"a":2}],"c":0}', "[1,2]", '{"e":"bad_question","l":3,"ti":"x"}' }
    local function line()
      if r:bernoulli(0.02) then return TAKEN[r:int(1, #TAKEN)] end
      local rec = { family = ({ "ladder", "corr2cause", "confounding" })[r:int(1, 3)], rung = r:int(1, 3),
                    difficulty = ({ "easy", "medium", "hard" })[r:int(1, 3)], correct = r:bernoulli(0.6),
                    latency_ms = r:bernoulli(0.01) and 0.0 or 1 + 2000 * r:uniform() ^ 3,
                    tokens = { input = r:int(1, 999), output = r:int(1, 9) }, day = "2026-12-05" }
      if r:bernoulli(0.1) then rec.error, rec.correct = { class = ({ "timeout", "bad_question", "server" })[r:int(1, 3)] }, nil end
      if r:bernoulli(0.1) then rec.unparseable = "no answer" end
      if r:bernoulli(0.2) then rec.cached = "disk" end
      return results.score_line(rec)
    end
    -- where the first line the C does not take is: none, one, several
    for case, odd_at in ipairs({ {}, { 1 }, { 700 }, { 1500 }, { 300, 301, 900 } }) do
      local data = ("%s/sums%d"):format(dir, case)
      local st = assert(results.open(data))
      -- (a finished run: a throughput that moves with the clock would differ between the two summaries)
      local run = { id = "s" .. case, created = 1764892800, started = 1764892800, finished = 1764892810,
                    status = "completed", models = { "m" }, benchmarks = { "x" } }
      results.put_run(st, run)
      local odd = {}
      for _, i in ipairs(odd_at) do odd[i] = ODD[r:int(1, #ODD)] end
      for i = 1, 1500 do
        -- keys in order of i: the first odd line is the first the scan meets
        assert(st:put(results.DB.scores, results.key(run.id, "m", ("q%05d"):format(i)), odd[i] or line()))
      end
      results._lua_summary = true
      local want = json.encode(assert(results.summarize(st, run)))
      results._lua_summary = nil
      local got = json.encode(assert(results.summarize(st, run)))
      assert.are.equal(want, got, "case " .. case)
      -- the C took the lines before the first odd one, and Lua the rest
      local took, visited = nil, 0
      local count = assert(st:score_sums(results.DB.scores, results.key(run.id, "m", ""), math.log(1 + 1 / 1024),
        math.mininteger, function(t) took = t.n + t.invalid end, function() visited = visited + 1 end))
      assert.are.equal(1500, count)
      local first = odd_at[1] and odd_at[1] - 1 or 1500
      assert.are.equal(first, took, "case " .. case)
      assert.are.equal(1500 - first, visited, "case " .. case)
      st:close()
    end
  end)

  it("shows a run whose score lines name an error class that is not text", function()
    local data = dir .. "/damaged"
    local st = assert(results.open(data))
    results.put_run(st, { id = "r2", created = os.time(), status = "completed", models = { "m" }, benchmarks = { "x" } })
    for i, e in ipairs({ "null", "true", "5", "{}", '"timeout"' }) do
      assert(st:put(results.DB.scores, results.key("r2", "m", "q" .. i), '{"c":0,"f":"ladder","e":' .. e .. "}"))
    end
    assert(st:put(results.DB.scores, results.key("r2", "m", "q9"), '{"c":1,"f":"ladder"}'))
    st:close()
    local r = H.run({ "results", "show", "r2", "--data", data, "--json" })
    assert.are.equal(0, r.code, r.stderr)
    local shown = json.decode(r.stdout)
    local m = shown.models and shown.models[1] or shown[1] or shown
    assert.are.same({ invalid = 4, timeout = 1 }, m.error_classes)
    assert.are.equal(5, m.errors)
  end)
end)
