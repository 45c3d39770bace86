-- SPDX-License-Identifier: MIT
-- The profilers find a planted hot function and a planted leak, count I/O
-- that matches known traffic, and draw a flame graph.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local profiling = require "causal_eval.profiling"

local PLANTED = [[
local function light(n) local s = 0 for i = 1, n do s = s + i end return s end
local function hot(n) local s = 0 for i = 1, n do s = s + math.sin(i) * math.cos(i) end return s end
leak_store = {}
local function leaky() for i = 1, 1000 do leak_store[#leak_store + 1] = ("x"):rep(100) .. i end end
local function churn() local t = {} for i = 1, 1000 do t[i] = ("y"):rep(100) .. i end return #t end
local t0 = os.clock()
-- hot does four times the arithmetic it needs to lead: under AddressSanitizer
-- every allocation of leaky and churn costs several times more, and hot(20000)
-- came third there
while os.clock() - t0 < (tonumber(arg and arg[1]) or 0.6) do light(2000); hot(80000); leaky(); churn() end
]]

describe("causal_eval.profiling", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rm(dir) end)

  it("finds the hot function, the growing table, and draws a flame graph", function()
    local script = H.write(dir .. "/planted.lua", PLANTED)
    local r = H.run({ "profile", "--top", "5", "--svg", dir .. "/f.svg", "--folded", dir .. "/f.folded",
                      "--json", dir .. "/p.json", script, "0.6" })
    assert.are.equal(0, r.code, r.stderr)
    local a = json.decode(H.read(dir .. "/p.json"))
    assert.matches("^hot %(", a.cpu_hotspots[1]["function"])
    assert.is_true(a.cpu_hotspots[1].self_pct > 25)
    assert.are.equal("_G.leak_store", a.leaks[1].site)
    assert.are.equal(1, #a.leaks) -- the churning function's garbage is not a leak
    assert.truthy(r.stderr:find("self%", 1, true))
    assert.truthy(r.stderr:find("<- ", 1, true)) -- caller edges
    local svg = H.read(dir .. "/f.svg")
    assert.matches("^<%?xml", svg)
    assert.truthy(svg:find("hot (", 1, true))
    assert.truthy(svg:find("</svg>", 1, true))
    local folded = H.read(dir .. "/f.folded")
    assert.matches("main %([^)]*%);[^\n]*hot %([^\n]* %d+\n", folded)
  end)

  it("profiles a scope, with to-be-closed variables, one collection at a time", function()
    local p = profiling.PerformanceProfiler{}
    local function spin() local s = 0 for i = 1, 3e6 do s = s + i % 7 end return s end
    do
      local _ <close> = p:scope()
      spin()
      assert.has_error(function() profiling.PerformanceProfiler{}:start() end)
    end
    local a = p:analyze()
    assert.is_true(a.samples > 0)
    assert.matches("^spin %(", a.cpu_hotspots[1]["function"])
    assert.are.equal(42, p:run(function(x) return x * 2 end, 21))
  end)

  it("counts HTTP and LMDB traffic of a run exactly", function()
    local qfile = H.questions(dir, { "ladder", "--n", "200" })
    local mock = H.mock({ "--questions", qfile })
    local r = H.run({ "run", "--quiet", "--model", "openai:m@" .. mock.url, "--questions", qfile, "--data", dir .. "/d",
                      "--cache", "off", "--profile-out", dir .. "/run" })
    assert.are.equal(0, r.code, r.stderr)
    local a = json.decode(H.read(dir .. "/run.json"))
    local io = {}
    for _, v in ipairs(a.io_bottlenecks) do io[v.path] = v end
    assert.are.equal(200, io.http.ops)
    assert.are.equal(mock:stats().requests, io.http.ops)
    assert.are.equal(400, io.lmdb.ops) -- a record and a score line per question
    assert.is_true(io.http.bytes > 200 * 500)
    assert.is_true(a.samples > 0)
    assert.truthy(r.stderr:find("I/O:", 1, true))
    mock:stop()
  end)

  it("names bad options", function()
    local r = H.run({ "profile", "--sort", "fastest", "x.lua" })
    assert.are.equal(2, r.code)
    r = H.run({ "profile" })
    assert.are.equal(2, r.code)
    r = H.run({ "profile", dir .. "/missing.lua" })
    assert.are.equal(1, r.code)
  end)
end)
