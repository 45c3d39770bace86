-- SPDX-License-Identifier: MIT
-- What a benchmark's functions get as ctx: the mode (ctx.quick, ctx.round,
-- ctx.rounds, ctx.duration, ctx.iterations), the program under test
-- (ctx.bin), and helpers that start what a measurement needs and stop it
-- whatever happens: temporary folders, the mock model server, a
-- redis-server, the tools built beside the program (cache_bench,
-- http_floor, rusage), `causal-eval run` with what it cost.
--
--   ctx:pick(quick_value, full_value)   the value for this mode
--   ctx:skip(reason)                    leave this measure (or, in setup, the suite) out, saying why
--   ctx:note(fmt, ...)                  a line the report shows under the suite (commands, versions)
--   ctx:defer(fn)                       run fn when the suite ends, even after an error
--   ctx:tmpdir()                        a fresh folder, removed when the suite ends
--   ctx:tool(name)                      the path of a tool built beside the program, or skip
--   ctx:mock(flags)                     tools/mock/mock_server on a free port: .url (/v1), :stats(), :reset()
--   ctx:redis()                         redis-server on a free port: .url
--   ctx:exec(argv, opts)                run a program: { code, stdout, stderr, seconds }, raising when it fails
--   ctx:measured(argv, opts)            the same under rusage: + wall, user, sys, peak_anon_kb, peak_file_kb
--   ctx:evaluate(args)                  `causal-eval run` on a mock: questions, errors, q/s, CPU, memory
--   ctx:samples(metric, list)           single observations of a metric, for its distribution in the report
local host = require "causal_eval.host"
local json = require "causal_eval.json"
local process = require "causal_eval.process"

local M = {}

local Ctx = {}
Ctx.__index = Ctx

-- a skip is raised as this table, so that a pcall around a measure can tell
-- it from an error
local SKIP = {}
SKIP.__index = SKIP
SKIP.__tostring = function(s) return "skipped: " .. s.reason end

function M.is_skip(e) return getmetatable(e) == SKIP end

local function quote(s)
  s = tostring(s)
  if s:match("^[%w%-_./=:@%%+,]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
M.quote = quote

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

--- Folders where tools built beside the program are looked for: the
--- program's own folder (a CMake build folder), then $CAUSAL_EVAL_BUILD_DIR.
function M.tool_dirs(bin)
  local dirs = {}
  local d = bin and bin:match("^(.*)/[^/]+$")
  if d then dirs[#dirs + 1] = d end
  local env = os.getenv("CAUSAL_EVAL_BUILD_DIR")
  if env and env ~= "" and env ~= d then dirs[#dirs + 1] = env end
  return dirs
end

--- opts: quick, rounds, duration, iterations, bin (the causal-eval under
--- test; default this program), tmp (a folder for temporary files).
function M.new(opts)
  local ctx = setmetatable({
    quick = opts.quick and true or false,
    rounds = opts.rounds,
    round = 0,
    bin = opts.bin or host.exe(),
    duration = opts.duration,
    iterations = opts.iterations,
    notes = {},
    cleanups = {},
    tmp_base = opts.tmp or os.getenv("TMPDIR") or "/tmp",
  }, Ctx)
  return ctx
end

function Ctx:pick(quick, full)
  if self.quick then return quick end
  return full
end

function Ctx:skip(reason) error(setmetatable({ reason = tostring(reason) }, SKIP), 0) end

function Ctx:note(fmt, ...)
  local line = select("#", ...) > 0 and fmt:format(...) or fmt
  for _, n in ipairs(self.notes) do if n == line then return end end
  self.notes[#self.notes + 1] = line
end

function Ctx:defer(fn) self.cleanups[#self.cleanups + 1] = fn end

--- Runs the deferred functions, last first; errors are collected, not raised.
function Ctx:cleanup()
  local errs = {}
  while #self.cleanups > 0 do
    local fn = table.remove(self.cleanups)
    local ok, err = pcall(fn)
    if not ok then errs[#errs + 1] = tostring(err) end
  end
  return errs
end

function Ctx:tmpdir()
  local out = sh("mktemp -d " .. quote(self.tmp_base .. "/causal-eval-bench.XXXXXX"))
  local dir = out:gsub("%s+$", "")
  if dir == "" or dir:find("\n") or dir:match("^mktemp:") then error("cannot make a temporary folder: " .. out, 2) end
  self:defer(function() sh("rm -rf " .. quote(dir)) end)
  return dir
end

--- The path of a tool built beside the program (mock_server, cache_bench,
--- http_floor, rusage); skips the measure when it is not there.
function Ctx:tool(name)
  for _, d in ipairs(M.tool_dirs(self.bin)) do
    local p = d .. "/" .. name
    local f = io.open(p, "rb")
    if f then
      f:close()
      return p
    end
  end
  self:skip(("%s not found beside %s (it is built with the program: cmake --build BUILD_DIR)"):format(name, self.bin))
end

-- ---- background servers ----

local function alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  if not stat then return false end
  -- the state follows the command's closing parenthesis; a zombie has ended
  return stat:match("%) (%a)") ~= "Z"
end

local Proc = {}
Proc.__index = Proc

function Proc:text() return read(self.log) or "" end

--- TERM, up to 5 s to end, then KILL; then reaped.
function Proc:stop()
  if not self.pid then return end
  local pid = self.pid
  self.pid = nil
  os.execute(("kill -TERM %d 2>/dev/null"):format(pid))
  local deadline = host.clock() + 5
  while alive(pid) and host.clock() < deadline do host.sleep(0.02) end
  if alive(pid) then os.execute(("kill -KILL %d 2>/dev/null"):format(pid)) end
  self.handle:close()
end

--- Starts argv in the background, its output in a log file, and waits up to
--- opts.timeout (10) seconds for opts.ready (a Lua pattern) in the log; the
--- process is stopped when the suite ends. Returns it ({ pid, log, text(),
--- stop() }) and the pattern's captures; raises when it dies or is not ready.
-- The process is this one's child (popen's shell execs it), so that
-- closing the pipe reaps it: where PID 1 reaps nothing, as in many
-- containers, a server started in the background would stay a zombie.
function Ctx:spawn(argv, opts)
  opts = opts or {}
  local log = opts.log or (self:tmpdir() .. "/log")
  local words = {}
  for i, a in ipairs(argv) do words[i] = quote(a) end
  local handle = assert(io.popen(("echo $$; exec %s >%s 2>&1 </dev/null"):format(table.concat(words, " "), quote(log))))
  local pid = tonumber(handle:read("l"))
  if not pid then
    handle:close()
    error("could not start " .. argv[1], 2)
  end
  local proc = setmetatable({ pid = pid, handle = handle, log = log, name = argv[1]:match("[^/]+$") }, Proc)
  self:defer(function() proc:stop() end)
  if not opts.ready then return proc end
  local deadline = host.clock() + (opts.timeout or 10)
  while true do
    local caps = { proc:text():match(opts.ready) }
    if caps[1] then return proc, table.unpack(caps) end
    if not alive(pid) then
      proc:stop()
      error(("%s ended before it was ready: %s"):format(proc.name, proc:text():sub(1, 500)), 2)
    end
    if host.clock() > deadline then
      proc:stop()
      error(("%s not ready after %g s: %s"):format(proc.name, opts.timeout or 10, proc:text():sub(1, 500)), 2)
    end
    host.sleep(0.01)
  end
end

local Mock = setmetatable({}, { __index = Proc })
Mock.__index = Mock

function Mock:stats()
  local http = require "causal_eval.http"
  local r, err = http.request{ url = ("http://127.0.0.1:%d/stats"):format(self.port), timeout = 10 }
  if not r then error("mock server: " .. tostring(err), 2) end
  return assert(json.decode(r.body))
end

function Mock:reset()
  local http = require "causal_eval.http"
  http.request{ url = ("http://127.0.0.1:%d/reset"):format(self.port), method = "POST", body = "", timeout = 10 }
end

--- tools/mock/mock_server on a free loopback port with these flags.
function Ctx:mock(flags)
  local argv = { self:tool("mock_server"), "--port", "0" }
  for _, f in ipairs(flags or {}) do argv[#argv + 1] = tostring(f) end
  local proc, port = self:spawn(argv, { ready = "listening on 127%.0%.0%.1:(%d+)" })
  proc.port = tonumber(port)
  proc.url = ("http://127.0.0.1:%d/v1"):format(proc.port)
  return setmetatable(proc, Mock)
end

local function which(name)
  local out, ok = sh("command -v " .. quote(name))
  if ok and out:match("%S") then return (out:gsub("%s+$", "")) end
end
M.which = which

--- redis-server on 127.0.0.1 and a free port, with no persistence; skips
--- the measure when redis-server is not installed.
function Ctx:redis()
  local bin = which("redis-server")
  if not bin then self:skip("redis-server is not installed (tools/install-deps.sh)") end
  local dir = self:tmpdir()
  local last
  for attempt = 1, 20 do
    local port = 20000 + (host.getpid() * 7919 + attempt * 104729 + math.floor(host.clock() * 1000)) % 40000
    local ok, proc = pcall(self.spawn, self, { bin, "--port", tostring(port), "--bind", "127.0.0.1", "--save", "",
      "--appendonly", "no", "--dir", dir }, { log = ("%s/redis-%d.log"):format(dir, attempt),
      ready = "Ready to accept connections", timeout = 5 })
    if ok then
      proc.port, proc.url = port, ("redis://127.0.0.1:%d/0"):format(port)
      return proc
    end
    last = proc
  end
  error("could not start redis-server on a free port: " .. tostring(last), 2)
end

-- ---- running programs ----

--- Runs argv to its end (opts.timeout seconds, default 600; opts.input).
--- Returns process.run's result; raises when it cannot start, times out or
--- (unless opts.allow_fail) exits non-zero, with the end of its stderr.
function Ctx:exec(argv, opts)
  opts = opts or {}
  local r, err = process.run{ argv = argv, input = opts.input, timeout = opts.timeout or 600, max_output = 64 << 20 }
  if not r then error(("%s: %s"):format(argv[1], err), 2) end
  local name = argv[1]:match("[^/]+$")
  if r.timed_out then error(("%s timed out after %g s"):format(name, opts.timeout or 600), 2) end
  if r.code ~= 0 and not opts.allow_fail then
    error(("%s exited %d: %s"):format(name, r.code, (r.stderr ~= "" and r.stderr or r.stdout):sub(-800)), 2)
  end
  return r
end

--- Runs argv under the rusage tool (tools/bench/rusage.c): its result and
--- wall, user, sys (s), maxrss_kb, peak_anon_kb, peak_file_kb (RssAnon and
--- RssFile sampled every 20 ms).
function Ctx:measured(argv, opts)
  local out = self:tmpdir() .. "/cost"
  local full = { self:tool("rusage"), out }
  for _, a in ipairs(argv) do full[#full + 1] = a end
  local r = self:exec(full, opts)
  local line = read(out) or ""
  local w, u, s, m, a, f = line:match("^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)")
  if not w then error("rusage wrote no figures for " .. argv[1], 2) end
  r.wall, r.user, r.sys = tonumber(w), tonumber(u), tonumber(s)
  r.maxrss_kb, r.peak_anon_kb, r.peak_file_kb = tonumber(m), tonumber(a), tonumber(f)
  return r
end

--- `causal-eval run` (the program under test) against a model URL, in a
--- fresh data folder and response cache, under rusage. args: url, bench
--- (default "all"), n (per family), seed, questions (a file instead),
--- workers, concurrency, extra (more arguments), allow_errors, latencies
--- (true: read every answer's latency back from the store). Returns {
--- report (its --json), n, errors, cached, elapsed, qps (questions/s in
--- the run), cpu_us (user+sys per question), peak_anon_mb, peak_file_mb,
--- wall, data (the folder, kept until the suite ends), argv, latencies }.
function Ctx:evaluate(a)
  local dir = self:tmpdir()
  local argv = { self.bin, "run", "--json", "--quiet", "--model", "openai:bench@" .. a.url, "--data", dir .. "/data",
                 "--set", "cache.disk.path=" .. dir .. "/cache" }
  if a.questions then
    argv[#argv + 1] = "--questions"
    argv[#argv + 1] = a.questions
  else
    for _, w in ipairs({ "--bench", a.bench or "all", "--n", tostring(a.n), "--seed", tostring(a.seed or self.round) }) do
      argv[#argv + 1] = w
    end
  end
  if a.workers then argv[#argv + 1] = "--workers"; argv[#argv + 1] = tostring(a.workers) end
  if a.concurrency then argv[#argv + 1] = "--concurrency"; argv[#argv + 1] = tostring(a.concurrency) end
  for _, w in ipairs(a.extra or {}) do argv[#argv + 1] = w end
  local r = self:measured(argv, { timeout = a.timeout, allow_fail = true })
  local report = json.decode(r.stdout)
  if type(report) ~= "table" or (r.code ~= 0 and not a.allow_errors) then
    error(("causal-eval run exited %d: %s"):format(r.code, (r.stderr ~= "" and r.stderr or r.stdout):sub(-800)), 2)
  end
  local n, errors, cached = 0, 0, 0
  for _, m in ipairs(report.models or {}) do
    n, errors, cached = n + (m.n or 0), errors + (m.errors or 0), cached + (m.cached or 0)
  end
  if errors > 0 and not a.allow_errors then
    error(("causal-eval run: %d of %d questions failed (run %s)"):format(errors, n, tostring(report.run_id)), 2)
  end
  local elapsed = tonumber(report.elapsed_s) or r.wall
  local latencies
  if a.latencies then latencies = M.latencies(dir .. "/data", report.run_id) end
  return {
    report = report, n = n, errors = errors, cached = cached, elapsed = elapsed, code = r.code,
    qps = elapsed > 0 and n / elapsed or 0, cpu_us = n > 0 and (r.user + r.sys) / n * 1e6 or 0,
    peak_anon_mb = r.peak_anon_kb / 1024, peak_file_mb = r.peak_file_kb / 1024, wall = r.wall,
    data = dir .. "/data", argv = argv, latencies = latencies,
  }
end

--- The latency (ms) of every answered question of a stored run, in store order.
function M.latencies(data, run_id)
  local results = require "causal_eval.results"
  local st, err = results.open(data, { writes = false })
  if not st then error(err, 2) end
  local out = {}
  local ok, serr = st:scan(results.DB.scores, run_id .. results.SEP, function(_, v)
    local sc = json.decode(v)
    if type(sc) == "table" and type(sc.l) == "number" and not sc.e then out[#out + 1] = sc.l end
  end)
  st:close()
  if not ok then error(serr, 2) end
  return out
end

--- Seconds one call of fn takes (host.clock, monotonic).
function Ctx:time(fn, ...)
  local t0 = host.clock()
  fn(...)
  return host.clock() - t0
end

--- The machine, as the report's header gives it.
function M.machine()
  local cpuinfo = read("/proc/cpuinfo") or ""
  local cores = 0
  for _ in cpuinfo:gmatch("\nprocessor%s*:") do cores = cores + 1 end
  if cpuinfo:match("^processor%s*:") then cores = cores + 1 end
  local model = cpuinfo:match("model name%s*:%s*([^\n]+)")
  local load = (read("/proc/loadavg") or ""):match("^(%S+ %S+ %S+)")
  local hostname = (read("/proc/sys/kernel/hostname") or ""):gsub("%s+$", "")
  local mem = (read("/proc/meminfo") or ""):match("MemTotal:%s*(%d+)")
  return { cores = cores > 0 and cores or nil, cpu = model, load = load, hostname = hostname ~= "" and hostname or nil,
           memory_mb = mem and math.floor(tonumber(mem) / 1024) or nil }
end

return M
