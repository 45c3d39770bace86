-- SPDX-License-Identifier: MIT
-- What each question of a report is (family, domain, difficulty, answer
-- type, ground truth), read from one model's records per run. Records are
-- ten times the size of score lines and this read is a third of a report's
-- work, so the report runs it on a thread of its own (causal_eval.threads:
-- M.main) while it reads the score lines, and here in the same state when
-- a thread cannot be had.
local json = require "causal_eval.json"
local results = require "causal_eval.results"

local M = {}

local NULL = json.null

-- The fields of a record that come before its prompt, decoded alone: a
-- record is mostly its prompt and answer, and decoding them whole was most
-- of this read. The store holds records as causal_eval.json writes them
-- (keys sorted, no spaces), so every key that sorts before "prompt" comes
-- before it in the text. A record in another form is decoded whole: with
-- spaces the cut is not found, and with keys in another order the text
-- before the prompt lacks a key every record has before it (model,
-- finished_at, day) or holds one every record has after it.
function M.record_head(v)
  local cut = v:find(',"prompt":', 1, true)
  if cut then
    local t = json.decode(v:sub(1, cut - 1) .. "}")
    if type(t) == "table" and t.model ~= nil and t.finished_at ~= nil and t.day ~= nil
       and t.question_id == nil and t.run_id == nil and t.score == nil then
      return t
    end
  end
  return json.decode(v)
end

local function field(v)
  if v == nil then return NULL end
  return v
end

--- A question's description from (the head of) a record: a list
--- { family, domain, difficulty, answer_type, ground_truth }, json.null for
--- what it lacks.
function M.of_record(rec)
  return { field(rec.family), field(rec.domain), field(rec.difficulty), field(rec.answer_type), field(rec.ground_truth) }
end

--- question id -> description, for the records under each prefix
--- ("run \0 model \0"), the first record of a question winning. Raises
--- { message } on a record that is not JSON.
function M.read(st, prefixes)
  local out = {}
  for _, prefix in ipairs(prefixes) do
    local from = #prefix + 1
    local ok, err = st:scan(results.DB.records, prefix, function(k, v)
      local qid = k:sub(from)
      if out[qid] then return end
      local rec = M.record_head(v)
      if type(rec) ~= "table" then
        error({ message = ("record %s: the stored record is not a JSON object"):format((k:gsub("%z", " / "))) }, 0)
      end
      out[qid] = M.of_record(rec)
    end)
    if not ok then error({ message = err }, 0) end
  end
  return out
end

--- On a thread: config is JSON { store = id, prefixes = { ... } }; returns
--- the descriptions as one JSON object, or raises with the reason.
function M.main(config)
  local cfg = assert(json.decode(config, "report questions config"))
  local st = assert(require("causal_eval.store_core").attach(cfg.store))
  local ok, out = pcall(M.read, st, cfg.prefixes)
  st:close()
  if not ok then error(type(out) == "table" and out.message or tostring(out), 0) end
  return json.encode(out)
end

--- Starts the read on a thread; returns a function that waits for it and
--- gives the descriptions (or raises as M.read does), and true when they
--- were read on the thread. Without a thread (a
--- store that cannot be shared, a thread that fails to start or to read:
--- its reason is in the second result of the waiting function) the read
--- is done here when waited for.
function M.start(st, prefixes)
  local group
  if type(st.id) == "function" then
    local ok, threads = pcall(require, "causal_eval.threads")
    if ok then
      local started, g = pcall(threads.start, 1, "causal_eval.report.questions",
        json.encode({ store = st:id(), prefixes = json.array(prefixes) }))
      if started then group = g end
    end
  end
  return function()
    if group then
      local r = group:join()[1]
      if r and r.ok then
        local t = json.decode(r.result, "report questions")
        if type(t) == "table" then return t, nil, true end
      end
      -- a thread that failed: the same read here, which raises what it met
      return M.read(st, prefixes), r and r.error
    end
    return M.read(st, prefixes)
  end
end

return M
