-- SPDX-License-Identifier: MIT
-- The mock model server's evaluation modes (tools/mock/mock_server.c), over
-- HTTP on 127.0.0.1: a prompt with an instruction appended, chain of
-- thought, sampling at a temperature, log-probabilities, a judge's grade;
-- that a greedy request gets the reply it always got; and the openai
-- adapter's logprobs option against it.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local http = require "causal_eval.http"
local logprobs = require "causal_eval.logprobs"
local openai = require "adapters.openai"
local models = require "causal_eval.models"

local QUESTIONS = {
  { id = "q1", prompt = "In a graph A -> B -> C, does intervening on A change C?", answer_type = "yes_no", ground_truth = "yes" },
  { id = "q2", prompt = "In a graph A <- B -> C, does intervening on A change C?", answer_type = "yes_no", ground_truth = "no" },
  { id = "q3", prompt = "Is smoking a cause of tar in the lungs?", answer_type = "yes_no", ground_truth = "yes" },
  { id = "q4", prompt = "Does the rooster's crow cause the sunrise?", answer_type = "yes_no", ground_truth = "no" },
  { id = "q5", prompt = "Does rain cause wet streets?", answer_type = "yes_no", ground_truth = "yes" },
  { id = "q6", prompt = "Does ice cream cause drowning?", answer_type = "yes_no", ground_truth = "no" },
  { id = "n1", prompt = "What is the average effect of X on Y?", answer_type = "number", ground_truth = 0.25, tolerance = 0.01 },
  { id = "n2", prompt = "What is P(Y=1 | do(X=1))?", answer_type = "number", ground_truth = 0.6 },
  { id = "c1", prompt = "Which variable is a confounder? (A) X (B) Z (C) Y", answer_type = "choice", ground_truth = "B",
    choices = { "A", "B", "C" } },
  { id = "c2", prompt = "Which set blocks the back-door path? (A) {} (B) {Z} (C) {W}", answer_type = "choice",
    ground_truth = "C", choices = { "A", "B", "C" } },
}
local BY_ID = {}
for _, q in ipairs(QUESTIONS) do BY_ID[q.id] = q end

-- What the mock answered before it knew any mode (--accuracy 0.5 --seed 7),
-- recorded from the binary of the commit before them: a greedy request must
-- still get these bytes.
local function chat_body(content, pt, ct)
  return ('{"id":"chatcmpl-mock","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,' ..
    '"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,' ..
    '"completion_tokens":%d,"total_tokens":%d}}'):format(content, pt, ct, pt + ct)
end
local BEFORE = {
  q1 = chat_body('"Yes."', 21, 2),
  q2 = chat_body('"No."', 21, 1),
  q3 = chat_body('"**No**"', 17, 2),
  q4 = chat_body('"**No**"', 18, 2),
  q5 = chat_body('"Let me think. The effect follows from the graph.\\nFinal answer: No"', 15, 17),
  q6 = chat_body('"**Yes**"', 15, 2),
  n1 = chat_body('"Approximately 0.2500"', 17, 6),
  n2 = chat_body('"The answer is 0.7000."', 14, 6),
  c1 = chat_body('"Option B."', 20, 3),
  c2 = chat_body('"The answer is (C)."', 22, 5),
}
local BEFORE_ANTHROPIC_Q5 = '{"id":"msg_mock","type":"message","role":"assistant","model":"m","content":[{"type":"text",' ..
  '"text":"Let me think. The effect follows from the graph.\\nFinal answer: No"}],"stop_reason":"end_turn",' ..
  '"usage":{"input_tokens":15,"output_tokens":17}}'
local BEFORE_UNKNOWN = chat_body('"Yes."', 12, 2)
-- the answer each question gets (same decisions as BEFORE), and the other
-- answer a chain of thought names as its distractor
local GIVEN = { q1 = "Yes", q2 = "No", q3 = "No", q4 = "No", q5 = "No", q6 = "Yes", n1 = "0.2500", n2 = "0.7000",
                c1 = "B", c2 = "C" }
local DISTRACTOR = { q1 = "no", q2 = "yes", q3 = "yes", q4 = "yes", q5 = "yes", q6 = "no", n1 = "0.3500", n2 = "0.6000",
                     c1 = "A", c2 = "A" }

-- The mock on a free loopback port below 32768 (the ephemeral range starts
-- there), with --questions file and more flags.
local function start_mock(qfile, flags)
  local dir = H.tmpdir()
  for attempt = 1, 20 do
    local port = 20000 + (os.time() * 7919 + attempt * 104729 + math.random(0, 30000)) % 12000
    local words = { H.quote(H.mock_bin), "--port", port, "--questions", H.quote(qfile) }
    for _, f in ipairs(flags or {}) do words[#words + 1] = H.quote(f) end
    local log = ("%s/mock%d.log"):format(dir, attempt)
    local p = assert(io.popen(("%s >%s 2>&1 & echo $!"):format(table.concat(words, " "), log)))
    local pid = tonumber(p:read("l"))
    p:close()
    local deadline = require("causal_eval.host").clock() + 10
    while require("causal_eval.host").clock() < deadline do
      local text = H.read(log) or ""
      if text:find("listening on 127.0.0.1:" .. port, 1, true) then
        return { pid = pid, port = port, dir = dir, base = ("http://127.0.0.1:%d/v1"):format(port) }
      end
      if text:find("cannot listen", 1, true) then break end
      require("causal_eval.host").sleep(0.02)
    end
    H.sh("kill " .. pid .. " 2>/dev/null; wait " .. pid .. " 2>/dev/null")
  end
  H.rm(dir)
  error("could not start the mock on a free port")
end

local function stop_mock(m)
  H.sh("kill " .. m.pid .. " 2>/dev/null; wait " .. m.pid .. " 2>/dev/null")
  H.rm(m.dir)
end

describe("the mock server's evaluation modes", function()
  local dir, qfile, mock

  -- POST path with body (a table: encoded); the raw body and the decoded one
  local function post(path, body)
    local r = assert(http.request{ url = mock.base .. path, method = "POST", body = json.encode(body),
                                   headers = { "Content-Type: application/json" } })
    assert.are.equal(200, r.status, r.body)
    return r.body, json.decode(r.body)
  end
  -- the chat reply's text for the user message content, with more request fields
  local function ask(content, extra)
    local body = { model = "m", messages = { { role = "user", content = content } } }
    for k, v in pairs(extra or {}) do body[k] = v end
    local raw, doc = post("/chat/completions", body)
    return doc.choices[1].message.content, doc, raw
  end

  setup(function()
    dir = H.tmpdir()
    local lines = {}
    for i, q in ipairs(QUESTIONS) do lines[i] = json.encode(q) end
    qfile = H.write(dir .. "/q.jsonl", table.concat(lines, "\n") .. "\n")
    mock = start_mock(qfile, { "--accuracy", "0.5", "--seed", "7" })
  end)
  teardown(function()
    if mock then stop_mock(mock) end
    H.rm(dir)
  end)

  it("answers a greedy request byte for byte as before the modes", function()
    assert.is_true(mock.port < 32768)
    for _, q in ipairs(QUESTIONS) do
      for _, extra in ipairs({ {}, { temperature = 0 }, { temperature = 0, seed = 11 }, { logprobs = false } }) do
        local _, _, raw = ask(q.prompt, extra)
        assert.are.equal(BEFORE[q.id], raw, q.id)
      end
    end
    local raw = post("/messages", { model = "m", max_tokens = 5, messages = { { role = "user", content = BY_ID.q5.prompt } } })
    assert.are.equal(BEFORE_ANTHROPIC_Q5, raw)
    assert.are.equal(BEFORE_UNKNOWN, select(3, ask("Something unknown?")))
  end)

  it("matches a prompt with up to three paragraphs appended to its question", function()
    for _, q in ipairs(QUESTIONS) do
      local bare = ask(q.prompt)
      assert.are.equal(bare, ask(q.prompt .. "\n\nAnswer with yes or no."), q.id)
      assert.are.equal(bare, ask(q.prompt .. "\n\n\nAnswer briefly.\n\nNo explanation.\n\nOne line."), q.id)
    end
    -- a fourth paragraph is past the limit: an unknown prompt, answered "Yes."
    assert.are.equal("No.", ask(BY_ID.q2.prompt))
    assert.are.equal("Yes.", ask(BY_ID.q2.prompt .. "\n\na\n\nb\n\nc\n\nd"))
    -- only whole trailing paragraphs are cut
    assert.are.equal("Yes.", ask(BY_ID.q2.prompt .. " Answer with yes or no."))
  end)

  it("answers as a chain of thought when an appended paragraph asks to think step by step", function()
    for _, q in ipairs(QUESTIONS) do
      for _, suffix in ipairs({ "\n\nThink step by step, then give your final answer.",
                                "\n\nLet's think Step By Step.\n\nEnd with a line \"Final answer: X\"." }) do
        local text = ask(q.prompt .. suffix)
        local reasoning, last = text:match("^(.*)\n([^\n]*)$")
        assert.are.equal("Final answer: " .. GIVEN[q.id], last, q.id)
        -- two or three sentences, which name the other answer first
        local _, sentences = reasoning:gsub("%.%s", "")
        assert.is_true(sentences + 1 >= 2 and sentences + 1 <= 3, reasoning)
        assert.is_truthy(reasoning:find(" " .. DISTRACTOR[q.id] .. "[ ,]"), reasoning)
        assert.is_falsy(reasoning:find(GIVEN[q.id], 1, true), reasoning)
      end
    end
    -- an instruction that does not ask for reasoning, or an unknown prompt: no chain
    assert.are.equal("No.", ask(BY_ID.q2.prompt .. "\n\nAnswer in one word."))
    assert.are.equal("Yes.", ask("Unknown question?\n\nThink step by step."))
  end)

  it("samples at a temperature: answers vary with the seed and repeat with it", function()
    local q = BY_ID.q1
    local seen, correct = {}, 0
    for seed = 1, 40 do
      local text, _, raw = ask(q.prompt, { temperature = 0.8, seed = seed })
      assert.are.equal(raw, select(3, ask(q.prompt, { temperature = 0.8, seed = seed })))
      local yes = text:find("Yes") ~= nil
      seen[yes] = true
      if yes then correct = correct + 1 end
    end
    assert.is_true(seen[true] and seen[false])
    assert.is_true(correct >= 10 and correct <= 30, tostring(correct)) -- --accuracy 0.5
    -- the seed, not the temperature, picks the sample
    assert.are.equal(ask(q.prompt, { temperature = 0.3, seed = 5 }), ask(q.prompt, { temperature = 1.5, seed = 5 }))
    -- without a seed each attempt is a new sample
    local unseeded = {}
    for _ = 1, 30 do unseeded[ask(BY_ID.n2.prompt, { temperature = 1 }):match("%d%.%d+")] = true end
    assert.is_true(unseeded["0.6000"] and unseeded["0.7000"])
    -- an appended instruction keeps the question's draws
    assert.are.equal(ask(q.prompt, { temperature = 0.8, seed = 9 }),
      ask(q.prompt .. "\n\nAnswer yes or no.", { temperature = 0.8, seed = 9 }))
  end)

  it("adds the answer token's log-probabilities when asked", function()
    for _, id in ipairs({ "q1", "q2", "q3", "q4", "q5", "q6" }) do
      local q = BY_ID[id]
      for _, content in ipairs({ q.prompt, q.prompt .. "\n\nThink step by step." }) do
        local text, doc = ask(content, { logprobs = true })
        assert.are.equal(ask(content), text) -- the same reply
        local lp = doc.choices[1].logprobs.content
        local joined, answer_pos = {}, nil
        for i, pos in ipairs(lp) do
          joined[i] = pos.token
          if pos.token == GIVEN[id] then answer_pos = pos end
        end
        assert.are.equal(text, table.concat(joined))
        assert.is_table(answer_pos, text)
        -- five alternatives, likeliest first; the given answer is the likeliest
        local top = answer_pos.top_logprobs
        assert.are.equal(5, #top)
        assert.are.equal(GIVEN[id], top[1].token)
        assert.are.equal(answer_pos.logprob, top[1].logprob)
        for i = 2, #top do assert.is_true(top[i].logprob <= top[i - 1].logprob) end
        local p = math.exp(answer_pos.logprob)
        assert.is_true(p >= 0.6 * 0.9 - 1e-9 and p <= 0.95 * 0.9 + 1e-9, tostring(p))
        local opposite = GIVEN[id] == "Yes" and "No" or "Yes"
        local tokens = {}
        for _, t in ipairs(top) do tokens[t.token] = true end
        assert.is_true(tokens[opposite] and tokens[" " .. GIVEN[id]:lower()])
        local r = assert(logprobs.yes_no(lp))
        assert.are.equal(GIVEN[id]:lower(), r.answer)
        assert.is_true(r["p_" .. r.answer] > 0.5)
      end
    end
    local function top_len(n)
      local _, doc = ask(BY_ID.q1.prompt, { logprobs = true, top_logprobs = n })
      return #doc.choices[1].logprobs.content[1].top_logprobs
    end
    assert.are.equal(2, top_len(2))
    assert.are.equal(5, top_len(20))
    assert.are.equal(0, top_len(0))
    -- a number has no yes/no token; the Anthropic format has no logprobs
    local _, doc = ask(BY_ID.n1.prompt, { logprobs = true })
    assert.are.same({ nil, "no yes/no token in the top logprobs" }, { logprobs.yes_no(doc.choices[1].logprobs.content) })
    local _, anth = post("/messages", { model = "m", max_tokens = 5, logprobs = true,
                                        messages = { { role = "user", content = BY_ID.q1.prompt } } })
    assert.is_nil(anth.logprobs)
    assert.are.equal("Yes.", anth.content[1].text)
  end)

  it("grades a judge's prompt by whether the response holds the reference", function()
    -- the sections as the default rubric (causal_eval/rubrics/default.lua) writes them
    local function grade(response)
      return ask(table.concat({ "You are grading a response to a question against a reference answer.", "",
        "[Question]", "What does the common cause explain?", "[Reference answer]", "  The Correlation of X and Y ",
        "[Notes]", "Wording may differ.", "[Response]", response, "[End]", "", "Explain, then GRADE: C or GRADE: I." },
        "\n"))
    end
    local c = grade("It explains the correlation of x and y, not an effect.")
    assert.matches("^[^\n]+%.\nGRADE: C$", c)
    assert.are.equal("GRADE: I", grade("It explains nothing."):match("[^\n]*$"))
    -- a reference after the [End] line is not the response's
    assert.are.equal("GRADE: I", ask("[Reference answer]\nrain\n[Response]\nsnow\n[End]\nrain"):match("[^\n]*$"))
    assert.are.equal("GRADE: C", ask("[Reference answer]\nRAIN\n[Response]\nIt is rain.\n[End]"):match("[^\n]*$"))
    -- a section may start on its marker's line
    assert.are.equal("GRADE: C", ask("[Reference answer] rain [Response]\nIt is rain.\n[End]"):match("[^\n]*$"))
    -- an empty reference matches nothing
    assert.are.equal("GRADE: I", ask("[Reference answer]\n\n[Response]\nrain\n[End]"):match("[^\n]*$"))
    -- both sections are needed
    assert.are.equal("Yes.", ask("[Reference answer]\nrain\n\nIt is snow."))
  end)
end)

describe("the openai adapter's logprobs option", function()
  local BASE = { adapter = "openai", model = "gpt-x", base_url = "http://127.0.0.1:1/v1", temperature = 0,
                 max_tokens = 16, seed = 3, system = "Be brief." }
  local function model(extra)
    local m = {}
    for k, v in pairs(BASE) do m[k] = v end
    for k, v in pairs(extra or {}) do m[k] = v end
    return m
  end
  local Q = { prompt = "Does rain cause wet streets?" }

  it("leaves the request body as it was without the option", function()
    -- the body before the option existed: the cache key is its hash
    local want = '{"max_tokens":16,"messages":[{"content":"Be brief.","role":"system"},' ..
      '{"content":"Does rain cause wet streets?","role":"user"}],"model":"gpt-x","seed":3,"temperature":0}'
    assert.are.equal(want, openai.request(model(), Q, "k").body)
    assert.are.equal(want, openai.request(model({ logprobs = false, top_logprobs = 3 }), Q, "k").body)
  end)

  it("asks for logprobs and top_logprobs with it", function()
    local req = openai.request(model({ logprobs = true }), Q, "k")
    assert.is_true(req.fields.logprobs)
    assert.are.equal(5, req.fields.top_logprobs)
    assert.matches('"logprobs":true', req.body, 1, true)
    assert.matches('"top_logprobs":5', req.body, 1, true)
    req = openai.request(model({ logprobs = true, top_logprobs = 3.0 }), Q, "k")
    assert.are.equal(math.tointeger(3), req.fields.top_logprobs)
    assert.matches('"top_logprobs":3[,}]', req.body)
  end)

  it("is a declared, checked model field", function()
    local cat = { lp = model({ logprobs = true, top_logprobs = 2 }) }
    local m = assert(models.resolve("lp", cat))
    assert.is_true(m.logprobs)
    local bad, err = models.resolve("x", { x = model({ logprobs = "yes" }) })
    assert.is_nil(bad)
    assert.matches("logprobs must be a boolean", err)
    bad, err = models.resolve("x", { x = model({ top_logprobs = 21 }) })
    assert.is_nil(bad)
    assert.matches("top_logprobs must be an integer from 0 to 20", err)
    assert.is_nil(models.resolve("x", { x = model({ top_logprobs = 1.5 }) }))
  end)

  it("reads the yes/no probabilities of the mock's reply, the text unchanged", function()
    local dir = H.tmpdir()
    local qfile = H.write(dir .. "/q.jsonl", json.encode({ id = "a", prompt = Q.prompt, answer_type = "yes_no",
                                                           ground_truth = "yes" }) .. "\n")
    local mock = start_mock(qfile, { "--accuracy", "0.5", "--seed", "7" })
    local ok, err = pcall(function()
      for _, on in ipairs({ false, true }) do
        local m = model({ base_url = mock.base, logprobs = on })
        local req = openai.request(m, Q, nil)
        local r = assert(http.request{ url = req.url, method = "POST", body = req.body, headers = req.headers })
        assert.are.equal(200, r.status)
        local answer = assert(openai.parse(m, r.body))
        -- the mock answers this question "Let me think. ...\nFinal answer: No" (BEFORE.q5)
        assert.are.equal("Let me think. The effect follows from the graph.\nFinal answer: No", answer.text)
        if on then
          assert.are.equal("no", answer.logprobs.answer)
          assert.is_true(answer.logprobs.p_no > 0.5 and answer.logprobs.p_no < 1)
          assert.is_near(1, answer.logprobs.p_yes + answer.logprobs.p_no, 1e-12)
        else
          assert.is_nil(answer.logprobs)
        end
      end
    end)
    stop_mock(mock)
    H.rm(dir)
    assert(ok, err)
  end)

  it("has no logprobs for a reply without them or without a yes/no token", function()
    local body = '{"choices":[{"message":{"content":"0.25"},"logprobs":{"content":[{"token":"0.25","logprob":0,' ..
      '"top_logprobs":[]}]}}]}'
    local a = assert(openai.parse(model(), body))
    assert.are.equal("0.25", a.text)
    assert.is_nil(a.logprobs)
    a = assert(openai.parse(model(), '{"choices":[{"message":{"content":"Yes"},"logprobs":null}]}'))
    assert.is_nil(a.logprobs)
  end)
end)
