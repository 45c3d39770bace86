-- SPDX-License-Identifier: MIT
-- causal-eval load: a load test of an HTTP service, locust's way, in Lua.
local argparse = require "causal_eval.argparse"
local host = require "causal_eval.host"

local parser = argparse.new{
  prog = "causal-eval load",
  summary = "load-test an HTTP service with simulated users (like locust)",
  description = [[
SCENARIO.lua returns { tasks = {...}, wait_time =, on_start =, host = }
(docs/service.md, "Load testing"; tools/load/seed.lua is an example). Users
are coroutines over one thread's HTTP engine: --users of them start at
--spawn-rate per second and run their tasks until --duration ends or Ctrl-C.
The report (a table per endpoint and a total: requests, failures, req/s,
p50, p95, p99, max) goes to stdout, progress to stderr.

--fail-if [ENDPOINT:]METRIC OP VALUE, with METRIC one of p50 p90 p95 p99 avg
min max (ms, s or us), errors (percent failed), failures, requests, rps; OP
one of > >= < <=; ENDPOINT a name of the report or "any": p95>500ms,
errors>1%, rps<100, /evaluate/single:p99>2s, "POST /auth/login:failures>0".

Exit status: 0 done, 1 a --fail-if condition holds, no request was made or
every user stopped on an error before the end,
2 usage or a scenario that does not load, 130 interrupted (the report is
still printed).]],
  options = {
    { "-u", "--users", arg = "N", type = "integer", default = 1, help = "simulated users" },
    { "-r", "--spawn-rate", arg = "R", type = "number", default = 1, help = "users started per second" },
    { "-d", "--duration", arg = "D", default = "10s", help = "how long: 30s, 5m, 1h, 1h30m (a bare number: seconds)" },
    { "-H", "--host", arg = "URL", help = "base URL of the service (default: the scenario's host)" },
    { "--fail-if", arg = "COND", multiple = true, help = "exit 1 when COND holds at the end" },
    { "--json", arg = "FILE", help = "also write the report as JSON to FILE (-: stdout, instead of the table)" },
    { "--timeout", arg = "SECONDS", type = "number", default = 30, help = "timeout of one request" },
    { "--seed", arg = "S", type = "integer", help = "seed of task choices and waits (default: random)" },
    { "-q", "--quiet", help = "no progress on stderr" },
  },
  positionals = { { "SCENARIO", help = "a Lua file returning the scenario" } },
}

local M = { summary = "load-test an HTTP service with simulated users (like locust)" }

function M.help() return parser:help() end

--- "10s", "5m", "1h30m", "250ms", "90" -> seconds, or nil.
function M.parse_duration(s)
  if type(s) ~= "string" then return nil end
  if s:match("^%s*[%d.]+%s*$") then return tonumber(s) end
  local total, any = 0, false
  local rest = s:gsub("%s+", "")
  while rest ~= "" do
    local num, unit, tail = rest:match("^([%d.]+)(%a+)(.*)$")
    local v = num and tonumber(num)
    local mult = ({ ms = 0.001, s = 1, m = 60, h = 3600, d = 86400 })[unit or ""]
    if not v or not mult then return nil end
    total, any, rest = total + v * mult, true, tail
  end
  return any and total or nil
end

local function progress_printer()
  local tty = host.isatty(io.stderr)
  local last_t, last_n = 0, 0
  return function(p)
    local dt = p.elapsed - last_t
    local rps = dt > 0 and (p.requests - last_n) / dt or 0
    last_t, last_n = p.elapsed, p.requests
    local line = ("%6.0fs  users %d/%d  requests %d  %.0f req/s  failures %d (%.1f%%)"):format(
      p.elapsed, p.users, p.spawned, p.requests, rps, p.failures, p.requests > 0 and p.failures / p.requests * 100 or 0)
    if tty then io.stderr:write("\r\27[K", line) else io.stderr:write(line, "\n") end
    io.stderr:flush()
  end, tty
end

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  local function usage(msg) return cli.usage_error(parser, msg) end
  if args.users < 1 then return usage("--users must be >= 1") end
  if not (args.spawn_rate > 0 and args.spawn_rate < math.huge) then return usage("--spawn-rate must be > 0") end
  local duration = M.parse_duration(args.duration)
  if not duration or duration <= 0 then
    return usage(("--duration '%s': expected a time such as 30s, 5m, 1h or 1h30m"):format(args.duration))
  end
  if not (args.timeout > 0) then return usage("--timeout must be > 0") end
  local fail_if = require "causal_eval.load.fail_if"
  local conditions = {}
  for _, text in ipairs(args.fail_if) do
    local c, err = fail_if.parse(text)
    if not c then return usage(err) end
    conditions[#conditions + 1] = c
  end
  if args.host and not args.host:match("^https?://[^/]") then
    return usage(("--host '%s': expected an http:// or https:// URL"):format(args.host))
  end

  local sc, err = require("causal_eval.load.scenario").load(args.SCENARIO)
  if not sc then
    io.stderr:write("causal-eval load: ", err, "\n")
    return 2
  end
  local base = args.host or sc.host
  if not base then return usage("no --host given and the scenario names no host") end

  local outfile = require "causal_eval.outfile"
  local out
  if args.json then
    out, err = outfile.open(args.json)
    if not out then
      io.stderr:write("causal-eval load: --json: ", tostring(err), "\n")
      return 2
    end
  end

  -- Every user may hold a connection: past the open-file limit they fail
  -- to connect, which would read as the service's fault.
  local limits = io.open("/proc/self/limits", "r")
  local nofile = limits and tonumber((limits:read("a") or ""):match("Max open files%s+(%d+)"))
  if limits then limits:close() end
  if nofile and args.users + 32 > nofile then
    io.stderr:write(("causal-eval load: warning: %d users may need more connections than the open-file limit (%d) allows; raise it with ulimit -n\n")
      :format(args.users, nofile))
  end

  if args.seed then math.randomseed(args.seed) end
  local printer, tty = progress_printer()
  local result = require("causal_eval.load.runner").run(sc, {
    host = base, users = args.users, spawn_rate = args.spawn_rate, duration = duration, timeout = args.timeout,
    progress = not args.quiet and printer or nil, progress_every = tty and 1 or 10,
  })
  if tty and not args.quiet then io.stderr:write("\r\27[K") end

  local summary = result.summary
  local verdicts, failed = {}, false
  for _, c in ipairs(conditions) do
    local holds, measured = fail_if.evaluate(c, summary)
    verdicts[#verdicts + 1] = { condition = c.text, holds = holds, measured = measured }
    failed = failed or holds
  end
  local report = require "causal_eval.load.report"
  local doc = report.document({
    scenario = args.SCENARIO, host = base, users = args.users, users_spawned = result.users_spawned,
    users_on_start_failed = result.users_on_start_failed, spawn_rate = args.spawn_rate,
    duration_s = duration, elapsed_s = math.floor(result.elapsed_s * 1000 + 0.5) / 1000,
    timeout_s = args.timeout, stopped = result.stopped,
    cpu_s = math.floor(result.cpu_s * 1000 + 0.5) / 1000,
  }, summary, verdicts)
  if out then
    out.file:write(report.json(doc), "\n")
    local ok, werr = out:commit()
    if not ok then
      io.stderr:write("causal-eval load: --json: ", tostring(werr), "\n")
      failed = true
    end
  end
  if not (out and outfile.is_stdout(args.json)) then io.stdout:write(report.text(doc)) end
  -- A saturated tool measures itself: its own queueing shows up as the
  -- service's latency (locust warns the same way).
  local busy = result.elapsed_s > 0 and result.cpu_s / result.elapsed_s or 0
  if busy > 0.9 then
    io.stderr:write(("causal-eval load: warning: the load tool itself used %.0f%% of a core; response times include its own delays (fewer --users or a second load process)\n"):format(busy * 100))
  end
  if summary.total.requests == 0 then
    io.stderr:write("causal-eval load: no request was made", result.stopped and (" (" .. result.stopped .. ")") or "", "\n")
    return 1
  end
  if failed then return 1 end
  if result.stopped and result.stopped:find("^every user stopped") then
    io.stderr:write("causal-eval load: ", result.stopped, " before the end (the report says why)\n")
    return 1
  end
  if result.stopped and result.stopped:find("^interrupted") then return 130 end
  return 0
end

return M
