-- SPDX-License-Identifier: MIT
-- Sets of questions as bits of 64-bit integers (question t of a list is bit
-- (t - 1) % 64 of word (t - 1) // 64 + 1): two models' paired counts come
-- from a few operations a word instead of a step per question and pair.
local M = {}

-- set bits of each 16-bit number
local POP16

--- The number of set bits of a 64-bit integer.
function M.popcount(x)
  if not POP16 then
    POP16 = { [0] = 0 }
    for v = 1, 65535 do POP16[v] = POP16[v >> 1] + (v & 1) end
  end
  return POP16[x & 0xFFFF] + POP16[(x >> 16) & 0xFFFF] + POP16[(x >> 32) & 0xFFFF] + POP16[x >> 48]
end
local popcount = M.popcount

--- Sets bit t of the set s (a list of words, nil words are 0).
function M.set(s, t)
  local w = (t - 1) // 64 + 1
  s[w] = (s[w] or 0) | (1 << ((t - 1) % 64))
end

--- Over words 1..nwords: the questions both answered (answered sets ai,
--- aj), those only the first got right and those only the second got
--- right (right sets ri, rj).
function M.pair_counts(ai, aj, ri, rj, nwords)
  local n, n10, n01 = 0, 0, 0
  for w = 1, nwords do
    local both = (ai[w] or 0) & (aj[w] or 0)
    if both ~= 0 then
      local x, y = (ri[w] or 0) & both, (rj[w] or 0) & both
      n = n + popcount(both)
      n10 = n10 + popcount(x & ~y)
      n01 = n01 + popcount(y & ~x)
    end
  end
  return n, n10, n01
end

--- The paired outcomes (second right - first right: -1, 0, 1) on the
--- questions both answered, in question order.
function M.differences(ai, aj, ri, rj, nwords)
  local d, n = {}, 0
  for w = 1, nwords do
    local both = (ai[w] or 0) & (aj[w] or 0)
    if both ~= 0 then
      local x, y = ri[w] or 0, rj[w] or 0
      for b = 0, 63 do
        if (both >> b) & 1 == 1 then
          n = n + 1
          d[n] = ((y >> b) & 1) - ((x >> b) & 1)
        end
      end
    end
  end
  return d
end

return M
