-- SPDX-License-Identifier: MIT
-- `causal-eval bench --baseline-ref GIT_REF`: the baseline made from a git
-- revision of the program's own source tree. The revision is checked out
-- in a temporary worktree (git worktree add --detach), built there with
-- CMake (the program and the tools its suites run), and its own `bench`
-- runs the same suites with the same options; its --json is the
-- baseline. The worktree and the build are removed afterwards, whatever
-- happened. A revision from before `bench` existed is refused, saying so.
local host = require "causal_eval.host"
local context = require "causal_eval.perf.context"

local M = {}

-- the targets a revision's suites run, when that revision has them
M.TARGETS = { "causal-eval", "mock_server", "cache_bench", "stats_bench", "http_floor", "rusage" }

local quote = context.quote

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function tail(s, n)
  n = n or 1500
  s = s:gsub("%s+$", "")
  if #s <= n then return s end
  return "..." .. s:sub(-n)
end

-- runs cmd with its output in log; true, or nil and the log's end
local function step(cmd, log)
  local ok = os.execute(("%s >%s 2>&1"):format(cmd, quote(log)))
  if ok then return true end
  local f = io.open(log, "rb")
  local text = f and f:read("a") or ""
  if f then f:close() end
  return nil, tail(text)
end

--- The source tree's git checkout and the commit of ref: top, sha; or nil, message.
function M.resolve(ref, root)
  root = root or host.root()
  if not root then return nil, "the program does not know its source folder" end
  local top, code = sh(("git -C %s rev-parse --show-toplevel"):format(quote(root)))
  top = top:gsub("%s+$", "")
  if code ~= 0 or top == "" then
    return nil, ("the program's folder %s is not in a git checkout (give --baseline FILE instead)"):format(root)
  end
  if ref == "" or ref:match("^%-") then return nil, ("bad revision '%s'"):format(ref) end
  local sha
  sha, code = sh(("git -C %s rev-parse --verify --quiet %s"):format(quote(top), quote(ref .. "^{commit}")))
  sha = sha:gsub("%s+$", "")
  if code ~= 0 or not sha:match("^%x+$") then return nil, ("unknown revision '%s' in %s"):format(ref, top) end
  return top, sha
end

--- Builds ref and runs its bench; the baseline's results (as
--- causal_eval.perf.baseline.load gives them), or nil and a message.
--- opts: suites (loaded, as the current run has them), argv (the parsed
--- options: quick, rounds, iterations, duration, quiet), progress,
--- interrupted, jobs (build jobs: default the machine's cores).
function M.baseline(ref, opts)
  local top, sha = M.resolve(ref, opts.root)
  if not top then return nil, sha end
  local _, code = sh(("git -C %s cat-file -e %s"):format(quote(top), quote(sha .. ":lua/stdlib/causal_eval/cli/bench.lua")))
  if code ~= 0 then
    return nil, ("revision %s (%s) has no `causal-eval bench`: give a later one, or --baseline FILE"):format(ref,
      sha:sub(1, 10))
  end
  local progress = opts.progress or function() end
  local out = sh("mktemp -d " .. quote((os.getenv("TMPDIR") or "/tmp") .. "/causal-eval-baseline.XXXXXX"))
  local tmp = out:gsub("%s+$", "")
  if tmp == "" or tmp:find("\n") then return nil, "cannot make a temporary folder: " .. out end
  local src, build = tmp .. "/src", tmp .. "/build"
  local added = false
  local function cleanup()
    if added then sh(("git -C %s worktree remove --force %s"):format(quote(top), quote(src))) end
    sh("rm -rf " .. quote(tmp))
    if added then sh(("git -C %s worktree prune"):format(quote(top))) end
  end
  local function run()
    local short = sha:sub(1, 10)
    progress(("baseline: %s (%s) in a temporary worktree %s"):format(ref, short, src))
    local ok, err = step(("git -C %s worktree add --detach %s %s"):format(quote(top), quote(src), sha), tmp .. "/git.log")
    if not ok then return nil, "git worktree add: " .. err end
    added = true
    local cfg = { "cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo" }
    for i, w in ipairs(cfg) do cfg[i] = quote(w) end
    progress("baseline: configuring with cmake")
    ok, err = step(table.concat(cfg, " "), tmp .. "/configure.log")
    if not ok then return nil, ("cmake could not configure %s: %s"):format(short, err) end
    -- the targets this revision has: "... name" lines (Makefiles), "name: phony" (Ninja)
    local have = {}
    for line in sh(("cmake --build %s --target help"):format(quote(build))):gmatch("[^\n]+") do
      local t = line:match("^%.%.%. (%S+)") or line:match("^([%w_.-]+):")
      if t then have[t] = true end
    end
    local targets = {}
    for _, t in ipairs(M.TARGETS) do
      if have[t] then targets[#targets + 1] = t end
    end
    local jobs = opts.jobs or context.machine().cores or 2
    progress(("baseline: building %s with %d jobs (a few minutes)"):format(table.concat(targets, ", "), jobs))
    if opts.interrupted and opts.interrupted() then return nil, "interrupted" end
    ok, err = step(("cmake --build %s -j%d --target %s"):format(quote(build), jobs, table.concat(targets, " ")),
      tmp .. "/build.log")
    if not ok then return nil, ("%s did not build: %s"):format(short, err) end
    local bin = build .. "/causal-eval"
    local _, code = sh(quote(bin) .. " help bench")
    if code ~= 0 then
      return nil, ("revision %s (%s) has no `causal-eval bench`: give a later one, or --baseline FILE"):format(ref, short)
    end
    local argv = { "env", "-u", "CAUSAL_EVAL_HOME", "-u", "CAUSAL_EVAL_BUILD_DIR", bin, "bench" }
    for _, s in ipairs(opts.suites) do
      -- a product suite by its name (the revision's own file), a user's by its path
      local own = s.file and s.file:match("benchmarks/perf/" .. s.name .. "%.lua$")
      argv[#argv + 1] = own and s.name or s.file
    end
    local a = opts.argv or {}
    argv[#argv + 1] = "--json"
    argv[#argv + 1] = tmp .. "/baseline.json"
    if a.quick then argv[#argv + 1] = "--quick" end
    if a.quiet then argv[#argv + 1] = "--quiet" end
    for _, k in ipairs({ "rounds", "iterations", "duration" }) do
      if a[k] then
        argv[#argv + 1] = "--" .. k
        argv[#argv + 1] = tostring(a[k])
      end
    end
    for i, w in ipairs(argv) do argv[i] = quote(w) end
    progress(("baseline: running its bench (%s)"):format(short))
    -- its progress goes to our stderr; its table is not wanted
    os.execute(table.concat(argv, " ") .. " >/dev/null")
    if opts.interrupted and opts.interrupted() then return nil, "interrupted" end
    local base, lerr = require("causal_eval.perf.baseline").load(tmp .. "/baseline.json")
    if not base then return nil, ("the bench of %s wrote no figures: %s"):format(short, lerr) end
    base.source = ("%s (%s)"):format(ref, short)
    return base
  end
  local ok, base, err = pcall(run)
  cleanup()
  if not ok then return nil, tostring(base) end
  return base, err
end

return M
