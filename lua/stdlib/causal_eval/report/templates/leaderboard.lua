-- SPDX-License-Identifier: MIT
-- The leaderboard page (`causal-eval leaderboard -o FILE.html`), given `d`,
-- the data of report/leaderboard.lua.
local M = {}

M.leaderboard = [[
<header>
<h1>{{ title }}</h1>
<p class="meta">{{ int(#d.ranked) }} models ranked on {{ int(d.shared) }} questions they all answered ·
{{ d.days and ("runs of the last " .. d.days .. " days") or "all runs" }}{% if d.bench then %} · family {{ d.bench }}{% end %} · {{ int(d.runs) }} {{ d.runs == 1 and "run" or "runs" }}</p>
{% if d.mode then %}<p class="mode" id="mode">Mode: <b class="mode-name">{{ d.mode }}</b></p>{% end %}
{% if #(d.other_modes or {}) > 0 then %}<p class="mode warn">Runs of {{ #d.other_modes }} other evaluation {{ #d.other_modes == 1 and "mode are" or "modes are" }} not ranked with these, as they are a different evaluation: see <a href="#other-modes">Other evaluation modes</a>.</p>{% end %}
</header>
{% if #d.ranked == 0 then %}<p>No model has answered any question{% if d.bench then %} of family {{ d.bench }}{% end %} yet.</p>{% else %}
<section id="ranking">
<h2>Ranking</h2>
<p class="note">Accuracy on the shared questions, with Wilson 95% intervals. A <b>group</b> holds its leader (its first model) and the models
statistically tied with it: McNemar's test on the shared questions, Holm-corrected over all {{ int(d.pairs) }} pairs of ranked models,
not significant at {{ d.alpha }}. <b>Best rank</b> is 1 + the number of models significantly better.</p>
{{! dots_chart() }}
<div class="wide"><table id="leaderboard">
<tr><th class="num">rank</th><th class="num">group</th><th>model</th><th class="num">accuracy</th><th class="num">95% CI</th><th></th>
<th class="num">vs leader</th><th class="num">p (Holm)</th><th class="num">best rank</th><th class="num">answered</th><th class="num">runs</th></tr>
{% for _, r in ipairs(d.ranked) do %}
<tr class="lb-row tier-{{ r.group % 2 == 1 and "odd" or "even" }}" data-model="{{ r.model }}" data-rank="{{ r.rank }}" data-group="{{ r.group }}"
 data-accuracy="{{ num(r.accuracy) }}" data-lo="{{ num(r.ci[1]) }}" data-hi="{{ num(r.ci[2]) }}" data-n="{{ r.n }}">
<td class="num">{{ r.rank }}</td><td class="num tier"><span class="swatch" style="background:{{ color(r.group) }}"></span>{{ r.group }}</td>
<td class="model">{{ r.model }}</td><td class="num acc"><b>{{ pct(r.accuracy) }}</b></td>
<td class="num ci">[{{ pct(r.ci[1]) }}, {{ pct(r.ci[2]) }}]</td><td>{{! charts.ci_bar(r.accuracy, r.ci[1], r.ci[2], color(r.group)) }}</td>
<td class="num">{% if r.leader == r.model then %}leader{% else %}{{ signed_pct(r.diff_leader) }}{% if r.diff_ci then %} [{{ signed_pct(r.diff_ci[1]) }}, {{ signed_pct(r.diff_ci[2]) }}]{% end %}{% end %}</td>
<td class="num">{{ r.p_leader and p(r.p_leader) or "–" }}</td><td class="num">{{ r.rank_best }}</td>
<td class="num">{{ int(r.answered) }}</td><td class="num" title="last: {{ r.last_run }}">{{ int(r.runs) }}</td></tr>
{% end %}
</table></div>
</section>
{% end %}
{% if #(d.other_modes or {}) > 0 then %}
<section id="other-modes">
<h2>Other evaluation modes</h2>
<p class="note">A model asked in another way (another prompt template, few-shot examples, a chain of thought, repeated samples) is a
different evaluation: these runs are not ranked with the ones above. <code>causal-eval leaderboard --mode NAME</code> ranks a mode's runs.</p>
<table id="other-modes-table">
<tr><th>mode</th><th class="num">runs</th><th>models</th></tr>
{% for _, om in ipairs(d.other_modes) do %}
<tr class="other-mode" data-mode="{{ om.mode }}"><td class="mode-name">{{ om.mode }}{% if om.default then %} (default){% end %}</td><td class="num">{{ int(om.runs) }}</td><td>{{ table.concat(om.models, ", ") }}</td></tr>
{% end %}
</table>
</section>
{% end %}
{% if #d.unranked > 0 then %}
<section id="unranked">
<h2>Not ranked</h2>
<p class="note">Left out so that at least {{ int(d.min_shared) }} questions are shared by the ranked models; accuracy here is on each model's own questions.</p>
<table>
<tr><th>model</th><th class="num">answered</th><th class="num">accuracy</th><th class="num">95% CI</th><th class="num">runs</th><th>last run</th></tr>
{% for _, u in ipairs(d.unranked) do %}
<tr><td class="model">{{ u.model }}</td><td class="num">{{ int(u.answered) }}</td><td class="num">{{ pct(u.accuracy_all) }}</td>
<td class="num">[{{ pct(u.ci_all[1]) }}, {{ pct(u.ci_all[2]) }}]</td><td class="num">{{ int(u.runs) }}</td><td>{{ u.last_run }}</td></tr>
{% end %}
</table>
</section>
{% end %}
]]

return M
