-- SPDX-License-Identifier: MIT
-- A real PostgreSQL 15 for specs: a cluster made with initdb in a temporary
-- folder, run by an unprivileged user (postgres refuses root; specs and CI
-- run as root, so the server runs as the user `postgres` that Debian's
-- package creates, else `nobody`), on 127.0.0.1 and a free port; and a
-- streaming replica of it made with pg_basebackup -R.
--
--   local PG = require "spec.pg_helpers"
--   local pg = PG.start()                 -- pg.url, pg.port, pg:sql("select 1"), pg:stop()
--   local rep = pg:replica()              -- rep.url; pg:stop() stops it too
--   pg:wait_replica(rep)                  -- until rep has replayed all pg wrote
--   pg:kill(); pg:restart()               -- lose the server, bring it back on its port
--   pg:database()                         -- a new empty database: its URL
--   PG.backends()                         -- LMDB and PostgreSQL, for specs that run on both
--
-- A watchdog stops the servers and removes their folder when the spec's
-- process ends without stopping them (a failed assert, a timeout).
local H = require "spec.helpers"
local host = require "causal_eval.host"

local PG = {}
PG.bin = os.getenv("CAUSAL_EVAL_PG_BIN") or "/usr/lib/postgresql/15/bin"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- Whether the server's programs are installed (tools/install-deps.sh installs them).
function PG.available() return exists(PG.bin .. "/initdb") and exists(PG.bin .. "/pg_ctl") end

local function is_root() return (H.sh("id -u")):match("^0") ~= nil end

-- the user the server runs as (nil: this one), and how to run a command as it
local function server_user()
  if not is_root() then return nil end
  for _, u in ipairs({ "postgres", "nobody" }) do
    local _, code = H.sh("id -u " .. u .. " >/dev/null 2>&1")
    if code == 0 then return u end
  end
  error("no unprivileged user (postgres or nobody) to run PostgreSQL as")
end

local function as(user, cmd)
  if not user then return cmd end
  return ("runuser -u %s -- sh -c %s"):format(user, H.quote(cmd))
end

local Server = {}
Server.__index = Server

local function free_port()
  -- below the range of outgoing connections' ports (32768-60999), which a
  -- busy machine may hold when a server restarts on the same port
  return 20000 + (os.time() * 7919 + math.random(0, 1000000)) % 12000
end

-- Starts the cluster in data on a free port: the port, or raises with the log.
local function start_on(self, port)
  local log = self.dir .. "/" .. self.name .. ".log"
  local opts = ("-p %d -c listen_addresses=127.0.0.1 -k %s"):format(port, self.dir)
  local cmd = ("%s/pg_ctl -D %s -l %s -w -t 60 -o %s start"):format(PG.bin, H.quote(self.data), H.quote(log),
    H.quote(opts))
  local out, code = H.sh(as(self.user, cmd))
  if code == 0 then return true end
  local text = (H.read(log) or "") .. out
  if text:find("already in use", 1, true) or text:find("could not bind", 1, true) then return false end
  error(("PostgreSQL did not start (%s): %s"):format(self.name, text))
end

local function start_free(self)
  for _ = 1, 20 do
    local port = self.port or free_port()
    if start_on(self, port) then
      self.port = port
      self.url = ("postgresql://causal@127.0.0.1:%d/postgres"):format(port)
      return
    end
    if self.port then error(("port %d of %s is taken"):format(self.port, self.name)) end
  end
  error("no free port for PostgreSQL")
end

-- Stops the servers of dir and removes it once pid (the spec's process) is gone.
local function watchdog(dir, user, datas)
  local stops = {}
  for _, d in ipairs(datas) do
    stops[#stops + 1] = as(user, ("%s/pg_ctl -D %s -m immediate stop"):format(PG.bin, H.quote(d)))
  end
  local script = ("while kill -0 %d 2>/dev/null && [ -d %s ]; do sleep 0.5; done; %s; rm -rf %s"):format(
    host.getpid(), H.quote(dir), table.concat(stops, " >/dev/null 2>&1; "), H.quote(dir))
  local p = assert(io.popen(("setsid sh -c %s >/dev/null 2>&1 </dev/null & echo $!"):format(H.quote(script))))
  p:close()
end

--- A new cluster, running. opts.settings: more `-c name=value` lines for postgresql.conf.
function PG.start(opts)
  opts = opts or {}
  assert(PG.available(), "PostgreSQL is not installed (tools/install-deps.sh)")
  local user = server_user()
  local dir = H.tmpdir()
  if user then H.sh(("chown %s %s && chmod 700 %s"):format(user, H.quote(dir), H.quote(dir))) end
  local self = setmetatable({ dir = dir, user = user, data = dir .. "/primary", name = "primary", replicas = {} }, Server)
  local out, code = H.sh(as(user, ("%s/initdb -D %s -A trust -U causal -E UTF8 --locale=C --no-sync --no-instructions")
    :format(PG.bin, H.quote(self.data))))
  if code ~= 0 then
    H.rm(dir)
    error("initdb failed: " .. out)
  end
  -- a test server: no fsync (what a commit wrote survives the server
  -- being killed, in the page cache, but not the machine losing power);
  -- synchronous_commit stays on, since the specs kill the server and a
  -- commit must then be there; replication on, as a primary's is
  local conf = { "fsync = off", "full_page_writes = off", "wal_level = replica",
                 "max_wal_senders = 10", "hot_standby = on", "shared_buffers = 32MB", "max_connections = 100" }
  for _, s in ipairs(opts.settings or {}) do conf[#conf + 1] = s end
  local f = assert(io.open(self.data .. "/postgresql.auto.conf", "a"))
  f:write(table.concat(conf, "\n"), "\n")
  f:close()
  watchdog(dir, user, { self.data, dir .. "/replica1", dir .. "/replica2" })
  local ok, err = pcall(start_free, self)
  if not ok then
    H.rm(dir)
    error(err, 2)
  end
  return self
end

--- A streaming replica of this server (pg_basebackup -R), running on its own port.
function Server:replica()
  local n = #self.replicas + 1
  local rep = setmetatable({ dir = self.dir, user = self.user, data = self.dir .. "/replica" .. n, name = "replica" .. n,
                             replicas = {}, primary = self }, Server)
  local out, code = H.sh(as(self.user, ("%s/pg_basebackup -h 127.0.0.1 -p %d -U causal -D %s -R -X stream -c fast --no-sync")
    :format(PG.bin, self.port, H.quote(rep.data))))
  if code ~= 0 then error("pg_basebackup failed: " .. out, 2) end
  start_free(rep)
  self.replicas[n] = rep
  return rep
end

--- Runs SQL with psql; the rows as text (fields separated by |), trimmed.
--- opts.db: the database (default postgres). Raises when psql fails,
--- unless opts.may_fail (then: nil, message).
function Server:sql(q, opts)
  local out, code = H.sh(("psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p %d -U causal -d %s -c %s")
    :format(self.port, H.quote(opts and opts.db or "postgres"), H.quote(q)))
  if code ~= 0 then
    if opts and opts.may_fail then return nil, out end
    error(("psql on %s: %s"):format(self.name, out), 2)
  end
  return (out:gsub("%s+$", ""))
end

--- Waits until rep has replayed everything written here so far.
function Server:wait_replica(rep, timeout)
  local target = self:sql("SELECT pg_current_wal_lsn()")
  local deadline = host.clock() + (timeout or 20)
  while true do
    local done = rep:sql(("SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn"):format(target))
    if done == "t" then return end
    if host.clock() > deadline then error("the replica did not catch up", 2) end
    host.sleep(0.05)
  end
end

--- Kills the server at once (its folder stays: restart() brings it back on its port).
function Server:kill()
  H.sh(as(self.user, ("%s/pg_ctl -D %s -m immediate stop"):format(PG.bin, H.quote(self.data))))
end

function Server:restart() start_free(self) end

--- Stops the server (and its replicas) and removes the folder. Idempotent.
function Server:stop()
  for _, r in ipairs(self.replicas) do r:kill() end
  self.replicas = {}
  if self.primary then return self:kill() end
  if not self.dir then return end
  self:kill()
  H.rm(self.dir)
  self.dir = nil
end

--- A new empty database on this server: its URL and name.
function Server:database()
  self.ndb = (self.ndb or 0) + 1
  local name = ("spec%d"):format(self.ndb)
  self:sql("CREATE DATABASE " .. name)
  return ("postgresql://causal@127.0.0.1:%d/%s"):format(self.port, name), name
end

--- The results stores a spec can run its cases against, each case on a
--- fresh store:
---
---   for _, b in ipairs(PG.backends()) do
---     describe("resume [" .. b.name .. "]", function()
---       setup(b.setup); teardown(b.teardown)
---       it("...", function() local args = b.fresh() ... end)  -- {} or { "--store", URL }
---     end)
---   end
---
--- LMDB (the data folder a case passes with --data) and PostgreSQL (a new
--- database per fresh() on a server started by setup and stopped by teardown).
function PG.backends()
  local lmdb = { name = "lmdb", setup = function() end, teardown = function() end }
  function lmdb.fresh() return {}, nil end
  local pg = { name = "postgresql" }
  function pg.setup() pg.server = PG.start() end
  function pg.teardown()
    if pg.server then pg.server:stop() end
    pg.server = nil
  end
  function pg.fresh()
    local url = pg.server:database()
    return { "--store", url }, url
  end
  return { lmdb, pg }
end

return PG
