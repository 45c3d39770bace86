-- SPDX-License-Identifier: MIT
-- Charts as inline SVG text: accuracy bars with confidence intervals, a
-- forest plot of paired differences, latency histograms. Each builder takes
-- plain tables and returns markup; every label is escaped here, so callers
-- pass text as it came from the store. Colours and sizes are arguments, and
-- a --template file can replace any builder (docs/reports.md).
local html = require "causal_eval.report.html"

local esc = html.esc

local M = {}

-- colours for models, in order (Okabe-Ito, then darker variants): told
-- apart also by people with the common colour blindnesses
M.PALETTE = { "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
              "#004C7A", "#9C6B00", "#006B4F", "#8A4F73" }

function M.color(i) return M.PALETTE[(i - 1) % #M.PALETTE + 1] end

local function f(x) return ("%.1f"):format(x) end

local function attrs(t)
  if not t then return "" end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if v ~= nil then out[#out + 1] = (' %s="%s"'):format(k, esc(type(v) == "number" and ("%.17g"):format(v) or v)) end
  end
  return table.concat(out)
end
M.attrs = attrs

local function text(x, y, s, cls, anchor, extra)
  return ('<text x="%s" y="%s"%s%s%s>%s</text>'):format(f(x), f(y), cls and (' class="' .. cls .. '"') or "",
    anchor and (' text-anchor="' .. anchor .. '"') or "", extra or "", esc(s))
end

local function open_svg(w, h, label, cls)
  return ('<svg class="chart%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">'):format(
    cls and (" " .. cls) or "", w, h, w, h, esc(label))
end

--- A small accuracy bar with its interval, for a table cell.
function M.ci_bar(acc, lo, hi, color, width)
  width = width or 120
  if type(acc) ~= "number" then return "" end
  local h = 12
  local x = function(v) return 1 + v * (width - 2) end
  return table.concat{
    ('<svg class="cibar" viewBox="0 0 %d %d" width="%d" height="%d" aria-hidden="true">'):format(width, h, width, h),
    ('<rect class="track" x="1" y="3" width="%s" height="6"/>'):format(f(width - 2)),
    ('<rect x="1" y="3" width="%s" height="6" fill="%s"/>'):format(f(x(acc) - 1), esc(color or "#555")),
    ('<path class="whisker" d="M%s 6H%s M%s 1V11 M%s 1V11"/>'):format(f(x(lo)), f(x(hi)), f(x(lo)), f(x(hi))),
    "</svg>",
  }
end

--- Accuracy per group with 95% intervals: one cluster of bars per group,
--- one bar per series (model). spec: groups = { { key, label, note, href } },
--- series = { { label, color } }, cell(gi, si) -> { accuracy, lo, hi, n }
--- or nil, data(gi, si) -> attributes for the bar's <g> (data-*), title.
function M.bars(spec)
  local W = spec.width or 1040
  local ns = #spec.series
  local L, R = spec.label_width or 200, ns > 6 and 96 or 64
  local P = W - L - R
  local bar, gap, ggap, top = spec.bar_height or 11, 3, 12, 22
  local gh = ns * bar + (ns - 1) * gap
  local H = top + #spec.groups * (gh + ggap) + 18
  local x = function(v) return L + math.max(0, math.min(1, v)) * P end
  local out = { open_svg(W, H, spec.title or "accuracy", "bars") }
  for _, t in ipairs({ 0, 0.25, 0.5, 0.75, 1 }) do
    out[#out + 1] = ('<line class="grid" x1="%s" y1="%d" x2="%s" y2="%d"/>'):format(f(x(t)), top - 4, f(x(t)), H - 16)
    out[#out + 1] = text(x(t), top - 8, ("%d%%"):format(t * 100), "tick", "middle")
    out[#out + 1] = text(x(t), H - 4, ("%d%%"):format(t * 100), "tick", "middle")
  end
  for gi, g in ipairs(spec.groups) do
    local y0 = top + (gi - 1) * (gh + ggap)
    local label = text(L - 8, y0 + gh / 2 + (g.note and -1 or 4), g.label, "glabel", "end")
    if g.href then label = ('<a href="%s">%s</a>'):format(esc(g.href), label) end
    out[#out + 1] = label
    if g.note then out[#out + 1] = text(L - 8, y0 + gh / 2 + 11, g.note, "note", "end") end
    for si, s in ipairs(spec.series) do
      local c = spec.cell(gi, si)
      local y = y0 + (si - 1) * (bar + gap)
      if c and type(c.accuracy) == "number" then
        local a = spec.data and spec.data(gi, si, c) or {}
        out[#out + 1] = ("<g%s>"):format(attrs(a))
        out[#out + 1] = ("<title>%s</title>"):format(esc(("%s, %s: %s [%s, %s], n = %s"):format(s.label, g.label,
          html.pct(c.accuracy), html.pct(c.lo), html.pct(c.hi), html.int(c.n))))
        out[#out + 1] = ('<rect x="%s" y="%s" width="%s" height="%d" fill="%s"/>'):format(f(L), f(y),
          f(x(c.accuracy) - L), bar, esc(s.color))
        local ym = y + bar / 2
        out[#out + 1] = ('<path class="whisker" d="M%s %sH%s M%s %sV%s M%s %sV%s"/>'):format(f(x(c.lo)), f(ym),
          f(x(c.hi)), f(x(c.lo)), f(y), f(y + bar), f(x(c.hi)), f(y), f(y + bar))
        -- past six models the colours repeat or blur: the model's number says which
        out[#out + 1] = text(W - R + 6, y + bar - 1, (ns > 6 and ("#" .. si .. " ") or "") .. html.pct(c.accuracy), "val")
        out[#out + 1] = "</g>"
      else
        out[#out + 1] = text(L + 4, y + bar - 1, "no questions", "note")
      end
    end
  end
  out[#out + 1] = "</svg>"
  return table.concat(out)
end

-- a tick step giving at most about 8 ticks over [-m, m]
local function step_for(m)
  for _, s in ipairs({ 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5 }) do
    if m / s <= 4 then return s end
  end
  return 0.5
end

--- Paired differences as a forest plot: a point and its interval per row,
--- filled where the corrected p-value is under alpha. spec: rows =
--- { { label, diff, lo, hi, p, data } }, alpha (0.05), title.
function M.forest(spec)
  local W = spec.width or 1040
  local L, R = spec.label_width or 300, 230
  local P = W - L - R
  local rowh, top = 24, 24
  local H = top + #spec.rows * rowh + 20
  local m = 0.05
  for _, r in ipairs(spec.rows) do m = math.max(m, math.abs(r.lo), math.abs(r.hi), math.abs(r.diff)) end
  local step = step_for(m)
  m = math.ceil(m / step - 1e-9) * step
  local x = function(v) return L + (v + m) / (2 * m) * P end
  local alpha = spec.alpha or 0.05
  local out = { open_svg(W, H, spec.title or "paired differences", "forest") }
  local t = -m
  while t <= m + 1e-9 do
    out[#out + 1] = ('<line class="%s" x1="%s" y1="%d" x2="%s" y2="%d"/>'):format(math.abs(t) < 1e-9 and "zero" or "grid",
      f(x(t)), top - 4, f(x(t)), H - 16)
    out[#out + 1] = text(x(t), H - 4, math.abs(t) < 1e-9 and "0%" or html.signed_pct(t, 0), "tick", "middle")
    t = t + step
  end
  out[#out + 1] = text(W - R + 10, top - 8, "difference [95% CI]   p (Holm)", "tick")
  for i, r in ipairs(spec.rows) do
    local y = top + (i - 1) * rowh + rowh / 2
    local sig = r.p < alpha
    out[#out + 1] = ("<g%s>"):format(attrs(r.data))
    out[#out + 1] = ("<title>%s</title>"):format(esc(("%s: %s [%s, %s], p (Holm) = %s"):format(r.label,
      html.signed_pct(r.diff), html.signed_pct(r.lo), html.signed_pct(r.hi), html.p(r.p))))
    local label = text(L - 10, y + 4, r.label, "glabel", "end")
    if r.href then label = ('<a href="%s">%s</a>'):format(esc(r.href), label) end
    out[#out + 1] = label
    out[#out + 1] = ('<path class="whisker" d="M%s %sH%s"/>'):format(f(x(r.lo)), f(y), f(x(r.hi)))
    out[#out + 1] = ('<rect class="%s" x="%s" y="%s" width="9" height="9"/>'):format(sig and "sig" or "nonsig",
      f(x(r.diff) - 4.5), f(y - 4.5))
    out[#out + 1] = text(W - R + 10, y + 4, ("%s [%s, %s]"):format(html.signed_pct(r.diff), html.signed_pct(r.lo),
      html.signed_pct(r.hi)), "val")
    out[#out + 1] = text(W - 8, y + 4, html.p(r.p), sig and "val sigtext" or "val", "end")
    out[#out + 1] = "</g>"
  end
  out[#out + 1] = "</svg>"
  return table.concat(out)
end

-- tick values for a log axis over [lo, hi] (ms): 1-2-5 steps per decade
local function log_ticks(lo, hi)
  local ticks = {}
  local e = math.floor(math.log(lo, 10))
  while 10 ^ e <= hi * 1.0001 do
    for _, k in ipairs({ 1, 2, 5 }) do
      local v = k * 10 ^ e
      if v >= lo * 0.9999 and v <= hi * 1.0001 then ticks[#ticks + 1] = v end
    end
    e = e + 1
  end
  if #ticks > 9 then
    local keep = {}
    for _, v in ipairs(ticks) do
      local m = v / 10 ^ math.floor(math.log(v, 10) + 1e-9)
      if math.abs(m - 1) < 1e-6 then keep[#keep + 1] = v end
    end
    ticks = keep
  end
  return ticks
end

--- Latency histograms on a shared log axis, one row per series, each row
--- scaled to its own tallest bin, with its marks (p50, p95, p99: lines
--- styled by the classes mark1, mark2, mark3). spec:
--- edges = { e0 < e1 < ... } (ms, B + 1 of them), series = { { label,
--- color, counts = { B numbers }, marks = { { name, value } } } }.
function M.histogram(spec)
  local W = spec.width or 1040
  local L, R = spec.label_width or 200, 20
  local P = W - L - R
  local rowh, top = spec.row_height or 64, 8
  local H = top + #spec.series * rowh + 22
  local edges = spec.edges
  local B = #edges - 1
  local lo, hi = edges[1], edges[#edges]
  local span = math.log(hi / lo)
  local x = function(v)
    if v <= lo then return L end
    return L + math.min(1, math.log(v / lo) / span) * P
  end
  local out = { open_svg(W, H, spec.title or "latency", "histogram") }
  for _, t in ipairs(log_ticks(lo, hi)) do
    out[#out + 1] = ('<line class="grid" x1="%s" y1="%d" x2="%s" y2="%d"/>'):format(f(x(t)), top, f(x(t)), H - 18)
    out[#out + 1] = text(x(t), H - 5, html.ms(t), "tick", "middle")
  end
  for si, s in ipairs(spec.series) do
    local y0 = top + (si - 1) * rowh
    local base = y0 + rowh - 6
    local max = 0
    for b = 1, B do max = math.max(max, s.counts[b] or 0) end
    out[#out + 1] = ("<g%s>"):format(attrs(s.data))
    out[#out + 1] = text(L - 8, y0 + rowh / 2 + 4, s.label, "glabel", "end")
    out[#out + 1] = ('<line class="axis" x1="%d" y1="%s" x2="%d" y2="%s"/>'):format(L, f(base), W - R, f(base))
    for b = 1, B do
      local c = s.counts[b] or 0
      if c > 0 then
        local h = math.max(1, c / max * (rowh - 20))
        out[#out + 1] = ('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>'):format(
          f(x(edges[b])), f(base - h), f(math.max(1, x(edges[b + 1]) - x(edges[b]) - 1)), f(h), esc(s.color),
          esc(("%s: %s answers between %s and %s"):format(s.label, html.int(c), html.ms(edges[b]), html.ms(edges[b + 1]))))
      end
    end
    for mi, mk in ipairs(s.marks or {}) do
      if type(mk.value) == "number" then
        local mx = x(mk.value)
        out[#out + 1] = ('<line class="mark mark%d" x1="%s" y1="%s" x2="%s" y2="%s"><title>%s</title></line>'):format(mi,
          f(mx), f(y0 + 6), f(mx), f(base), esc(("%s %s: %s"):format(s.label, mk.name, html.ms(mk.value))))
      end
    end
    if max == 0 then out[#out + 1] = text(L + 4, base - 4, "no latencies", "note") end
    out[#out + 1] = "</g>"
  end
  out[#out + 1] = "</svg>"
  return table.concat(out)
end

--- The leaderboard's dot plot: accuracy and interval per model, rows
--- shaded by group. spec: rows = { { label, accuracy, lo, hi, group, color } }.
function M.dots(spec)
  local W = spec.width or 1040
  local L, R = spec.label_width or 260, 70
  local P = W - L - R
  local rowh, top = 20, 22
  local H = top + #spec.rows * rowh + 20
  local lo_all, hi_all = 1, 0
  for _, r in ipairs(spec.rows) do lo_all, hi_all = math.min(lo_all, r.lo), math.max(hi_all, r.hi) end
  local a = math.max(0, math.floor(lo_all * 10) / 10)
  local b = math.min(1, math.ceil(hi_all * 10) / 10)
  if b - a < 0.2 then a, b = math.max(0, a - 0.1), math.min(1, b + 0.1) end
  local x = function(v) return L + (v - a) / (b - a) * P end
  local out = { open_svg(W, H, spec.title or "accuracy on shared questions", "dots") }
  for i, r in ipairs(spec.rows) do
    if r.group % 2 == 0 then
      out[#out + 1] = ('<rect class="band" x="0" y="%s" width="%d" height="%d"/>'):format(f(top + (i - 1) * rowh), W, rowh)
    end
  end
  local t = a
  while t <= b + 1e-9 do
    out[#out + 1] = ('<line class="grid" x1="%s" y1="%d" x2="%s" y2="%d"/>'):format(f(x(t)), top - 4, f(x(t)), H - 16)
    out[#out + 1] = text(x(t), top - 8, ("%d%%"):format(math.floor(t * 100 + 0.5)), "tick", "middle")
    out[#out + 1] = text(x(t), H - 4, ("%d%%"):format(math.floor(t * 100 + 0.5)), "tick", "middle")
    t = t + 0.1
  end
  for i, r in ipairs(spec.rows) do
    local y = top + (i - 1) * rowh + rowh / 2
    out[#out + 1] = ("<g%s>"):format(attrs(r.data))
    out[#out + 1] = text(L - 8, y + 4, r.label, "glabel", "end")
    out[#out + 1] = ('<path class="whisker" d="M%s %sH%s"/>'):format(f(x(r.lo)), f(y), f(x(r.hi)))
    out[#out + 1] = ('<circle cx="%s" cy="%s" r="4.5" fill="%s"/>'):format(f(x(r.accuracy)), f(y), esc(r.color or "#333"))
    out[#out + 1] = text(W - R + 8, y + 4, html.pct(r.accuracy), "val")
    out[#out + 1] = "</g>"
  end
  out[#out + 1] = "</svg>"
  return table.concat(out)
end

return M
