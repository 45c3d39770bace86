-- SPDX-License-Identifier: MIT
-- The performance report (`causal-eval bench -o perf.html`) in real
-- headless Chromium (spec/chromium.lua): a run of a user benchmark that
-- got slower than its baseline, with the scalability suite beside it. The
-- figures in the DOM are those of the --json file, the curves' points sit
-- at them, the regressions listed are the comparison's, the latency
-- histogram holds every timed call, and the page asks nothing of any host.
-- CAUSAL_EVAL_SCREENSHOT_DIR=DIR keeps a screenshot (docs/images/perf.png).
local H = require "spec.helpers"
local C = require "spec.chromium"
local json = require "causal_eval.json"

local TIME = { ns = 1e-9, us = 1e-6, ms = 1e-3, s = 1 }

-- a figure as the page shows it ("4.288 us", "446,087 ops/s"), back in unit
local function shown(s, unit)
  local n, u = s:match("^([%d.,-]+) ?(.*)$")
  assert(n, "not a figure: " .. tostring(s))
  local v = tonumber((n:gsub(",", "")))
  if TIME[u] and TIME[unit] then return v * TIME[u] / TIME[unit] end
  assert(u == unit, ("unit %s shown for %s"):format(u, unit))
  return v
end

local READ = [[JSON.stringify({
  metrics: [...document.querySelectorAll("tr.metric")].map((r) => ({ ...r.dataset,
    shown: r.querySelector("td.median").textContent })),
  curves: [...document.querySelectorAll("svg.lines g.curve")].map((g) => ({ ...g.dataset,
    points: [...g.querySelectorAll("g.point")].map((p) => ({ ...p.dataset,
      cy: Number(p.querySelector("circle").getAttribute("cy")), whisker: !!p.querySelector("path.whisker") })) })),
  regressions: [...document.querySelectorAll("#regressions li")].map((li) => ({ id: li.dataset.id, text: li.textContent })),
  pairs: [...document.querySelectorAll("svg.pairs g.pair")].map((g) => ({ ...g.dataset, cls: g.getAttribute("class"),
    cur: g.querySelector("rect.cur").getAttribute("class") })),
  comparison: [...document.querySelectorAll("#comparison tr.cmp")].map((r) => ({ ...r.dataset })),
  distributions: [...document.querySelectorAll("svg.histogram g.distribution")].map((g) => ({ ...g.dataset,
    bins: g.querySelectorAll("rect").length, marks: g.querySelectorAll("line.mark").length })),
  sections: [...document.querySelectorAll("section")].map((s) => s.id),
  scripts: document.querySelectorAll("script").length,
  width: document.documentElement.scrollWidth,
})]]

describe("performance report in headless Chromium", function()
  local bin = C.path()
  if not bin then
    io.stderr:write(("\n%s\nSKIPPED: spec/perf_report_spec.lua found no chromium (Debian's `chromium`, or\n" ..
      "CAUSAL_EVAL_CHROMIUM=/path): the performance report was NOT checked in a browser.\n%s\n"):format(("!"):rep(72),
      ("!"):rep(72)))
    pending("chromium is not installed: the performance report was not checked in a browser")
    return
  end
  local dir, b, tab, cur, page, r

  setup(function()
    dir = H.tmpdir()
    local nap = H.write(dir .. "/nap.lua", [[
local host = require "causal_eval.host"
local nap = tonumber(os.getenv("NAP_MS")) / 1000
return { name = "nap", description = "a nap per call", latency_test = function() host.sleep(nap) end }]])
    local function bench(ms, extra)
      return H.run(H.concat({ "bench", nap, "--quick", "--rounds", "2", "--iterations", "20", "--quiet" }, extra),
        { env = { NAP_MS = ms } })
    end
    local base = bench(1, { "--json", dir .. "/base.json" })
    assert(base.code == 0, base.stderr)
    r = bench(4, { "scalability", "--baseline", dir .. "/base.json", "-o", dir .. "/perf.html", "--json", dir .. "/cur.json" })
    cur = json.decode(H.read(dir .. "/cur.json"))
    b = C.launch(bin, H.tmpdir(), 1280, 900)
    tab = b:tab()
    b:go(tab, "file://" .. dir .. "/perf.html")
    page = json.decode(b:eval(tab, READ))
  end)
  teardown(function()
    if b then b:close() end
    H.rm(dir)
  end)

  it("was written by a run that found the regression (exit 1)", function()
    assert.are.equal(1, r.code, r.stdout .. r.stderr)
    assert.are.same({ "baseline", "scalability", "latency", "suites" }, page.sections)
    assert.are.equal(0, page.scripts)
    assert.truthy(page.width <= 1280, "the page is " .. page.width .. " px wide")
  end)

  it("shows every metric of the JSON, at its median", function()
    local want = {}
    for _, s in ipairs(cur.suites) do
      for _, mt in ipairs(s.metrics) do want[mt.id] = mt end
    end
    local n = 0
    for _, row in ipairs(page.metrics) do
      local mt = want[row.id]
      assert.truthy(mt, row.id)
      n = n + 1
      assert.are.equal(mt.median, tonumber(row.median))
      assert.are.equal(mt.status, row.status)
      local v = shown(row.shown, mt.unit)
      assert.truthy(math.abs(v - mt.median) <= 1e-3 * math.abs(mt.median) + 0.5,
        ("%s: %s shown for %.17g"):format(row.id, row.shown, mt.median))
    end
    local total = 0
    for _ in pairs(want) do total = total + 1 end
    assert.are.equal(total, n)
  end)

  it("draws a curve over concurrency and one over workers, points at the medians", function()
    local by = {}
    for _, s in ipairs(cur.suites) do
      for _, mt in ipairs(s.metrics) do by[mt.id] = mt end
    end
    assert.are.equal(2, #page.curves)
    local series = {}
    for _, c in ipairs(page.curves) do
      series[c.series] = true
      assert.truthy(#c.points >= 2)
      for i, p in ipairs(c.points) do
        local mt = by[p.id]
        assert.are.equal(mt.median, tonumber(p.y))
        assert.are.equal(mt.x, tonumber(p.x))
        assert.is_true(p.whisker)
        if i > 1 then
          -- higher is drawn higher (a smaller y on screen)
          local q = c.points[i - 1]
          assert.are.equal(tonumber(p.y) > tonumber(q.y), p.cy < q.cy, p.id)
        end
      end
    end
    assert.is_true(series.concurrency and series.workers)
  end)

  it("lists the comparison's regressions as 'metric: X% slower', with a pair of bars per metric", function()
    local want = {}
    for _, reg in ipairs(cur.comparison.regressions) do want[#want + 1] = reg.id end
    assert.truthy(#want >= 2, "the 4 ms naps were not found slower than 1 ms ones")
    local got = {}
    for i, li in ipairs(page.regressions) do
      got[i] = li.id
      local pct = li.text:match("^" .. li.id:gsub("%p", "%%%0") .. ": ([%d.]+)%% slower$")
      assert.truthy(pct, li.text)
      -- the comparison's own figure, past its threshold and noise (how much
      -- slower the 4 ms naps measure depends on the machine's load: one
      -- metric came out under 100% in CI)
      local reg = cur.comparison.regressions[i]
      assert.are.equal(("%.1f"):format(reg.change), pct)
      assert.truthy(reg.change > cur.comparison.threshold + reg.noise)
    end
    assert.are.same(want, got)
    local compared = 0
    for _, row in ipairs(cur.comparison.rows) do if row.change then compared = compared + 1 end end
    assert.are.equal(compared, #page.pairs)
    for _, p in ipairs(page.pairs) do
      local regressed = false
      for _, id in ipairs(want) do if id == p.id then regressed = true end end
      assert.are.equal(regressed, p.cur:find("regression", 1, true) ~= nil, p.id)
    end
    assert.are.equal(#cur.comparison.rows, #page.comparison)
  end)

  it("draws the distribution of every timed call, with p50, p95 and p99", function()
    assert.are.equal(1, #page.distributions)
    local d = page.distributions[1]
    assert.are.equal("nap.latency_mean", d.id)
    assert.are.equal(2 * 20, tonumber(d.n))
    assert.truthy(d.bins >= 1)
    assert.are.equal(3, d.marks)
  end)

  it("takes a screenshot, prints, and asked nothing of any host", function()
    local png = b:screenshot(tab)
    assert.truthy(#png > 20000)
    local keep = os.getenv("CAUSAL_EVAL_SCREENSHOT_DIR")
    if keep and keep ~= "" then
      H.write(keep .. "/perf.png", b:screenshot(tab, "body", 2600))
    end
    local pdf = b:call("Page.printToPDF", { printBackground = true }, tab)
    assert.truthy(#pdf.data > 1000)
    for _, e in ipairs(b.events) do
      assert.are_not.equal("Runtime.exceptionThrown", e.method)
      if e.method == "Log.entryAdded" then
        assert.are_not.equal("error", e.params.entry.level, e.params.entry.text)
      end
    end
    b:close()
    for _, url in ipairs(b:page_requests()) do
      assert.truthy(url:match("^file://") or url:match("^data:"), url)
    end
  end)
end)
