-- SPDX-License-Identifier: MIT
-- `causal-eval bench --baseline-ref GIT_REF`: the baseline made from a git
-- revision of the program's own source tree. The revision is checked out
-- in a temporary worktree (git worktree add --detach) and built there with
-- CMake (the program and the tools its suites run); then, suite by suite,
-- its own `bench` and this program's measure the same suite one after the
-- other, the order flipping from one suite to the next, so that a machine
-- whose load changes over the minutes a run takes weighs on both sides
-- alike. The worktree and the build are removed afterwards, whatever
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
  local _, has = sh(("git -C %s cat-file -e %s"):format(quote(top), quote(sha .. ":lua/stdlib/causal_eval/cli/bench.lua")))
  if has ~= 0 then
    return nil, ("revision %s (%s) has no `causal-eval bench`: give a later one, or --baseline FILE"):format(ref,
      sha:sub(1, 10))
  end
  return top, sha
end

local Build = {}
Build.__index = Build

--- Removes the worktree and the build (idempotent).
function Build:cleanup()
  if self.added then
    sh(("git -C %s worktree remove --force %s"):format(quote(self.top), quote(self.src)))
    sh(("git -C %s worktree prune"):format(quote(self.top)))
    self.added = false
  end
  if self.tmp then sh("rm -rf " .. quote(self.tmp)) end
  self.tmp = nil
end

function Build:build(progress, jobs)
  local short = self.sha:sub(1, 10)
  progress(("baseline: %s (%s) in a temporary worktree %s"):format(self.ref, short, self.src))
  local ok, err = step(("git -C %s worktree add --detach %s %s"):format(quote(self.top), quote(self.src), self.sha),
    self.tmp .. "/git.log")
  if not ok then return nil, "git worktree add: " .. err end
  self.added = true
  local cfg = { "cmake", "-S", self.src, "-B", self.dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo" }
  for i, w in ipairs(cfg) do cfg[i] = quote(w) end
  progress("baseline: configuring with cmake")
  ok, err = step(table.concat(cfg, " "), self.tmp .. "/configure.log")
  if not ok then return nil, ("cmake could not configure %s: %s"):format(short, err) end
  -- the targets this revision has: "... name" lines (Makefiles), "name: phony" (Ninja)
  local have = {}
  for line in sh(("cmake --build %s --target help"):format(quote(self.dir))):gmatch("[^\n]+") do
    local t = line:match("^%.%.%. (%S+)") or line:match("^([%w_.-]+):")
    if t then have[t] = true end
  end
  local targets = {}
  for _, t in ipairs(M.TARGETS) do
    if have[t] then targets[#targets + 1] = t end
  end
  progress(("baseline: building %s with %d jobs (a few minutes)"):format(table.concat(targets, ", "), jobs))
  ok, err = step(("cmake --build %s -j%d --target %s"):format(quote(self.dir), jobs, table.concat(targets, " ")),
    self.tmp .. "/build.log")
  if not ok then return nil, ("%s did not build: %s"):format(short, err) end
  self.bin = self.dir .. "/causal-eval"
  return true
end

--- Checks ref out and builds it: the build ({ run_suite, cleanup }), or
--- nil and a message (nothing left behind). opts: root, progress, jobs
--- (default: the machine's cores), argv (the parsed options passed on:
--- quick, rounds, iterations, duration, quiet).
function M.prepare(ref, opts)
  opts = opts or {}
  local top, sha = M.resolve(ref, opts.root)
  if not top then return nil, sha end
  local out = sh("mktemp -d " .. quote((os.getenv("TMPDIR") or "/tmp") .. "/causal-eval-baseline.XXXXXX"))
  local tmp = out:gsub("%s+$", "")
  if tmp == "" or tmp:find("\n") then return nil, "cannot make a temporary folder: " .. out end
  local b = setmetatable({ ref = ref, top = top, sha = sha, tmp = tmp, src = tmp .. "/src", dir = tmp .. "/build",
                           argv = opts.argv or {}, n = 0 }, Build)
  local ok, built, err = pcall(b.build, b, opts.progress or function() end, opts.jobs or context.machine().cores or 2)
  if not ok or not built then
    b:cleanup()
    return nil, ok and err or tostring(built)
  end
  return b
end

--- Runs the revision's own bench on one suite (a product suite by its name,
--- so the revision's own file; a user's by its path); that suite's results
--- table, or nil and a message.
function Build:run_suite(s)
  self.n = self.n + 1
  local out = ("%s/suite-%d.json"):format(self.tmp, self.n)
  local own = s.file and s.file:match("benchmarks/perf/" .. s.name .. "%.lua$")
  local argv = { "env", "-u", "CAUSAL_EVAL_HOME", "-u", "CAUSAL_EVAL_BUILD_DIR", self.bin, "bench", own and s.name or s.file,
                 "--json", out }
  local a = self.argv
  if a.quick then argv[#argv + 1] = "--quick" end
  if a.quiet then argv[#argv + 1] = "--quiet" end
  for _, k in ipairs({ "rounds", "iterations", "duration" }) do
    if a[k] then
      argv[#argv + 1] = "--" .. k
      argv[#argv + 1] = tostring(a[k])
    end
  end
  for i, w in ipairs(argv) do argv[i] = quote(w) end
  -- its progress goes to our stderr, prefixed; its table is not wanted
  os.execute(table.concat(argv, " ") .. " 2>&1 >/dev/null | sed 's/^/[baseline] /' >&2")
  local d, err = require("causal_eval.perf.baseline").load(out)
  if not d then return nil, ("the bench of %s wrote no figures for %s: %s"):format(self.sha:sub(1, 10), s.name, err) end
  self.first = self.first or d
  return d.suites[1]
end

--- The baseline's results from the suites its bench ran, for the gate.
function Build:results(suites)
  local f = self.first or {}
  return { format = f.format or require("causal_eval.perf.runner").FORMAT, created = f.created, version = f.version,
           revision = f.revision, machine = f.machine, quick = f.quick, rounds = f.rounds, suites = suites,
           source = ("%s (%s)"):format(self.ref, self.sha:sub(1, 10)) }
end

return M
