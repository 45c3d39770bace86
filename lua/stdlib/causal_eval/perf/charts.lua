-- SPDX-License-Identifier: MIT
-- The two charts the performance report needs beyond the evaluation
-- report's (causal_eval.report.charts: its histogram draws the latency
-- distributions): a line chart for scalability curves, each point the
-- median of its rounds with a whisker over their range, and paired bars of
-- baseline against current for each compared metric. Inline SVG text in
-- the same style (the report's classes: grid, tick, whisker, glabel, val),
-- every label escaped here.
local html = require "causal_eval.report.html"
local rcharts = require "causal_eval.report.charts"

local esc, attrs = html.esc, rcharts.attrs

local M = {}

local function f(x) return ("%.1f"):format(x) end

local function text(x, y, s, cls, anchor)
  return ('<text x="%s" y="%s"%s%s>%s</text>'):format(f(x), f(y), cls and (' class="' .. cls .. '"') or "",
    anchor and (' text-anchor="' .. anchor .. '"') or "", esc(s))
end

-- a 1-2-5 step giving at most about six ticks from 0 to top
local function nice_step(top)
  if top <= 0 then return 1 end
  local e = 10 ^ math.floor(math.log(top, 10))
  for _, k in ipairs({ 0.1, 0.2, 0.5, 1, 2, 5, 10 }) do
    if top / (k * e) <= 6 then return k * e end
  end
  return 10 * e
end
M.nice_step = nice_step

--- A line chart: spec = { title, xlabel, ylabel, log2 (x on a log-2 axis),
--- format (number -> text, for values), series = { { label, color, data
--- (attributes of its <g>), points = { { x, y, lo, hi, data } } } },
--- ideal = { { x, y } } (a dashed reference line) }.
function M.lines(spec)
  local W, H = spec.width or 1040, spec.height or 340
  local L, R, T, B = 78, 190, 18, 46
  local P, Q = W - L - R, H - T - B
  local fmt = spec.format or function(v) return ("%.4g"):format(v) end
  local xs, ymax = {}, 0
  for _, s in ipairs(spec.series) do
    for _, p in ipairs(s.points) do
      xs[#xs + 1] = p.x
      ymax = math.max(ymax, p.hi or p.y, p.y)
    end
  end
  for _, p in ipairs(spec.ideal or {}) do xs[#xs + 1] = p.x end
  table.sort(xs)
  local x0, x1 = xs[1] or 0, xs[#xs] or 1
  if x1 == x0 then x0, x1 = x0 - 1, x1 + 1 end
  local tx = function(v)
    if spec.log2 then return L + (math.log(v, 2) - math.log(x0, 2)) / (math.log(x1, 2) - math.log(x0, 2)) * P end
    return L + (v - x0) / (x1 - x0) * P
  end
  local step = nice_step(ymax * 1.05)
  local ytop = math.max(step, math.ceil(ymax * 1.05 / step) * step)
  local ty = function(v) return T + Q - math.max(0, math.min(v, ytop)) / ytop * Q end
  local out = { ('<svg class="chart lines" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">'):format(
    W, H, W, H, esc(spec.title or "")) }
  local v = 0
  while v <= ytop + step * 1e-6 do
    out[#out + 1] = ('<line class="grid" x1="%d" y1="%s" x2="%d" y2="%s"/>'):format(L, f(ty(v)), L + P, f(ty(v)))
    out[#out + 1] = text(L - 6, ty(v) + 4, fmt(v), "tick", "end")
    v = v + step
  end
  local seen = {}
  for _, x in ipairs(xs) do
    if not seen[x] then
      seen[x] = true
      out[#out + 1] = ('<line class="grid" x1="%s" y1="%d" x2="%s" y2="%d"/>'):format(f(tx(x)), T, f(tx(x)), T + Q)
      out[#out + 1] = text(tx(x), T + Q + 16, ("%g"):format(x), "tick", "middle")
    end
  end
  out[#out + 1] = ('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>'):format(L, T + Q, L + P, T + Q)
  if spec.xlabel then out[#out + 1] = text(L + P / 2, H - 6, spec.xlabel, "glabel", "middle") end
  if spec.ylabel then
    out[#out + 1] = ('<text class="glabel" transform="translate(14 %s) rotate(-90)" text-anchor="middle">%s</text>'):format(
      f(T + Q / 2), esc(spec.ylabel))
  end
  if spec.ideal and #spec.ideal > 1 then
    -- drawn up to where it leaves the chart, not flattened along its top
    local d = {}
    for i, p in ipairs(spec.ideal) do
      if p.y <= ytop then
        d[#d + 1] = ("%s%s %s"):format(i == 1 and "M" or "L", f(tx(p.x)), f(ty(p.y)))
      else
        local q = spec.ideal[i - 1]
        if q and q.y < ytop then
          local t = (ytop - q.y) / (p.y - q.y)
          d[#d + 1] = ("L%s %s"):format(f(tx(q.x) + t * (tx(p.x) - tx(q.x))), f(ty(ytop)))
        end
        break
      end
    end
    if #d > 1 then
      out[#out + 1] = ('<path class="ideal" d="%s"><title>%s</title></path>'):format(table.concat(d, " "),
        esc(spec.ideal_label or "ideal"))
    end
  end
  for si, s in ipairs(spec.series) do
    local color = esc(s.color or rcharts.color(si))
    out[#out + 1] = ("<g%s>"):format(attrs(s.data))
    local d = {}
    for i, p in ipairs(s.points) do d[i] = ("%s%s %s"):format(i == 1 and "M" or "L", f(tx(p.x)), f(ty(p.y))) end
    if #d > 1 then
      out[#out + 1] = ('<path class="line" d="%s" stroke="%s" fill="none" stroke-width="2"/>'):format(table.concat(d, " "), color)
    end
    for _, p in ipairs(s.points) do
      local cx, cy = tx(p.x), ty(p.y)
      out[#out + 1] = ("<g%s>"):format(attrs(p.data))
      out[#out + 1] = ("<title>%s</title>"):format(esc(("%s at %g: %s (rounds %s .. %s)"):format(s.label, p.x, fmt(p.y),
        fmt(p.lo or p.y), fmt(p.hi or p.y))))
      if p.lo and p.hi then
        out[#out + 1] = ('<path class="whisker" d="M%s %sV%s M%s %sH%s M%s %sH%s"/>'):format(f(cx), f(ty(p.lo)), f(ty(p.hi)),
          f(cx - 3), f(ty(p.lo)), f(cx + 3), f(cx - 3), f(ty(p.hi)), f(cx + 3))
      end
      out[#out + 1] = ('<circle cx="%s" cy="%s" r="3.5" fill="%s"/>'):format(f(cx), f(cy), color)
      out[#out + 1] = "</g>"
    end
    local last = s.points[#s.points]
    if last then
      out[#out + 1] = text(L + P + 8, ty(last.y) + 4, ("%s: %s"):format(s.label, fmt(last.y)), "val")
    end
    out[#out + 1] = "</g>"
  end
  out[#out + 1] = "</svg>"
  return table.concat(out)
end

--- Baseline against current, a pair of bars per metric, each pair on its
--- own scale (its larger median is the full width): spec = { title,
--- rows = { { label, base, current, base_lo, base_hi, lo, hi, status,
--- note, text (value -> text), data } } }. A regression's bar is drawn in
--- the colour of the class "worse", an improvement's "better".
function M.pairs(spec)
  local W = spec.width or 1040
  local L, R = spec.label_width or 260, 300
  local P = W - L - R
  local bar, rowh, top = 10, 34, 8
  local H = top + #spec.rows * rowh + 8
  local out = { ('<svg class="chart pairs" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">'):format(
    W, H, W, H, esc(spec.title or "baseline and current")) }
  for i, r in ipairs(spec.rows) do
    local y0 = top + (i - 1) * rowh
    local max = math.max(r.base or 0, r.current or 0, r.base_hi or 0, r.hi or 0)
    if max <= 0 then max = 1 end
    local sx = function(v) return L + math.max(0, v) / max * P end
    local fmt = r.text or function(v) return ("%.4g"):format(v) end
    out[#out + 1] = ("<g%s>"):format(attrs(r.data))
    out[#out + 1] = ("<title>%s</title>"):format(esc(("%s: baseline %s, current %s%s"):format(r.label, fmt(r.base),
      fmt(r.current), r.note and (", " .. r.note) or "")))
    out[#out + 1] = text(L - 8, y0 + bar + 5, r.label, "glabel", "end")
    local rows = { { "base", r.base, r.base_lo, r.base_hi, y0 + 2 }, { "cur " .. (r.status or ""), r.current, r.lo, r.hi,
                                                                       y0 + bar + 4 } }
    for _, b in ipairs(rows) do
      if type(b[2]) == "number" then
        out[#out + 1] = ('<rect class="%s" x="%d" y="%s" width="%s" height="%d"/>'):format(b[1], L, f(b[5]),
          f(sx(b[2]) - L), bar)
        if b[3] and b[4] then
          local ym = b[5] + bar / 2
          out[#out + 1] = ('<path class="whisker" d="M%s %sH%s M%s %sV%s M%s %sV%s"/>'):format(f(sx(b[3])), f(ym),
            f(sx(b[4])), f(sx(b[3])), f(b[5]), f(b[5] + bar), f(sx(b[4])), f(b[5]), f(b[5] + bar))
        end
      end
    end
    out[#out + 1] = text(L + P + 10, y0 + bar + 5, ("%s → %s%s"):format(fmt(r.base), fmt(r.current),
      r.note and ("  " .. r.note) or ""), "val")
    out[#out + 1] = "</g>"
  end
  out[#out + 1] = "</svg>"
  return table.concat(out)
end

return M
