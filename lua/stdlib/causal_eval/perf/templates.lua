-- SPDX-License-Identifier: MIT
-- The performance report's sections (`causal-eval bench -o perf.html`),
-- templates in the evaluation report's language (report/template.lua),
-- rendered inside its page and style (report/templates/page.lua). Each is
-- given `r` (the bench results), `cmp` (the baseline comparison or nil),
-- the data perf/report.lua prepares and its helpers.
local M = {}

M.perf = [[
<header>
<h1>{{ title }}</h1>
<p class="meta">causal-eval {{ r.version }}{% if r.revision then %} ({{ r.revision }}){% end %} · {{ date(r.created) }} · {{ machine }}
 · {{ r.rounds }} rounds of every measure, median and range{% if r.quick then %} · <b>--quick</b>: small sizes, not comparable with a full run{% end %}</p>
<nav>{% for _, s in ipairs(sections) do %}<a href="#{{ s[1] }}">{{ s[2] }}</a>{% end %}</nav>
</header>
{% for _, s in ipairs(sections) do %}{{! include(s[1]) }}{% end %}
]]

M.baseline = [[
<section id="baseline">
<h2>Against the baseline</h2>
<p class="meta">baseline {{ cmp.source or "?" }}{% if cmp.baseline.revision and not tostring(cmp.source):find(cmp.baseline.revision, 1, true) then %} ({{ cmp.baseline.revision }}){% end %}{% if cmp.baseline.created then %}, {{ date(cmp.baseline.created) }}{% end %}.
A metric regresses when it is worse by more than {{ cmp.threshold }}% plus its noise (the half-ranges of both runs' rounds).
{% if cmp.not_run and #cmp.not_run > 0 then %}Suites of the baseline not run now: {{ table.concat(cmp.not_run, ", ") }}.{% end %}
{% if cmp.quick ~= cmp.baseline.quick then %}<b>One of the two runs is --quick: their sizes differ, and so do their figures.</b>{% end %}</p>
{% if #cmp.regressions > 0 then %}
<ul id="regressions" class="regressions">{% for _, row in ipairs(cmp.regressions) do %}<li data-id="{{ row.id }}">{{ describe(row) }}</li>{% end %}</ul>
{% else %}<p id="no-regression" class="good">No regression.</p>{% end %}
{% if #pairs_rows > 0 then %}{{! pairs_chart() }}{% end %}
<div class="wide"><table id="comparison">
<tr><th>metric</th><th class="num">baseline</th><th class="num">current</th><th class="num">change</th><th class="num">worse by</th><th class="num">noise</th><th>status</th></tr>
{% for _, row in ipairs(cmp.rows) do %}
<tr class="cmp {{ row.status }}" data-id="{{ row.id }}" data-status="{{ row.status }}" data-base="{{ num(row.base) }}" data-current="{{ num(row.current) }}" data-change="{{ num(row.change) }}">
<td>{{ row.id }}</td><td class="num">{{ fig(row.base, row.unit) }}</td><td class="num">{{ fig(row.current, row.unit) }}</td>
<td class="num">{% if row.delta then %}{{ ("%+.1f%%"):format(row.delta) }}{% end %}</td>
<td class="num">{% if row.change then %}{{ ("%.1f%%"):format(math.max(0, row.change)) }}{% end %}</td>
<td class="num">{% if row.noise then %}±{{ ("%.1f%%"):format(row.noise) }}{% end %}</td>
<td><span class="st st-{{ row.status }}">{{ row.status }}</span>{% if row.why then %} <span class="note">{{ row.why }}</span>{% end %}</td></tr>
{% end %}
</table></div>
</section>
]]

M.scalability = [[
<section id="scalability">
<h2>Scalability</h2>
<p class="note">Each point is the median of its rounds; the whisker spans the fastest and the slowest round.
The dashed line is linear scaling from the first point.</p>
{% for _, c in ipairs(curves) do %}
<h3 id="curve-{{ c.suite }}-{{ c.series }}">{{ c.suite }}: {{ c.title }}</h3>
{{! curve_chart(c) }}
{% end %}
</section>
]]

M.latency = [[
<section id="latency">
<h2>Latency distributions</h2>
<p class="note">Every timed call of every round, on a log axis; the lines are p50, p95 and p99 (solid, dashed, dotted), medians of the rounds.</p>
{% for _, d in ipairs(distributions) do %}
<h3 id="dist-{{ d.id }}">{{ d.id }}</h3>
<p class="note">{{ int(d.n) }} calls{% for _, m in ipairs(d.marks) do %} · {{ m.name }} {{ fig(m.value, "ms") }}{% end %}</p>
{{! distribution_chart(d) }}
{% end %}
</section>
]]

M.suites = [[
<section id="suites">
<h2>Suites</h2>
{% for _, s in ipairs(r.suites) do %}
<div class="card suite" id="suite-{{ s.name }}" data-name="{{ s.name }}" data-status="{{ s.status }}">
<h3>{{ s.name }} <span class="st st-{{ s.status }}">{{ s.status }}</span> <span class="note">{{ ("%.1f s"):format(s.seconds or 0) }}</span></h3>
<p class="note">{{ s.description or "" }}{% if s.file then %} · {{ s.file }}{% end %}</p>
{% if s.message then %}<p class="note">{{ s.message }}</p>{% end %}
{% if #s.metrics > 0 then %}
<div class="wide"><table class="metrics">
<tr><th>metric</th><th class="num">median</th><th class="num">spread</th><th>rounds</th><th>target</th><th>status</th></tr>
{% for _, mt in ipairs(s.metrics) do %}
<tr class="metric" data-id="{{ mt.id }}" data-median="{{ num(mt.median) }}" data-min="{{ num(mt.min) }}" data-max="{{ num(mt.max) }}" data-unit="{{ mt.unit }}" data-status="{{ mt.status }}">
<td title="{{ mt.label }}">{{ mt.name }}</td><td class="num median">{{ fig(mt.median, mt.unit) }}</td>
<td class="num">{% if mt.median then %}±{{ ("%.1f%%"):format((mt.spread or 0) * 100) }}{% end %}</td>
<td class="rounds">{% if mt.median then %}{{ rounds(mt) }}{% end %}</td>
<td>{{ target(mt) }}</td>
<td><span class="st st-{{ mt.status }}">{{ mt.status }}</span>{% if mt.message then %} <span class="note">{{ mt.message }}</span>{% end %}</td></tr>
{% end %}
</table></div>
{% end %}
{% for _, n in ipairs(s.notes or {}) do %}<p class="note">{{ n }}</p>{% end %}
</div>
{% end %}
</section>
]]

M.perf_style = [[
svg.lines .line { stroke-linejoin: round; }
svg.lines .ideal { stroke: #9aa4ae; stroke-width: 1.3; stroke-dasharray: 5 4; fill: none; }
svg.pairs rect.base { fill: #b4bcc5; }
svg.pairs rect.cur { fill: #0072B2; }
svg.pairs rect.cur.regression { fill: var(--bad); }
svg.pairs rect.cur.improvement { fill: var(--good); }
.st { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 11.5px; font-weight: 600; color: #fff; background: #59636e; }
.st-ok, .st-same, .st-improvement { background: var(--good); }
.st-failed, .st-regression { background: var(--bad); }
.st-error { background: #444; }
.st-skipped, .st-info, .st-new, .st-missing, .st-not_compared, .st-interrupted { background: #8a5a00; }
ul.regressions { color: var(--bad); font-weight: 600; margin: 8px 0; }
p.good { color: var(--good); font-weight: 600; }
td.rounds { font-size: 12px; color: var(--muted); white-space: nowrap; }
.suite table.metrics { min-width: 70%; }
]]

return M
