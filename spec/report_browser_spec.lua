-- SPDX-License-Identifier: MIT
-- The report and the leaderboard in real headless Chromium (Debian's
-- chromium, over the DevTools pipe: spec/chromium.lua): a report of a run
-- of the three baselines (`causal-eval run`, offline) whose numbers in the
-- DOM are those of `results show --json`, whose bars are drawn at those
-- numbers, that prints, asks nothing of any host and throws nothing; the
-- leaderboard's rows against `leaderboard --json`; screenshots
-- (CAUSAL_EVAL_SCREENSHOT_DIR=DIR keeps them: docs/images/report*.png).
local H = require "spec.helpers"
local C = require "spec.chromium"
local json = require "causal_eval.json"

-- a number as the page writes it, back, with the tolerance its digits leave
local function shown(text)
  local n, unit = text:match("^([%d.,+-]+) ?(.*)$")
  assert(n, "not a number: " .. tostring(text))
  local v = tonumber((n:gsub(",", "")))
  local scale = ({ ["%"] = 0.01, ms = 1, s = 1000 })[unit]
  assert(scale, "unit " .. unit)
  local decimals = #(n:match("%.(%d+)") or "")
  return v * scale, 0.5 * 10 ^ -decimals * scale
end

local function close(a, b, tol, what)
  assert(type(a) == "number" and type(b) == "number" and math.abs(a - b) <= tol,
    ("%s: %s and %s differ by more than %g"):format(what, tostring(a), tostring(b), tol))
end

local READ = [[JSON.stringify({
  rows: [...document.querySelectorAll("#headline tr.headline-row")].map((r) => ({ ...r.dataset,
    label: r.querySelector("td.model").textContent, acc: r.querySelector("td.acc").textContent,
    ci: r.querySelector("td.ci").textContent, p50_text: r.querySelector("td.p50").textContent,
    p95_text: r.querySelector("td.p95").textContent, p99_text: r.querySelector("td.p99").textContent,
    n_text: r.querySelector("td.n").textContent })),
  bars: [...document.querySelectorAll("svg.bars g.bar")].map((g) => {
    const svg = g.ownerSVGElement, grid = [...svg.querySelectorAll("line.grid")];
    const x0 = Number(grid[0].getAttribute("x1")), x1 = Number(grid[grid.length - 1].getAttribute("x1"));
    const path = g.querySelector("path.whisker").getAttribute("d").match(/M([\d.]+) [\d.]+H([\d.]+)/);
    return { ...g.dataset, plot: x1 - x0, drawn: Number(g.querySelector("rect").getAttribute("width")) / (x1 - x0),
             lo_drawn: (Number(path[1]) - x0) / (x1 - x0), hi_drawn: (Number(path[2]) - x0) / (x1 - x0),
             shown: g.querySelector("text.val").textContent,
             visible: g.getBoundingClientRect().width > 0 };
  }),
  pairs: [...document.querySelectorAll("#pairs tr.pair")].map((r) => ({ ...r.dataset,
    diff_text: r.querySelector("td.diff").textContent, holm_text: r.querySelector("td.holm").textContent })),
  forest: document.querySelectorAll("svg.forest g.forest-row").length,
  sections: [...document.querySelectorAll("section")].map((s) => s.id),
  width: document.documentElement.scrollWidth,
})]]

describe("report in headless Chromium", function()
  local bin = C.path()
  if not bin then
    io.stderr:write(("\n%s\nSKIPPED: spec/report_browser_spec.lua found no chromium (Debian's `chromium`, or\n" ..
      "CAUSAL_EVAL_CHROMIUM=/path): the report was NOT checked in a browser.\n" ..
      "tools/install-deps.sh installs it.\n%s\n"):format(("!"):rep(72), ("!"):rep(72)))
    pending("chromium is not installed: the report was not checked in a browser")
    return
  end

  local dir, data, b, tab, shown_json, page_url
  local keep = os.getenv("CAUSAL_EVAL_SCREENSHOT_DIR")

  setup(function()
    dir = H.tmpdir()
    data = dir .. "/data"
    local env = { CAUSAL_EVAL_MODEL = false, XDG_CACHE_HOME = dir .. "/cache" }
    local r = H.run({ "run", "--n", "20", "--data", data, "--quiet" }, { env = env })
    assert(r.code == 0, r.stderr)
    r = H.run({ "results", "show", "last", "--json", "--data", data })
    assert(r.code == 0, r.stderr)
    shown_json = json.decode(r.stdout)
    r = H.run({ "report", "last", "--data", data, "-o", dir .. "/report.html" })
    assert(r.code == 0, r.stderr)
    page_url = "file://" .. dir .. "/report.html"
    b = C.launch(bin, H.tmpdir(), 1280, 900)
    tab = b:tab()
    b:go(tab, page_url)
  end)

  teardown(function()
    if b then
      b:close()
      H.rm(b.dir)
    end
    if dir then H.rm(dir) end
  end)

  it("shows each model's figures as `results show --json` gives them", function()
    local page = json.decode(b:eval(tab, READ))
    local models = shown_json.models
    assert.are.equal(3, #models)
    assert.are.equal(#models, #page.rows)
    for i, m in ipairs(models) do
      local row = page.rows[i]
      assert.are.equal(m.model, row.model)
      assert.are.equal(m.model, row.label)
      assert.are.equal(m.n, tonumber(row.n))
      assert.are.equal(tostring(m.n), row.n_text:gsub(",", ""))
      assert.are.equal(m.accuracy, tonumber(row.accuracy))
      assert.are.equal(m.ci[1], tonumber(row.lo))
      assert.are.equal(m.ci[2], tonumber(row.hi))
      assert.are.equal(("%.1f%%"):format(m.accuracy * 100), row.acc)
      assert.are.equal(("[%.1f%%, %.1f%%]"):format(m.ci[1] * 100, m.ci[2] * 100), row.ci)
      assert.are.equal(m.unparseable, tonumber(row.unparseable))
      assert.are.equal(m.errors, tonumber(row.errors))
      for _, q in ipairs({ "p50", "p95", "p99" }) do
        assert.are.equal(m.latency_ms[q], tonumber(row[q]), q)
        local v, tol = shown(row[q .. "_text"])
        close(v, m.latency_ms[q], tol + 1e-12, m.model .. " " .. q)
      end
    end
  end)

  it("draws every group's bar at its accuracy and its whisker at its interval", function()
    local page = json.decode(b:eval(tab, READ))
    local by = {}
    for _, m in ipairs(shown_json.models) do by[m.model] = m end
    local seen = { family = 0, difficulty = 0, rung = 0, domain = 0 }
    for _, bar in ipairs(page.bars) do
      seen[bar.kind] = seen[bar.kind] + 1
      assert.is_true(bar.visible)
      local m = by[bar.model]
      local g = m["by_" .. bar.kind]
      if g then -- results show has no domains: those are checked against the records in report_spec
        g = g[bar.key]
        assert.are.equal(g.n, tonumber(bar.n), bar.kind .. " " .. bar.key)
        assert.are.equal(g.accuracy, tonumber(bar.accuracy))
        assert.are.equal(g.ci[1], tonumber(bar.lo))
        assert.are.equal(g.ci[2], tonumber(bar.hi))
        assert.are.equal(("%.1f%%"):format(g.accuracy * 100), bar.shown)
      end
      -- drawn to the tenth of a pixel the SVG is written in
      local px = 0.1 / bar.plot + 1e-9
      close(bar.drawn, tonumber(bar.accuracy), px, "bar")
      close(bar.lo_drawn, tonumber(bar.lo), px, "whisker low")
      close(bar.hi_drawn, tonumber(bar.hi), px, "whisker high")
    end
    local fams = 0
    for _ in pairs(shown_json.models[1].by_family) do fams = fams + 1 end
    assert.are.equal(3 * fams, seen.family)
    assert.are.equal(9, seen.difficulty)
    assert.truthy(seen.rung >= 6 and seen.domain >= 6)
    assert.are.same({ "summary", "accuracy", "differences", "latency", "cost", "errors", "settings" }, page.sections)
    assert.truthy(page.width <= 1280, "the page is wider than the window: " .. page.width)
  end)

  it("shows the paired differences `results show --json` gives, in the table and the forest plot", function()
    local page = json.decode(b:eval(tab, READ))
    local comps = shown_json.comparisons
    assert.are.equal(3, #comps)
    assert.are.equal(#comps, #page.pairs)
    assert.are.equal(#comps, page.forest)
    for i, c in ipairs(comps) do
      local p = page.pairs[i]
      assert.are.same({ c.a, c.b, c.n, c.diff, c.ci[1], c.ci[2], c.p_holm },
        { p.a, p.b, tonumber(p.n), tonumber(p.diff), tonumber(p.lo), tonumber(p.hi), tonumber(p.pHolm) })
      assert.are.equal(("%+.1f%%"):format(c.diff * 100), p.diff_text)
      local v, tol = tonumber(p.holm_text), 0.00005
      if p.holm_text == "<0.0001" then v, tol = 0, 0.0001 end
      close(v, c.p_holm, tol + 1e-12, "p (Holm)")
    end
  end)

  it("prints to paper", function()
    local pdf = b:call("Page.printToPDF", { printBackground = true }, tab)
    local bytes = H.sh("base64 -d <" .. H.quote(H.write(b.dir .. "/r.b64", pdf.data)))
    assert.are.equal("%PDF", bytes:sub(1, 4))
    local _, pages = bytes:gsub("/Type%s*/Page[^s]", "")
    assert.truthy(pages >= 3, pages .. " pages")
  end)

  it("takes screenshots of what it shows", function()
    local shots = {
      { "report.png", nil }, { "report-accuracy.png", "#accuracy" }, { "report-differences.png", "#differences" },
      { "report-latency.png", "#latency" }, { "report-errors.png", "#errors" },
    }
    for _, s in ipairs(shots) do
      local png = b:screenshot(tab, s[2], 1500)
      assert.truthy(#png > 20000, s[1] .. " is " .. #png .. " bytes")
      local w = string.unpack(">I4", png, 17) -- the IHDR chunk
      assert.truthy(w >= 800 and w <= 1280, s[1] .. " is " .. w .. " pixels wide")
      if keep and keep ~= "" then H.write(keep .. "/" .. s[1], png) end
    end
  end)

  it("shows the leaderboard's rows as `leaderboard --json` gives them", function()
    local r = H.run({ "leaderboard", "--data", data, "--json" })
    assert.are.equal(0, r.code, r.stderr)
    local lb = json.decode(r.stdout)
    r = H.run({ "leaderboard", "--data", data, "-o", dir .. "/lb.html" })
    assert.are.equal(0, r.code, r.stderr)
    local t2 = b:tab()
    b:go(t2, "file://" .. dir .. "/lb.html")
    local rows = json.decode(b:eval(t2, [[JSON.stringify([...document.querySelectorAll("#leaderboard tr.lb-row")].map(
      (r) => ({ ...r.dataset, acc: r.querySelector("td.acc").textContent })))]]))
    assert.are.equal(#lb.models, #rows)
    for i, m in ipairs(lb.models) do
      assert.are.same({ m.model, m.rank, m.group, m.accuracy, m.ci[1], m.ci[2] },
        { rows[i].model, tonumber(rows[i].rank), tonumber(rows[i].group), tonumber(rows[i].accuracy),
          tonumber(rows[i].lo), tonumber(rows[i].hi) })
      assert.are.equal(("%.1f%%"):format(m.accuracy * 100), rows[i].acc)
    end
    local png = b:screenshot(t2, "body", 900)
    if keep and keep ~= "" then H.write(keep .. "/leaderboard.png", png) end
  end)

  it("asked for nothing but its own file, threw nothing and logged no error", function()
    for _, e in ipairs(b.events) do
      if e.method == "Network.requestWillBeSent" then
        local url = e.params.request.url
        assert.truthy(url:match("^file://" .. dir:gsub("%p", "%%%0") .. "/[%w]+%.html$") or url:match("^data:"), url)
      elseif e.method == "Runtime.exceptionThrown" then
        error("the page threw: " .. json.encode(e.params.exceptionDetails))
      elseif e.method == "Log.entryAdded" and e.params.entry.level == "error" then
        error("console error: " .. tostring(e.params.entry.text))
      end
    end
    -- Chromium's own record of every request a page started
    b:close()
    local urls = b:page_requests()
    for _, url in ipairs(urls) do
      assert.truthy(url:match("^file://") or url:match("^data:"), "the page asked " .. url)
    end
  end)
end)
