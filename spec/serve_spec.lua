-- SPDX-License-Identifier: MIT
-- `causal-eval serve` end to end on 127.0.0.1: every endpoint and every
-- error status, gzip, the request cache (X-Cache), a model asked through
-- the mock model server, and what the store keeps.
local H = require "spec.helpers"
local S = require "spec.serve_helpers"
local json = require "causal_eval.json"

local function field(r, name) return r.json and r.json.error and r.json.error[name] end

describe("causal-eval serve", function()
  local base, srv, mock
  setup(function()
    base = S.setup()
    mock = H.mock({ "--latency-ms", "1" })
    H.write(base.dir .. "/models.yaml", ([[
models:
  mocked:
    adapter: openai
    model: mock-model
    base_url: %s
    api_key_env: NO_SUCH_KEY_VARIABLE
    temperature: 0
]]):format(mock.url))
    base.env.CAUSAL_EVAL_MODELS = base.dir .. "/models.yaml"
    srv = S.start{ base = base, set = { "api.max_body_kb=4", "api.max_json_depth=6", "api.max_batch=3",
                                        "api.worker_count=2" } }
  end)
  teardown(function()
    if srv then srv:stop() end
    if mock then mock:stop() end
    H.rm(base.dir)
  end)

  it("answers /healthz without a token, in the server thread", function()
    local r = srv:get("/healthz", { token = false })
    assert.are.equal(200, r.status)
    assert.are.same({ status = "ok" }, r.json)
  end)

  it("refuses every other endpoint without a valid token (401)", function()
    for _, path in ipairs({ "/results/recent", "/results/summary", "/runs/last", "/metrics" }) do
      local r = srv:get(path, { token = false })
      assert.are.equal(401, r.status, path)
      assert.truthy(field(r, "code"), path)
      assert.truthy(field(r, "message"), path)
    end
    local r = srv:post("/evaluate/single", { model = "m", task_type = "ladder", model_response = "yes" }, { token = false })
    assert.are.equal(401, r.status)
    r = srv:get("/results/recent", { token = "not-a-token" })
    assert.are.equal(401, r.status)
  end)

  it("logs in: a token for the right password, 401 otherwise, 400 naming a bad field", function()
    local r = srv:post("/auth/login", { username = S.USER, password = "wrong" }, { token = false })
    assert.are.equal(401, r.status)
    assert.are.equal("invalid_credentials", field(r, "code"))
    r = srv:post("/auth/login", { username = S.USER, password = 5 }, { token = false })
    assert.are.equal(400, r.status)
    assert.matches("field 'password'", field(r, "message"), 1, true)
    r = srv:post("/auth/login", { username = S.USER, password = S.PASSWORD }, { token = false })
    assert.are.equal(200, r.status)
    assert.truthy(r.json.token and r.json.expires_at)
    srv.token = r.json.token
  end)

  it("scores a model_response against a generated question, stores it, and answers the same request from the cache", function()
    local body = { model = "model-a", task_type = "ladder", domain = "medical", difficulty = "easy",
                   seed = 7, index = 3, model_response = "The answer is yes." }
    local r = srv:post("/evaluate/single", body)
    assert.are.equal(200, r.status, r.body)
    assert.are.equal("miss", r.headers["x-cache"])
    local v = r.json
    assert.are.equal("ladder", v.family)
    assert.are.equal("medical", v.domain)
    assert.are.equal("easy", v.difficulty)
    assert.are.equal("The answer is yes.", v.answer)
    assert.are.equal("yes", v.parsed)
    assert.are.equal(v.ground_truth == "yes", v.correct)
    assert.are.equal(v.correct and 1 or 0, v.score)
    assert.is_false(v.cached)
    assert.truthy(v.prompt:find("%S"))
    assert.are.equal(srv.run_id, v.run_id)
    -- the same question as `generate` makes it
    local g = H.run({ "generate", "ladder", "--n", "4", "--seed", "7", "--domain", "medical", "--difficulty", "easy" })
    local lines = {}
    for line in g.stdout:gmatch("[^\n]+") do lines[#lines + 1] = json.decode(line) end
    assert.are.equal(lines[4].id, v.id)
    assert.are.equal(lines[4].prompt, v.prompt)

    local again = srv:post("/evaluate/single", body)
    assert.are.equal(200, again.status)
    assert.are.equal("hit", again.headers["x-cache"])
    assert.are.equal("memory", again.json.cached)
    assert.are.equal(v.id, again.json.id)
    body.model_response = "No."
    local other = srv:post("/evaluate/single", body)
    assert.are.equal("miss", other.headers["x-cache"])
    assert.are.equal("no", other.json.parsed)
  end)

  it("evaluates a question given inline, then the same by its question_id", function()
    local q = { id = "my-q-1", prompt = "Does the sprinkler cause wet grass?", answer_type = "yes_no", ground_truth = "yes" }
    local r = srv:post("/evaluate/single", { model = "model-b", question = q, model_response = "Yes" })
    assert.are.equal(200, r.status, r.body)
    assert.are.equal("my-q-1", r.json.id)
    assert.is_true(r.json.correct)
    r = srv:post("/evaluate/single", { model = "model-b", question_id = "my-q-1", model_response = "no" })
    assert.are.equal(200, r.status, r.body)
    assert.is_false(r.json.correct)
    assert.are.equal(q.prompt, r.json.prompt)
    r = srv:post("/evaluate/single", { model = "model-b", question_id = "never-seen", model_response = "no" })
    assert.are.equal(404, r.status)
    assert.matches("question_id", field(r, "message"), 1, true)
  end)

  it("asks a model of the models file through its adapter, and a repeated request goes nowhere", function()
    mock:reset()
    local body = { model = "mocked", task_type = "ladder", difficulty = "easy", index = 5 }
    local r = srv:post("/evaluate/single", body)
    assert.are.equal(200, r.status, r.body)
    assert.are.equal("miss", r.headers["x-cache"])
    assert.are.equal("mocked", r.json.model)
    assert.are.equal("yes", r.json.parsed) -- the mock answers prompts it does not know with yes
    assert.truthy(r.json.latency_ms > 0)
    assert.are.equal(1, mock:stats().requests)
    r = srv:post("/evaluate/single", body)
    assert.are.equal("hit", r.headers["x-cache"])
    assert.are.equal(1, mock:stats().requests)
    -- a model outside the models file is refused, naming the field
    r = srv:post("/evaluate/single", { model = "command:/bin/sh", task_type = "ladder" })
    assert.are.equal(400, r.status)
    assert.matches("field 'model'", field(r, "message"), 1, true)
  end)

  it("answers 400 naming the field for bad JSON, wrong types, missing and unknown fields", function()
    local cases = {
      { "{\"model\": ", "invalid_json", "request body:1:" },
      { "[1,2]", "invalid_json", "expected a JSON object" },
      { "", "invalid_json", "empty body" },
      { { model = 3, task_type = "ladder" }, "bad_field", "field 'model': expected a non-empty string, got integer 3" },
      { { model = "m" }, "missing_field", "field 'question'" },
      { { model = "m", task_type = "ladder", modle_response = "x" }, "unknown_field", "field 'modle_response': unknown" },
      { { model = "m", task_type = "ladder", difficulty = "brutal" }, "bad_field", "field 'difficulty'" },
      { { model = "m", task_type = "no_family", model_response = "x" }, "bad_field", "field 'task_type': unknown family" },
      { { model = "m", task_type = "ladder", domain = "mars", model_response = "x" }, "bad_field", "field 'domain'" },
      { { model = "m", question = { prompt = "p", answer_type = "number" }, model_response = "1" }, "bad_field",
        "field 'question.ground_truth': missing" },
      { { model = "m", task_type = "ladder", index = -1 }, "bad_field", "field 'index'" },
      -- question i is made after every one before it: 2^40 kept a worker busy for months
      { { model = "m", task_type = "ladder", index = 1 << 40, model_response = "Yes" }, "bad_field",
        "field 'index': expected an integer from 0 to 99999, got" },
    }
    for _, c in ipairs(cases) do
      local r = srv:post("/evaluate/single", c[1])
      assert.are.equal(400, r.status, r.body)
      assert.are.equal(c[2], field(r, "code"), r.body)
      assert.matches(c[3], field(r, "message"), 1, true)
    end
    -- past what a family can make of a difficulty: refused at once, not searched for ever
    local r = srv:post("/evaluate/single", { model = "m", task_type = "corr2cause", difficulty = "easy", index = 5000,
                                             model_response = "Yes" })
    assert.are.equal(422, r.status, r.body)
    assert.matches("field 'index': no question 5000 for seed 0: family corr2cause", field(r, "message"), 1, true)
  end)

  it("answers 404 for an unknown path and 405 with Allow for a wrong method", function()
    local r = srv:get("/nowhere")
    assert.are.equal(404, r.status)
    assert.are.equal("not_found", field(r, "code"))
    r = srv:req("DELETE", "/evaluate/single")
    assert.are.equal(405, r.status)
    assert.are.equal("POST", r.headers["allow"])
    assert.are.equal("method_not_allowed", field(r, "code"))
    r = srv:req("POST", "/healthz", "{}")
    assert.are.equal(405, r.status)
    assert.are.equal("GET, HEAD", r.headers["allow"])
  end)

  it("answers 413 for a body over api.max_body_kb and 400 for one nested deeper than api.max_json_depth", function()
    local r = srv:post("/evaluate/single", { model = "m", task_type = "ladder", model_response = ("x"):rep(5000) })
    assert.are.equal(413, r.status)
    assert.are.equal("payload_too_large", field(r, "code"))
    r = srv:post("/evaluate/single", '{"model":"m","question":{"a":[[[[[[1]]]]]]}}')
    assert.are.equal(400, r.status)
    assert.are.equal("too_deep", field(r, "code"))
    assert.matches("api.max_json_depth", field(r, "message"), 1, true)
    -- the server is fine after both
    assert.are.equal(200, srv:get("/healthz").status)
  end)

  it("evaluates a batch, reporting each failed item by itself, and refuses one over api.max_batch", function()
    local r = srv:post("/evaluate/batch", { model = "mocked", questions = {
      { task_type = "confounding", index = 1 },
      { task_type = "nope" },
      { question = { prompt = "Is it?", answer_type = "yes_no", ground_truth = "no" }, model_response = "No" },
    } })
    assert.are.equal(200, r.status, r.body)
    assert.are.equal(2, r.json.succeeded)
    assert.are.equal(1, r.json.failed)
    local res = r.json.results
    assert.are.equal("confounding", res[1].family)
    assert.are.equal(1, res[2].index)
    assert.are.equal("bad_field", res[2].error.code)
    assert.matches("questions[1].task_type", res[2].error.message, 1, true)
    assert.is_true(res[3].correct)
    r = srv:post("/evaluate/batch", { model = "m", questions = { {}, {}, {}, {} } })
    assert.are.equal(400, r.status)
    assert.matches("api.max_batch", field(r, "message"), 1, true)
    r = srv:post("/evaluate/batch", { model = "m", questions = {} })
    assert.are.equal(400, r.status)
  end)

  it("lists recent results, newest first, by model; a summary per model; a run by id", function()
    local r = srv:get("/results/recent?limit=2")
    assert.are.equal(200, r.status, r.body)
    assert.are.equal(2, #r.json.results)
    assert.truthy(r.json.results[1].at >= r.json.results[2].at)
    r = srv:get("/results/recent?model=model-b")
    assert.are.equal(2, #r.json.results)
    for _, x in ipairs(r.json.results) do assert.are.equal("model-b", x.model) end
    r = srv:get("/results/recent?limit=abc")
    assert.are.equal(400, r.status)
    assert.matches("parameter 'limit'", field(r, "message"), 1, true)

    r = srv:get("/results/summary?days=30")
    assert.are.equal(200, r.status, r.body)
    local by = {}
    for _, m in ipairs(r.json.models) do by[m.model] = m end
    assert.are.equal(2, by["model-b"].count)
    assert.are.equal(0.5, by["model-b"].average_score)
    r = srv:get("/results/summary?days=0")
    assert.are.equal(400, r.status)

    r = srv:get("/runs/" .. srv.run_id)
    assert.are.equal(200, r.status, r.body)
    assert.are.equal(srv.run_id, r.json.run.id)
    assert.are.equal("running", r.json.run.status)
    local models = {}
    for _, m in ipairs(r.json.models) do models[m.model] = m end
    assert.are.equal(2, models["model-b"].n)
    r = srv:get("/runs/20000101-000000-abcdef")
    assert.are.equal(404, r.status)
    assert.are.equal("not_found", field(r, "code"))
  end)

  it("gzips a large answer when the client accepts gzip, with Vary", function()
    local path = srv.dir .. "/b"
    local r = srv:req("GET", "/runs/" .. srv.run_id, nil, { "Accept-Encoding: gzip" })
    assert.are.equal(200, r.status)
    assert.are.equal("gzip", r.headers["content-encoding"])
    assert.are.equal("Accept-Encoding", r.headers["vary"])
    local plain = H.sh("gzip -dc " .. H.quote(path))
    assert.are.equal(srv.run_id, json.decode(plain).run.id)
    assert.truthy(#plain > 2 * #r.body)
    r = srv:req("GET", "/runs/" .. srv.run_id)
    assert.is_nil(r.headers["content-encoding"])
    assert.are.equal("Accept-Encoding", r.headers["vary"])
    assert.are.equal(srv.run_id, r.json.run.id)
  end)

  it("serves GET / as a page, and /metrics with the request counters to a logged-in client", function()
    local r = srv:get("/", { token = false })
    assert.are.equal(200, r.status)
    assert.matches("text/html", r.headers["content-type"], 1, true)
    local m = srv:get("/metrics")
    assert.are.equal(200, m.status)
    assert.matches('causal_eval_http_requests_total{route="/evaluate/single",method="POST",status="200"}', m.body, 1, true)
    assert.matches('causal_eval_http_request_duration_seconds_bucket{route="/healthz"', m.body, 1, true)
    assert.matches('causal_eval_questions_total{model_name="model-b"', m.body, 1, true)
    assert.matches("\ncausal_eval_http_queue_depth 0", m.body)
    assert.matches("\ncausal_eval_http_requests_in_progress 1", m.body) -- this request
    assert.truthy(tonumber(m.body:match("\ncausal_eval_memory_bytes ([%d.e+]+)")) > 1e6)
  end)

  it("stores every evaluation as `run` stores records, under the server's run", function()
    local r = H.run({ "results", "export", srv.run_id, "--data", base.dir .. "/data" })
    assert.are.equal(0, r.code, r.stderr)
    local n, seen = 0, {}
    for line in r.stdout:gmatch("[^\n]+") do
      local rec = json.decode(line)
      n = n + 1
      seen[rec.model] = true
      assert.are.equal(srv.run_id, rec.run_id)
      assert.truthy(rec.question_id and rec.prompt and rec.score ~= nil)
    end
    assert.truthy(n >= 7, r.stdout)
    assert.truthy(seen["model-b"] and seen["mocked"], r.stdout)
  end)

  it("stops on SIGTERM with status 0", function()
    assert.are.equal(0, srv:stop())
    assert.matches("stopped after %d+ requests", srv:text())
  end)
end)
