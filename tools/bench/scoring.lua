-- SPDX-License-Identifier: MIT
-- CPU of reading an answer out of a response (causal_eval.scoring), by
-- answer type and response length: a bare answer, as the mock server and
-- many models give it, and a model's reasoning of about 0.35, 1.4 and 5.5 KB
-- ending with its answer; and the chain-of-thought mode's reading of a
-- reasoning with its "Final answer:" line. Medians of ROUNDS rounds, one core:
--   causal-eval tools/bench/scoring.lua [ROUNDS]
-- A run scores every answer once, in its worker, so this is a question's
-- CPU on top of the pipeline's for a model that reasons.
local host = require "causal_eval.host"
local scoring = require "causal_eval.scoring"
local cot = require "causal_eval.cot"

local ROUNDS = tonumber(arg and arg[1]) or 5
local clock = host.clock

local PARA = "To decide whether smoking has a causal effect on lung cancer, we look at the causal graph. "
  .. "Smoking affects tar deposits, which in turn affect cancer; genotype is a common cause of smoking "
  .. "and cancer. Adjusting for genotype by the back-door criterion, we compute P(cancer | do(smoking)) "
  .. "= sum over g of P(cancer | smoking, g) P(g), which is larger than P(cancer | do(no smoking)). "

local function reasoning(paras, ending) return PARA:rep(paras) .. ending end

local CASES = {
  { "yes_no", "bare", "Yes." },
  { "yes_no", "0.35 KB", reasoning(1, "Therefore, the answer is yes.") },
  { "yes_no", "1.4 KB", reasoning(4, "Therefore, the answer is yes.") },
  { "yes_no", "5.5 KB", reasoning(16, "Therefore, the answer is yes.") },
  { "number", "bare", "0.35" },
  { "number", "0.35 KB", reasoning(1, "So the effect is approximately 0.35.") },
  { "number", "1.4 KB", reasoning(4, "So the effect is approximately 0.35.") },
  { "number", "5.5 KB", reasoning(16, "So the effect is approximately 0.35.") },
  -- a reply with no digit where a number was asked: the mock's "Yes.", a refusal
  { "number", "bare, no digit", "Yes." },
  { "number", "refusal", "I cannot determine the effect from the information given." },
  { "choice", "bare", "B" },
  { "choice", "0.35 KB", reasoning(1, "So the answer is option (b).") },
  { "choice", "1.4 KB", reasoning(4, "So the answer is option (b).") },
  { "choice", "5.5 KB", reasoning(16, "So the answer is option (b).") },
  -- read from "(B)" after no marker: the rule before it looked for the last
  -- "option X" backtracking from every position of the response
  { "choice", "1.4 KB (B)", reasoning(4, "Of the three, (B) fits.") },
  -- the chain-of-thought mode's reading (causal_eval.cot): the final answer line only
  { "cot", "1.4 KB", reasoning(4, "\n\nFinal answer: yes") },
  { "cot", "5.5 KB", reasoning(16, "\n\nFinal answer: yes") },
  { "cot", "1.4 KB, no final line", reasoning(4, "So it does.") },
}

local YES_NO = { answer_type = "yes_no", ground_truth = "yes" }

local function read(kind, text)
  if kind == "cot" then
    local r = cot.score(YES_NO, text)
    return r.parsed or r.reason
  end
  if kind == "yes_no" then return scoring.yes_no(text) end
  if kind == "number" then return scoring.number(text) end
  return scoring.choice(text, { "A", "B", "C" }, { "smoking", "cancer", "tar" })
end

local function median(v)
  table.sort(v)
  local n = #v
  return n % 2 == 1 and v[(n + 1) / 2] or (v[n / 2] + v[n / 2 + 1]) / 2
end

print(("causal_eval.scoring, %s; median of %d rounds, one core"):format(_VERSION, ROUNDS))
print(("%-8s %-22s %8s %14s  %s"):format("type", "response", "bytes", "us a response", "read as"))
for _, c in ipairs(CASES) do
  local kind, label, text = c[1], c[2], c[3]
  local got = read(kind, text)
  -- enough repetitions for about 50 ms a round
  local t0, reps = clock(), 0
  repeat
    read(kind, text)
    reps = reps + 1
  until clock() - t0 > 0.01
  reps = math.max(1, math.floor(reps * 5))
  local times = {}
  for r = 1, ROUNDS do
    local t1 = clock()
    for _ = 1, reps do read(kind, text) end
    times[r] = (clock() - t1) / reps * 1e6
  end
  print(("%-8s %-22s %8d %14.2f  %s"):format(kind, label, #text, median(times), tostring(got)))
end
