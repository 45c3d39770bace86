-- SPDX-License-Identifier: MIT
-- Profilers: where CPU time, memory and I/O go, in one scope or a whole run.
--
--   local profiling = require "causal_eval.profiling"
--   local p = profiling.PerformanceProfiler{ cpu = true, memory = true, io = true, sampling_interval = 0.1 }
--   p:run(f, ...)                          -- or: do local _ <close> = p:scope() ... end
--   local a = p:analyze()                  -- cpu_hotspots, memory_peaks, io_bottlenecks, leaks
--   print(p:report{ sort = "self", top = 20 })
--   io.open("flame.svg", "w"):write(p:flamegraph())
--
-- CPU samples come from every Lua state that attaches (worker threads do when
-- a collection is running), merged. sampling_interval is how often memory
-- is snapshotted (seconds); CPU is sampled every cpu_interval (1 ms of CPU).
local core = require "causal_eval.profiling_core"
local host = require "causal_eval.host"

local M = {}

local Profiler = {}
Profiler.__index = Profiler

function M.PerformanceProfiler(opts)
  opts = opts or {}
  return setmetatable({
    cpu = opts.cpu ~= false, memory = opts.memory ~= false, io = opts.io ~= false,
    cpu_interval = opts.cpu_interval or 0.001, sampling_interval = opts.sampling_interval or 0.1,
  }, Profiler)
end

local function io_delta(before, after)
  local out = {}
  for path, a in pairs(after) do
    local b = before[path] or { ops = 0, bytes = 0, seconds = 0 }
    out[path] = { ops = a.ops - b.ops, bytes = a.bytes - b.bytes, seconds = a.seconds - b.seconds }
  end
  return out
end

-- ---- heap snapshots: which data structures grow ----

local MAX_NODES, MAX_DEPTH = 50000, 5

-- Shallow size of every table reachable from _G (and upvalues of global
-- functions are not followed), keyed by its path: { [path] = {entries, bytes} }.
local function heap_sizes()
  local out, seen, nodes = {}, {}, 0
  seen[package.loaded] = true -- modules are not data a run accumulates
  local function walk(t, path, depth)
    if seen[t] or nodes >= MAX_NODES then return end
    seen[t] = true
    nodes = nodes + 1
    local entries, bytes = 0, 40
    local kids = {}
    local function visit(k, v)
      entries = entries + 1
      bytes = bytes + 32
      if type(k) == "string" then bytes = bytes + #k end
      if type(v) == "string" then bytes = bytes + #v + 24
      elseif type(v) == "table" and depth < MAX_DEPTH and #kids < 1024 and (type(k) == "string" or math.type(k) == "integer") then
        kids[#kids + 1] = { v, k }
      end
    end
    -- the array part by its length and a sample of its first items (a walk
    -- must stay cheap however large a table grows); the rest key by key, capped
    local n = rawlen(t)
    if n > 0 then
      local sample = math.min(n, 64)
      local b0, e0 = bytes, entries
      for i = 1, sample do visit(i, rawget(t, i)) end
      bytes = b0 + (bytes - b0) * n / sample
      entries = e0 + n
    end
    local k, v, steps = n > 0 and n or nil, nil, 0
    repeat
      k, v = next(t, k)
      if k == nil then break end
      visit(k, v)
      steps = steps + 1
    until steps >= 4096
    out[path] = { entries, bytes }
    for _, kv in ipairs(kids) do
      local k = kv[2]
      local sub = type(k) == "string" and (k:match("^[%a_][%w_]*$") and (path .. "." .. k) or ("%s[%q]"):format(path, k))
        or ("%s[%d]"):format(path, k)
      walk(kv[1], sub, depth + 1)
    end
  end
  walk(_G, "_G", 0)
  return out
end

function Profiler:start()
  if core.active() then error("causal_eval.profiling: a profile is already being collected (one at a time)", 2) end
  self.heap = {}
  if self.memory then
    core.on_snapshot(function() self.heap[#self.heap + 1] = heap_sizes() end)
    self.heap[1] = heap_sizes()
  end
  self.io_before = core.io()
  self.t0 = host.clock()
  self.mem0 = host.rss()
  core.start(self.cpu_interval, self.sampling_interval)
  return self
end

function Profiler:stop()
  if not self.t0 then return self end
  core.stop()
  core.on_snapshot(nil)
  if self.memory then self.heap[#self.heap + 1] = heap_sizes() end
  self.elapsed = host.clock() - self.t0
  self.stacks, self.total = core.stacks()
  self.sites = core.sites()
  self.snaps = core.snapshots()
  self.io_used = io_delta(self.io_before, core.io())
  self.native = core.native()
  self.t0 = nil
  return self
end

--- Runs fn(...) under the profiler; returns what fn returns (errors pass through after stopping).
function Profiler:run(fn, ...)
  self:start()
  local r = table.pack(pcall(fn, ...))
  self:stop()
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

--- A to-be-closed scope: local _ <close> = p:scope()
function Profiler:scope()
  self:start()
  return setmetatable({}, { __close = function() self:stop() end })
end

-- ---- analysis ----

local function split(folded)
  local frames = {}
  for f in folded:gmatch("[^;]+") do frames[#frames + 1] = f end
  return frames
end

--- Per function: self samples (as the leaf), total (anywhere on the stack,
--- counted once per stack), callers and callees with sample counts.
function Profiler:functions()
  local fns = {}
  local function get(name)
    local f = fns[name]
    if not f then
      f = { name = name, self = 0, total = 0, callers = {}, callees = {} }
      fns[name] = f
    end
    return f
  end
  for folded, n in pairs(self.stacks or {}) do
    local frames = split(folded)
    local seen = {}
    for i, name in ipairs(frames) do
      local f = get(name)
      if not seen[name] then
        f.total = f.total + n
        seen[name] = true
      end
      if i > 1 then
        f.callers[frames[i - 1]] = (f.callers[frames[i - 1]] or 0) + n
        local c = get(frames[i - 1])
        c.callees[name] = (c.callees[name] or 0) + n
      end
    end
    if #frames > 0 then get(frames[#frames]).self = get(frames[#frames]).self + n end
  end
  return fns
end

local function sorted_by(t, key)
  local list = {}
  for _, v in pairs(t) do list[#list + 1] = v end
  table.sort(list, function(a, b)
    if a[key] ~= b[key] then return a[key] > b[key] end
    return a.name < b.name
  end)
  return list
end

--- Data structures that grow across heap snapshots: { site (a path from
--- _G), growth_bytes, growth_entries, growing (snapshots in which it grew),
--- snapshots }. opts: min_bytes (64 KiB), share of snapshots growing (0.6).
function Profiler:detect_leaks(opts)
  opts = opts or {}
  local min_bytes = opts.min_bytes or 64 * 1024
  local share = opts.share or 0.6
  local heap = self.heap or {}
  local out = {}
  if #heap < 3 then return out end
  local last = heap[#heap]
  for path, size in pairs(last) do
    local up, steps = 0, 0
    local prev
    for i = 1, #heap do
      local s = heap[i][path]
      if s then
        if prev then
          steps = steps + 1
          if s[2] > prev[2] then up = up + 1 end
        end
        prev = s
      end
    end
    local first
    for i = 1, #heap do
      if heap[i][path] then first = heap[i][path] break end
    end
    local growth = size[2] - (first and first[2] or 0)
    if steps >= 2 and growth >= min_bytes and up / steps >= share then
      out[#out + 1] = { site = path, growth_bytes = growth, growth_entries = size[1] - (first and first[1] or 0),
                        growing = up, snapshots = steps + 1 }
    end
  end
  table.sort(out, function(a, b) return a.growth_bytes > b.growth_bytes end)
  return out
end

function Profiler:analyze()
  local total = math.max(1, self.total or 0)
  local hot = {}
  for _, f in ipairs(sorted_by(self:functions(), "self")) do
    if f.self > 0 then
      hot[#hot + 1] = { ["function"] = f.name, self = f.self, total = f.total,
                        self_pct = 100 * f.self / total, total_pct = 100 * f.total / total,
                        self_seconds = f.self * self.cpu_interval }
    end
  end
  local snaps = self.snaps or {}
  local peak, at = 0, nil
  for _, s in ipairs(snaps) do if s[2] > peak then peak, at = s[2], s[1] end end
  local rate
  if #snaps >= 2 then
    rate = (snaps[#snaps][2] - snaps[1][2]) / (1024 * 1024) / math.max(1e-9, snaps[#snaps][1] - snaps[1][1])
  end
  local io = {}
  for path, v in pairs(self.io_used or {}) do
    if v.ops > 0 then
      io[#io + 1] = { path = path, ops = v.ops, bytes = v.bytes, seconds = v.seconds,
                      avg_latency_ms = v.seconds / v.ops * 1000,
                      throughput_mb_s = (self.elapsed or 0) > 0 and v.bytes / (1024 * 1024) / self.elapsed or 0 }
    end
  end
  table.sort(io, function(a, b) return a.seconds > b.seconds end)
  return {
    samples = self.total or 0, elapsed = self.elapsed,
    cpu_hotspots = require("causal_eval.json").array(hot),
    memory_peaks = { peak_bytes = peak, at = at, growth_mb_s = rate, snapshots = #snaps,
                     lua_bytes = host.memory().used, native = self.native },
    io_bottlenecks = require("causal_eval.json").array(io),
    leaks = require("causal_eval.json").array(self:detect_leaks()),
  }
end

--- A text report: top functions by self or cumulative samples, each with
--- its main callers and callees; then memory and I/O.
function Profiler:report(opts)
  opts = opts or {}
  local key = opts.sort == "cumulative" and "total" or "self"
  local top = opts.top or 20
  local total = math.max(1, self.total or 0)
  local fns = self:functions()
  local out = {}
  local function line(s) out[#out + 1] = s end
  line(("CPU: %d samples of %.1f ms (%.2f s of CPU) in %.2f s"):format(self.total or 0, self.cpu_interval * 1000,
    (self.total or 0) * self.cpu_interval, self.elapsed or 0))
  line(("  %6s %6s  %s"):format("self%", "total%", "function"))
  for i, f in ipairs(sorted_by(fns, key)) do
    if i > top then break end
    line(("  %5.1f%% %5.1f%%  %s"):format(100 * f.self / total, 100 * f.total / total, f.name))
    local function edges(t, arrow)
      local list = {}
      for name, n in pairs(t) do list[#list + 1] = { name = name, n = n } end
      table.sort(list, function(a, b) return a.n > b.n end)
      for j = 1, math.min(3, #list) do
        line(("                 %s %s (%d)"):format(arrow, list[j].name, list[j].n))
      end
    end
    edges(f.callers, "<-")
    edges(f.callees, "->")
  end
  local a = self:analyze()
  line("")
  line(("memory: peak %.1f MB over %d snapshots, growth %s MB/s"):format(a.memory_peaks.peak_bytes / 1048576,
    a.memory_peaks.snapshots, a.memory_peaks.growth_mb_s and ("%.2f"):format(a.memory_peaks.growth_mb_s) or "-"))
  local native = {}
  for k, v in pairs(a.memory_peaks.native or {}) do native[#native + 1] = ("%s %.1f KB"):format(k, v / 1024) end
  table.sort(native)
  line(("  Lua (this state) %.1f MB; native buffers: %s"):format(a.memory_peaks.lua_bytes / 1048576,
    #native > 0 and table.concat(native, ", ") or "-"))
  for _, l in ipairs(a.leaks) do
    line(("  growing: %s (+%d entries, +%.1f MB, grew in %d of %d snapshots)"):format(l.site, l.growth_entries,
      l.growth_bytes / 1048576, l.growing, l.snapshots - 1))
  end
  line("")
  line("I/O:")
  if #a.io_bottlenecks == 0 then line("  none") end
  for _, v in ipairs(a.io_bottlenecks) do
    line(("  %-6s %8d ops  %10.1f KB  %8.3f s  avg %.3f ms  %.2f MB/s"):format(v.path, v.ops, v.bytes / 1024,
      v.seconds, v.avg_latency_ms, v.throughput_mb_s))
  end
  return table.concat(out, "\n") .. "\n"
end

--- Folded stacks, one "frame;frame;frame count" per line (flamegraph.pl's input).
function Profiler:folded()
  local lines = {}
  for folded, n in pairs(self.stacks or {}) do lines[#lines + 1] = folded .. " " .. n end
  table.sort(lines)
  return table.concat(lines, "\n") .. (#lines > 0 and "\n" or "")
end

-- ---- flame graph ----

local function escape(s)
  return (s:gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

--- A self-contained SVG flame graph (root at the bottom, width = samples).
function Profiler:flamegraph(opts)
  opts = opts or {}
  local width, row = opts.width or 1200, 16
  -- build a tree of frames
  local root = { name = "all", n = 0, kids = {}, order = {} }
  local maxdepth = 0
  for folded, n in pairs(self.stacks or {}) do
    local node = root
    root.n = root.n + n
    local d = 0
    for f in folded:gmatch("[^;]+") do
      d = d + 1
      local k = node.kids[f]
      if not k then
        k = { name = f, n = 0, kids = {}, order = {} }
        node.kids[f] = k
        node.order[#node.order + 1] = f
      end
      k.n = k.n + n
      node = k
    end
    if d > maxdepth then maxdepth = d end
  end
  local height = (maxdepth + 2) * row + 30
  local out = {}
  out[#out + 1] = ('<?xml version="1.0" standalone="no"?>\n<svg version="1.1" width="%d" height="%d" '):format(width, height) ..
    'xmlns="http://www.w3.org/2000/svg">\n<style>text{font:11px monospace}rect:hover{stroke:#000}</style>\n'
  out[#out + 1] = ('<text x="10" y="18">%s (%d samples)</text>\n'):format(escape(opts.title or "causal-eval CPU profile"), root.n)
  local scale = root.n > 0 and (width - 20) / root.n or 0
  local function color(name)
    local h = 0
    for i = 1, #name do h = (h * 31 + name:byte(i)) % 1000 end
    return ("rgb(%d,%d,%d)"):format(205 + h % 50, 80 + h % 120, 40 + h % 55)
  end
  local function draw(node, x, depth)
    local w = node.n * scale
    if depth > 0 and w >= 0.5 then
      local y = height - depth * row - 10
      out[#out + 1] = ('<g><title>%s (%d samples, %.1f%%)</title><rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>'):format(
        escape(node.name), node.n, 100 * node.n / math.max(1, root.n), x, y, w, row - 1, color(node.name))
      local chars = math.floor(w / 7)
      if chars >= 3 then
        local label = #node.name > chars and (node.name:sub(1, chars - 2) .. "..") or node.name
        out[#out + 1] = ('<text x="%.1f" y="%d">%s</text>'):format(x + 2, y + row - 4, escape(label))
      end
      out[#out + 1] = "</g>\n"
    end
    table.sort(node.order)
    local cx = x
    for _, k in ipairs(node.order) do
      local kid = node.kids[k]
      draw(kid, cx, depth + 1)
      cx = cx + kid.n * scale
    end
  end
  draw(root, 10, 0)
  out[#out + 1] = "</svg>\n"
  return table.concat(out)
end

return M
