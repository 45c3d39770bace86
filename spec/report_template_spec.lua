-- SPDX-License-Identifier: MIT
-- The report's parts in this state: escaping and formats, the template
-- language (escaping by default, errors with the template's name and
-- line, no way out to io or os), the SVG chart builders, a --template
-- file's checks, and the settings section leaving secrets out.
local html = require "causal_eval.report.html"
local template = require "causal_eval.report.template"
local charts = require "causal_eval.report.charts"
local report = require "causal_eval.report"
local H = require "spec.helpers"

describe("report html helpers", function()
  it("escapes the five characters, and control characters become U+FFFD", function()
    assert.are.equal("&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;", html.esc("<a href=\"x\">O'Neil & co</a>"))
    assert.are.equal("a\239\191\189b\tc\nd", html.esc("a\0b\tc\nd"))
    assert.are.equal("", html.esc(nil))
    assert.are.equal("42", html.esc(42))
  end)

  it("formats numbers as the report shows them", function()
    assert.are.equal("48.6%", html.pct(0.4857142857))
    assert.are.equal("–", html.pct(nil))
    assert.are.equal("+11.0%", html.signed_pct(0.1096))
    assert.are.equal("-2.9%", html.signed_pct(-0.02857))
    assert.are.equal("200,004", html.int(200004))
    assert.are.equal("-1,000", html.int(-1000))
    assert.are.equal("12", html.int(12))
    assert.are.equal("0.0044 ms", html.ms(0.0044))
    assert.are.equal("12.3 ms", html.ms(12.34))
    assert.are.equal("845 ms", html.ms(845.2))
    assert.are.equal("12.4 s", html.ms(12400))
    assert.are.equal("$0.0123", html.usd(0.01234))
    assert.are.equal("$12.35", html.usd(12.345))
    assert.are.equal("<0.0001", html.p(1e-9))
    assert.are.equal("0.0510", html.p(0.051))
  end)

  it("cuts text at a character, never inside one, and says how much is left", function()
    local s = ("é"):rep(10)
    local t, cut = html.truncate(s, 4)
    assert.are.equal(("é"):rep(4), t)
    assert.are.equal(6, cut)
    assert.are.same({ "abc", 0 }, { html.truncate("abc", 5) })
    -- not UTF-8: bytes
    t, cut = html.truncate("\255\254abc", 3)
    assert.are.equal("\255\254a", t)
    assert.are.equal(2, cut)
  end)

  it("makes anchors that differ for different keys", function()
    assert.are.equal("q-ladder-0a1b", html.slug("q", "ladder-0a1b"))
    local a, b = html.slug("q", "a b"), html.slug("q", "a_b")
    assert.are_not.equal(a, b)
    assert.matches("^q%-a%-b%-%x+$", a)
  end)
end)

describe("report templates", function()
  local function render(src, vars)
    local t = assert(template.compile(src, "t"))
    return template.render(t, vars or {})
  end

  it("escapes {{ }}, keeps {{! }} as is, runs {% %} and drops {# #}", function()
    local out = render([[<p>{{ name }}</p>{{! raw }}{% for i = 1, n do %}[{{ i }}]{% end %}{# a note #}.]],
      { name = "<b>&\"'", raw = "<i>x</i>", n = 3 })
    assert.are.equal("<p>&lt;b&gt;&amp;&quot;&#39;</p><i>x</i>[1][2][3].", out)
    assert.are.equal("", render("{{ nothing }}"))
    assert.are.equal("a\nb", render("a\n{% local x = 1 %}b"))
  end)

  it("names the template and its line in errors, at compile time and at render time", function()
    local t, err = template.compile("line one\n{{ 1 + }}\n", "sec")
    assert.is_nil(t)
    assert.matches("template 'sec':2:", err, 1, true)
    _, err = template.compile("a\nb {% if x then %}\n", "open")
    assert.matches("template 'open':", err, 1, true)
    _, err = template.compile("x\n\ny {{ a \n", "unclosed")
    assert.are.equal("template 'unclosed':3: '{{' is not closed by '}}'", err)
    t = assert(template.compile("one\ntwo\n{{ d.missing.field }}", "rt"))
    local ok, rerr = pcall(template.render, t, { d = {} })
    assert.is_false(ok)
    assert.matches("template 'rt':3:", rerr, 1, true)
  end)

  it("gives a template Lua's safe basics and nothing that reaches outside", function()
    assert.are.equal("3 a,b 2", render("{{ #list }} {{ table.concat(letters, ',') }} {{ math.floor(2.5) }}",
      { list = { 1, 2, 3 }, letters = { "a", "b" } }))
    for _, name in ipairs({ "io", "require", "load", "dofile", "loadfile", "package", "debug", "collectgarbage" }) do
      assert.are.equal("nil", render("{{ type(" .. name .. ") }}"), name)
    end
    assert.are.equal("nil nil", render("{{ type(os.execute) }} {{ type(os.remove) }}"))
    assert.are.equal("function", render("{{ type(os.date) }}"))
  end)

  it("includes templates by name, with their own variables over the includer's", function()
    local set = template.set({ main = "<{{! include('item', { v = 2 }) }}|{{! include('item') }}>", item = "{{ v }}{{ w }}" },
      { w = "!" })
    assert.are.equal("<2!|1!>", set:render("main", { v = 1 }))
    local ok, err = pcall(set.render, set, "nope")
    assert.is_false(ok)
    assert.matches("no template 'nope'", err)
  end)
end)

describe("report charts", function()
  it("draws a bar with its interval per model and group, labels escaped", function()
    local svg = charts.bars{
      groups = { { key = "a<b", label = "a<b", note = "n = 3", href = "#x\"y" }, { key = "c", label = "c" } },
      series = { { label = "m&1", color = "#123456" }, { label = "m2", color = "#654321" } },
      cell = function(gi, si)
        if gi == 2 and si == 2 then return nil end
        return { accuracy = 0.5, lo = 0.25, hi = 0.75, n = 3 }
      end,
      data = function(gi, si) return { ["data-key"] = gi, ["data-model"] = si == 1 and "m&1" or "m2" } end,
    }
    assert.matches("^<svg class=\"chart bars\"", svg)
    assert.matches("</svg>$", svg)
    assert.matches("a&lt;b", svg, 1, true)
    assert.matches('href="#x&quot;y"', svg, 1, true)
    assert.matches('data-model="m&amp;1"', svg, 1, true)
    assert.is_nil(svg:find("a<b", 1, true))
    local _, bars = svg:gsub('<rect x="[%d.]+" y="[%d.]+" width="[%d.]+" height="11" fill="#', "")
    assert.are.equal(3, bars)
    assert.matches("no questions", svg, 1, true)
    -- the bar ends at its accuracy, the whisker spans its interval: L = 200, plot 1040 - 200 - 64
    assert.matches('width="388.0" height="11"', svg, 1, true)
    assert.matches('d="M394.0 [%d.]+H782.0', svg)
  end)

  it("fills a difference's square only when its corrected p is under alpha", function()
    local svg = charts.forest{ rows = {
      { label = "b − a", diff = 0.1, lo = 0.02, hi = 0.18, p = 0.01 },
      { label = "c <x> a", diff = -0.02, lo = -0.1, hi = 0.06, p = 0.5 },
    } }
    local _, sig = svg:gsub('class="sig"', "")
    local _, nonsig = svg:gsub('class="nonsig"', "")
    assert.are.equal(1, sig)
    assert.are.equal(1, nonsig)
    assert.matches("c &lt;x&gt; a", svg, 1, true)
    assert.matches(">0%%<", svg)
    assert.is_nil(svg:find("-0%", 1, true))
  end)

  it("draws each model's latency histogram on one log axis, with its marks", function()
    local svg = charts.histogram{ edges = { 1, 10, 100, 1000 }, series = {
      { label = "m", color = "#111111", counts = { 5, 0, 1 }, marks = { { name = "p50", value = 3 }, { name = "p99", value = 500 } } },
      { label = "empty", color = "#222222", counts = { 0, 0, 0 } },
    } }
    local _, bars = svg:gsub("<rect ", "")
    assert.are.equal(2, bars)
    assert.matches("mark1", svg, 1, true)
    assert.matches("mark2", svg, 1, true)
    assert.matches("no latencies", svg, 1, true)
    assert.matches(">10.0 ms<", svg, 1, true)
    assert.matches(">1000 ms<", svg, 1, true)
  end)
end)

describe("report --template files", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("takes templates and helpers, and names the file and the template at fault", function()
    local good = H.write(dir .. "/good.lua", [[return { style = "body { color: red }", helpers = { charts = { ci_bar = function() return "" end } } }]])
    local t = assert(report.load_overrides(good))
    assert.are.equal("body { color: red }", t.style)
    local _, err = report.load_overrides(H.write(dir .. "/syntax.lua", "return {"))
    assert.matches("template file " .. dir .. "/syntax.lua:", err, 1, true)
    _, err = report.load_overrides(H.write(dir .. "/number.lua", "return 3"))
    assert.matches("must return a table, not number", err, 1, true)
    _, err = report.load_overrides(H.write(dir .. "/field.lua", "return { summary = 3 }"))
    assert.matches("'summary' must be a template (a string), not number", err, 1, true)
    _, err = report.load_overrides(H.write(dir .. "/tmpl.lua", "return { summary = 'a\\n{{ x' }"))
    assert.matches("template 'summary':2: '{{' is not closed", err, 1, true)
    _, err = report.load_overrides(dir .. "/missing.lua")
    assert.matches("template file " .. dir .. "/missing.lua: cannot open", err, 1, true)
    -- a name the pages do not have and nothing includes did nothing, without a word
    _, err = report.load_overrides(H.write(dir .. "/typo.lua", "return { sumary = 'x' }"))
    assert.matches("'sumary' is no template of the pages, and no template includes it", err, 1, true)
    -- a template of one's own, included by one that replaces the pages' own, is taken
    assert(report.load_overrides(H.write(dir .. "/mine.lua", [[return { summary = "{{! include('mine') }}", mine = "x" }]])))
  end)
end)

describe("report settings", function()
  it("lists a run's settings and leaves secrets and passwords in URLs out", function()
    local s = report.settings{
      status = "completed", created = 0, host_version = "0.1.0", benchmarks = { "ladder" }, seed = 3,
      source = { kind = "bench", n = 5, benches = { "ladder" } },
      dispatch = { workers = 2 },
      model_specs = { { label = "m", adapter = "openai", model = "gpt", api_key_env = "KEY_VAR", base_url = "https://u:pw@h/v1" } },
      config = { cache = { redis = { password = "hunter2", url = "redis://:hunter3@h:6379/0" } },
                 api = { password_strength = "interactive", token_ttl = 60, max_tokens_per_user = 5 } },
    }
    local text = require("causal_eval.json").encode(s)
    assert.is_nil(text:find("hunter", 1, true))
    assert.is_nil(text:find("u:pw", 1, true))
    local config = {}
    for _, kv in ipairs(s.config) do config[kv[1]] = kv[2] end
    assert.are.equal("(set, not shown)", config["cache.redis.password"])
    assert.are.equal("redis://…@h:6379/0", config["cache.redis.url"])
    assert.are.equal("interactive", config["api.password_strength"])
    assert.are.equal("60", config["api.token_ttl"])
    assert.matches("api_key_env=KEY_VAR", s.models[1].rest, 1, true)
    local facts = {}
    for _, kv in ipairs(s.facts) do facts[kv[1]] = kv[2] end
    assert.are.equal("0.1.0", facts["causal-eval version"])
    assert.are.equal("1970-01-01 00:00:00 UTC", facts.created)
    assert.are.equal("5", facts["source.n"])
  end)
end)
