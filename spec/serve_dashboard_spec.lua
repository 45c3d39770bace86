-- SPDX-License-Identifier: MIT
-- The dashboard of `causal-eval serve` (serve/dashboard.lua): first its
-- parts in this state against the metrics registry's own figures, then the
-- page in real headless Chromium (Debian's chromium, driven over the
-- DevTools protocol on a pipe) against a real server on 127.0.0.1: its
-- login, the numbers it shows against /metrics and /results/summary, its
-- thresholds, a screenshot, and that it asked nothing of any other host.
local H = require "spec.helpers"
local S = require "spec.serve_helpers"
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local metrics = require "causal_eval.metrics"
local dashboard = require "causal_eval.serve.dashboard"

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end

local function close(a, b, tol, what)
  assert(a and b and math.abs(a - b) <= tol, ("%s: %s and %s differ by more than %g"):format(what, tostring(a), tostring(b), tol))
end

-- the buckets host/core/serve/server.c gives causal_eval_http_request_duration_seconds
local BUCKETS = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 }

describe("serve dashboard, in this state", function()
  it("hashes with SHA-256 and writes base64 as the standards' vectors say", function()
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex(dashboard.sha256("")))
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex(dashboard.sha256("abc")))
    assert.are.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      hex(dashboard.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))
    -- 55, 56 and 64 bytes: the padding's edge cases
    assert.are.equal("9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318", hex(dashboard.sha256(("a"):rep(55))))
    assert.are.equal("b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a", hex(dashboard.sha256(("a"):rep(56))))
    assert.are.equal("ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb", hex(dashboard.sha256(("a"):rep(64))))
    for _, v in ipairs({ { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foobar", "Zm9vYmFy" } }) do
      assert.are.equal(v[2], dashboard.base64(v[1]))
    end
  end)

  it("reads the registry's text as /metrics gives it, with the registry's own quantiles", function()
    -- the server's metrics, registered here under the same names as in server.c and run_metrics.lua
    local req = metrics.counter("causal_eval_http_requests_total", "HTTP requests answered", { "route", "method", "status" })
    local dur = metrics.histogram("causal_eval_http_request_duration_seconds", "Time to answer", { "route" }, BUCKETS)
    local fam = require("causal_eval.run_metrics").families()
    local single = { 0.0003, 0.0007, 0.002, 0.004, 0.004, 0.008, 0.02, 0.04, 0.3, 0.7, 1.5, 3, 7, 12, 40 }
    for i, v in ipairs(single) do
      dur:observe(v, { route = "/evaluate/single" })
      req:inc({ route = "/evaluate/single", method = "POST", status = i % 5 == 0 and "400" or "200" })
    end
    for _, v in ipairs({ 0.003, 0.006, 0.009, 2 }) do
      dur:observe(v, { route = "/evaluate/batch" })
      req:inc({ route = "/evaluate/batch", method = "POST", status = "200" })
    end
    -- answers of other routes count neither as evaluations nor in their latency
    dur:observe(25, { route = "/results/summary" })
    req:inc(7, { route = "/results/summary", method = "GET", status = "500" })
    req:inc({ route = "/evaluate/single", method = "POST", status = "502" })
    fam.questions:inc(5, { model_name = "m\"1\\x", task_type = "ladder", outcome = "correct" })
    fam.questions:inc(2, { model_name = "m\"1\\x", task_type = "ladder", outcome = "wrong" })
    fam.questions:inc(1, { model_name = "m2", task_type = "chain", outcome = "error" })
    fam.memory:set(123456789)

    local c = dashboard.counts(metrics.expose())
    assert.are.equal(8, c.evaluations)
    assert.are.same({ correct = 5, wrong = 2, error = 1 }, c.outcomes)
    assert.are.equal(15 + 4 + 1, c.requests)
    assert.are.equal(3 + 1, c.errors) -- three 400s and the 502
    assert.are.equal(123456789, c.memory_bytes)
    assert.are.same(BUCKETS, c.latency.le)
    assert.are.equal(19, c.latency.count)
    -- one route alone: the registry's own quantile (C) and ours agree
    local one = dashboard.counts((metrics.expose():gsub("[^\n]*route=\"/evaluate/batch\"[^\n]*\n", "")))
    for _, q in ipairs({ 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1 }) do
      close(dashboard.quantile(q, one.latency.le, one.latency.counts, one.latency.count),
        dur:quantile(q, { route = "/evaluate/single" }), 1e-12, "quantile " .. q)
    end
    -- both routes: the buckets added up, as histogram_quantile(sum by (le) (...)) takes them
    local counts = {}
    for i, le in ipairs(BUCKETS) do
      local n = 0
      for _, v in ipairs(single) do if v <= le then n = n + 1 end end
      for _, v in ipairs({ 0.003, 0.006, 0.009, 2 }) do if v <= le then n = n + 1 end end
      counts[i] = n
    end
    assert.are.same(counts, c.latency.counts)
    -- rank 9.5 of 19 falls in (0.005, 0.01], which holds 7..9: 0.005 + 0.005 * (9.5 - 7) / 2 is past it; check exactly
    local rank, prev_le, prev_c = 0.5 * 19, 0, 0
    local want
    for i, le in ipairs(BUCKETS) do
      if counts[i] >= rank then
        want = prev_le + (le - prev_le) * (rank - prev_c) / (counts[i] - prev_c)
        break
      end
      prev_le, prev_c = le, counts[i]
    end
    close(dashboard.quantile(0.5, c.latency.le, c.latency.counts, c.latency.count), want, 1e-12, "merged p50")
    -- a rank in the +Inf bucket: the highest finite bound, as Prometheus answers
    assert.are.equal(30, dashboard.quantile(1, c.latency.le, c.latency.counts, c.latency.count))
    assert.is_nil(dashboard.quantile(0.5, {}, {}, 0))
  end)

  it("checks each threshold only when its figure exists", function()
    local c = { evaluations = 30, requests = 40, errors = 3, memory_bytes = 9 * 2 ^ 30,
                latency = { le = { 1, 10, 30 }, counts = { 10, 30, 40 }, count = 40 } }
    local f = dashboard.figures(c, 10, { error_rate = 0.05, latency_p95 = 10, memory_usage_gb = 8 })
    assert.are.equal(3, f.evaluations_per_s)
    assert.are.equal(0.075, f.error_rate)
    close(f.latency_p95, 10 + 20 * (38 - 30) / 10, 1e-12, "p95")
    assert.are.same({ error_rate = true, latency_p95 = true, memory_bytes = true }, f.crossed)
    f = dashboard.figures({ evaluations = 0, requests = 0, errors = 0, latency = { le = {}, counts = {}, count = 0 } }, 0,
      { error_rate = 0.05, latency_p95 = 10, memory_usage_gb = 8 })
    assert.is_nil(f.error_rate)
    assert.is_nil(f.latency_p95)
    assert.is_nil(f.evaluations_per_s)
    assert.are.same({ error_rate = false, latency_p95 = false, memory_bytes = false }, f.crossed)
  end)

  it("is one page with nothing to fetch, whose script and style are the ones its policy names", function()
    local config = require "causal_eval.config"
    local cfg = assert(config.load{ set = { "dashboard.refresh_interval=7" } })
    assert.are.equal(0.05, cfg.values.dashboard.thresholds.error_rate)
    assert.are.equal(10, cfg.values.dashboard.thresholds.latency_p95)
    assert.are.equal(8, cfg.values.dashboard.thresholds.memory_usage_gb)
    local html = dashboard.page(cfg.values)
    assert.matches('data-refresh="7"', html, 1, true)
    -- every src, href and action is data: (the favicon, so that none is asked for)
    for attr, value in html:gmatch("%s([%w:-]+)%s*=%s*\"([^\"]*)\"") do
      if attr == "src" or attr == "href" or attr == "action" or attr == "xlink:href" then
        assert.matches("^data:", value, nil, false)
      end
    end
    assert.is_nil(html:find("@import", 1, true))
    assert.is_nil(html:find("url(", 1, true))
    -- the only absolute URLs are the two XML namespaces the script creates elements in
    for url in html:gmatch("%a+://[^\"'%s)]+") do
      assert.truthy(url == "http://www.w3.org/2000/svg" or url == "http://www.w3.org/1999/xhtml", url)
    end
    local script = html:match("<script>(.-)</script>")
    local style = html:match("<style>(.-)</style>")
    local csp = html:match('http%-equiv="Content%-Security%-Policy" content="([^"]+)"')
    assert.truthy(script and style and csp)
    assert.matches("default-src 'none'", csp, 1, true)
    assert.matches("connect-src 'self'", csp, 1, true)
    assert.matches("script-src 'sha256-" .. dashboard.base64(dashboard.sha256(script)) .. "'", csp, 1, true)
    assert.matches("style-src 'sha256-" .. dashboard.base64(dashboard.sha256(style)) .. "'", csp, 1, true)
    local _, nscripts = html:gsub("<script", "")
    assert.are.equal(1, nscripts)
  end)

  it("answers the data route from the registry and a real store, memory as host.rss() has it", function()
    local results = require "causal_eval.results"
    local dir = H.tmpdir()
    local st = assert(results.open(dir .. "/data", { map_size_mb = 16, sync = false, raise_damage = false }))
    local values = { dashboard = { refresh_interval = 2, thresholds = { error_rate = 0.05, latency_p95 = 10, memory_usage_gb = 8 } } }
    local ctx = { st = st, reader = st, values = values } -- as a serve worker has them (reads may go to a replica)
    local status, body, headers = dashboard.data(ctx, { query = {}, headers = {} })
    assert.are.equal(200, status)
    assert.are.equal("no-store", headers["Cache-Control"])
    local d = json.decode(body)
    assert.are.equal(2, d.refresh_interval)
    assert.are.same(values.dashboard.thresholds, d.thresholds)
    assert.truthy(d.uptime_s > 0 and d.uptime_s < 3600, tostring(d.uptime_s))
    local rss = host.rss()
    close(d.memory_bytes, rss, math.max(rss * 0.25, 8 * 2 ^ 20), "memory")
    assert.are.same({}, d.accuracy.models)
    assert.are.equal(30, d.accuracy.days)
    -- the registry now holds the same figure, for /metrics
    close(metrics.gauge("causal_eval_memory_bytes", "Resident memory of the process"):value(), d.memory_bytes, 0, "gauge")
    st:close()
    H.rm(dir)
  end)
end)

-- ---- headless Chromium over the DevTools protocol (spec/chromium.lua) ----

local chromium = require "spec.chromium"

-- ---- what the page shows, and what the server says ----

-- Everything the checks read off the page, in one evaluation so it is one moment.
local READ_PAGE = [[JSON.stringify({
  updates: Number(document.getElementById("dash").dataset.updates),
  window: document.getElementById("dash").dataset.window,
  span: Number(document.getElementById("dash").dataset.span),
  tiles: Object.fromEntries([...document.querySelectorAll(".tile")].map((t) => [t.id.slice(2), {
    value: t.dataset.value, crossed: t.dataset.crossed, cls: t.className, text: t.querySelector(".v").textContent,
    sub: t.querySelector(".sub").textContent, limit: t.querySelector(".limit").textContent,
    points: Number(t.dataset.points || 0), line: t.querySelector("svg.spark path").getAttribute("d") }])),
  rows: [...document.querySelectorAll("#accuracy-rows tr")].map((r) => ({ model: r.dataset.model,
    cell: r.querySelector("td.model").textContent, markup: r.querySelector("td.model").children.length,
    acc: r.querySelector("td.acc").textContent, n: r.querySelector("td.n").textContent,
    errors: r.querySelector("td.errors").textContent })),
})]]

local function read_page(b, s) return json.decode(b:eval(s, READ_PAGE)) end

-- The figures /metrics gives, read here without the dashboard's parser.
local function scrape(srv)
  local r = srv:get("/metrics")
  assert(r.status == 200, r.body)
  local m = { evaluations = 0, requests = 0, errors = 0, buckets = {}, count = 0 }
  for line in r.body:gmatch("[^\n]+") do
    local v = tonumber(line:match(" ([%d.e+-]+)$"))
    if line:match("^causal_eval_questions_total{") then
      m.evaluations = m.evaluations + v
    elseif line:match('^causal_eval_http_requests_total{route="/evaluate/') then
      m.requests = m.requests + v
      if tonumber(line:match('status="(%d+)"')) >= 400 then m.errors = m.errors + v end
    elseif line:match('^causal_eval_http_request_duration_seconds_bucket{route="/evaluate/') then
      local le = line:match('le="([^"]+)"')
      if le ~= "+Inf" then m.buckets[tonumber(le)] = (m.buckets[tonumber(le)] or 0) + v end
    elseif line:match('^causal_eval_http_request_duration_seconds_count{route="/evaluate/') then
      m.count = m.count + v
    elseif line:match("^causal_eval_memory_bytes ") then
      m.memory = v
    end
  end
  m.le, m.counts = {}, {}
  for le in pairs(m.buckets) do m.le[#m.le + 1] = le end
  table.sort(m.le)
  for i, le in ipairs(m.le) do m.counts[i] = m.buckets[le] end
  return m
end

-- A number as the page writes it, back: "26.67 %", "4.20 ms", "1.10 s", "3.9 MiB".
local function shown(text)
  local n, unit = text:match("^([%d.,]+) ?(.*)$")
  assert(n, "not a number: " .. tostring(text))
  n = tonumber((n:gsub(",", "")))
  local scale = ({ ["%"] = 0.01, ms = 0.001, s = 1, MiB = 2 ^ 20, GiB = 2 ^ 30, [""] = 1 })[unit]
  assert(scale, "unit " .. unit)
  local decimals = #(text:match("%.(%d+)") or "")
  -- half a unit of the last digit, and a hair more: a value exactly half way
  -- (21.75 MiB shown as 21.8) is within it however the division rounds
  return n * scale, 0.5 * 10 ^ -decimals * scale * (1 + 1e-9)
end

-- The page's figures against a /metrics scrape taken after its last update.
local function check_against(page, m, summary)
  local t = page.tiles
  assert.are.equal("start", page.window) -- the server is younger than the page's 5-minute window
  -- evaluations/s: the stored evaluations over the span the page says
  assert.matches("^" .. math.floor(m.evaluations) .. " evaluations, since start", t.evaluations_per_s.sub)
  close(tonumber(t.evaluations_per_s.value) * page.span, m.evaluations, 1e-6 * m.evaluations, "evaluations/s x span")
  local v, tol = shown(t.evaluations_per_s.text)
  close(v, tonumber(t.evaluations_per_s.value), tol + 1e-12, "evaluations/s as shown")
  -- the error rate
  close(tonumber(t.error_rate.value), m.errors / m.requests, 1e-12, "error rate")
  assert.matches("^" .. math.floor(m.errors) .. " of " .. math.floor(m.requests) .. " requests", t.error_rate.sub)
  v, tol = shown(t.error_rate.text)
  close(v, m.errors / m.requests, tol + 1e-12, "error rate as shown")
  -- latencies: histogram_quantile over the evaluate routes' buckets
  for key, q in pairs({ latency_p50 = 0.5, latency_p95 = 0.95, latency_p99 = 0.99 }) do
    local want = dashboard.quantile(q, m.le, m.counts, m.count)
    close(tonumber(t[key].value), want, 1e-9 * want, key)
    v, tol = shown(t[key].text)
    close(v, want, tol + 1e-12, key .. " as shown")
  end
  -- memory: the same gauge, read a moment apart
  v, tol = shown(t.memory_bytes.text)
  close(v, tonumber(t.memory_bytes.value), tol, "memory as shown")
  close(tonumber(t.memory_bytes.value), m.memory, math.max(0.25 * m.memory, 4 * 2 ^ 20), "memory against /metrics")
  -- accuracy per model: GET /results/summary's rows
  assert.are.equal(#summary.models, #page.rows)
  for i, row in ipairs(summary.models) do
    local p = page.rows[i]
    assert.are.equal(row.model, p.model)
    assert.are.equal(row.model, p.cell)
    assert.are.equal(0, p.markup) -- a model's name is text, whatever it holds
    assert.are.equal(("%.1f %%"):format(row.average_score * 100), p.acc)
    assert.are.equal(tostring(math.floor(row.count)), p.n)
    assert.are.equal(tostring(math.floor(row.errors)), p.errors)
  end
end

-- A server stopped with SIGTERM, and its exit status.
local function exit_code(server) return server:stop() end

describe("serve dashboard in headless Chromium", function()
  local bin = chromium.path()
  if not bin then
    io.stderr:write(("\n%s\nSKIPPED: spec/serve_dashboard_spec.lua found no chromium (Debian's `chromium`, or\n" ..
      "CAUSAL_EVAL_CHROMIUM=/path): the dashboard was NOT checked in a browser.\n" ..
      "tools/install-deps.sh installs it.\n%s\n"):format(("!"):rep(72), ("!"):rep(72)))
    pending("chromium is not installed: the dashboard was not checked in a browser")
    return
  end

  local base, srv, b, tab, started
  local EVIL = "<b>bold</b> & \"quoted\""

  local function evaluate(model, item)
    item.model = model
    return srv:post("/evaluate/single", item)
  end

  setup(function()
    base = S.setup()
    H.write(base.dir .. "/models.yaml", [[
models:
  unreachable:
    adapter: openai
    model: nothing
    base_url: http://127.0.0.1:1/v1
    api_key_env: NO_SUCH_KEY_VARIABLE
    temperature: 0
]])
    base.env.CAUSAL_EVAL_MODELS = base.dir .. "/models.yaml"
    started = host.clock()
    srv = S.start{ base = base, set = { "dashboard.refresh_interval=1", "api.worker_count=2", "cache.mode=off" } }
    srv:login()
    -- answers given: right and wrong ones for three models, one named in markup
    for i = 1, 6 do assert.are.equal(200, evaluate("model-a", { task_type = "ladder", seed = 3, index = i, model_response = "yes" }).status) end
    for i = 1, 4 do assert.are.equal(200, evaluate("model-b", { task_type = "counterfactual", seed = 4, index = i, model_response = "no" }).status) end
    assert.are.equal(200, evaluate(EVIL, { task_type = "ladder", seed = 5, index = 1, model_response = "yes" }).status)
    -- and failures: an unknown family, an unknown model, a model no one answers for
    assert.are.equal(400, evaluate("model-a", { task_type = "no-such-family", model_response = "yes" }).status)
    assert.are.equal(400, evaluate("no-such-model", { task_type = "ladder", seed = 3, index = 1 }).status)
    assert.are.equal(502, evaluate("unreachable", { task_type = "ladder", seed = 3, index = 2 }).status)
    b = chromium.launch(bin, H.tmpdir(), 1280, 860)
    tab = b:tab()
  end)

  teardown(function()
    if b then b:close() end
    if srv then srv:stop() end
    if base then H.rm(base.dir) end
  end)

  it("asks for a login, refuses a wrong one, and keeps the token in the tab's sessionStorage", function()
    b:go(tab, srv.url .. "/")
    assert.is_false(b:eval(tab, "document.getElementById('login').hidden"))
    assert.is_true(b:eval(tab, "document.getElementById('dash').hidden"))
    b:eval(tab, ([[document.getElementById("user").value = %s; document.getElementById("password").value = "wrong";
      document.getElementById("login-form").requestSubmit(); 1]]):format(json.encode(S.USER)))
    local msg = b:wait(tab, "document.getElementById('login-error').textContent || null", 20, "the login's refusal")
    assert.matches("wrong user name or password", msg, 1, true)
    b:eval(tab, ([[document.getElementById("password").value = %s;
      document.getElementById("login-form").requestSubmit(); 1]]):format(json.encode(S.PASSWORD)))
    b:wait(tab, "Number(document.getElementById('dash').dataset.updates) >= 1", 30, "the first update")
    assert.is_true(b:eval(tab, "document.getElementById('login').hidden"))
    assert.is_true(#b:eval(tab, "sessionStorage.getItem('causal-eval-token')") > 20)
    assert.are.equal("", b:eval(tab, "document.getElementById('password').value"))
  end)

  it("shows the numbers /metrics and /results/summary give, the error rate over its threshold", function()
    local page = read_page(b, tab)
    local m = scrape(srv)
    local summary = srv:get("/results/summary").json
    check_against(page, m, summary)
    assert.truthy(page.span > 0 and page.span <= host.clock() - started + 1, "span " .. page.span)
    assert.are.equal(12, m.evaluations) -- 11 answers and the failed model call are stored
    assert.are.equal(14, m.requests)
    assert.are.equal(3, m.errors)
    assert.are.equal(4, #summary.models) -- the failed call is stored, with its error
    -- 3 of 14 is over 5 %: red; the latency and memory are far under theirs
    assert.are.equal("true", page.tiles.error_rate.crossed)
    assert.matches("crossed", page.tiles.error_rate.cls)
    assert.matches("^over 5.00 %%", page.tiles.error_rate.limit)
    assert.are.equal("false", page.tiles.latency_p95.crossed)
    assert.matches("^limit 10.00 s", page.tiles.latency_p95.limit)
    assert.are.equal("false", page.tiles.memory_bytes.crossed)
    assert.matches("^limit 8.00 GiB", page.tiles.memory_bytes.limit)
  end)

  it("follows new evaluations on its next updates, with a sparkline of each figure", function()
    local before = read_page(b, tab).updates
    for i = 7, 9 do assert.are.equal(200, evaluate("model-a", { task_type = "ladder", seed = 3, index = i, model_response = "no" }).status) end
    assert.are.equal(400, evaluate("model-b", { task_type = "ladder", difficulty = "impossible", model_response = "no" }).status)
    local after = read_page(b, tab).updates
    -- an update that started after the last answer
    b:wait(tab, ("Number(document.getElementById('dash').dataset.updates) >= %d"):format(after + 2), 30, "two more updates")
    local m = scrape(srv)
    assert.are.equal(15, m.evaluations)
    assert.are.equal(18, m.requests)
    assert.are.equal(4, m.errors)
    -- the store's summary is read again once the last read is a refresh old
    local summary = srv:get("/results/summary").json
    local page
    local deadline = host.clock() + 20
    repeat
      page = read_page(b, tab)
      local rows_n = 0
      for _, r in ipairs(page.rows) do rows_n = rows_n + tonumber(r.n) end
      local done = rows_n == 15
      if not done then host.sleep(0.2) end
    until done or host.clock() > deadline
    check_against(page, m, summary)
    assert.truthy(page.updates > before)
    for key, tile in pairs(page.tiles) do
      assert.truthy(tile.points >= 2, key .. " has " .. tile.points .. " points")
      local _, pairs_n = tile.line:gsub("[ML][%d.-]+,[%d.-]+", "")
      assert.are.equal(tile.points, pairs_n, key)
    end
  end)

  -- CAUSAL_EVAL_SCREENSHOT=FILE keeps it: docs/images/dashboard.png is one
  it("takes a screenshot of what it shows", function()
    local shot = b:call("Page.captureScreenshot", { format = "png" }, tab)
    local png = H.sh("base64 -d <" .. H.quote(H.write(b.dir .. "/shot.b64", shot.data)))
    assert.are.equal("\137PNG\r\n\26\n", png:sub(1, 8))
    assert.are.equal(1280, string.unpack(">I4", png, 17)) -- the window's width, from the IHDR chunk
    assert.truthy(#png > 20000, "a screenshot of " .. #png .. " bytes")
    local keep = os.getenv("CAUSAL_EVAL_SCREENSHOT")
    if keep and keep ~= "" then H.write(keep, png) end
  end)

  it("goes back to its login when the server no longer takes the token", function()
    b:eval(tab, "sessionStorage.setItem('causal-eval-token', 'no-longer-valid'); 1")
    local msg = b:wait(tab, "!document.getElementById('login').hidden && document.getElementById('login-error').textContent || null",
      20, "the login form")
    assert.matches("session has ended", msg, 1, true)
    assert.is_nil(b:eval(tab, "sessionStorage.getItem('causal-eval-token')"))
    assert.is_true(b:eval(tab, "document.getElementById('dash').hidden"))
  end)

  it("colours latency and memory over thresholds set in the configuration", function()
    local low = S.start{ base = base, set = { "dashboard.thresholds.latency_p95=0.000001",
      "dashboard.thresholds.memory_usage_gb=0.0001", "cache.mode=off" } }
    local ok, err = pcall(function()
      local token = low:login()
      assert.are.equal(200, low:post("/evaluate/single", { model = "m", task_type = "ladder", seed = 1, index = 1,
                                                            model_response = "yes" }).status)
      local t2 = b:tab()
      b:go(t2, low.url .. "/")
      b:eval(t2, ("sessionStorage.setItem('causal-eval-token', %s); 1"):format(json.encode(token)))
      b:go(t2, low.url .. "/")
      b:wait(t2, "Number(document.getElementById('dash').dataset.updates) >= 1", 30, "an update")
      local page = read_page(b, t2)
      assert.are.equal("true", page.tiles.latency_p95.crossed)
      assert.matches("^over 0.00 ms", page.tiles.latency_p95.limit)
      assert.are.equal("true", page.tiles.memory_bytes.crossed)
      assert.matches("crossed", page.tiles.memory_bytes.cls)
      assert.are.equal("false", page.tiles.error_rate.crossed) -- no error: 0 %
      assert.are.equal("0.00 %", page.tiles.error_rate.text)
      assert.are.equal("false", page.tiles.latency_p50.crossed) -- no threshold of its own
    end)
    local code = exit_code(low)
    assert(ok, err)
    assert.are.equal(0, code, low:text())
  end)

  it("made no request beyond its server, ran its script with no error, and broke no policy", function()
    local origins = {}
    for _, e in ipairs(b.events) do
      if e.method == "Network.requestWillBeSent" then
        local url = e.params.request.url
        local origin = url:match("^(https?://[^/]+)")
        assert.truthy(url:match("^data:") or origin and origin:match("^http://127%.0%.0%.1:%d+$"), url)
        if origin then origins[origin] = true end
      elseif e.method == "Runtime.exceptionThrown" then
        error("the page threw: " .. json.encode(e.params.exceptionDetails))
      elseif e.method == "Log.entryAdded" and e.params.entry.level == "error" then
        -- the only error allowed: the refused login above, and the stale token's 401
        local text = e.params.entry.text or ""
        assert.truthy(text:match("status of 40[13]"), "console error: " .. text)
      end
    end
    assert.truthy(origins[srv.url], "the page's own requests were seen")
    local html = b:eval(tab, "document.documentElement.outerHTML")
    for attr, value in html:gmatch("%s([%w:-]+)=\"([^\"]*)\"") do
      if attr == "src" or attr == "href" or attr == "action" or attr == "xlink:href" then
        assert.matches("^data:", value)
      end
    end
    -- Chromium's own record of every request it started: none the page started went elsewhere
    b:close()
    local log = json.decode(assert(H.read(b.dir .. "/netlog.json"), "no net log"))
    local start_job
    for name, n in pairs(log.constants.logEventTypes) do if name == "URL_REQUEST_START_JOB" then start_job = n end end
    local seen, own = 0, 0
    for _, e in ipairs(log.events) do
      local p = e.params
      if e.type == start_job and p and p.url then
        seen = seen + 1
        if p.initiator ~= "not an origin" then
          -- started by a page: ours, and only ever to our servers
          assert.truthy(origins[p.initiator], "a request started by " .. tostring(p.initiator))
          assert.truthy(origins[p.url:match("^(https?://[^/]+)") or ""], "the page asked " .. p.url)
          own = own + 1
        end
      end
    end
    assert.truthy(seen > 0 and own > 0, ("the net log holds %d requests, %d of the page's"):format(seen, own))
    -- and the server served it all without a fault (sanitizer builds report theirs on exit)
    assert.are.equal(0, exit_code(srv), srv:text())
  end)
end)
