-- SPDX-License-Identifier: MIT
-- Question files of `run --questions`: what refuses a file before anything
-- is sent, what becomes a bad_question record naming file:line and field,
-- and that the scan and the workers read the same lines.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local shared = require "causal_eval.shared"
local qf = require "causal_eval.question_file"

local function q(id, extra)
  local t = { id = id, prompt = "Does X cause Y? Answer yes or no.", answer_type = "yes_no", ground_truth = "yes" }
  for k, v in pairs(extra or {}) do t[k] = v end
  return json.encode(t)
end

local function lines(...) return table.concat({ ... }, "\n") .. "\n" end

-- an object of up to seven fields drawn at random (some repeated) from
-- fields, each with a value (JSON text) drawn from values
local function drawn_object(r, fields, values)
  local parts = {}
  for k = 1, r:int(0, 7) do
    parts[k] = json.encode(fields[r:int(1, #fields)]) .. ":" .. values[r:int(1, #values)]
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- n lines of every shape, blank ones left out: a line of base (a share
-- base_p of them), an object drawn(i) makes (up to 0.9), or a line of base
-- damaged (cut short, or a byte changed)
local function mixed_lines(r, n, base, base_p, drawn)
  local text = {}
  for i = 1, n do
    local line
    local kind = r:uniform()
    if kind < base_p then
      line = base[r:int(1, #base)]
    elseif kind < 0.9 then
      line = drawn(i)
    else
      local b = base[r:int(1, #base)]
      local at = r:int(1, #b)
      line = r:bernoulli(0.5) and b:sub(1, at) or (b:sub(1, at - 1) .. string.char(r:int(32, 126)) .. b:sub(at + 1))
    end
    if line:find("%S") then text[#text + 1] = line end
  end
  return text
end

local run = H.run_json

-- a run's records by question id
local function records(data, run_id) return select(2, H.records(data, run_id)) end

-- runs stored in a results folder (none when the folder holds no store)
local function stored_runs(data) return #H.run_statuses(data) end

-- a user never sees the program's insides
local function clean(text)
  assert.is_nil(text:find("traceback", 1, true), text)
  assert.is_nil(text:find("internal error", 1, true), text)
  assert.is_nil(text:find("%.lua:%d"), text)
  assert.is_nil(text:find("%f[%w]nil%f[%W]"), text)
end

describe("question_file.scan_line", function()
  -- the scan reads most lines through a picker: the id and the message
  -- must be M.item's for every line, question or not
  it("gives M.item's id and message for 30,000 lines of every shape", function()
    local rng = require "causal_eval.rng"
    local r = rng.new(20261205, 2)
    local VALUES = { "null", "true", "false", "0", "7", "-3", "2.5", '""', '"  "', '"yes"', '"no"', '"Yes"', '"x"',
                     '"number"', '"choice"', '"free_text"', '"yes_no"', '"A"', "[]", "{}", '["A","B"]', '[1]',
                     '{"choices":[{"label":"A"},{"label":"B"}]}', '{"choices":[{"label":1}]}', '"Does X cause Y?"' }
    local FIELDS = { "id", "prompt", "answer_type", "ground_truth", "tolerance", "choices", "query", "reference",
                     "rubric_notes", "graph", "family" }
    local base = {
      q(1), q("a-2", { answer_type = "number", ground_truth = 0.25, tolerance = 0.01 }),
      q("c", { answer_type = "choice", ground_truth = "B", choices = { "A", "B" } }),
      q("f", { answer_type = "free_text", reference = "because", ground_truth = json.null }),
    }
    local differ = 0
    for i = 1, 30000 do
      local line
      local kind = r:uniform()
      if kind < 0.2 then
        line = base[r:int(1, #base)]
      elseif kind < 0.9 then
        local obj = drawn_object(r, FIELDS, VALUES)
        line = (r:bernoulli(0.1) and "  " or "") .. obj
      else
        -- damaged: cut short, a byte changed, or not an object
        local b = base[r:int(1, #base)]
        local at = r:int(1, #b)
        local pick = r:int(1, 3)
        if pick == 1 then line = b:sub(1, at)
        elseif pick == 2 then line = b:sub(1, at - 1) .. string.char(r:int(32, 126)) .. b:sub(at + 1)
        else line = ({ "[1]", "7", '"q"', "null", "", "  x" })[r:int(1, 6)] end
      end
      local id, why = qf.scan_line(line, i, "q.jsonl")
      local it = qf.item(line, i, "q.jsonl", qf.CHECKED)
      if id ~= it.id or why ~= it.bad then
        differ = differ + 1
        assert.are.same({ it.id, it.bad }, { id, why }, line)
      end
    end
    assert.are.equal(0, differ)
  end)
end)

-- The scan reads in C (lines:scan_questions) the lines that plainly are
-- questions; every line it takes must be one scan_line takes, with the
-- same id, and a file's scan must count as a scan of every line in Lua.
describe("question_file.scan, the lines read in C", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("takes only lines scan_line takes, with their ids, and scans a file as the Lua alone", function()
    local rng = require "causal_eval.rng"
    local r = rng.new(20261206, 3)
    local VALUES = { "null", "true", "false", "0", "7", "-3", "2.5", "-0.0", "1e2", '""', '"  "', '" \\t\\n"', '"\\u0000"',
                     '"yes"', '"no"', '"Yes"', '"x"', '"number"', '"choice"', '"free_text"', '"yes_no"', '"A"', "[]",
                     "{}", '["A","B"]', '"Does X cause Y?"', '"caf\\u00e9"' }
    local FIELDS = { "id", "prompt", "answer_type", "ground_truth", "tolerance", "choices", "reference",
                     "rubric_notes", "graph" }
    local base = {
      q(1), q("a-2", { answer_type = "number", ground_truth = 0.25, tolerance = 0.01 }),
      q("n", { answer_type = "number", ground_truth = 3, tolerance = 0 }),
      q("c", { answer_type = "choice", ground_truth = "B", choices = { "A", "B" } }),
      q("f", { answer_type = "free_text", reference = "because", ground_truth = json.null }),
      q("g", { answer_type = "free_text", reference = "because", rubric_notes = "short" }),
    }
    local text = mixed_lines(r, 6000, base, 0.3, function()
      local obj = drawn_object(r, FIELDS, VALUES)
      return ({ "", "  ", "\t", "\f " })[r:int(1, 4)] .. obj
    end)
    -- each field of a question made wrong one way at a time, or right a rarer way
    local function with(t)
      local b = { id = "w", prompt = "Does X cause Y?", answer_type = "number", ground_truth = 0.5 }
      for k, v in pairs(t) do b[k] = v end
      return json.encode(b)
    end
    for _, t in ipairs({
      { tolerance = -1 }, { tolerance = -0.5 }, { tolerance = "0.1" }, { tolerance = json.null }, { tolerance = 0 },
      { tolerance = 3 }, { ground_truth = "0.5" }, { ground_truth = json.null }, { ground_truth = 7 },
      { answer_type = "yes_no", ground_truth = "Yes" }, { answer_type = "yes_no", ground_truth = true },
      { answer_type = "yes_no", ground_truth = "no" }, { answer_type = "Yes_no" }, { answer_type = json.null },
      { id = "" }, { id = 2.5 }, { id = json.null }, { id = true }, { id = 0 }, { id = -3 },
      { prompt = "" }, { prompt = " \t\n" }, { prompt = json.null }, { prompt = 5 }, { prompt = "\0" },
      { answer_type = "free_text", reference = "" }, { answer_type = "free_text", reference = " " },
      { answer_type = "free_text", reference = json.null }, { answer_type = "free_text", reference = "r", rubric_notes = 5 },
      { answer_type = "free_text", reference = "r", rubric_notes = json.null },
      { answer_type = "free_text", reference = "r", rubric_notes = "n" }, { answer_type = "free_text" },
      { answer_type = "choice", ground_truth = "A", choices = { "A" } },
    }) do
      text[#text + 1] = with(t)
    end
    for _, line in ipairs({ '{"id":"a","id":"","prompt":"p","answer_type":"yes_no","ground_truth":"no"}',
                            '{"id":"","id":"a","prompt":"p","answer_type":"yes_no","ground_truth":"no"}',
                            '["id","a"]', '\f{"id":"s","prompt":"p","answer_type":"yes_no","ground_truth":"yes"}',
                            'x{"id":"s","prompt":"p","answer_type":"yes_no","ground_truth":"yes"}' }) do
      text[#text + 1] = line
    end
    local f = H.write(dir .. "/mix.jsonl", table.concat(text, "\n") .. "\n")
    -- line by line: what C takes, scan_line takes with the same id
    local l = shared.lines(f)
    local took_c = 0
    for i = 1, #text do
      local ids = shared.set()
      local took, line, no = l:scan_questions(ids, 1)
      if took == 1 then
        took_c = took_c + 1
        local id, why = qf.scan_line(text[i], i, f)
        assert.is_nil(why, text[i])
        assert.is_true(ids:has(id) and ids:size() == 1, text[i])
      else
        assert.are.equal(text[i], line)
        assert.are.equal(i, no)
      end
      ids:release()
    end
    assert.are.equal(0, (l:scan_questions(shared.set(), -1)))
    assert.is_true(took_c > 1500, took_c .. " lines taken in C")
    -- the whole file: as a reading of every line in Lua counts it
    local seen, count, bad, first_bad, dups = {}, 0, 0, nil, 0
    for i, line in ipairs(text) do
      count = count + 1
      local id, why = qf.scan_line(line, i, f)
      if why then bad, first_bad = bad + 1, first_bad or why end
      if seen[id] then dups = dups + 1 else seen[id] = true end
    end
    local info, err = qf.scan(f)
    assert.is_true(dups > 0)
    assert.is_nil(info)
    assert.matches(("%d duplicate ids"):format(dups), err, 1, true)
    -- without the duplicates (each line's id made its own)
    local unique = {}
    for i, line in ipairs(text) do
      unique[i] = line:gsub('"id":', '"id_was":'):gsub("^(%s*){", '%1{"id":"u' .. i .. '",', 1)
    end
    f = H.write(dir .. "/unique.jsonl", table.concat(unique, "\n") .. "\n")
    -- the digest: of the ids in order, as a set takes them
    local all, first700 = shared.set(), shared.set()
    count, bad, first_bad = 0, 0, nil
    for i, line in ipairs(unique) do
      count = count + 1
      local id, why = qf.scan_line(line, i, f)
      if why then bad, first_bad = bad + 1, first_bad or why end
      all:add(id)
      if i <= 700 then first700:add(id) end
    end
    info, err = qf.scan(f)
    if bad == count then
      assert.is_nil(info)
    else
      assert.are.same({ count = count, bad = bad, digest = all:digest() }, info, err)
    end
    -- and up to a limit
    local bad700 = 0
    for i = 1, 700 do
      if select(2, qf.scan_line(unique[i], i, f)) then bad700 = bad700 + 1 end
    end
    assert.are.same({ count = 700, bad = bad700, digest = first700:digest() }, qf.scan(f, 700))
    assert.are_not.equal(all:digest(), first700:digest())
  end)
end)

-- A worker reads in C (lines:next_question) the lines that plainly are
-- questions: each question it gives must be the table M.item makes of its
-- line, field for field and type for type, its other fields read from the
-- line when first used; every other line goes to M.item as text.
describe("question_file.source, the lines read in C", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("gives the question M.item gives for 8,000 lines of every shape, and the rest as text", function()
    local rng = require "causal_eval.rng"
    local r = rng.new(20261206, 4)
    local VALUES = { "null", "true", "false", "0", "7", "-3", "2.5", "-0.0", "1e2", '""', '"  "', '"\\u0000"', '"yes"',
                     '"no"', '"Yes"', '"x"', '"number"', '"choice"', '"free_text"', '"yes_no"', '"A"', "[]", "{}",
                     '["A","B"]', '"Does X cause Y?"', '"caf\\u00e9"', '"easy"', '{"nodes":["A"]}' }
    local FIELDS = { "id", "prompt", "answer_type", "ground_truth", "tolerance", "choices", "reference",
                     "rubric_notes", "family", "domain", "difficulty", "rung", "query", "graph" }
    local full = { family = "ladder", domain = "health", difficulty = "hard", rung = 2, graph = { nodes = { "A", "B" } },
                   query = { kind = "ate", choices = { { label = "A" } } } }
    local base = {
      q(1, full), q("a-2", { answer_type = "number", ground_truth = 0.25, tolerance = 0.01, rung = 3, family = "x" }),
      q("n", { answer_type = "number", ground_truth = 3, tolerance = 0, domain = json.null, difficulty = true }),
      q("c", { answer_type = "choice", ground_truth = "B", choices = { "A", "B" } }),
      q("f", { answer_type = "free_text", reference = "because", ground_truth = json.null, rubric_notes = "short" }),
      q("l", { family = { "not", "text" } }), q("m", { choices = { "A" } }), q("r", { rung = { 1 } }),
    }
    local text = mixed_lines(r, 8000, base, 0.35, function(i)
      -- a question's four fields, then up to seven more drawn (some repeated)
      local obj = drawn_object(r, FIELDS, VALUES)
      return obj == "{}" and obj or q(i):sub(1, -2) .. "," .. obj:sub(2)
    end)
    local f = H.write(dir .. "/mix.jsonl", table.concat(text, "\n") .. "\n")
    local l = shared.lines(f)
    local in_c = 0
    for i = 1, #text do
      local got, line, no = l:next_question()
      assert.are.equal(text[i], line)
      assert.are.equal(i, no)
      if got then
        in_c = in_c + 1
        local it = qf.item(line, i, f)
        assert.is_nil(it.bad, line)
        local want = it.make()
        assert.are.equal(it.id, got.id)
        for _, k in ipairs(qf.ASKED) do
          local a, b = rawget(want, k), rawget(got, k)
          if not (a == b and math.type(a) == math.type(b)) then
            assert.are.same({ k, a, math.type(a) }, { k, b, math.type(b) }, line)
          end
        end
        for k in next, got do assert.is_not_nil(rawget(want, k), k) end
      else
        assert.are.equal(false, got)
      end
    end
    assert.is_nil((l:next_question()))
    assert.is_true(in_c > 2000, in_c .. " lines taken in C")
    -- a worker's items: a question's other fields come from its line when first used
    local tickets = shared.counter(0, #text)
    local next_item = qf.source({ lines = shared.lines(f):id(), path = f }, tickets)
    local n = 0
    for i = 1, #text do
      local item = next_item()
      local want = qf.item(text[i], i, f)
      assert.are.equal(want.id, item.id)
      assert.are.equal(want.bad, item.bad)
      if not item.bad then
        local a, b = want.make(), item.q or item.make()
        assert.are.same(a.query, b.query)
        assert.are.same(a.graph, b.graph)
        local ka, kb = {}, {}
        for k, v in pairs(a) do ka[k] = v end
        for k, v in pairs(b) do kb[k] = v end
        assert.are.same(ka, kb)
        n = n + 1
      end
    end
    assert.is_nil(next_item())
    assert.is_true(n > in_c)
  end)
end)

describe("question_file.item", function()
  local function bad(line) return qf.item(line, 7, "q.jsonl").bad end

  it("takes a question and keeps its id as text", function()
    local it = qf.item(q(12), 3, "q.jsonl")
    assert.are.equal("12", it.id)
    assert.is_nil(it.bad)
    assert.are.equal("12", it.make().id)
  end)

  it("gives a question whose other fields are read from its line when first used", function()
    local bench = require "causal_eval.bench"
    local full = bench.question(assert(bench.load("intervention")), bench.options{}, 7, 3)
    local line = json.encode(full)
    local it = qf.item(line, 1, "q.jsonl")
    local got = it.make()
    -- an asked field missing from the line stays missing without reading the line
    assert.is_nil(got.tolerance)
    assert.is_nil(rawget(got, "graph"))
    -- any other field, read, brings all of them
    assert.are.same(json.decode(line).graph, got.graph)
    assert.are.same(json.decode(line).model, rawget(got, "model"))
    local keys = {}
    for k in pairs(got) do keys[#keys + 1] = k end
    table.sort(keys)
    local want = {}
    for k in pairs(json.decode(line)) do want[#want + 1] = k end
    table.sort(want)
    assert.are.same(want, keys)
    -- iterating first completes it too
    local it2 = qf.item(line, 1, "q.jsonl").make()
    local n = 0
    for _ in pairs(it2) do n = n + 1 end
    assert.are.equal(#want, n)
    assert.are.equal(line, json.encode(it2))
  end)

  it("reads a question through the picker as the decoder reads it, its query when first used", function()
    local bench = require "causal_eval.bench"
    for _, name in ipairs(bench.list()) do
      local fam = assert(bench.load(name))
      for i = 0, 5 do
        local line = json.encode(bench.question(fam, bench.options{}, 11, i))
        local decoded = json.decode(line)
        local got = qf.item(line, 1, "q.jsonl").make()
        for _, k in ipairs(qf.ASKED) do
          if k ~= "query" then assert.are.same(decoded[k], rawget(got, k), name .. " " .. k) end
        end
        -- a choice question is decoded whole with its query; any other
        -- reads it from its line when it is first read
        assert.are.equal(decoded.answer_type == "choice", rawget(got, "query") ~= nil, name)
        assert.are.same(decoded.query, got.query, name)
        assert.are.equal(line, json.encode(setmetatable(got, nil)), name)
      end
    end
    -- a list where a text is wanted: decoded, and the same message
    assert.are.equal("q.jsonl:7: field prompt: expected the text to ask, got a list or object", bad(q("a", { prompt = { "x" } })))
  end)

  it("names file:line and the field of every problem", function()
    assert.are.equal("q.jsonl:7:2: expected a string key", bad("{oops"))
    assert.are.equal("q.jsonl:7: expected a JSON object, one question per line", bad("[1, 2]"))
    assert.are.equal("q.jsonl:7: field id: missing", bad('{"prompt": "p"}'))
    assert.are.equal("q.jsonl:7: field id: expected a non-empty string or an integer, got 1.5", bad(q(1.5)))
    assert.are.equal("q.jsonl:7: field prompt: missing", bad('{"id": "a"}'))
    assert.are.equal('q.jsonl:7: field prompt: expected the text to ask, got "  "', bad(q("a", { prompt = "  " })))
    assert.are.equal("q.jsonl:7: field answer_type: missing", bad('{"id": "a", "prompt": "p", "ground_truth": "yes"}'))
    assert.are.equal('q.jsonl:7: field answer_type: expected yes_no, number, choice or free_text, got "bool"',
                     bad(q("a", { answer_type = "bool" })))
    assert.are.equal("q.jsonl:7: field ground_truth: missing", bad('{"id": "a", "prompt": "p", "answer_type": "yes_no"}'))
    assert.are.equal('q.jsonl:7: field ground_truth: expected "yes" or "no", got "Yes"', bad(q("a", { ground_truth = "Yes" })))
    assert.are.equal("q.jsonl:7: field ground_truth: expected a number, got \"0.5\"",
                     bad(q("a", { answer_type = "number", ground_truth = "0.5" })))
    assert.are.equal("q.jsonl:7: field tolerance: expected a number >= 0, got -1",
                     bad(q("a", { answer_type = "number", ground_truth = 0.5, tolerance = -1 })))
    assert.are.equal("q.jsonl:7: field choices: missing (a choice question lists its labels)",
                     bad(q("a", { answer_type = "choice", ground_truth = "B" })))
    assert.are.equal('q.jsonl:7: field ground_truth: "D" is not one of the choices',
                     bad(q("a", { answer_type = "choice", ground_truth = "D", choices = { "A", "B" } })))
    assert.is_nil(bad(q("a", { answer_type = "choice", ground_truth = "B", choices = { "A", "B" } })))
    assert.is_nil(bad(q("a", { answer_type = "number", ground_truth = 0.25, tolerance = 0.05 })))
  end)

  it("takes a free_text question by its reference, and names what is wrong with one", function()
    local ft = { answer_type = "free_text", ground_truth = json.null, reference = "Heat causes both." }
    assert.is_nil(bad(q("a", ft)))
    ft.rubric_notes = "Summer counts as heat."
    local got = qf.item(q("a", ft), 1, "q.jsonl").make()
    assert.are.equal("Heat causes both.", got.reference)
    assert.are.equal("Summer counts as heat.", got.rubric_notes)
    assert.are.equal("q.jsonl:7: field reference: missing (a free_text question gives its reference answer)",
                     bad(q("a", { answer_type = "free_text" })))
    assert.are.equal('q.jsonl:7: field reference: expected the reference answer as text, got "\\9"',
                     bad(q("a", { answer_type = "free_text", reference = "\t" })))
    assert.are.equal("q.jsonl:7: field rubric_notes: expected text for the judge, got 1",
                     bad(q("a", { answer_type = "free_text", reference = "r", rubric_notes = 1 })))
  end)

  it("keeps a bad line's id when it has one, else calls it line-N", function()
    assert.are.equal("a", qf.item('{"id": "a"}', 4, "f").id)
    assert.are.equal("line-4", qf.item("{oops", 4, "f").id)
    assert.are.equal("line-4", qf.item('{"id": {}}', 4, "f").id)
  end)
end)

describe("question_file.scan", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("counts the questions the workers will take, blank lines and a byte order mark aside", function()
    local f = H.write(dir .. "/ok.jsonl", "\239\187\191" .. q("a") .. "\n   \n\t\n" .. lines(q("b"), "{bad", q("c")))
    local info = assert(qf.scan(f))
    assert.are.equal(4, info.count)
    assert.are.equal(1, info.bad)
    assert.are.equal(2, qf.scan(f, 2).count)
    -- the workers' reader takes exactly those lines, in order
    local l = shared.lines(f)
    local tickets = shared.counter(0, info.count)
    local next_item = qf.source({ lines = l:id(), path = f }, tickets)
    local got = {}
    for it in next_item do got[#got + 1] = it.bad and ("bad " .. it.bad) or it.id end
    assert.are.same({ "a", "b", "bad " .. f .. ":5:2: expected a string key", "c" }, got)
  end)

  it("counts free_text lines as questions only with a reference, read with the fields a scan keeps", function()
    local ft = function(id, ref) return q(id, { answer_type = "free_text", ground_truth = json.null, reference = ref }) end
    local f = H.write(dir .. "/ft.jsonl", lines(ft("a", "Because of Z."), ft("b", ""), q("c")))
    local ids = shared.set()
    for _, id in ipairs({ "a", "b", "c" }) do ids:add(id) end
    assert.are.same({ count = 3, bad = 1, digest = ids:digest() }, qf.scan(f))
    local info, err = qf.scan(H.write(dir .. "/ftbad.jsonl", lines(ft("a", " "), ft("b", json.null))))
    assert.is_nil(info)
    assert.matches('ftbad.jsonl:1: field reference: expected the reference answer as text, got " "', err, 1, true)
    clean(err)
  end)

  it("refuses duplicate ids, naming both lines", function()
    local f = H.write(dir .. "/dup.jsonl", lines(q("a"), q("b"), "", q("a")))
    local info, err = qf.scan(f)
    assert.is_nil(info)
    assert.are.equal(f .. ':4: duplicate id "a", first on line 1: each question needs its own id', err)
    -- an integer id and its text are one id; a bad line's id counts too
    f = H.write(dir .. "/dup2.jsonl", lines(q(7), q("7"), q("x"), '{"id": "x"}', q("y")))
    info, err = qf.scan(f)
    assert.is_nil(info)
    assert.matches("2 duplicate ids: line 2 repeats \"7\" of line 1, line 4 repeats \"x\" of line 3", err, 1, true)
    -- beyond --limit nothing is asked, so nothing is duplicated
    assert.are.equal(3, assert(qf.scan(f, 1) and qf.scan(H.write(dir .. "/d3.jsonl", lines(q(1), q(2), q(3), q(1))), 3)).count)
  end)

  it("refuses an empty file, a directory, a missing file and a file with no question", function()
    local cases = {
      { H.write(dir .. "/empty.jsonl", ""), "empty.jsonl: no questions: the file is empty or holds only blank lines" },
      { H.write(dir .. "/blank.jsonl", "\239\187\191\n  \n"), "blank.jsonl: no questions" },
      { dir, dir .. ": is a directory" },
      { dir .. "/none.jsonl", "none.jsonl: cannot open: No such file or directory" },
      { H.write(dir .. "/array.json", '[\n  {"id": 1}\n]\n'), "array.json: no line is a question" },
    }
    for _, c in ipairs(cases) do
      local info, err = qf.scan(c[1])
      assert.is_nil(info, c[1])
      assert.matches(c[2], err, 1, true)
      clean(err)
    end
    assert.are.equal(0, qf.scan(dir .. "/empty.jsonl", 0).count)
  end)
end)

describe("causal-eval run --questions", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("answers every question of a file with blank lines, spaces and a byte order mark", function()
    local f = H.write(dir .. "/spaces.jsonl", "\239\187\191" .. lines(q("a"), "   ", q("b"), "", "\t ", q("c", { ground_truth = "no" })))
    local r, rep = run({ "--model", "baseline:always_yes", "--questions", f, "--data", dir .. "/s" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(3, rep.models[1].n)
    assert.are.equal(0, rep.models[1].errors)
    assert.are.equal(2, rep.models[1].correct)
    local recs = records(dir .. "/s", rep.run_id)
    assert.is_truthy(recs.a and recs.b and recs.c)
  end)

  it("scores a file of generated questions as the same questions generated in the run", function()
    -- baseline:associational reads each question's model, which a question
    -- from a file decodes only when asked for
    local f = dir .. "/gen.jsonl"
    local g = H.run({ "generate", "intervention", "--n", "40", "--seed", "5", "-o", f })
    assert.are.equal(0, g.code, g.stderr)
    local r1, rep1 = run({ "--model", "baseline:associational", "--questions", f, "--data", dir .. "/g1" })
    assert.are.equal(0, r1.code, r1.stderr)
    local r2, rep2 = run({ "--model", "baseline:associational", "--bench", "intervention", "--n", "40", "--seed", "5",
                           "--data", dir .. "/g2" })
    assert.are.equal(0, r2.code, r2.stderr)
    assert.are.equal(40, rep1.models[1].n)
    assert.are.equal(rep2.models[1].correct, rep1.models[1].correct)
    local a, b = records(dir .. "/g1", rep1.run_id), records(dir .. "/g2", rep2.run_id)
    for id, rec in pairs(b) do assert.are.equal(rec.response, a[id].response, id) end
  end)

  it("stores each line that is not a question as a bad_question record naming file:line and field", function()
    local f = H.write(dir .. "/mixed.jsonl", lines(
      q("ok"),
      '{"id": "nogt", "prompt": "Is it? Answer yes or no.", "answer_type": "yes_no"}',
      q("cased", { ground_truth = "Yes" }),
      '{"id": "a", "prompt": "Is it?", oops}',
      q({ 1 })))
    local r, rep = run({ "--model", "baseline:always_yes", "--questions", f, "--data", dir .. "/m" })
    clean(r.stderr)
    -- the file's faults are not the model's: counted apart, not as wrong answers
    assert.are.equal(1, rep.models[1].n)
    assert.are.equal(4, rep.models[1].invalid)
    assert.are.equal(1, rep.models[1].correct)
    assert.are.equal(1, rep.models[1].accuracy)
    local recs = records(dir .. "/m", rep.run_id)
    assert.are.equal(f .. ":2: field ground_truth: missing", recs.nogt.error.message)
    assert.are.equal(f .. ':3: field ground_truth: expected "yes" or "no", got "Yes"', recs.cased.error.message)
    assert.are.equal(f .. ":4:33: expected a string key", recs["line-4"].error.message)
    assert.are.equal(f .. ":5: field id: expected a non-empty string or an integer, got a list or object",
                     recs["line-5"].error.message)
    for _, rec in pairs(recs) do
      if rec.error then assert.are.equal("bad_question", rec.error.class) end
    end
  end)

  it("refuses duplicate ids before anything is sent", function()
    local f = H.write(dir .. "/dup.jsonl", lines(q("a"), q("b"), q("a")))
    local mock = H.mock({ "--questions", f, "--accuracy", "1" })
    local r = H.run({ "run", "--model", "openai:mock@" .. mock.url, "--questions", f, "--data", dir .. "/d" })
    local sent = mock:stats().requests
    mock:stop()
    assert.are.equal(1, r.code)
    assert.matches(f .. ':3: duplicate id "a", first on line 1', r.stderr, 1, true)
    clean(r.stderr)
    assert.are.equal(0, sent)
    assert.are.equal(0, stored_runs(dir .. "/d"))
  end)

  it("reads a pipe or the standard input once, and a resume reads the copy kept with the run", function()
    -- a pipe gives its lines once: the scan took them, the workers found
    -- none, and the run said "completed" with nothing asked
    local qfile = H.questions(dir, { "ladder", "--n", "30", "--seed", "6" })
    local mock = H.mock({ "--questions", qfile, "--fault-500", "0.4" })
    for i, given in ipairs({ "-", "/dev/stdin" }) do
      local data = dir .. "/p" .. i
      local r = H.run(("cat %s | %s run --json --cache off --model openai:m@%s --questions %s --max-attempts 1 --data %s")
        :format(H.quote(qfile), H.quote(H.bin), mock.url, given, H.quote(data)))
      assert.are.equal(0, r.code, r.stderr)
      clean(r.stderr)
      local rep = json.decode(r.stdout)
      assert.are.equal(30, rep.models[1].n, r.stderr)
      assert.are.same({ given == "-" and "stdin" or given }, rep.benchmarks)
      local before, failed = records(data, rep.run_id), 0
      for _, rec in pairs(before) do if rec.error then failed = failed + 1 end end
      assert.is_true(failed >= 3, "only " .. failed .. " server errors")
      -- the pipe is gone; the resume sends the failed questions again from the copy
      local r2 = H.run({ "run", "--json", "--cache", "off", "--resume", rep.run_id, "--retry-errors", "--max-attempts", "5",
                         "--set", "run.retry_base=0.01", "--data", data })
      assert.are.equal(0, r2.code, r2.stderr)
      local left = 0
      for _, rec in pairs(records(data, rep.run_id)) do if rec.error then left = left + 1 end end
      assert.is_true(left < failed, ("%d errors before the resume, %d after"):format(failed, left))
    end
    -- a stream that is no question file is refused by its name, and a run
    -- refused after its stream was copied (its metrics port taken) leaves
    -- no copy: nothing would read it
    local refused = {
      { ("printf '{\"id\": 1}\\n' | %s run --model baseline:always_yes --questions - --data %%s"):format(H.quote(H.bin)),
        "stdin: no line is a question" },
      { ("cat %s | %s run --model baseline:always_yes --questions - --metrics-port %s --data %%s")
        :format(H.quote(qfile), H.quote(H.bin), mock.url:match(":(%d+)")), "metrics: cannot listen" },
    }
    for i, c in ipairs(refused) do
      -- --data relative, as a user types it
      local data = dir .. "/r" .. i
      local r = H.run(c[1]:format("r" .. i), { cwd = dir })
      assert.are.equal(1, r.code, r.stderr)
      assert.matches(c[2], r.stderr, 1, true)
      clean(r.stderr)
      assert.are.equal(0, stored_runs(data))
      local files = require("causal_eval.host").listdir(data) or {}
      for _, f in ipairs(files) do assert.is_nil(f:find("^questions%-"), f) end
    end
    mock:stop()
  end)

  it("resumes from another folder, and refuses a file that changed since the run started", function()
    local work = dir .. "/resume"
    H.sh("mkdir -p " .. H.quote(work .. "/elsewhere"))
    local original = H.read(H.questions(work, { "ladder", "--n", "40", "--seed", "8" })) -- work/q.jsonl
    local other = H.read(H.questions(work .. "/elsewhere", { "ladder", "--n", "40", "--seed", "9" }))
    local mock = H.mock({ "--latency-ms", "5" })
    local data = work .. "/d"
    -- a run stopped by its token budget, most of its questions left
    local r = H.run({ "run", "--json", "--cache", "off", "--model", "openai:m@" .. mock.url, "--questions", "q.jsonl",
                      "--concurrency", "1", "--max-tokens-total", "300", "--data", data }, { cwd = work })
    local rep = json.decode(r.stdout)
    assert.are.equal("stopped", rep.status, r.stderr)
    local function resume(cwd)
      return H.run({ "run", "--resume", rep.run_id, "--cache", "off", "--max-tokens-total", "100000000", "--data", data,
                     "--quiet" }, { cwd = cwd })
    end
    local first20 = original:match(("[^\n]*\n"):rep(20))
    local sent = mock:stats().requests
    for _, c in ipairs({ { first20, "(40 questions then, 20 now, a different count)" },
                         { other, "(40 questions then, 40 now, other ids or another order)" } }) do
      H.write(work .. "/q.jsonl", c[1])
      r = resume(work)
      assert.are.equal(1, r.code, r.stderr)
      assert.matches("q.jsonl has changed since the run started " .. c[2], r.stderr, 1, true)
      clean(r.stderr)
    end
    assert.are.equal(sent, mock:stats().requests)
    -- put back, and resumed from another folder: each question answered once
    H.write(work .. "/q.jsonl", original)
    r = resume(work .. "/elsewhere")
    mock:stop()
    assert.are.equal(0, r.code, r.stderr)
    local n = 0
    for _ in pairs(records(data, rep.run_id)) do n = n + 1 end
    assert.are.equal(40, n)
  end)

  it("refuses an empty file, a directory and a file with no question, exit 1, no run stored", function()
    local cases = {
      { H.write(dir .. "/empty.jsonl", ""), "no questions: the file is empty" },
      { dir, dir .. ": is a directory" },
      { H.write(dir .. "/none.jsonl", lines('{"id": 1}', '{"id": 2}')), "none.jsonl: no line is a question" },
    }
    for i, c in ipairs(cases) do
      local data = dir .. "/e" .. i
      local r = H.run({ "run", "--model", "baseline:always_yes", "--questions", c[1], "--data", data })
      assert.are.equal(1, r.code, c[1])
      assert.matches(c[2], r.stderr, 1, true)
      clean(r.stderr)
      assert.are.equal(0, stored_runs(data), c[1])
    end
  end)
end)
