-- SPDX-License-Identifier: MIT
-- Alert rules: a condition over live values, a severity, a cooldown and the
-- channels to tell. Rules come from Lua or YAML; conditions are evaluated on
-- an interval. An alert fires once per cooldown while its condition holds
-- and sends a "resolved" message when it stops holding. A delivery that
-- fails is retried and reported, and never stops the run.
--
--   local alerts = require "causal_eval.alerts"
--   local engine = assert(alerts.new{
--     rules = { { name = "slow", condition = "p95_latency > 5.0", severity = "warning", cooldown = 300,
--                 channels = { "log", "ops" } } },
--     channels = { ops = { type = "webhook", url = "http://127.0.0.1:9000/hook", format = "slack" } },
--   })
--   engine:evaluate{ p95_latency = 6.1, error_rate = 0.02 }
--
-- Channel types: log (stderr, and the results store in a run), webhook (JSON
-- POST; format "slack" sends {"text": ...}), email (SMTP through libcurl:
-- url, from, to, user, password_env), command (a local program, the event as
-- JSON on its stdin).
local json = require "causal_eval.json"
local host = require "causal_eval.host"

local M = {}

--- The values a run provides to conditions.
M.VALUES = {
  "p50_latency", "p95_latency", "p99_latency", "error_rate", "rate_429", "throughput", "memory_usage_percent",
  "cpu_usage_percent", "inflight", "questions_done", "errors",
}

local OPS = {
  [">"] = function(a, b) return a > b end, [">="] = function(a, b) return a >= b end,
  ["<"] = function(a, b) return a < b end, ["<="] = function(a, b) return a <= b end,
  ["=="] = function(a, b) return a == b end, ["!="] = function(a, b) return a ~= b end,
}

--- Compiles "name op number" into a function(values) -> holds, value; or
--- returns nil and a message.
function M.condition(text)
  if type(text) == "function" then
    return function(v)
      local ok, holds, value = pcall(text, v)
      if not ok then return false, nil, tostring(holds) end
      return holds and true or false, value
    end
  end
  if type(text) ~= "string" then return nil, "a condition is a string like 'p95_latency > 5.0' or a function" end
  local name, op, num = text:match("^%s*([%a_][%w_]*)%s*([<>=!]=?)%s*(%S+)%s*$")
  local limit = tonumber(num)
  if not name or not OPS[op] or not limit then
    return nil, ("cannot read condition '%s' (expected NAME OP NUMBER, OP one of > >= < <= == !=)"):format(text)
  end
  local known = false
  for _, v in ipairs(M.VALUES) do if v == name then known = true end end
  if not known then
    return nil, ("condition '%s': unknown value '%s' (known: %s)"):format(text, name, table.concat(M.VALUES, ", "))
  end
  local cmp = OPS[op]
  return function(values)
    local v = values[name]
    if type(v) ~= "number" then return false end -- no data yet
    return cmp(v, limit), v
  end
end

-- ---- channels ----

local function message(ev)
  if ev.state == "resolved" then
    return ("[%s] %s resolved after %.0f s"):format(ev.severity, ev.rule, ev.duration or 0)
  end
  return ("[%s] %s: %s (value %s)"):format(ev.severity, ev.rule, ev.condition,
    type(ev.value) == "number" and ("%.4g"):format(ev.value) or tostring(ev.value))
end
M.message = message

local DELIVER = {}

function DELIVER.log(ch, ev, ctx)
  io.stderr:write("causal-eval: ALERT ", message(ev), "\n")
  if ctx.record then ctx.record(ev) end
  return true
end

function DELIVER.webhook(ch, ev)
  local body
  if ch.format == "slack" then body = json.encode({ text = "causal-eval: " .. message(ev) })
  else body = json.encode(ev) end
  local r, err = require("causal_eval.http").request{
    url = ch.url, method = "POST", body = body, timeout = ch.timeout or 5, connect_timeout = ch.timeout or 5,
    headers = { "Content-Type: application/json" },
  }
  if not r then return nil, err end
  if r.error then return nil, ("%s: %s"):format(r.error, tostring(r.message)) end
  if r.status < 200 or r.status >= 300 then return nil, ("HTTP %d"):format(r.status) end
  return true
end

function DELIVER.email(ch, ev)
  local to = type(ch.to) == "table" and ch.to or { ch.to }
  local subject = "causal-eval alert: " .. message(ev)
  local text = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n\r\n%s\r\n")
    :format(ch.from, table.concat(to, ", "), subject:gsub("[\r\n]", " "), message(ev), json.encode(ev))
  return require("causal_eval.http").send_mail{
    url = ch.url, from = ch.from, to = to, message = text, timeout = ch.timeout or 10,
    user = ch.user, password = ch.password_env and os.getenv(ch.password_env) or nil,
  }
end

function DELIVER.command(ch, ev)
  local argv = { ch.command }
  for _, a in ipairs(ch.args or {}) do argv[#argv + 1] = tostring(a) end
  local r, err = require("causal_eval.process").run{ argv = argv, input = json.encode(ev) .. "\n", timeout = ch.timeout or 10 }
  if not r then return nil, err end
  if r.timed_out then return nil, "timed out" end
  if r.code ~= 0 then return nil, ("exit status %d: %s"):format(r.code, (r.stderr or ""):sub(1, 200)) end
  return true
end

local CHANNEL_FIELDS = {
  log = {}, webhook = { "url" }, email = { "url", "from", "to" }, command = { "command" },
}

-- ---- the engine ----

local Engine = {}
Engine.__index = Engine

local RULE_FIELDS = { name = true, condition = true, severity = true, cooldown = true, channels = true }

--- opts: rules, channels (name -> {type = ...}), record(event) (log
--- channel's store), now (clock), sleep (for retry backoff), retries (3),
--- where (a name for messages: the file the rules came from).
function M.new(opts)
  local where = opts.where or "alerts"
  local channels = { log = { type = "log" } }
  for name, ch in pairs(opts.channels or {}) do
    if type(ch) ~= "table" or not CHANNEL_FIELDS[ch.type] then
      return nil, ("%s: channel '%s': type must be one of log, webhook, email, command"):format(where, tostring(name))
    end
    for _, f in ipairs(CHANNEL_FIELDS[ch.type]) do
      if ch[f] == nil then return nil, ("%s: channel '%s' (%s) needs '%s'"):format(where, name, ch.type, f) end
    end
    channels[name] = ch
  end
  local rules = {}
  -- every field checked here, before a run starts: a cooldown that was no
  -- number ended a run halfway with an internal error, and a misspelled
  -- key, a mapping of rules or channels given as one name did nothing
  local list = opts.rules or {}
  if type(list) ~= "table" or (next(list) ~= nil and #list == 0) then
    return nil, ("%s: rules must be a list of rules (- name: ...), not a mapping"):format(where)
  end
  for i, r in ipairs(list) do
    if type(r) ~= "table" or type(r.name) ~= "string" then
      return nil, ("%s: rule %d needs a name"):format(where, i)
    end
    for k in pairs(r) do
      if not RULE_FIELDS[k] then
        return nil, ("%s: rule '%s': unknown field '%s' (fields: name, condition, severity, cooldown, channels)")
          :format(where, r.name, tostring(k))
      end
    end
    local cond, err = M.condition(r.condition)
    if not cond then return nil, ("%s: rule '%s': %s"):format(where, r.name, err) end
    if r.cooldown ~= nil and (type(r.cooldown) ~= "number" or r.cooldown < 0 or r.cooldown ~= r.cooldown) then
      return nil, ("%s: rule '%s': cooldown must be a number of seconds >= 0, got %s"):format(where, r.name,
        tostring(r.cooldown))
    end
    if r.severity ~= nil and type(r.severity) ~= "string" then
      return nil, ("%s: rule '%s': severity must be text (info, warning, critical), got a %s"):format(where, r.name,
        type(r.severity))
    end
    local chans = r.channels or { "log" }
    if type(chans) == "string" then chans = { chans } end -- one channel by its name
    if type(chans) ~= "table" then
      return nil, ("%s: rule '%s': channels must be a list of channel names"):format(where, r.name)
    end
    for _, c in ipairs(chans) do
      if not channels[c] then return nil, ("%s: rule '%s': no channel '%s'"):format(where, r.name, tostring(c)) end
    end
    rules[#rules + 1] = {
      name = r.name, test = cond, condition = type(r.condition) == "string" and r.condition or "(function)",
      severity = r.severity or "warning", cooldown = r.cooldown or 300, channels = chans,
      firing = false, last_sent = nil, since = nil,
    }
  end
  return setmetatable({
    rules = rules, channels = channels, record = opts.record, now = opts.now or host.clock,
    wall = opts.wall or os.time, sleep = opts.sleep or host.sleep, retries = opts.retries or 3, history = {},
  }, Engine)
end

--- Loads rules and channels from a Lua file (returning { rules = ..., channels = ... })
--- or a YAML file with the same keys.
function M.load(path, opts)
  local spec, err
  if path:match("%.lua$") then
    local chunk, lerr = loadfile(path)
    if not chunk then return nil, lerr end
    local ok, v = pcall(chunk)
    if not ok then return nil, ("%s: %s"):format(path, v) end
    spec = v
  else
    spec, err = require("causal_eval.yaml").load_file(path)
    if spec == nil then return nil, err end
  end
  if type(spec) ~= "table" then return nil, path .. ": expected rules and channels" end
  for k in pairs(spec) do
    if k ~= "rules" and k ~= "channels" then
      return nil, ("%s: unknown key '%s' (expected rules and channels)"):format(path, tostring(k))
    end
  end
  local o = { rules = spec.rules, channels = spec.channels, where = path }
  for k, v in pairs(opts or {}) do o[k] = v end
  return M.new(o)
end

function Engine:deliver(rule, ev)
  for _, name in ipairs(rule.channels) do
    local ch = self.channels[name]
    local ok, err
    for attempt = 1, self.retries do
      local pok, r, e = pcall(DELIVER[ch.type], ch, ev, self)
      ok, err = pok and r, pok and e or r
      if ok then break end
      if attempt < self.retries then self.sleep(0.2 * 2 ^ (attempt - 1)) end
    end
    local outcome = { rule = rule.name, channel = name, state = ev.state, ok = ok and true or false, error = err }
    self.history[#self.history + 1] = outcome
    if not ok then
      io.stderr:write(("causal-eval: alert '%s' could not be delivered to '%s' after %d tries: %s\n"):format(
        rule.name, name, self.retries, tostring(err)))
      if self.record then self.record({ rule = rule.name, state = "delivery_failed", channel = name, error = tostring(err),
                                        at = self.wall() }) end
    end
  end
end

--- Evaluates every rule against values; sends what fires or resolves.
--- Returns the events sent.
function Engine:evaluate(values)
  local t = self.now()
  local sent = {}
  for _, r in ipairs(self.rules) do
    local holds, value, err = r.test(values)
    -- a Lua condition that raises never fires: said once, not swallowed
    if err and not r.told then
      r.told = true
      io.stderr:write(("causal-eval: alert rule '%s': its condition failed: %s\n"):format(r.name, err))
    end
    if holds then
      if not r.firing or (r.last_sent and t - r.last_sent >= r.cooldown) then
        if not r.firing then r.since = t end
        r.firing = true
        r.last_sent = t
        local ev = { rule = r.name, state = "firing", severity = r.severity, condition = r.condition, value = value,
                     at = self.wall() }
        self:deliver(r, ev)
        sent[#sent + 1] = ev
      end
    elseif r.firing then
      r.firing = false
      local ev = { rule = r.name, state = "resolved", severity = r.severity, condition = r.condition,
                   at = self.wall(), duration = t - (r.since or t) }
      self:deliver(r, ev)
      sent[#sent + 1] = ev
    end
  end
  return sent
end

return M
