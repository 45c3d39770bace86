-- SPDX-License-Identifier: MIT
-- Opening the results store for `report` and `leaderboard`, as the
-- `results` commands do: a data folder (LMDB), or a PostgreSQL URL
-- (--store, else store.url) where this build has that store, read-only
-- and from the replica when there is one.
local results = require "causal_eval.results"

local M = {}

local function has_store(dir)
  local f = io.open(dir .. "/data.mdb", "rb")
  if not f then return false end
  f:close()
  return true
end

--- The store of the configuration values (with --data DIR and --store
--- URL); nil, message.
function M.open(values, dir, url)
  dir = dir or values.store.path
  if results.config then
    if url and results.check_url then
      local bad = results.check_url(url)
      if bad then return nil, "--store: " .. bad end
    end
    local cfg = results.config(values, url)
    if cfg.url then
      cfg.writes, cfg.reads = false, "replica"
      return results.open(dir, cfg)
    end
  elseif url then
    return nil, "--store: this build keeps results in LMDB only (--data DIR)"
  end
  if not has_store(dir) then
    return nil, ("no results store in %s (run `causal-eval run` first, or pass --data DIR)"):format(dir)
  end
  local st, err, kind = results.open(dir)
  if not st then
    if kind == "damaged" then return nil, err end
    return nil, ("cannot open the results store %s: %s"):format(dir, err)
  end
  return st
end

--- What `report` and `leaderboard` set up alike: the configuration (its
--- statistics settings applied), the template overrides of --template and
--- the store. { st, overrides }, or nil and the exit status once the
--- message is written (name: the command, for it).
function M.setup(args, name)
  local cfg, cerr = require("causal_eval.config").load{}
  if not cfg then
    io.stderr:write(cerr, "\n")
    return nil, 2
  end
  require("causal_eval.stats").configure(cfg.values.evaluation)
  local overrides, err
  if args.template then
    overrides, err = require("causal_eval.report").load_overrides(args.template)
    if not overrides then
      io.stderr:write(name, ": ", err, "\n")
      return nil, 1
    end
  end
  local st
  st, err = M.open(cfg.values, args.data, args.store)
  if not st then
    io.stderr:write(name, ": ", err, "\n")
    return nil, 1
  end
  return { st = st, overrides = overrides }
end

return M
