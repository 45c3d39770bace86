-- SPDX-License-Identifier: MIT
-- A real `causal-eval serve` for the serve specs: started on a free
-- loopback port with its own store and users file, driven with curl (the
-- specs read raw headers and gzip'ed bodies), stopped with a signal.
local H = require "spec.helpers"
local host = require "causal_eval.host"
local json = require "causal_eval.json"

local S = {}

S.USER, S.PASSWORD = "alice", "correct horse battery"

-- Until the security module exists in a build, the specs log in against a
-- stand-in on CAUSAL_EVAL_PATH with the same interface (never shipped).
local STUB = [[
local shared = require "causal_eval.shared"
local M = {}
local S = {}
S.__index = S
function M.new() return setmetatable({ c = shared.counter(0) }, S) end
function M.attach(id) return setmetatable({ c = assert(shared.attach("counter", id)) }, S) end
function S:id() return self.c:id() end
function S:login(u, p)
  if u == "alice" and p == "correct horse battery" then return { token = "stub-token", expires_at = "2099-01-01T00:00:00Z" } end
  return nil, { status = 401, code = "invalid_credentials", message = "wrong user name or password" }
end
function S:authenticate(h)
  if h == "Bearer stub-token" then return { user = "alice", key = "k" } end
  return nil, { status = 401, code = "unauthorized", message = "a token is needed" }
end
function S:limit() return {} end
function M.adduser_command() return 0 end
return M
]]

S.real_security = pcall(require, "causal_eval.serve.security")

--- A folder with a users file holding S.USER (and, without the security
--- module, the stand-in on a module path): { dir, users, env }.
function S.setup()
  local dir = H.tmpdir()
  local env = { XDG_CACHE_HOME = dir .. "/cache" }
  local users = dir .. "/users.yaml"
  if S.real_security then
    local r = H.run({ "serve", "adduser", S.USER, "--users-file", users }, { stdin = S.PASSWORD .. "\n" })
    assert(r.code == 0, r.stderr)
  else
    H.sh("mkdir -p " .. H.quote(dir .. "/stub/causal_eval/serve"))
    H.write(dir .. "/stub/causal_eval/serve/security.lua", STUB)
    H.write(users, "users: {}\n")
    env.CAUSAL_EVAL_PATH = dir .. "/stub"
  end
  return { dir = dir, users = users, env = env }
end

local Server = {}
Server.__index = Server

--- Starts `serve --port 0` in the background. opts: set (list of K=V),
--- env (table), args (more words), dir (from S.setup). Waits until it listens.
function S.start(opts)
  opts = opts or {}
  local base = opts.base or S.setup()
  local n = (S.count or 0) + 1
  S.count = n
  local dir = ("%s/srv%d"):format(base.dir, n)
  H.sh("mkdir -p " .. H.quote(dir))
  local words = { "env" }
  local env = {}
  for k, v in pairs(base.env) do env[k] = v end
  for k, v in pairs(opts.env or {}) do env[k] = v end
  for k, v in pairs(env) do words[#words + 1] = H.quote(k .. "=" .. v) end
  words[#words + 1] = H.quote(H.bin)
  for _, w in ipairs({ "serve", "--port", "0", "--data", (opts.data or (base.dir .. "/data")) }) do words[#words + 1] = H.quote(w) end
  local sets = { "api.users_file=" .. base.users }
  for _, s in ipairs(opts.set or {}) do sets[#sets + 1] = s end
  for _, s in ipairs(sets) do
    words[#words + 1] = "--set"
    words[#words + 1] = H.quote(s)
  end
  for _, a in ipairs(opts.args or {}) do words[#words + 1] = H.quote(a) end
  local log = dir .. "/serve.log"
  -- the shell waits for the server, so its exit status can be read back
  -- (written aside and renamed: a reader could see the file created and
  -- still empty); a watchdog kills it if the spec ends without stopping it
  -- (a failed assert)
  local script = ("%s >%s 2>&1 & s=$!; echo $s >%s/pid; "
    .. "(while kill -0 %d 2>/dev/null && kill -0 $s 2>/dev/null; do sleep 0.5; done; kill -9 $s 2>/dev/null) & "
    .. "wait $s; echo $? >%s/exit.tmp; mv %s/exit.tmp %s/exit"):format(table.concat(words, " "), H.quote(log),
    H.quote(dir), host.getpid(), H.quote(dir), H.quote(dir), H.quote(dir))
  local p = assert(io.popen(("sh -c %s >/dev/null 2>&1 & echo $!"):format(H.quote(script))))
  p:close()
  local deadline = host.clock() + 20
  local port
  while not port do
    port = (H.read(log) or ""):match("listening on http://[%d.]+:(%d+)")
    if not port then
      if H.read(dir .. "/exit") or host.clock() > deadline then
        error("serve did not start: " .. (H.read(log) or ""), 2)
      end
      host.sleep(0.02)
    end
  end
  local pid
  while not pid do
    pid = tonumber(H.read(dir .. "/pid") or "")
    if not pid then host.sleep(0.01) end
  end
  return setmetatable({ port = tonumber(port), pid = pid, dir = dir, log = log, base = base,
                        url = "http://127.0.0.1:" .. port, run_id = (H.read(log) or ""):match("run ([%w-]+)") }, Server)
end

--- A request with curl. headers: list of "Name: value". Returns
--- { status, headers (lower-case names), body }; the body is left as sent
--- (gzip'ed when asked for).
function Server:req(method, path, body, headers, opts)
  opts = opts or {}
  local words = { "curl", "-s", "-S", "-X", method, "-D", H.quote(self.dir .. "/h"), "-o", H.quote(self.dir .. "/b"),
                  "--max-time", tostring(opts.timeout or 30) }
  if body then
    H.write(self.dir .. "/req", body)
    words[#words + 1] = "--data-binary"
    words[#words + 1] = H.quote("@" .. self.dir .. "/req")
    words[#words + 1] = "-H"
    words[#words + 1] = "'Content-Type: application/json'"
  end
  if opts.token ~= false and (opts.token or self.token) then
    words[#words + 1] = "-H"
    words[#words + 1] = H.quote("Authorization: Bearer " .. (opts.token or self.token))
  end
  for _, h in ipairs(headers or {}) do
    words[#words + 1] = "-H"
    words[#words + 1] = H.quote(h)
  end
  words[#words + 1] = H.quote(self.url .. path)
  os.remove(self.dir .. "/h")
  os.remove(self.dir .. "/b")
  local out, code = H.sh(table.concat(words, " "))
  local raw = H.read(self.dir .. "/h") or ""
  local r = { status = tonumber(raw:match("^HTTP/[%d.]+ (%d+)")), headers = {}, body = H.read(self.dir .. "/b") or "",
              curl = code ~= 0 and out or nil }
  for name, value in raw:gmatch("\n([%w-]+):%s*([^\r\n]*)") do r.headers[name:lower()] = value end
  local ok, doc = pcall(json.decode, r.body)
  if ok and type(doc) == "table" then r.json = doc end
  return r
end

function Server:get(path, opts) return self:req("GET", path, nil, nil, opts) end
function Server:post(path, value, opts)
  return self:req("POST", path, type(value) == "string" and value or json.encode(value), nil, opts)
end

--- Logs in as S.USER and keeps the token for later requests.
function Server:login()
  local r = self:post("/auth/login", { username = S.USER, password = S.PASSWORD }, { token = false })
  assert(r.status == 200 and r.json and r.json.token, "login failed: " .. r.body)
  self.token = r.json.token
  return self.token
end

function Server:text() return H.read(self.log) or "" end

--- Sends a signal (TERM by default) and waits for the exit status.
function Server:stop(sig, timeout)
  if not self.pid then return self.code end
  H.sh(("kill -%s %d 2>/dev/null"):format(sig or "TERM", self.pid))
  local deadline = host.clock() + (timeout or 30)
  while not H.read(self.dir .. "/exit") do
    if host.clock() > deadline then
      H.sh("kill -9 " .. self.pid)
      error("serve did not stop: " .. self:text(), 2)
    end
    host.sleep(0.02)
  end
  self.pid = nil
  self.code = tonumber(H.read(self.dir .. "/exit"))
  return self.code
end

--- The value of a metric line on /metrics (first match of the pattern).
function Server:metric(pattern)
  local r = self:get("/metrics")
  local v = r.body:match(pattern .. " ([%d.e+-]+)")
  return v and tonumber(v)
end

return S
