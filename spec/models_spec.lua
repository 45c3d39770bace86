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
    assert.truthy(err:find("model 'bad': unknown field 'temprature' (did you mean 'temperature'?)", 1, true), err)
    _, err = models.resolve("bad", { bad = { adapter = "openai", max_tokens = "many" } })
    assert.truthy(err:find("max_tokens must be an integer >= 1, got string \"many\"", 1, true), err)
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

describe("the models file", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rm(dir) end)

  -- a price of the wrong type once crashed every worker, and resume the same way
  it("checks every field of every model on load, naming the file read and the line", function()
    local f = H.write(dir .. "/m.yaml", table.concat({
      "models:",
      "  cheap:",
      "    adapter: openai",
      "    price: { input: cheap, output: 1 }",
      "  typo:",
      "    adapter: openai",
      "    temprature: 0",
      "  words:",
      "    adapter: command",
      "    command: ./m.sh",
      "    args: { a: 1 }",
      "  nowhere:",
      "    adapter: openai",
      "    base_url: ftp://example.com/v1",
      "  fine:",
      "    adapter: openai",
      "    model: m",
      "version: 2",
    }, "\n") .. "\n")
    local cat, err = models.catalog(f)
    assert.is_nil(cat)
    local want = {
      f .. ":4:12: model 'cheap': price input must be a number >= 0 (USD per million tokens), got string \"cheap\"",
      f .. ":7:5: model 'typo': unknown field 'temprature' (did you mean 'temperature'?)",
      f .. ":11:11: model 'words': args must be a list, got a mapping",
      f .. ":14:15: model 'nowhere': base_url 'ftp://example.com/v1': only http:// and https:// URLs are allowed",
      f .. ":18:1: unknown key 'version' (the file holds 'models:')",
    }
    for _, line in ipairs(want) do assert.truthy(err:find(line, 1, true), err) end
    assert.is_nil(err:find("configs/models.yaml", 1, true))
    -- the run stops before anything starts, naming the file; no traceback
    local r = H.run({ "run", "--model", "fine", "--bench", "ladder", "--n", "1", "--data", dir .. "/d" },
      { env = { CAUSAL_EVAL_MODELS = f } })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find(f .. ":4:12: model 'cheap'", 1, true), r.stderr)
    assert.is_nil(r.stderr:find("traceback", 1, true), r.stderr)
    assert.is_nil(r.stderr:find("^run ", 1), r.stderr)
  end)

  it("refuses a models file named by CAUSAL_EVAL_MODELS that is not there", function()
    local r = H.run({ "run", "--model", "baseline:random", "--bench", "ladder", "--n", "1", "--data", dir .. "/d" },
      { env = { CAUSAL_EVAL_MODELS = dir .. "/missing.yaml" } })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find(dir .. "/missing.yaml", 1, true), r.stderr)
    assert.truthy(r.stderr:find("CAUSAL_EVAL_MODELS", 1, true), r.stderr)
    local _, err = models.catalog(dir .. "/missing.yaml")
    assert.truthy(err:find("missing.yaml", 1, true), err)
  end)

  it("checks a stored model again on resume", function()
    local m = assert(models.resolve("openai:m@http://127.0.0.1:9/v1", {}))
    assert.are.equal(m, models.check_resolved(m, "run 1"))
    m.price = { input = "cheap" }
    local _, err = models.check_resolved(m, "run 1")
    assert.truthy(err:find("run 1: model 'openai:m@http://127.0.0.1:9/v1': price input must be a number", 1, true), err)
  end)

  it("accepts only http and https base URLs with a host and a port that exists", function()
    for _, url in ipairs({ "http://127.0.0.1:8000/v1", "https://api.example.com/v1", "http://[::1]:8000/v1",
                           "http://user:pw@h/v1", "HTTP://h" }) do
      assert(models.resolve("openai:m@" .. url, {}))
    end
    for url, why in pairs({
      notaurl = "is not a URL",
      ["ftp://h/v1"] = "only http:// and https://",
      ["file:///etc/passwd"] = "only http:// and https://",
      ["http://h:99999/v1"] = "port must be a number from 1 to 65535",
      ["http://h:0"] = "port must be a number from 1 to 65535",
      ["http://[::1"] = "an IPv6 host is written [ADDRESS]",
      ["http:///v1"] = "has no host",
      ["http://h o/v1"] = "contains a space",
    }) do
      local m, err = models.resolve("openai:m@" .. url, {})
      assert.is_nil(m, url)
      assert.truthy(err:find(why, 1, true), err)
      assert.truthy(err:find("model 'openai:m@" .. url .. "'", 1, true), err)
    end
    -- before the run starts: nothing is stored, nothing is read
    local r = H.run({ "run", "--model", "openai:m@file:///etc/passwd", "--bench", "ladder", "--n", "1",
                      "--data", dir .. "/d" })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("only http:// and https://", 1, true), r.stderr)
    r = H.run({ "results", "list", "--data", dir .. "/d" })
    assert.is_nil(r.stdout:find("running", 1, true), r.stdout)
  end)
end)

describe("adapters on the module path", function()
  local dir, saved
  before_each(function()
    dir = H.tmpdir()
    H.sh("mkdir -p " .. H.quote(dir .. "/adapters"))
    saved = package.path
    package.path = dir .. "/?.lua;" .. package.path
  end)
  after_each(function()
    package.path = saved
    H.rm(dir)
  end)

  it("runs a protocol added as one file in a folder of CAUSAL_EVAL_PATH", function()
    H.write(dir .. "/adapters/echo.lua", [[
local M = { kind = "local", fields = { word = "string" } }
function M.answer(model, q) return { text = model.word or "Yes." } end
return M
]])
    local m = assert(models.resolve("echo:anything", {}))
    assert.are.equal("echo", m.adapter)
    assert.truthy(table.concat(models.adapter_names(), ","):find("echo", 1, true))
    local f = H.write(dir .. "/m.yaml", "models:\n  polite:\n    adapter: echo\n    word: \"No.\"\n")
    local r = H.run({ "run", "--json", "--quiet", "--model", "echo:x", "--model", "polite", "--bench", "ladder",
                      "--n", "4", "--data", dir .. "/d" }, { env = { CAUSAL_EVAL_PATH = dir, CAUSAL_EVAL_MODELS = f } })
    assert.are.equal(0, r.code, r.stderr)
    local rep = json.decode(r.stdout)
    assert.are.equal(4, rep.models[1].n)
    assert.are.equal(0, rep.models[1].errors)
    r = H.run({ "results", "export", "last", "--data", dir .. "/d" })
    local said = {}
    for line in r.stdout:gmatch("[^\n]+") do
      local rec = json.decode(line)
      said[rec.model] = rec.response
    end
    assert.are.same({ ["echo:x"] = "Yes.", polite = "No." }, said)
  end)

  it("the adapter of docs/authoring.md builds its request and reads a reply", function()
    package.path = H.root .. "/docs/examples/?.lua;" .. package.path
    local m = assert(models.resolve("llamacpp:any", {}))
    assert.are.equal("http://127.0.0.1:8080", m.base_url)
    local a = assert(models.adapter("llamacpp"))
    local req = a.request(m, { prompt = "Does X cause Y?" }, nil)
    assert.are.equal("http://127.0.0.1:8080/completion", req.url)
    assert.are.same({ prompt = "Does X cause Y?", n_predict = 256, temperature = 0 }, json.decode(req.body))
    local ans = assert(a.parse(m, '{"content":"Yes.","tokens_evaluated":12,"tokens_predicted":2,"stop":true}'))
    assert.are.same({ "Yes.", 12, 2 }, { ans.text, ans.input_tokens, ans.output_tokens })
    local ok, class = a.parse(m, "{}")
    assert.is_nil(ok)
    assert.are.equal("malformed", class)
  end)

  it("names the file and what is missing when an adapter is wrong", function()
    local cases = {
      nothing = { "return 42", "an adapter returns a table (kind and its functions), got integer 42" },
      nokind = { "return { answer = function() end }", "kind must be \"http\" or \"local\", got nil" },
      noparse = { "return { kind = 'http', request = function() end }", 'kind "http" needs a function parse, got nil' },
      broken = { "local x = = 1", "broken.lua:1:" },
      raises = { "error('no key here')", "raises.lua:1: no key here" },
    }
    for name, case in pairs(cases) do
      H.write(dir .. "/adapters/" .. name .. ".lua", case[1])
      local m, err = models.resolve(name .. ":x", {})
      assert.is_nil(m, name)
      assert.truthy(err:find(case[2], 1, true), err)
      assert.truthy(err:find(dir .. "/adapters/" .. name .. ".lua", 1, true), err)
    end
    local _, err = models.resolve("nosuch:x", {})
    assert.truthy(err:find("unknown adapter 'nosuch' (known: ", 1, true), err)
    assert.truthy(err:find("openai", 1, true), err)
    assert.truthy(err:find("adapters/nosuch.lua in a folder of CAUSAL_EVAL_PATH", 1, true), err)
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

  it("takes the limit from run.max_response_mb, and a resume keeps it", function()
    -- replies of 1.5 MiB: under the default limit, over a limit of 1 MiB
    local mock = H.mock({ "--fault-huge", "1", "--huge-mb", "1.5" })
    local qfile = H.questions(dir, { "ladder", "--n", "3" })
    local data = dir .. "/data"
    local r = H.run({ "run", "--quiet", "--model", "openai:m@" .. mock.url, "--questions", qfile, "--data", data,
                      "--cache", "off", "--set", "run.max_response_mb=1", "--limit", "2" })
    assert.are.equal(1, r.code, r.stderr)
    -- the third question, on resume without the --set: the stored limit holds
    r = H.run({ "run", "--quiet", "--resume", "last", "--data", data, "--cache", "off" })
    mock:stop()
    r = H.run({ "results", "export", "last", "--data", data })
    assert.are.equal(0, r.code, r.stderr)
    local n = 0
    for line in r.stdout:gmatch("[^\n]+") do
      local rec = json.decode(line)
      n = n + 1
      assert.are.equal("too_large", rec.error and rec.error.class, line:sub(1, 300))
      assert.truthy(rec.error.message:find("the 1 MiB limit (setting run.max_response_mb)", 1, true), rec.error.message)
    end
    assert.are.equal(2, n)
  end)
end)

describe("a resumed run's stored models", function()
  it("are checked again, naming the run and the field", function()
    local dir = H.tmpdir()
    local data = dir .. "/data"
    local r = H.run({ "run", "--quiet", "--json", "--bench", "ladder", "--n", "2", "--model", "baseline:random",
                      "--data", data, "--max-tokens-total", "1" })
    local id = json.decode(r.stdout).run_id
    -- a price of the wrong type, as an older version or a hand edit could store
    r = H.run({ "-e", ([[
      local results = require "causal_eval.results"
      local st = assert(results.open(%q))
      local run = assert(results.get_run(st, %q))
      run.model_specs[1].price = { input = "cheap" }
      run.status = "stopped"
      results.put_run(st, run)
      st:close()]]):format(data, id) })
    assert.are.equal(0, r.code, r.stderr)
    r = H.run({ "run", "--quiet", "--resume", id, "--data", data })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("run " .. id .. ": model 'baseline:random'", 1, true), r.stderr)
    assert.truthy(r.stderr:find("price", 1, true), r.stderr)
    assert.falsy(r.stderr:find("traceback", 1, true), r.stderr)
    H.rm(dir)
  end)
end)
