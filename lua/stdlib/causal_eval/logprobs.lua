-- SPDX-License-Identifier: MIT
-- A yes/no answer read from token log-probabilities (OpenAI's
-- choices[1].logprobs.content) rather than from the reply's text: the
-- probability the model gives each answer, not only the one it wrote.
local M = {}

-- Tokenizers write a leading space as "Ġ" (byte-level BPE) or "▁"
-- (SentencePiece) when a server returns raw tokens: strip them as spaces.
local function word(token)
  if type(token) ~= "string" then return nil end
  local w = token:gsub("\xc4\xa0", ""):gsub("\xe2\x96\x81", ""):gsub("[%s%p]", ""):lower()
  if w == "yes" or w == "true" then return "yes" end
  if w == "no" or w == "false" then return "no" end
  return nil
end

local function prob(logprob)
  if type(logprob) ~= "number" or logprob ~= logprob then return 0 end
  return math.min(1, math.exp(logprob)) -- -inf: 0
end

-- The first position that offers a yes/no word, as its chosen token or as
-- one of its alternatives.
local function answer_position(content)
  for _, pos in ipairs(content) do
    if type(pos) == "table" then
      if word(pos.token) then return pos end
      if type(pos.top_logprobs) == "table" then
        for _, alt in ipairs(pos.top_logprobs) do
          if type(alt) == "table" and word(alt.token) then return pos end
        end
      end
    end
  end
end

--- The yes/no answer of a reply's token log-probabilities. content: the
--- parsed choices[1].logprobs.content, a list of { token, logprob,
--- top_logprobs = { { token, logprob }, ... } }. At the first position that
--- offers a yes/no word (spaces and punctuation stripped, any case: yes/no,
--- true/false), the probabilities of the yes-variants and of the
--- no-variants among its alternatives are summed (the chosen token counted
--- once, also when the alternatives leave it out). Returns { answer = "yes"
--- or "no" (the likelier; a tie goes to the chosen token, else "yes"),
--- p_yes, p_no (normalised over the two), mass_yes, mass_no, mass (the raw
--- sums and their total: how much of the distribution was a yes/no answer)
--- }, or nil and why: "no logprobs", "no yes/no token in the top logprobs",
--- "the yes/no tokens have probability 0".
function M.yes_no(content)
  if type(content) ~= "table" or next(content) == nil then return nil, "no logprobs" end
  local pos = answer_position(content)
  if not pos then return nil, "no yes/no token in the top logprobs" end
  local mass, seen = { yes = 0, no = 0 }, {}
  local function add(token, logprob)
    if type(token) ~= "string" or seen[token] then return end
    seen[token] = true
    local w = word(token)
    if w then mass[w] = mass[w] + prob(logprob) end
  end
  for _, alt in ipairs(type(pos.top_logprobs) == "table" and pos.top_logprobs or {}) do
    if type(alt) == "table" then add(alt.token, alt.logprob) end
  end
  add(pos.token, pos.logprob)
  local total = mass.yes + mass.no
  if not (total > 0) then return nil, "the yes/no tokens have probability 0" end
  local answer
  if mass.yes ~= mass.no then answer = mass.yes > mass.no and "yes" or "no"
  else answer = word(pos.token) or "yes" end
  return { answer = answer, p_yes = mass.yes / total, p_no = mass.no / total,
           mass_yes = mass.yes, mass_no = mass.no, mass = total }
end

return M
