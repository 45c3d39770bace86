-- SPDX-License-Identifier: MIT
-- Model specs, the models file, and the adapters' requests and parsing.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local models = require "causal_eval.models"

describe("causal_eval.models", function()
  it("resolves adapter:model[@url] specs with each adapter's defaults", function()
    local m = assert(models.resolve("openai:gpt-4o-mini", {}))
    assert.are.equal("openai", m.adapter)
    assert.are.equal("gpt-4o-mini", m.model)
    assert.are.equal("https://api.openai.com/v1", m.base_url)
    assert.are.equal("OPENAI_API_KEY", m.api_key_env)
    assert.are.equal("openai:gpt-4o-mini", m.label)
    m = assert(models.resolve("openai:qwen2.5@http://127.0.0.1:8000/v1/", {}))
    assert.are.equal("qwen2.5", m.model)
    assert.are.equal("http://127.0.0.1:8000/v1", m.base_url)
    m = assert(models.resolve("anthropic:claude-3-5-haiku-latest", {}))
    assert.are.equal("ANTHROPIC_API_KEY", m.api_key_env)
    m = assert(models.resolve("command:./model.sh", {}))
    assert.are.equal("./model.sh", m.command)
  end)

  it("takes named models from the catalog and checks their fields", function()
    local cat = { fast = { adapter = "openai", model = "m", base_url = "http://x/v1", temperature = 0, price = { input = 1, output = 2 } } }
    local m = assert(models.resolve("fast", cat))
    assert.are.equal("m", m.model)
    assert.are.equal(1, m.price.input)
    local _, err = models.resolve("bad", { bad = { adapter = "openai", temprature = 0 } })
    assert.truthy(err:find("model 'bad': unknown field 'temprature'", 1, true), err)
    _, err = models.resolve("bad", { bad = { adapter = "openai", max_tokens = "many" } })
    assert.truthy(err:find("field 'max_tokens' should be a number", 1, true), err)
  end)

  it("names what is wrong with a bad spec", function()
    local _, err = models.resolve("gpt-4o", {})
    assert.truthy(err:find("unknown model 'gpt-4o'", 1, true), err)
    _, err = models.resolve("openia:gpt-4o", {})
    assert.truthy(err:find("unknown adapter 'openia'", 1, true), err)
    _, err = models.resolve("baseline:smart", {})
    assert.truthy(err:find("unknown baseline 'smart'", 1, true), err)
  end)

  it("reads configs/models.yaml, and reports its errors with the file", function()
    local cat = assert(models.catalog(H.root .. "/configs/models.yaml"))
    assert.is_table(cat["gpt-4o-mini"])
    local dir = H.tmpdir()
    local f = H.write(dir .. "/m.yaml", "models:\n  a: {adapter: openai}\n  a: {adapter: openai}\n")
    local c, err = models.catalog(f)
    assert.is_nil(c)
    assert.truthy(err:find(f, 1, true), err)
    H.rm(dir)
  end)
end)

describe("adapters", function()
  local q = { id = "q1", prompt = "Does X cause Y? Answer yes or no.", answer_type = "yes_no", ground_truth = "yes" }

  it("openai: builds the request and reads text and usage", function()
    local openai = require "adapters.openai"
    local m = assert(models.resolve("openai:gpt@http://h/v1", {}))
    m.system, m.temperature, m.max_tokens, m.extra_body = "Be brief.", 0, 64, { top_p = 1 }
    local req = openai.request(m, q, "sk-1")
    assert.are.equal("http://h/v1/chat/completions", req.url)
    local body = json.decode(req.body)
    assert.are.same({ { role = "system", content = "Be brief." }, { role = "user", content = q.prompt } }, body.messages)
    assert.are.equal(64, body.max_tokens)
    assert.are.equal(1, body.top_p)
    assert.truthy(table.concat(req.headers, "\n"):find("Authorization: Bearer sk-1", 1, true))
    local a = assert(openai.parse(m, '{"choices":[{"message":{"content":"Yes."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":2}}'))
    assert.are.same({ "Yes.", 12, 2 }, { a.text, a.input_tokens, a.output_tokens })
    local ok, class = openai.parse(m, '{"choices": [{"message": {"content": "Yes')
    assert.is_nil(ok)
    assert.are.equal("malformed", class)
    ok, class = openai.parse(m, '{"error":{"message":"overloaded"}}')
    assert.are.equal("server", class)
  end)

  it("anthropic: version header, key header, text blocks joined", function()
    local anthropic = require "adapters.anthropic"
    local m = assert(models.resolve("anthropic:claude@http://h/v1", {}))
    local req = anthropic.request(m, q, "ak")
    local headers = table.concat(req.headers, "\n")
    assert.truthy(headers:find("anthropic-version: 2023-06-01", 1, true))
    assert.truthy(headers:find("x-api-key: ak", 1, true))
    assert.are.equal(512, json.decode(req.body).max_tokens)
    local a = assert(anthropic.parse(m, '{"content":[{"type":"text","text":"Final "},{"type":"text","text":"answer: no"}],"usage":{"input_tokens":9,"output_tokens":3}}'))
    assert.are.same({ "Final answer: no", 9, 3 }, { a.text, a.input_tokens, a.output_tokens })
  end)

  it("baselines: reproducible, and the associational one answers rung 1 right", function()
    local baseline = require "adapters.baseline"
    local bench = require "causal_eval.bench"
    local scoring = require "causal_eval.scoring"
    local fam = assert(bench.load("ladder"))
    local opts = assert(bench.options{})
    local rm = assert(models.resolve("baseline:random", {}))
    local am = assert(models.resolve("baseline:associational", {}))
    local rung1, right1 = 0, 0
    for i = 0, 59 do
      local qq = bench.question(fam, opts, 5, i)
      assert.are.equal(baseline.answer(rm, qq).text, baseline.answer(rm, qq).text)
      local a = assert(baseline.answer(am, qq))
      if qq.rung == 1 then
        rung1 = rung1 + 1
        if scoring.score(qq, a.text).correct then right1 = right1 + 1 end
      end
    end
    assert.is_true(rung1 > 0)
    assert.are.equal(rung1, right1)
  end)
end)

describe("the network", function()
  local host = require "causal_eval.host"
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rm(dir) end)

  -- two 100 MB replies once took 1.24 GB and wrote 200 MB to the store and the cache
  it("cuts a reply over the size limit while it arrives, and records it as too_large, not retried", function()
    local mock = H.mock({ "--fault-huge", "1", "--huge-mb", "100" })
    local qfile = H.questions(dir, { "ladder", "--n", "2" })
    local t0 = host.clock()
    H.run({ "run", "--quiet", "--model", "openai:m@" .. mock.url, "--questions", qfile, "--data", dir .. "/data",
            "--set", "cache.disk.path=" .. dir .. "/cache" })
    local stats = mock:stats()
    mock:stop()
    assert.is_true(host.clock() - t0 < 30)
    assert.are.equal(2, stats.huge) -- once per question: not retried
    local r = H.run({ "results", "export", "last", "--data", dir .. "/data" })
    assert.are.equal(0, r.code, r.stderr)
    local n = 0
    for line in r.stdout:gmatch("[^\n]+") do
      local rec = json.decode(line)
      n = n + 1
      assert.are.equal("too_large", rec.error.class)
      assert.truthy(rec.error.message:find("larger than the 4 MiB limit (setting run.max_response_mb)", 1, true),
        rec.error.message)
      assert.are.equal(1, rec.attempts)
      assert.is_true(#line < 20000)
    end
    assert.are.equal(2, n)
    -- nothing of the replies reached the store or the cache
    local du = H.sh("du -sk " .. H.quote(dir))
    assert.is_true(tonumber(du:match("^(%d+)")) < 20 * 1024, du)
  end)
end)
