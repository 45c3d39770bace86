-- SPDX-License-Identifier: MIT
-- The layered cache (memory -> LMDB on disk -> Redis) as a researcher uses it.
--
--   local cache = require "causal_eval.cache"
--   local c = cache.open()                          -- layers from the configuration
--   c:set("k", "v", { ttl = 60, tags = { "model_update" } })
--   c:get("k")                                      -- "v", "memory"
--   c:invalidate("model_update")                    -- every tagged entry stale, every layer
--   local f = cache.memoize(expensive, { ttl = 3600, invalidate_on = { "model_update", "task_change" } })
--   c:preload{ { model = "gpt-4", task = "causal_attribution" }, { model = "*", task = "intervention" } }
--
-- The native object (causal_eval.cache_core) is shared by worker threads:
-- cache.attach(c:id()) in another state.
local core = require "causal_eval.cache_core"
local json = require "causal_eval.json"
local rng = require "causal_eval.rng"

local M = {}

--- The disk layer's folder when the configuration names none: one per user,
--- shared by every run (not inside a run's data folder).
function M.default_disk_path()
  local base = os.getenv("XDG_CACHE_HOME")
  if not base or base == "" then
    local home = os.getenv("HOME")
    base = (home and home ~= "") and (home .. "/.cache") or "/tmp"
  end
  return base .. "/causal-eval/cache"
end

--- Options for cache_core.open from resolved configuration values (the
--- `cache` section; `evaluation.cache_ttl` when cache.ttl is -1).
function M.options(values)
  local c = values.cache
  local ttl = c.ttl
  if ttl < 0 then ttl = values.evaluation and values.evaluation.cache_ttl or 0 end
  local o = { memory_mb = c.memory.max_size_mb, ttl = ttl }
  if c.disk.max_size_gb > 0 then
    o.disk_path = c.disk.path ~= "" and c.disk.path or M.default_disk_path()
    o.disk_gb = c.disk.max_size_gb
  end
  local url, from = os.getenv("CAUSAL_EVAL_REDIS_URL"), "CAUSAL_EVAL_REDIS_URL"
  if c.redis.url ~= "" then url, from = c.redis.url, "cache.redis.url" end
  if url and url ~= "" then
    o.redis_url, o.redis_url_from = url, from
  elseif c.redis.host ~= "" then
    o.redis_host, o.redis_port = c.redis.host, c.redis.port
  end
  if o.redis_url or o.redis_host then
    if c.redis.password ~= "" then o.redis_password = c.redis.password end
    if c.redis.db ~= 0 then o.redis_db = c.redis.db end
    o.redis_timeout = c.redis.timeout
  end
  return o
end

--- Opens the cache: from opts (cache_core.open's table) or, without them,
--- from the configuration (config.load's options in cfg_opts).
function M.open(opts, cfg_opts)
  if not opts then
    local cfg, err = require("causal_eval.config").load(cfg_opts or {})
    if not cfg then return nil, err end
    opts = M.options(cfg.values)
  end
  if opts.redis_url then
    -- a bad URL is the user's input here, not a programming error
    local ok, err = core.parse_redis_url(opts.redis_url)
    if not ok then return nil, ("%s: %s, got '%s'"):format(opts.redis_url_from or "redis_url", err, opts.redis_url) end
  end
  return core.open(opts)
end

M.attach = core.attach

-- ---- keys ----

-- a label's value: on one line
local find = string.find
local function label_value(v)
  local s = tostring(v)
  if find(s, "\n", 1, true) then s = s:gsub("\n", " ") end
  return s
end

--- Labels as stored with an entry: "k=v" lines, keys sorted.
function M.labels(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for i, k in ipairs(keys) do out[i] = k .. "=" .. label_value(t[k]) end
  return table.concat(out, "\n")
end

--- Parses labels back into a table.
function M.parse_labels(s)
  local t = {}
  for line in (s or ""):gmatch("[^\n]+") do
    local k, v = line:match("^([^=]+)=(.*)$")
    if k then t[k] = v end
  end
  return t
end

--- The cache key of a model call: a hash of the adapter, the model and the
--- canonical request body (a table, or its JSON as the adapters write it:
--- sorted keys), with the model and task in front so that keys group by them.
--- Made in C (host/lua/cache_labels.c): every question a run asks makes one.
function M.request_key(adapter, model, body, task)
  return core.request_key(adapter, model, type(body) == "string" and body or json.encode(body), task)
end

--- The labels stored with a model call's entry, which preload and `cache
--- explain` read: adapter, model, task and each body field as body.FIELD
--- (a table as a hash of its JSON), as M.labels writes them. Only needed
--- when writing. field_json (optional): the body's fields as the request
--- encoded them (an adapter's field_json), so they are not encoded again.
--- Made in C (host/lua/cache_labels.c): every answer stored builds them.
function M.request_labels(adapter, model, body, task, field_json)
  return core.request_labels(adapter, model, body, task, field_json, json.encode)
end

--- request_key(adapter, key_model, body, task) and
--- request_labels(adapter, label_model, fields, task, field_json) at once,
--- for a caller that will write the answer: the two hash the body and its
--- messages side by side, in about the time of one.
function M.request_key_labels(adapter, key_model, label_model, body, task, fields, field_json)
  return core.request_key_labels(adapter, key_model, label_model, type(body) == "string" and body or json.encode(body),
    task, fields, field_json, json.encode)
end

-- ---- memoize ----

--- Wraps fn so that a call with the same arguments returns the stored result.
--- Arguments and results must be JSON values. opts: ttl, invalidate_on (tags),
--- name (default: where fn is defined), cache (default: cache.open()).
function M.memoize(fn, opts)
  opts = opts or {}
  local c = opts.cache
  if not c then
    local err
    c, err = M.open()
    if not c then error("cache.memoize: " .. tostring(err), 2) end
  end
  local name = opts.name
  if not name then
    local info = debug.getinfo(fn, "S")
    name = ("%s:%d"):format(info.short_src, info.linedefined)
  end
  local set_opts = { ttl = opts.ttl, tags = opts.invalidate_on, labels = M.labels{ fn = name } }
  return function(...)
    local key = "fn=" .. name .. "|" .. rng.hex(json.encode(json.array({ ... })))
    local hit = c:get(key)
    if hit then return json.decode(hit) end
    local result = fn(...)
    c:set(key, json.encode(result), set_opts)
    return result
  end
end

return M
