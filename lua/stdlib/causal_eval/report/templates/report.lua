-- SPDX-License-Identifier: MIT
-- The evaluation report's sections (`causal-eval report`). Each is a
-- template (syntax: report/template.lua) given `d`, the data of
-- report/collect.lua, and the helpers of report/init.lua; replace any of
-- them with --template FILE (docs/reports.md).
local M = {}

M.report = [[
<header>
<h1>{{ title }}</h1>
<p class="meta">{% if #d.runs == 1 then %}run <b>{{ d.runs[1].id }}</b> ({{ d.runs[1].status or "?" }}){% else %}{{ #d.runs }} runs: {% for i, r in ipairs(d.runs) do %}{{ i > 1 and ", " or "" }}<b>{{ r.id }}</b>{% end %}{% end %}
 · {{ int(#d.models) }} {{ #d.models == 1 and "model" or "models" }} · {{ int(d.questions) }} questions · {{ int(d.records) }} answers stored</p>
{{! include("mode") }}
<nav>{% for _, s in ipairs(sections) do %}<a href="#{{ s[1] }}">{{ s[2] }}</a>{% end %}</nav>
</header>
{% for _, s in ipairs(sections) do %}{{! include(s[1]) }}{% end %}
]]

-- The evaluation mode in the headline: said only when a run was not asked
-- in the default mode (the settings name every run's), and a warning when
-- the runs were asked in different modes.
M.mode = [[
{% if modes.differ then %}<p class="mode warn" id="mode"><b>The runs were asked in different evaluation modes</b>, so their models' figures come from
different evaluations:{% for i, m in ipairs(modes.list) do %}{{ i > 1 and ";" or "" }} run <b>{{ m.run_id }}</b>: <span class="mode-name">{{ m.name }}</span>{% end %}.</p>
{% elseif not modes.default then %}<p class="mode" id="mode">Mode: <b class="mode-name">{{ modes.names[1] }}</b></p>{% end %}
]]

M.summary = [[
<section id="summary">
<h2>Models</h2>
<p class="note">Accuracy counts every question a model was asked: unparseable answers and failed requests count as wrong.
Intervals are Wilson 95% score intervals. Questions the benchmark itself could not pose (invalid) are not counted.</p>
{% if has.samples then %}<p class="note">With repeated samples a question's answer is the majority vote of its samples: n counts questions, and a question
is right when its majority answer is. Accuracy over samples (pass@1), pass@k and agreement are under <a href="#samples">Repeated samples</a>.</p>{% end %}
{% if has.judged then %}<p class="note">Free-text answers graded by a judge model are not counted here (nor in n): see <a href="#judged">Model-graded answers</a>.</p>{% end %}
<div class="wide"><table id="headline">
<tr><th>#</th><th>model</th><th class="num">n</th><th class="num">accuracy</th><th class="num">95% CI</th><th></th>
<th class="num">unparseable</th><th class="num">failed</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">cost</th>{% if modes.differ then %}<th>mode</th>{% end %}</tr>
{% for i, m in ipairs(d.models) do %}
<tr id="model-{{ i }}" class="headline-row" data-model="{{ m.model }}" data-run="{{ m.run_id }}" data-n="{{ m.n }}" data-correct="{{ m.correct }}"
 data-accuracy="{{ num(m.accuracy) }}" data-lo="{{ num(m.ci[1]) }}" data-hi="{{ num(m.ci[2]) }}" data-unparseable="{{ m.unparseable }}"
 data-errors="{{ m.errors }}" data-p50="{{ num(m.latency_ms.p50) }}" data-p95="{{ num(m.latency_ms.p95) }}" data-p99="{{ num(m.latency_ms.p99) }}">
<td class="idx"><span class="swatch" style="background:{{ color(i) }}"></span>{{ i }}</td>
<td class="model">{{ m.label }}</td>
<td class="num n">{{ int(m.n) }}</td>
<td class="num acc"><b>{{ pct(m.accuracy) }}</b></td>
<td class="num ci">[{{ pct(m.ci[1]) }}, {{ pct(m.ci[2]) }}]</td>
<td>{{! charts.ci_bar(m.accuracy, m.ci[1], m.ci[2], color(i), 100) }}</td>
<td class="num unparseable">{% if m.unparseable > 0 then %}<a href="#unparseable-{{ i }}">{{ int(m.unparseable) }}</a>{% else %}0{% end %}</td>
<td class="num errors">{% if m.errors > 0 then %}<a href="#failures-{{ i }}">{{ int(m.errors) }}</a>{% else %}0{% end %}</td>
<td class="num p50">{{ ms(m.latency_ms.p50) }}</td><td class="num p95">{{ ms(m.latency_ms.p95) }}</td><td class="num p99">{{ ms(m.latency_ms.p99) }}</td>
<td class="num">{{ m.cost_usd and usd(m.cost_usd) or "–" }}</td>
{% if modes.differ then %}<td class="mode-name">{{ m.mode }}</td>{% end %}
</tr>
{% end %}
</table></div>
{% for i, m in ipairs(d.models) do if (m.invalid or 0) > 0 then %}
<p class="note">#{{ i }} {{ m.label }}: {{ int(m.invalid) }} invalid questions (bad_question) are not counted.</p>
{% end end %}
</section>
]]

M.samples = [[
<section id="samples">
<h2>Repeated samples</h2>
<p class="note">Each question was asked several times at a temperature above zero. <b>Accuracy</b> is the mean over questions of the share
of right samples (pass@1). Its interval accounts for samples clustered within a question: the samples of one question are not independent
observations, so the interval takes the question as the unit (Wilson at the effective sample size, with Student's t over questions − 1 degrees
of freedom). The <b>naive</b> interval beside it counts every sample as independent, and is too narrow by about the square root of the
<b>design effect</b> (the clustered variance over the naive one). <b>Majority</b>: the share of questions whose majority answer is right,
Wilson over questions. <b>pass@k</b>: the unbiased estimate of the chance that at least one of k samples is right. <b>Agreement</b>: the mean share
of a question's samples that give its majority answer. <b>Spread</b>: the standard deviation of per-question accuracy, and the share of
questions whose samples were both right and wrong. All intervals 95%.</p>
<div class="wide"><table id="samples-table">
<tr><th>model</th><th class="num">questions<br>× samples</th><th class="num">accuracy (pass@1)<br>95% CI, clustered</th>
<th class="num">95% CI if samples<br>were independent</th><th class="num">design<br>effect</th><th class="num">majority vote<br>95% CI</th>
<th class="num">pass@k<br>95% CI</th><th class="num">agreement</th><th class="num">spread<br>sd · mixed</th></tr>
{% for i, m in ipairs(d.models) do local s = m.samples %}
{% if s then local pk = pass_at(s) %}
<tr class="samples-row" data-model="{{ m.model }}" data-run="{{ m.run_id }}" data-questions="{{ s.questions }}" data-samples="{{ s.samples }}"
 data-k="{{ s.k }}" data-temperature="{{ num(s.temperature) }}" data-accuracy="{{ num(s.accuracy) }}" data-lo="{{ num(s.ci[1]) }}" data-hi="{{ num(s.ci[2]) }}"
 data-naive-accuracy="{{ num(s.naive.accuracy) }}" data-naive-lo="{{ num(s.naive.ci[1]) }}" data-naive-hi="{{ num(s.naive.ci[2]) }}"
 data-majority="{{ num(s.majority.accuracy) }}" data-majority-lo="{{ num(s.majority.ci[1]) }}" data-majority-hi="{{ num(s.majority.ci[2]) }}"
 data-pass-k="{{ pk and pk.k }}" data-pass="{{ num(pk and pk.value) }}" data-pass-lo="{{ num(pk and pk.ci[1]) }}" data-pass-hi="{{ num(pk and pk.ci[2]) }}"
 data-agreement="{{ num(s.agreement) }}" data-design-effect="{{ num(s.design_effect) }}" data-sd="{{ num(s.spread and s.spread.sd) }}"
 data-mixed="{{ num(s.spread and s.spread.mixed) }}" data-disagree="{{ num(s.spread and s.spread.disagree) }}">
<td class="model"><span class="swatch" style="background:{{ color(i) }}"></span><a href="#model-{{ i }}">{{ m.label }}</a></td>
<td class="num">{{ int(s.questions) }} × {{ s.samples_per_question and int(s.samples_per_question) or number(s.questions > 0 and s.samples / s.questions, 1) }}{% if s.temperature then %}<br><span class="sub">T = {{ number(s.temperature, 2) }}</span>{% end %}</td>
<td class="num acc"><b>{{ pct(s.accuracy) }}</b><br><span class="sub ci">[{{ pct(s.ci[1]) }}, {{ pct(s.ci[2]) }}]</span></td>
<td class="num naive"><span class="sub">[{{ pct(s.naive.ci[1]) }}, {{ pct(s.naive.ci[2]) }}]</span></td>
<td class="num deff">{{ number(s.design_effect, 2) }}</td>
<td class="num majority">{{ pct(s.majority.accuracy) }}<br><span class="sub">[{{ pct(s.majority.ci[1]) }}, {{ pct(s.majority.ci[2]) }}]</span></td>
<td class="num pass">{% if pk then %}pass@{{ pk.k }} {{ pct(pk.value) }}<br><span class="sub">[{{ pct(pk.ci[1]) }}, {{ pct(pk.ci[2]) }}]</span>{% else %}–{% end %}</td>
<td class="num agreement">{{ number(s.agreement, 2) }}</td>
<td class="num spread">{{ number(s.spread and s.spread.sd, 2) }} · {{ pct(s.spread and s.spread.mixed) }}</td></tr>
{% elseif m.samples_error then %}
<tr><td class="model"><span class="swatch" style="background:{{ color(i) }}"></span><a href="#model-{{ i }}">{{ m.label }}</a></td>
<td colspan="8" class="note">no figures: {{ m.samples_error }}</td></tr>
{% end %}
{% end %}
</table></div>
{{! samples_chart() }}
</section>
]]

M.judged = [[
<section id="judged">
<h2>Model-graded answers</h2>
<p class="note">Free-text questions have no exact answer: a judge model grades each response against the question's reference answer with a
rubric, as a score from 0 to 1. These grades are a figure of their own, never mixed with exact scores: they are not counted in any accuracy,
chart, paired difference or error count of this report. Judge errors: answers the judge gave no grade for, or whose request failed.</p>
<div class="wide"><table id="judged-table">
<tr><th>model</th><th>judge</th><th class="num">free-text answers</th><th class="num">graded</th><th class="num">mean score</th><th class="num">judge errors</th><th class="num">not graded</th></tr>
{% for i, m in ipairs(d.models) do local j = m.judged %}{% if j then %}
<tr class="judged-row" data-model="{{ m.model }}" data-run="{{ m.run_id }}" data-judge="{{ j.model }}" data-n="{{ j.n }}" data-graded="{{ j.graded }}"
 data-mean-score="{{ num(j.mean_score) }}" data-errors="{{ j.errors }}">
<td class="model"><span class="swatch" style="background:{{ color(i) }}"></span><a href="#model-{{ i }}">{{ m.label }}</a></td>
<td class="judge">{{ j.model or "none: the run had no --judge" }}</td><td class="num">{{ int(j.n) }}</td><td class="num">{{ int(j.graded) }}</td>
<td class="num score">{{ number(j.mean_score, 3) }}</td><td class="num">{{ int(j.errors) }}</td><td class="num">{{ int(j.n - j.graded - j.errors) }}</td></tr>
{% end %}{% end %}
</table></div>
{% for i, m in ipairs(d.models) do if m.judged and #(m.judged_shown or {}) > 0 then %}
<p id="judged-{{ i }}"><span class="swatch" style="background:{{ color(i) }}"></span><b>{{ m.label }}</b>: {{ int(m.judged.n) }} free-text answers{% if #m.judged_shown < m.judged.n then %}; {{ #m.judged_shown }} shown, spread over the questions{% end %}.</p>
<div class="wide"><table class="answers judged">
<tr><th>question</th><th>family</th><th>answer</th><th>grade</th><th>the judge's explanation</th></tr>
{% for _, a in ipairs(m.judged_shown) do %}
<tr class="judged-answer" data-qid="{{ a.qid }}"><td>{{ a.qid }}</td><td>{{ a.family }}</td><td>{{! answer_block(a) }}</td><td>{{! judge_grade(a) }}</td>
<td>{% if a.error then %}{{! text_block(a.error) }}{% else %}{{! text_block(a.explanation) }}{% end %}</td></tr>
{% end %}
</table></div>
{% end end %}
</section>
]]

M.accuracy = [[
<section id="accuracy">
<h2>Accuracy by group</h2>
<p class="legend">{% for i, m in ipairs(d.models) do %}<span><span class="swatch" style="background:{{ color(i) }}"></span>#{{ i }} {{ m.label }}</span>{% end %}</p>
<p class="note">Bars are accuracies, whiskers their Wilson 95% intervals; n under a group is the most questions any model answered in it.
A family's name leads to its error analysis.</p>
{% for _, g in ipairs(groupings) do %}
<h3 id="by-{{ g.kind }}">{{ g.title }}</h3>
{% if #d.keys[g.kind] == 0 then %}<p class="note">No {{ g.kind }} recorded for these questions.</p>
{% else %}{{! accuracy_chart(g.kind) }}{% end %}
{% end %}
</section>
]]

M.differences = [[
<section id="differences">
<h2>Paired differences</h2>
{% if #d.comparisons == 0 then %}<p class="note">One model: nothing to compare.</p>{% else %}
<p class="note">B − A on the questions both models answered; intervals are paired bootstrap 95% intervals ({{ int(d.limits.iters) }} resamples),
p-values McNemar's test Holm-corrected over the {{ #d.comparisons }} pairs. Filled squares: p (Holm) &lt; 0.05.</p>
{% if forest_left_out > 0 then %}<p class="note">{{ int(#d.comparisons) }} pairs: the {{ int(#d.comparisons - forest_left_out) }} with the largest differences have an interval and are drawn; the table lists every pair's difference and p-values.</p>{% end %}
{{! forest_chart() }}
<div class="wide"><table id="pairs">
<tr><th>B</th><th>A</th><th class="num">n</th><th class="num">B − A</th><th class="num">95% CI</th><th class="num">p (McNemar)</th><th class="num">p (Holm)</th></tr>
{% for _, c in ipairs(d.comparisons) do %}
<tr class="pair" data-a="{{ c.a }}" data-b="{{ c.b }}" data-n="{{ c.n }}" data-diff="{{ num(c.diff) }}" data-lo="{{ num(c.ci and c.ci[1]) }}" data-hi="{{ num(c.ci and c.ci[2]) }}" data-p-holm="{{ num(c.p_holm) }}">
<td class="model"><a href="#model-{{ c.ib }}">{{ c.b }}</a></td><td class="model"><a href="#model-{{ c.ia }}">{{ c.a }}</a></td>
<td class="num">{{ int(c.n) }}</td><td class="num diff">{{ signed_pct(c.diff) }}</td>
<td class="num ci">{% if c.ci then %}[{{ signed_pct(c.ci[1]) }}, {{ signed_pct(c.ci[2]) }}]{% else %}–{% end %}</td>
<td class="num">{{ p(c.p_mcnemar) }}</td><td class="num holm{{ c.p_holm < 0.05 and " sig" or "" }}">{{ p(c.p_holm) }}</td></tr>
{% end %}
</table></div>
{% end %}
</section>
]]

M.latency = [[
<section id="latency">
<h2>Latency</h2>
{% if #d.latency_edges == 0 then %}<p class="note">No latencies were recorded.</p>{% else %}
<p class="note">Time from sending a request to its scored answer, failed requests left out; cached answers count with the time the cache took.
Each row is scaled to its own tallest bar; log axis.</p>
<p class="legend"><span>── p50</span><span>╌╌ p95</span><span>┈┈ p99</span></p>
{{! latency_chart() }}
{% end %}
<div class="wide"><table id="latency-table">
<tr><th>model</th><th class="num">timed</th><th class="num">mean</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">min</th><th class="num">max</th><th class="num">answers/s</th><th class="num">cached</th></tr>
{% for i, m in ipairs(d.models) do local l = m.latency_ms %}
<tr><td class="model"><span class="swatch" style="background:{{ color(i) }}"></span><a href="#model-{{ i }}">{{ m.label }}</a></td>
<td class="num">{{ int(m.n - m.errors) }}</td><td class="num">{{ ms(l.mean) }}</td><td class="num">{{ ms(l.p50) }}</td><td class="num">{{ ms(l.p95) }}</td>
<td class="num">{{ ms(l.p99) }}</td><td class="num">{{ ms(l.min) }}</td><td class="num">{{ ms(l.max) }}</td>
<td class="num">{{ number(m.throughput, 1) }}</td><td class="num">{{ int(m.cached) }}</td></tr>
{% end %}
</table></div>
</section>
]]

M.cost = [[
<section id="cost">
<h2>Tokens and cost</h2>
<p class="note">Tokens as the provider counted them; cost at the prices of the model's entry in the models file when the run started
(USD per million tokens), for cached answers too. Models without a price show none.</p>
<div class="wide"><table id="cost-table">
<tr><th>model</th><th class="num">input tokens</th><th class="num">output tokens</th><th class="num">per question</th><th class="num">price in / out</th><th class="num">cost</th><th class="num">per correct answer</th></tr>
{% for i, m in ipairs(d.models) do %}
<tr><td class="model"><span class="swatch" style="background:{{ color(i) }}"></span><a href="#model-{{ i }}">{{ m.label }}</a></td>
<td class="num">{{ int(m.tokens.input) }}</td><td class="num">{{ int(m.tokens.output) }}</td>
<td class="num">{{ m.n > 0 and number(m.tokens.total / m.n, 1) or "–" }}</td>
<td class="num">{% if m.price then %}{{ usd(m.price.input or 0) }} / {{ usd(m.price.output or 0) }}{% else %}–{% end %}</td>
<td class="num">{{ m.cost_usd and usd(m.cost_usd) or "–" }}</td>
<td class="num">{{ (m.cost_usd and m.correct > 0) and usd(m.cost_usd / m.correct) or "–" }}</td></tr>
{% end %}
</table></div>
</section>
]]

M.errors = [[
<section id="errors">
<h2>Error analysis</h2>
<h3 id="outcomes">Outcomes</h3>
<div class="wide"><table>
<tr><th>model</th><th class="num">right</th><th class="num">wrong</th><th class="num">unparseable</th><th class="num">failed</th><th>failures by class</th></tr>
{% for i, m in ipairs(d.models) do %}
<tr><td class="model"><span class="swatch" style="background:{{ color(i) }}"></span><a href="#model-{{ i }}">{{ m.label }}</a></td>
<td class="num">{{ int(m.correct) }}</td><td class="num">{{ int(m.scored - m.correct) }}</td>
<td class="num">{{ int(m.unparseable) }}</td><td class="num">{{ int(m.errors) }}</td><td>{{ error_classes(m) }}</td></tr>
{% end %}
</table></div>
{{! include("confusion") }}
{{! include("unparseable") }}
{{! include("failures") }}
{{! include("hardest") }}
</section>
]]

M.confusion = [[
<h3 id="confusion">Answers to yes/no questions, by family</h3>
<p class="note">For each family and model: how its answers split, first on the questions whose true answer is yes, then on those
whose true answer is no. "other" is an answer the rules could not read or a failed request. Shading: share of the group.</p>
{% if #yn_families == 0 then %}<p class="note">No yes/no questions.</p>{% else %}
<div class="wide"><table class="conf">
<tr><th rowspan="2">family</th><th rowspan="2">model</th><th colspan="3" class="grp">truth: yes</th><th colspan="3" class="grp">truth: no</th></tr>
<tr><th class="num">yes</th><th class="num">no</th><th class="num">other</th><th class="num">yes</th><th class="num">no</th><th class="num">other</th></tr>
{% for _, fam in ipairs(yn_families) do %}
{% for i, m in ipairs(d.models) do local f = m.confusion[fam] %}
<tr{{! i == 1 and (' class="sep" id="' .. esc(slug("confusion", fam)) .. '"') or "" }}>
<td>{% if i == 1 then %}<a href="#by-family">{{ fam }}</a>{% end %}</td>
<td class="model"><span class="swatch" style="background:{{ color(i) }}"></span>{{ m.label }}</td>
{% for _, truth in ipairs({ "yes", "no" }) do local row = f and f[truth] %}
{% for _, ans in ipairs({ "yes", "no", "other" }) do %}<td class="num cell"{{! shade(row, ans, ans == truth) }}>{{ row and int(row[ans]) or "–" }}</td>{% end %}
{% end %}</tr>
{% end %}
{% end %}
</table></div>
{% end %}
{% if #other_families > 0 then %}
<p class="note">Questions with numeric or multiple-choice answers:</p>
<div class="wide"><table class="conf">
<tr><th>family</th><th>model</th><th class="num">right</th><th class="num">wrong</th><th class="num">other</th></tr>
{% for _, fam in ipairs(other_families) do %}
{% for i, m in ipairs(d.models) do local row = m.other_types[fam] %}
<tr{{! i == 1 and (' class="sep" id="' .. esc(slug("confusion-other", fam)) .. '"') or "" }}>
<td>{% if i == 1 then %}<a href="#by-family">{{ fam }}</a>{% end %}</td>
<td class="model"><span class="swatch" style="background:{{ color(i) }}"></span>{{ m.label }}</td>
{% for _, key in ipairs({ "right", "wrong", "other" }) do %}<td class="num cell">{{ row and int(row[key]) or "–" }}</td>{% end %}</tr>
{% end %}
{% end %}
</table></div>
{% end %}
]]

M.unparseable = [[
<h3 id="unparseable">Unparseable answers</h3>
{% local any = false %}
{% for i, m in ipairs(d.models) do if m.unparseable > 0 then any = true %}
<p id="unparseable-{{ i }}"><span class="swatch" style="background:{{ color(i) }}"></span><b>{{ m.label }}</b>: {{ int(m.unparseable) }} answers the rules could not read{% if #m.unparseable_shown < m.unparseable then %}; {{ #m.unparseable_shown }} shown, spread over the questions{% end %}.</p>
<div class="wide"><table class="answers">
<tr><th>question</th><th>family</th><th>why</th><th>raw answer</th></tr>
{% for _, u in ipairs(m.unparseable_shown) do %}
<tr><td>{{! question_link(u.qid) }}</td><td>{{! family_link(u.family) }}</td><td>{{ u.reason }}</td><td>{{! answer_block(u) }}</td></tr>
{% end %}
</table></div>
{% end end %}
{% if not any then %}<p class="note">Every answer could be read.</p>{% end %}
]]

M.failures = [[
<h3 id="failures">Failed requests</h3>
{% local any = false %}
{% for i, m in ipairs(d.models) do if m.errors > 0 then any = true %}
<p id="failures-{{ i }}"><span class="swatch" style="background:{{ color(i) }}"></span><b>{{ m.label }}</b>: {{ int(m.errors) }} failed ({{ error_classes(m) }}){% if #m.failures_shown < m.errors then %}; {{ #m.failures_shown }} shown{% end %}.</p>
<div class="wide"><table class="answers">
<tr><th>question</th><th>class</th><th class="num">status</th><th class="num">attempts</th><th>message</th></tr>
{% for _, f in ipairs(m.failures_shown) do %}
<tr><td>{{! question_link(f.qid) }}</td><td>{{ f.class }}</td><td class="num">{{ f.status }}</td><td class="num">{{ f.attempts }}</td>
<td>{{! text_block(f.message) }}{% if f.first_bytes then %}{{! text_block(f.first_bytes) }}{% end %}</td></tr>
{% end %}
</table></div>
{% end end %}
{% if not any then %}<p class="note">No request failed.</p>{% end %}
]]

M.hardest = [[
<h3 id="hardest">Questions most models got wrong</h3>
{% if #d.hardest == 0 then %}<p class="note">No question was answered wrongly.</p>{% else %}
<p class="note">{{ int(d.hardest_total) }} questions were answered wrongly by at least one model{% if #d.models > 1 then %}, {{ int(d.all_wrong) }} by every model{% end %};
the {{ #d.hardest }} shown have the largest share of wrong answers (spread over the questions where many share it).</p>
{% for _, h in ipairs(d.hardest) do %}
<div class="card" id="{{ slug("q", h.qid) }}">
<h3>{{ h.qid }}</h3>
<p class="meta">{{! family_link(h.family) }}{% if h.difficulty then %} · {{ h.difficulty }}{% end %}{% if h.domain then %} · {{ h.domain }}{% end %}{% if h.rung then %} · rung {{ h.rung }}{% end %}
 · wrong by <b>{{ h.wrong }} of {{ h.answered }}</b> models{% if h.bucket > 1 then %} (as are {{ int(h.bucket - 1) }} other questions){% end %}</p>
{{! text_block(h.prompt) }}
<p>Ground truth: <b>{{ value_text(h.truth) }}</b></p>
<table class="answers">
<tr><th>model</th><th>outcome</th><th>parsed</th><th>raw answer</th></tr>
{% for _, a in ipairs(h.answers) do %}
<tr><td class="model"><span class="swatch" style="background:{{ color(a.index) }}"></span><a href="#model-{{ a.index }}">{{ d.models[a.index].label }}</a></td>
<td>{{! outcome_badge(a) }}</td><td>{{ value_text(a.parsed) }}</td><td>{{! answer_block(a) }}</td></tr>
{% end %}
</table>
</div>
{% end %}
{% end %}
]]

M.settings = [[
<section id="settings">
<h2>Settings and versions</h2>
{% for _, r in ipairs(d.runs) do local s = settings(r) %}
<h3 id="{{ slug("run", r.id) }}">Run {{ r.id }}</h3>
<dl class="kv">
{% for _, kv in ipairs(s.facts) do %}<dt>{{ kv[1] }}</dt><dd>{{ kv[2] }}</dd>{% end %}
</dl>
{% if #s.models > 0 then %}
<div class="wide"><table>
<tr><th>model</th><th>adapter</th><th>model id</th><th>settings</th></tr>
{% for _, m in ipairs(s.models) do %}<tr><td class="model">{{ m.label }}</td><td>{{ m.adapter }}</td><td>{{ m.model }}</td><td>{{ m.rest }}</td></tr>{% end %}
</table></div>
{% end %}
{% if #s.config > 0 then %}
<p class="note">The run's configuration (secrets left out):</p>
<div class="cols"><table>
{% for _, kv in ipairs(s.config) do %}<tr><td>{{ kv[1] }}</td><td>{{ kv[2] }}</td></tr>{% end %}
</table></div>
{% end %}
{% end %}
</section>
]]

return M
