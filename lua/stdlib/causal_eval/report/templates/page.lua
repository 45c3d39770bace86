-- SPDX-License-Identifier: MIT
-- The page around a report or a leaderboard, and its style sheet: one file
-- with nothing to fetch (no fonts, scripts or images from anywhere; the
-- policy below forbids them), readable offline and on paper. Template
-- syntax: report/template.lua; replace any of these with --template FILE.
local M = {}

M.page = [[
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="causal-eval {{ version }}">
<title>{{ title }}</title>
<style>
{{! include("style") }}
</style>
</head>
<body>
{{! body }}
<footer>Made by causal-eval {{ version }} on {{ date(generated) }}. This file is self-contained: it needs no network and prints as it shows.</footer>
</body>
</html>
]]

M.style = [[
:root { --fg: #1b1f24; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --accent: #0b5cad; --bad: #b42318; --good: #16703c; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg);
  background: #fff; margin: 0 auto; max-width: 1120px; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 22px 0 6px; }
p { margin: 6px 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.meta, .note, footer { color: var(--muted); }
.note { font-size: 12.5px; }
footer { margin-top: 40px; font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
nav { margin: 14px 0 6px; padding: 8px 12px; background: var(--soft); border: 1px solid var(--line); border-radius: 6px; font-size: 13px; }
nav a { margin-right: 14px; white-space: nowrap; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 13px; }
th, td { padding: 4px 6px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
th.grp { text-align: center; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.sep td { border-top: 2px solid var(--line); }
.wide { overflow-x: auto; max-width: 100%; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.model { font-weight: 600; overflow-wrap: break-word; }
td.rank, td.idx { white-space: nowrap; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 2px 0; font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; max-height: 24em; overflow-y: auto; }
.cut { color: var(--muted); font-style: italic; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 11.5px; font-weight: 600; color: #fff; }
.badge.right { background: var(--good); } .badge.wrong { background: var(--bad); }
.badge.unparseable { background: #8a5a00; } .badge.failed { background: #444; }
.badge.partial { background: #6b4fa0; }
.mode { margin: 8px 0 0; } .mode.warn { color: var(--bad); }
.label { display: block; color: var(--muted); font-size: 11.5px; margin-top: 4px; }
details.reasoning > summary { cursor: pointer; color: var(--muted); font-size: 12px; }
pre.reasoning { color: var(--muted); }
.samples-line { margin: 2px 0; font-size: 12.5px; }
.sample { display: inline-block; padding: 0 5px; margin: 1px 1px; border-radius: 3px; border: 1px solid var(--line); font-size: 12px; }
.sample.right { border-color: var(--good); color: var(--good); } .sample.wrong { border-color: var(--bad); color: var(--bad); }
.sample.unparseable { border-color: #8a5a00; color: #8a5a00; font-style: italic; }
.sample-text { margin: 2px 0 6px; }
.sub { color: var(--muted); font-size: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
.card h3 { margin: 0 0 6px; font-size: 14px; overflow-wrap: anywhere; }
.cols { columns: 2 340px; column-gap: 28px; }
.cols table { width: 100%; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; font-size: 13px; }
dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; overflow-wrap: anywhere; }
.legend { font-size: 12.5px; color: var(--muted); margin: 4px 0; }
.legend span { margin-right: 14px; }
.sigtext { font-weight: 700; }
td.sig { font-weight: 700; color: var(--fg); }
svg.chart { display: block; max-width: 100%; height: auto; margin: 6px 0; }
svg.chart text { font-size: 11px; fill: var(--fg); font-family: inherit; }
svg.chart text.tick, svg.chart text.note { fill: var(--muted); }
svg.chart text.glabel { font-size: 12px; }
svg.chart text.val { font-variant-numeric: tabular-nums; }
svg.chart a text { fill: var(--accent); }
svg.chart .grid { stroke: #e3e8ee; stroke-width: 1; }
svg.chart .zero { stroke: #333; stroke-width: 1; stroke-dasharray: 3 3; }
svg.chart .axis { stroke: #9aa4ae; stroke-width: 1; }
svg.chart .whisker { stroke: #1b1f24; stroke-width: 1.3; fill: none; }
svg.chart .sig { fill: #1b1f24; } svg.chart .nonsig { fill: #fff; stroke: #1b1f24; stroke-width: 1.3; }
svg.chart .band { fill: var(--soft); }
svg.chart .mark { stroke: #1b1f24; stroke-width: 1.2; }
svg.chart .mark2 { stroke-dasharray: 4 2; } svg.chart .mark3 { stroke-dasharray: 1.5 2; }
svg.cibar { vertical-align: middle; }
svg.cibar .track { fill: #e9edf1; } svg.cibar .whisker { stroke: #1b1f24; stroke-width: 1.2; }
.conf td.cell { text-align: right; min-width: 44px; }
.tier { font-weight: 700; }
.tier-odd td { background: #fff; } .tier-even td { background: var(--soft); }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  nav { display: none; }
  h2 { break-after: avoid; }
  table, svg.chart, .card, figure { break-inside: avoid; }
  pre { max-height: none; overflow: visible; }
  a { color: inherit; }
}
]]

return M
