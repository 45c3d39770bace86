-- SPDX-License-Identifier: MIT
-- Where one question's host time goes in `causal-eval run`, stage by stage, on
-- one thread (a worker's own Lua state does the same work per question):
--   causal-eval tools/bench/pipeline_stages.lua [N] [URL] [BENCH]
-- N questions (default 5000) of BENCH (default all families, mixed);
-- URL (optional): an OpenAI-style endpoint such as nginx from
-- tools/bench/pipeline.sh (http://127.0.0.1:PORT/v1); with it the HTTP engine
-- is timed alone too (the same requests, 32 in flight, no other work).
-- The record-building stage calls causal_eval.worker.new_record, as the
-- worker does (it scores too, so the score stage is counted twice). Figures are microseconds per question, the
-- median of 3 passes.
local host = require "causal_eval.host"
local bench = require "causal_eval.bench"
local json = require "causal_eval.json"
local scoring = require "causal_eval.scoring"
local results = require "causal_eval.results"
local store_core = require "causal_eval.store_core"
local openai = require "adapters.openai"

local N = tonumber(arg and arg[1]) or 5000
local URL = arg and arg[2] ~= "" and arg[2] or nil
local BENCH = arg and arg[3] or "all"
local clock = host.clock
local REPLY = '{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",'
  .. '"content":"Yes."},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":2,"total_tokens":102}}'

local fams = {}
if BENCH == "all" then
  for i, name in ipairs(bench.list()) do fams[i] = assert(bench.load(name)) end
else
  for name in BENCH:gmatch("[^,]+") do fams[#fams + 1] = assert(bench.load(name)) end
end
local opts = assert(bench.options{})
local model = { label = "openai:mock", model = "mock", base_url = URL or "http://127.0.0.1:9/v1" }
local per = math.max(1, N // #fams)
N = per * #fams
local function each(f)
  for k, fam in ipairs(fams) do
    for i = 0, per - 1 do f(fam, i, (k - 1) * per + i + 1) end
  end
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end
local rows = {}
local function stage(name, f)
  local ts = {}
  for pass = 1, 3 do
    collectgarbage()
    local t0 = clock()
    f(pass)
    ts[pass] = (clock() - t0) / N * 1e6
  end
  rows[#rows + 1] = { name, median(ts) }
  io.write(("%-44s %8.1f us/question\n"):format(name, median(ts)))
  io.flush()
end

print(("%d questions of %s on one thread (%s)"):format(N, BENCH, host.version or "causal-eval"))
local qs, lines, reqs, answers = {}, {}, {}, {}
stage("question_id (what --resume checks)", function()
  each(function(fam, i) bench.question_id(fam, opts, 1, i) end)
end)
stage("generate + render (bench.question)", function()
  each(function(fam, i, k) qs[k] = bench.question(fam, opts, 1, i) end)
end)
for k, q in ipairs(qs) do lines[k] = json.encode(q) end
stage("decode a question line (--questions)", function()
  for k = 1, N do json.decode(lines[k]) end
end)
stage("adapter request (openai.request)", function()
  for k = 1, N do reqs[k] = openai.request(model, qs[k], nil) end
end)
stage("adapter parse (openai.parse)", function()
  for k = 1, N do answers[k] = openai.parse(model, REPLY) end
end)
local scores = {}
stage("score (scoring.score)", function()
  for k = 1, N do scores[k] = scoring.score(qs[k], answers[k].text) end
end)
local recs = {}
stage("score, build + encode the record (worker.new_record)", function()
  local worker = require "causal_eval.worker"
  for k = 1, N do
    local q, answer = qs[k], answers[k]
    local rec = worker.new_record("20260101-000000-000000", q, model.label, 1, answer)
    rec.latency_ms, rec.http_version = 1.5, 1
    recs[k] = { results.key(rec.run_id, model.label, q.id), json.encode(rec), results.score_line(rec) }
  end
end)

-- the store: enqueue (this thread) and the writer's commits (its own thread)
local dir = os.tmpname()
os.remove(dir)
local st = assert(results.open(dir))
assert(st:start_writer{ batch = 256, flush_ms = 5 })
stage("store enqueue (record + score, one pair)", function(pass)
  local prefix = tostring(pass)
  for k = 1, N do
    local r = recs[k]
    st:enqueue_record(prefix .. r[1], r[2], r[3], 0, store_core.DONE)
  end
end)
-- what is still queued when the enqueues end: the writer thread's backlog
local t0 = clock()
assert(st:sync())
io.write(("%-44s %8.1f us/question (writer thread, not in the total)\n"):format(
  "  then waiting for the writer (sync)", (clock() - t0) / (3 * N) * 1e6))
st:close()
os.execute("rm -rf '" .. dir .. "'")

local total = 0
for _, r in ipairs(rows) do
  if not r[1]:find("^decode") then total = total + r[2] end
end
print(("%-44s %8.1f us/question (%.0f questions/s per thread, before HTTP)"):format(
  "total, --bench path", total, 1e6 / total))

if URL then
  local http = require "causal_eval.http"
  local K = 32
  stage(("HTTP alone (%d in flight, one client)"):format(K), function()
    local client = assert(http.client{ max_connections = K })
    local sent, got, inflight = 0, 0, 0
    while got < N do
      while inflight < K and sent < N do
        sent = sent + 1
        local r = reqs[sent]
        assert(client:submit{ url = r.url, headers = r.headers, body = r.body, tag = sent, timeout = 10, connect_timeout = 5 })
        inflight = inflight + 1
      end
      for _, res in ipairs(client:poll(0.05)) do
        assert(res.status == 200, res.error or res.message)
        got, inflight = got + 1, inflight - 1
      end
    end
    client:close()
  end)
  print(("%-44s %8.0f requests/s per thread"):format("  HTTP alone, as a rate", 1e6 / rows[#rows][2]))
end
