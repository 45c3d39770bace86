-- SPDX-License-Identifier: MIT
-- Shared helpers for specs: run the binary as a user would (exit status,
-- stdout, stderr), temporary folders, and a pseudo-terminal driver.
local host = require "causal_eval.host"

local H = {}

H.bin = os.getenv("CAUSAL_EVAL_BIN") or host.exe()
H.build_dir = os.getenv("CAUSAL_EVAL_BUILD_DIR") or (H.bin:match("^(.*)/[^/]+$"))
H.root = host.root()

function H.quote(s)
  s = tostring(s)
  if s:match("^[%w%-_./=:@%%+,]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function H.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function H.write(path, content)
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

function H.sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, how, code = p:close()
  return out, ok and 0 or (how == "exit" and code or 128 + code)
end

--- The lists, one after the other, in a new list.
function H.concat(...)
  local out = {}
  for _, t in ipairs({ ... }) do
    for _, v in ipairs(t) do out[#out + 1] = v end
  end
  return out
end

function H.tmpdir()
  local out = H.sh("mktemp -d /tmp/causal-eval-spec.XXXXXX")
  return (out:gsub("%s+$", ""))
end

function H.rm(path) H.sh("rm -rf " .. H.quote(path)) end

--- Runs a command. cmd: list of words (the binary when the first is nil-free
--- and opts.bin is not false) or a shell string. opts: stdin (string), env
--- (table; false unsets), cwd. Returns { code, stdout, stderr }.
function H.run(args, opts)
  opts = opts or {}
  local words = {}
  if opts.cwd then words[#words + 1] = "cd " .. H.quote(opts.cwd) .. " &&" end
  words[#words + 1] = "env"
  for k, v in pairs(opts.env or {}) do
    if v == false then words[#words + 1] = "-u " .. H.quote(k) end
  end
  for k, v in pairs(opts.env or {}) do
    if v ~= false then words[#words + 1] = H.quote(k .. "=" .. tostring(v)) end
  end
  if type(args) == "string" then
    words[#words + 1] = "sh -c " .. H.quote(args)
  else
    if opts.bin ~= false then words[#words + 1] = H.quote(opts.exe or H.bin) end
    for _, a in ipairs(args) do words[#words + 1] = H.quote(a) end
  end
  local out, err = os.tmpname(), os.tmpname()
  local input = "/dev/null"
  if opts.stdin then input = H.write(os.tmpname(), opts.stdin) end
  local cmd = ("%s <%s >%s 2>%s"):format(table.concat(words, " "), input, out, err)
  local ok, how, code = os.execute(cmd)
  local r = {
    code = ok and 0 or (how == "exit" and code or 128 + code),
    stdout = H.read(out) or "",
    stderr = H.read(err) or "",
  }
  os.remove(out)
  os.remove(err)
  if opts.stdin then os.remove(input) end
  return r
end

-- ---- pseudo-terminal ----

local Term = {}
Term.__index = Term

--- Starts argv (default: the binary with args) on a pty.
function H.pty(args, opts)
  local pty = require "causal_eval.pty"
  opts = opts or {}
  local argv = { H.bin }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  local env = { TERM = "xterm", EDITRC = "/dev/null" }
  for k, v in pairs(opts.env or {}) do env[k] = v end
  local p = assert(pty.spawn(argv, { env = env, rows = 24, cols = 100 }))
  return setmetatable({ p = p, buf = "", seen = "" }, Term)
end

--- Waits until `text` (plain) appears in the output; returns everything up to
--- and including it, and consumes it. Raises with the output so far on timeout.
function Term:expect(text, timeout)
  local deadline = host.clock() + (timeout or 10)
  while true do
    local s, e = self.buf:find(text, 1, true)
    if s then
      local out = self.buf:sub(1, e)
      self.buf = self.buf:sub(e + 1)
      return out
    end
    if host.clock() > deadline then
      error(("timeout waiting for %q; output so far: %q"):format(text, self.seen), 2)
    end
    local d = self.p:read(0.05)
    if d == nil then
      error(("program ended while waiting for %q; output: %q"):format(text, self.seen), 2)
    end
    self.buf = self.buf .. d
    self.seen = self.seen .. d
  end
end

--- Waits for a prompt and then for the line editor to take the terminal
--- (raw input): text typed before that would be read by the kernel's line
--- discipline instead, which no person at a keyboard can do but a test can.
function Term:prompt(text, timeout)
  local out = self:expect(text, timeout)
  local deadline = host.clock() + (timeout or 10)
  while true do
    local m = self.p:modes()
    if not m or not m.canonical then return out end
    if host.clock() > deadline then error("terminal never left canonical mode", 2) end
    self:drain(0.01)
  end
end

--- Waits until the terminal is (canonical == true) or is not in line mode:
--- cooked while the REPL runs a chunk, raw while it edits a line.
function Term:wait_canonical(want, timeout)
  local deadline = host.clock() + (timeout or 10)
  while true do
    local m = self.p:modes()
    if m and m.canonical == want then return end
    if host.clock() > deadline then error("terminal mode did not change", 2) end
    self:drain(0.01)
  end
end

function Term:send(s) assert(self.p:write(s)) end

--- Reads whatever arrives within `t` seconds.
function Term:drain(t)
  local deadline = host.clock() + (t or 0.2)
  while host.clock() < deadline do
    local d = self.p:read(0.05)
    if d == nil then break end
    self.buf = self.buf .. d
    self.seen = self.seen .. d
  end
  return self.buf
end

function Term:wait(t) return self.p:wait(t or 10) end
function Term:close() self.p:close() end

-- ---- the mock model server ----

H.mock_bin = os.getenv("CAUSAL_EVAL_MOCK") or (H.build_dir and H.build_dir .. "/mock_server")

local Mock = {}
Mock.__index = Mock

--- Starts tools/mock's server on a free loopback port with the given flags
--- (a list). Returns an object with url (the /v1 base), port, stats(), reset(), stop().
--- Writes `causal-eval generate ARGS... -o DIR/q.jsonl` and returns the path.
function H.questions(dir, args)
  local path = dir .. "/q.jsonl"
  local r = H.run(H.concat({ "generate" }, args, { "-o", path }))
  assert(r.code == 0, r.stderr)
  return path
end

--- `causal-eval generate ARGS...` with one question per prompt (the mock
--- server knows a question by its prompt, and small systems repeat one),
--- written to path. Returns path, the number of questions and the questions.
function H.unique_questions(path, args)
  local json = require "causal_eval.json"
  local r = H.run(H.concat({ "generate" }, args))
  assert(r.code == 0, r.stderr)
  local seen, lines, list = {}, {}, {}
  for line in r.stdout:gmatch("[^\n]+") do
    local q = json.decode(line)
    if not seen[q.prompt] then
      seen[q.prompt] = true
      lines[#lines + 1] = line
      list[#list + 1] = q
    end
  end
  H.write(path, table.concat(lines, "\n") .. "\n")
  return path, #lines, list
end

--- `causal-eval run --json --quiet ARGS`: the result of H.run and the
--- decoded report (nil when stdout holds none).
function H.run_json(args, opts)
  local r = H.run(H.concat({ "run", "--json", "--quiet" }, args), opts)
  local ok, report = pcall(require("causal_eval.json").decode, r.stdout)
  return r, ok and type(report) == "table" and report or nil
end

--- The records of a stored run, as a list in store order and by question id
--- (store: more arguments naming the store, such as { "--store", URL }).
function H.records(data, run_id, store)
  local json = require "causal_eval.json"
  local r = H.run(H.concat({ "results", "export", run_id, "--data", data }, store or {}))
  assert(r.code == 0, r.stderr)
  local list, by_id = {}, {}
  for line in r.stdout:gmatch("[^\n]+") do
    local rec = assert(json.decode(line))
    list[#list + 1] = rec
    by_id[rec.question_id] = rec
  end
  return list, by_id
end

--- The status of every run of a store, newest first ({} without a store).
function H.run_statuses(data)
  local r = H.run({ "results", "list", "--data", data, "--json" })
  if r.code ~= 0 then return {} end
  local out = {}
  for _, run in ipairs(require("causal_eval.json").decode(r.stdout)) do out[#out + 1] = run.status end
  return out
end

function H.mock(flags)
  local dir = H.tmpdir()
  local words = { H.quote(H.mock_bin), "--port", "0" }
  for _, f in ipairs(flags or {}) do words[#words + 1] = H.quote(f) end
  local log = dir .. "/mock.log"
  local p = assert(io.popen(("%s >%s 2>&1 & echo $!"):format(table.concat(words, " "), log)))
  local pid = tonumber(p:read("l"))
  p:close()
  local deadline = host.clock() + 10
  local port
  while not port do
    port = (H.read(log) or ""):match("listening on 127%.0%.0%.1:(%d+)")
    if not port then
      if host.clock() > deadline then error("mock server did not start: " .. (H.read(log) or ""), 2) end
      host.sleep(0.02)
    end
  end
  return setmetatable({ pid = pid, port = tonumber(port), dir = dir, url = "http://127.0.0.1:" .. port .. "/v1" }, Mock)
end

function Mock:stats()
  local json = require "causal_eval.json"
  local r = assert(require("causal_eval.http").request{ url = ("http://127.0.0.1:%d/stats"):format(self.port) })
  return assert(json.decode(r.body))
end

function Mock:reset()
  require("causal_eval.http").request{ url = ("http://127.0.0.1:%d/reset"):format(self.port), method = "POST", body = "" }
end

function Mock:stop()
  if self.pid then H.sh("kill " .. self.pid .. " 2>/dev/null; wait " .. self.pid .. " 2>/dev/null") end
  self.pid = nil
  H.rm(self.dir)
end

-- ---- a real redis-server on loopback ----

local Redis = {}
Redis.__index = Redis

--- Starts redis-server on 127.0.0.1 and a free port (no persistence).
--- Returns an object with port, url, pid, cli(args...), stop().
function H.redis()
  local dir = H.tmpdir()
  for attempt = 1, 20 do
    local port = 20000 + (os.time() * 7919 + attempt * 104729 + math.random(0, 30000)) % 12000 -- below 32768: see pg_helpers
    local log = dir .. "/redis.log"
    local p = assert(io.popen(("redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no --dir %s >%s 2>&1 & echo $!")
      :format(port, H.quote(dir), log)))
    local pid = tonumber(p:read("l"))
    p:close()
    local deadline = host.clock() + 5
    while host.clock() < deadline do
      local text = H.read(log) or ""
      if text:find("Ready to accept connections", 1, true) then
        return setmetatable({ port = port, pid = pid, dir = dir, url = ("redis://127.0.0.1:%d/0"):format(port) }, Redis)
      end
      if text:find("Address already in use", 1, true) or text:find("Could not create", 1, true) then break end
      host.sleep(0.02)
    end
    H.sh("kill " .. pid .. " 2>/dev/null")
  end
  error("could not start redis-server on a free port")
end

--- Starts the server again on the same port (after stop_server).
function Redis:restart()
  local log = self.dir .. "/redis2.log"
  local p = assert(io.popen(("redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no --dir %s >%s 2>&1 & echo $!")
    :format(self.port, H.quote(self.dir), log)))
  self.pid = tonumber(p:read("l"))
  p:close()
  local deadline = host.clock() + 5
  while not (H.read(log) or ""):find("Ready to accept connections", 1, true) do
    if host.clock() > deadline then error("redis-server did not restart: " .. (H.read(log) or "")) end
    host.sleep(0.02)
  end
end

--- Kills the server but keeps its folder (restart() brings it back).
function Redis:kill()
  if self.pid then H.sh("kill " .. self.pid .. " 2>/dev/null; sleep 0.2") end
  self.pid = nil
end

function Redis:cli(...)
  local words = { "redis-cli", "-p", tostring(self.port) }
  for _, a in ipairs({ ... }) do words[#words + 1] = H.quote(a) end
  local out = H.sh(table.concat(words, " "))
  return (out:gsub("%s+$", ""))
end

function Redis:stop()
  if self.pid then H.sh("kill " .. self.pid .. " 2>/dev/null; sleep 0.1") end
  self.pid = nil
  H.rm(self.dir)
end

return H
