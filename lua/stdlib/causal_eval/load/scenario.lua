-- SPDX-License-Identifier: MIT
-- A load-test scenario file (see causal_eval.load) read and checked before
-- any user starts: every mistake is reported with the file and the field,
-- never met halfway through a run.
local M = {}

local FIELDS = { tasks = true, wait_time = true, on_start = true, host = true }

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

-- Where a task function is defined, to name it in errors and reports.
local function where(fn, path)
  local info = type(fn) == "function" and debug.getinfo(fn, "S")
  if info and info.short_src and info.linedefined and info.linedefined > 0 then
    return ("%s:%d"):format(info.short_src:match("[^/]*$"), info.linedefined)
  end
  return path
end

--- Checks a scenario table; returns { tasks = { {weight, fn, name}... },
--- total_weight, wait_time = fn(user), on_start, host } or nil, message.
function M.check(t, path)
  path = path or "scenario"
  if type(t) ~= "table" then
    return nil, ("%s: the file must return a table (tasks, wait_time, on_start, host), got %s"):format(path, type(t))
  end
  local unknown = {}
  for k in pairs(t) do
    if not FIELDS[k] then unknown[#unknown + 1] = tostring(k) end
  end
  if #unknown > 0 then
    table.sort(unknown)
    return nil, ("%s: unknown field '%s' (a scenario has tasks, wait_time, on_start, host)"):format(path, unknown[1])
  end
  if type(t.tasks) ~= "table" or #t.tasks == 0 then
    return nil, ("%s: 'tasks' must be a non-empty list of functions or {weight, function}"):format(path)
  end
  local out = { tasks = {}, total_weight = 0, on_start = t.on_start, host = t.host }
  for k in pairs(t.tasks) do
    if math.type(k) ~= "integer" or k < 1 or k > #t.tasks then
      return nil, ("%s: tasks: '%s' is not a list position; write tasks as a list"):format(path, tostring(k))
    end
  end
  for i, task in ipairs(t.tasks) do
    local weight, fn
    if callable(task) then
      weight, fn = 1, task
    elseif type(task) == "table" then
      weight, fn = task[1], task[2]
      if not callable(fn) then
        return nil, ("%s: tasks[%d]: expected {weight, function}, got {%s, %s}"):format(path, i, type(weight), type(fn))
      end
    else
      return nil, ("%s: tasks[%d]: expected a function or {weight, function}, got %s"):format(path, i, type(task))
    end
    if math.type(weight) ~= "integer" or weight < 0 then
      return nil, ("%s: tasks[%d]: the weight must be an integer >= 0, got %s"):format(path, i, tostring(weight))
    end
    out.tasks[#out.tasks + 1] = { weight = weight, fn = fn, name = where(fn, path) }
    out.total_weight = out.total_weight + weight
  end
  if out.total_weight == 0 then return nil, ("%s: tasks: every weight is 0"):format(path) end
  local w = t.wait_time
  if w == nil then
    out.wait_time = function() return 0 end
  elseif type(w) == "number" then
    if w ~= w or w < 0 or w == math.huge then
      return nil, ("%s: wait_time: seconds must be a finite number >= 0, got %s"):format(path, tostring(w))
    end
    out.wait_time = function() return w end
  elseif callable(w) then
    out.wait_time = w
  else
    return nil, ("%s: wait_time: expected seconds, load.between(a, b), load.constant(t) or a function, got %s"):format(path, type(w))
  end
  if t.on_start ~= nil and not callable(t.on_start) then
    return nil, ("%s: on_start: expected a function, got %s"):format(path, type(t.on_start))
  end
  if t.host ~= nil and (type(t.host) ~= "string" or not t.host:match("^https?://[^/]")) then
    return nil, ("%s: host: expected an http:// or https:// URL, got %s"):format(path, tostring(t.host))
  end
  return out
end

--- Loads and checks a scenario file; nil, message naming the file (and
--- line, for a syntax error or an error while it runs).
function M.load(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  f:close()
  local chunk
  chunk, err = loadfile(path, "t")
  if not chunk then return nil, err end
  local ok, t = pcall(chunk)
  if not ok then
    if type(t) == "table" and t.message then t = t.message end
    t = tostring(t)
    -- Lua's message names the file and line already, unless error() was given a level of 0
    if t:find("^[^\n]-:%d+: ") then return nil, t end
    return nil, ("%s: %s"):format(path, t)
  end
  return M.check(t, path)
end

return M
