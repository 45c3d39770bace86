-- SPDX-License-Identifier: MIT
-- JUnit XML of `causal-eval bench --junit` and `causal-eval run --junit`:
-- valid against the common JUnit layout (spec/data/junit.xsd, checked by
-- xmllint), and read back here: counts that add up, every metric and
-- every stored answer a testcase with the right outcome.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local junit = require "causal_eval.perf.junit"

-- A small reader of the XML junit.lua writes: elements with attributes,
-- children and text; entities decoded. Enough to hold the file to its
-- counts, not a general parser.
local ENT = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'" }
local function unescape(s)
  return (s:gsub("&(#?)(%w+);", function(hash, name)
    if hash == "#" then return utf8.char(tonumber(name)) end
    return ENT[name]
  end))
end

local function parse(xml)
  local root = { children = {} }
  local stack = { root }
  local pos = xml:find("<", (xml:find("?>", 1, true) or 0) + 1, true)
  while pos do
    local top = stack[#stack]
    local close = xml:match("^</([%w-]+)>", pos)
    if close then
      assert(top.tag == close, ("</%s> closes <%s>"):format(close, tostring(top.tag)))
      stack[#stack] = nil
      pos = pos + #close + 3
    else
      local tag, attrs, empty, e = xml:match("^<([%w-]+)([^>]-)(/?)>()", pos)
      assert(tag, "bad markup at " .. pos .. ": " .. xml:sub(pos, pos + 40))
      local el = { tag = tag, attr = {}, children = {}, text = "" }
      for k, v in attrs:gmatch('([%w:-]+)="([^"]*)"') do el.attr[k] = unescape(v) end
      top.children[#top.children + 1] = el
      pos = e
      if empty == "" then stack[#stack + 1] = el end
    end
    local nxt = xml:find("<", pos, true)
    if nxt and #stack > 1 then stack[#stack].text = stack[#stack].text .. unescape(xml:sub(pos, nxt - 1)) end
    pos = nxt
  end
  assert(#stack == 1, "unclosed <" .. tostring(stack[#stack].tag) .. ">")
  return root.children[1]
end

local function kids(el, tag)
  local out = {}
  for _, c in ipairs(el.children) do if c.tag == tag then out[#out + 1] = c end end
  return out
end

local function outcome(tc)
  for _, k in ipairs({ "failure", "error", "skipped" }) do
    if kids(tc, k)[1] then return k, kids(tc, k)[1] end
  end
  return "passed"
end

-- The file valid against the schema (xmllint), and its counts consistent at every level.
local function check(path)
  local r = H.run({ "xmllint", "--noout", "--schema", H.root .. "/spec/data/junit.xsd", path }, { bin = false })
  assert(r.code == 0, "xmllint: " .. r.stderr)
  local doc = parse(H.read(path))
  assert.are.equal("testsuites", doc.tag)
  local total = { tests = 0, failures = 0, errors = 0, skipped = 0 }
  for _, s in ipairs(kids(doc, "testsuite")) do
    local n = { tests = 0, failures = 0, errors = 0, skipped = 0 }
    for _, tc in ipairs(kids(s, "testcase")) do
      n.tests = n.tests + 1
      local o = outcome(tc)
      if o == "failure" then n.failures = n.failures + 1 end
      if o == "error" then n.errors = n.errors + 1 end
      if o == "skipped" then n.skipped = n.skipped + 1 end
    end
    for k, v in pairs(n) do
      assert.are.equal(v, tonumber(s.attr[k]), ("testsuite %s: %s"):format(s.attr.name, k))
      total[k] = total[k] + v
    end
  end
  for k, v in pairs(total) do assert.are.equal(v, tonumber(doc.attr[k]), "testsuites: " .. k) end
  return doc
end

local function xmllint_missing()
  local _, code = H.sh("command -v xmllint")
  return code ~= 0
end

describe("JUnit XML", function()
  if xmllint_missing() then
    io.stderr:write("\nSKIPPED: spec/junit_spec.lua found no xmllint (Debian's libxml2-utils; tools/install-deps.sh)\n")
    pending("xmllint is not installed: JUnit files were not checked against the schema")
    return
  end
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("escapes what XML cannot hold as it is", function()
    assert.are.equal("a &lt;b&gt; &amp; c", junit.text("a <b> & c"))
    assert.are.equal("&quot;x&quot; &apos;y&apos;&#10;z", junit.attr("\"x\" 'y'\nz"))
    -- a NUL, a form feed and a lone 0xff byte are not XML: each becomes U+FFFD
    assert.are.equal("a\239\191\189b\239\191\189c\239\191\189", junit.text("a\0b\12c\255"))
    local doc = junit.document("t", { { name = "s\1", cases = { { name = "n<&>", classname = "c", time = 1,
                                                                 kind = "failure", message = "m\"", body = "\0" } } } })
    local path = H.write(dir .. "/esc.xml", doc)
    local d = check(path)
    local tc = kids(kids(d, "testsuite")[1], "testcase")[1]
    assert.are.equal("n<&>", tc.attr.name)
    assert.are.equal('m"', kids(tc, "failure")[1].attr.message)
  end)

  it("bench --junit: a testcase per metric; failures, errors and skips as such", function()
    local path = H.write(dir .. "/mixed.lua", [[
return {
  name = "mixed",
  measures = {
    { name = "fine", unit = "ms", better = "lower", target = { max = 10 }, run = function() return 1 end },
    { name = "slow", unit = "ms", better = "lower", target = { max = 1 }, run = function() return 5 end },
    { name = "check", unit = "%", run = function() return 99, "2 questions unaccounted" end },
    { name = "boom", run = function() error("no disk") end },
    { name = "away", run = function(ctx) ctx:skip("redis-server is not installed") end },
  },
}]])
    local skip = H.write(dir .. "/skip.lua", [[return { setup = function(ctx) ctx:skip("no GPU") end, latency_test = function() end }]])
    local r = H.run({ "bench", path, skip, "--quick", "--quiet", "--junit", dir .. "/bench.xml", "--json", dir .. "/bench.json" })
    assert.are.equal(1, r.code, r.stderr)
    local doc = check(dir .. "/bench.xml")
    assert.are.equal("causal-eval bench", doc.attr.name)
    local suites = kids(doc, "testsuite")
    assert.are.equal(2, #suites)
    assert.are.equal("mixed", suites[1].attr.name)
    local by = {}
    for _, tc in ipairs(kids(suites[1], "testcase")) do
      assert.are.equal("bench.mixed", tc.attr.classname)
      by[tc.attr.name] = tc
    end
    assert.are.equal("passed", outcome(by.fine))
    assert.matches("median 1 ms over 2 rounds", kids(by.fine, "system-out")[1].text)
    local o, el = outcome(by.slow)
    assert.are.equal("failure", o)
    assert.are.equal("target", el.attr.type)
    o, el = outcome(by.check)
    assert.are.equal("failure", o)
    assert.are.equal("2 questions unaccounted", el.attr.message)
    o, el = outcome(by.boom)
    assert.are.equal("error", o)
    assert.matches("no disk", el.attr.message)
    o, el = outcome(by.away)
    assert.are.equal("skipped", o)
    assert.are.equal("redis-server is not installed", el.attr.message)
    assert.are.equal("1", suites[2].attr.skipped)
    assert.are.equal("no GPU", select(2, outcome(kids(suites[2], "testcase")[1])).attr.message)
    -- one testcase per metric of the JSON
    local d = json.decode(H.read(dir .. "/bench.json"))
    assert.are.equal(#d.suites[1].metrics, #kids(suites[1], "testcase"))
  end)

  it("run --junit: a testsuite per model, a testcase per stored answer, outcomes as the store has them", function()
    local q = H.questions(dir, { "ladder,intervention", "--n", "40", "--seed", "9" })
    local mock = H.mock{ "--questions", q, "--accuracy", "0.7", "--fault-500", "0.1", "--seed", "2" }
    local r, rep = H.run_json({ "--model", "openai:m@" .. mock.url, "--model", "baseline:always_yes", "--questions", q,
                                "--data", dir .. "/data", "--cache", "off", "--max-attempts", "1",
                                "--junit", dir .. "/run.xml" })
    mock:stop()
    assert.are.equal(0, r.code, r.stderr)
    local doc = check(dir .. "/run.xml")
    assert.are.equal("causal-eval run " .. rep.run_id, doc.attr.name)
    local suites = kids(doc, "testsuite")
    assert.are.equal(2, #suites)
    local records = H.records(dir .. "/data", rep.run_id)
    for i, s in ipairs(suites) do
      local m = rep.models[i]
      assert.are.equal(m.model, s.attr.name)
      local want = { passed = 0, failure = 0, error = 0 }
      local by = {}
      for _, rec in ipairs(records) do
        if rec.model == m.model then
          local k = rec.error and "error" or (rec.correct and "passed" or "failure")
          want[k] = want[k] + 1
          by[rec.question_id] = rec
        end
      end
      local got = { passed = 0, failure = 0, error = 0 }
      for _, tc in ipairs(kids(s, "testcase")) do
        local o, el = outcome(tc)
        got[o] = got[o] + 1
        local rec = by[tc.attr.name]
        assert.truthy(rec, tc.attr.name)
        assert.are.equal(rec.family, tc.attr.classname)
        if o == "failure" then
          assert.are.equal(("answered %s, expected %s"):format(rec.parsed, rec.ground_truth), el.attr.message)
          assert.are.equal(rec.response, el.text)
        elseif o == "error" then
          assert.are.equal(rec.error.class, el.attr.type)
        end
      end
      assert.are.same(want, got)
      assert.are.equal(m.n, #kids(s, "testcase"))
      assert.are.equal(m.errors, tonumber(s.attr.errors))
      local props = {}
      for _, p in ipairs(kids(kids(s, "properties")[1], "property")) do props[p.attr.name] = p.attr.value end
      assert.are.equal(rep.run_id, props.run_id)
      assert.near(m.accuracy, tonumber(props.accuracy), 1e-6)
    end
    -- the mock failed some requests and the always-yes baseline got some wrong: both kinds are there
    assert.truthy(tonumber(suites[1].attr.errors) > 0 and tonumber(suites[2].attr.failures) > 0)
  end)

  it("run --junit to a file that cannot be written: exit 1, saying which", function()
    local r = H.run({ "run", "--model", "baseline:random", "--bench", "ladder", "--n", "3", "--data", dir .. "/d2", "--quiet",
                      "--junit", dir .. "/no/such/dir/x.xml" })
    assert.are.equal(1, r.code)
    assert.matches("%-%-junit .*no/such/dir/x%.xml", r.stderr)
  end)
end)
