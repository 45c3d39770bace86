-- SPDX-License-Identifier: MIT
-- Causation versus correlation. Two variables are associated; does one cause
-- the other? The structure decides: a direct or indirect cause (yes), a
-- common cause, reverse causation, selection on a common effect (no). The
-- adversarial variant also reports what experts make of the association,
-- which is beside the point.
local bench = require "causal_eval.bench"

-- Core structures over A (asked cause), B (asked effect) and C, grouped by
-- what the prompt reports (the association in all the data, or within a
-- selected group) and by their number of edges. The two questions of a pair
-- take the same group, one a yes shape and one a no shape, so neither the
-- number of edges nor the kind of report gives the answer away.
local GROUPS = {
  { report = "data", nodes = { "A", "B" }, yes = { direct = { { "A", "B" } } }, no = { reverse = { { "B", "A" } } } },
  { report = "data", yes = { chain = { { "A", "C" }, { "C", "B" } } },
    no = { common_cause = { { "C", "A" }, { "C", "B" } }, reverse_chain = { { "B", "C" }, { "C", "A" } } } },
  { report = "data",
    yes = { confounded_direct = { { "C", "A" }, { "C", "B" }, { "A", "B" } }, mediated_direct = { { "A", "C" }, { "C", "B" }, { "A", "B" } } },
    no = { confounded_reverse = { { "C", "A" }, { "C", "B" }, { "B", "A" } }, mediated_reverse = { { "B", "C" }, { "C", "A" }, { "B", "A" } } } },
  { report = "selected", yes = { selected_effect = { { "A", "B" }, { "B", "C" } } }, no = { selection = { { "A", "C" }, { "B", "C" } } } },
  { report = "selected", yes = { selection_direct = { { "A", "C" }, { "B", "C" }, { "A", "B" } } },
    no = { selection_reverse = { { "A", "C" }, { "B", "C" }, { "B", "A" } } } },
}
-- shape names in a fixed order (pairs over a table's keys have none)
for _, g in ipairs(GROUPS) do
  for _, side in ipairs({ "yes", "no" }) do
    local names = {}
    for name in pairs(g[side]) do names[#names + 1] = name end
    table.sort(names)
    g[side .. "_names"] = names
  end
end

-- Extra variables for harder questions, each joined to the graph by one edge
-- in either direction: no new path between A and B runs through them.
local EXTRA = { easy = 0, medium = 2, hard = 4 }

local function extras(ctx, nodes)
  local out = {}
  local all = { table.unpack(nodes) }
  for i = 1, EXTRA[ctx.difficulty] do
    local v = "E" .. i
    local other = ctx:pick(all)
    out[#out + 1] = ctx:chance(0.5) and { v, other } or { other, v }
    all[#all + 1] = v
  end
  return all, out
end

return bench.family{
  name = "causal_attribution",
  version = 3,
  rungs = { 2 },
  description = "causation vs correlation: common causes, reverse causation, spurious association, selection bias",
  -- distinct questions at each difficulty (generate --capacity, docs/questions.md)
  capacity = { easy = 700000, medium = 17000000, hard = 380000000,
    method = "estimated: n^2/2(r+3) from the r repeats the kit drew again in n = 100,000 questions (7115, 283, 10)" },
  generate = function(ctx)
    local group, nodes, extra = ctx:shared(function()
      local g = ctx:pick(GROUPS)
      return g, extras(ctx, g.nodes or { "A", "B", "C" })
    end)
    local name = ctx:pick(group[ctx.want .. "_names"])
    local edges = {}
    for _, e in ipairs(group[ctx.want][name]) do edges[#edges + 1] = { e[1], e[2] } end
    for _, e in ipairs(extra) do edges[#edges + 1] = e end
    local order = bench.topo({ nodes = nodes, edges = edges })
    local m = ctx:random_model({ nodes = order, edges = edges }, { lo = 0.1, hi = 0.9 })
    -- what the study reports: P(B | A) against P(B | not A), in the selected
    -- group (C = 1) or in all the data, clear of rounding
    local given1, given0 = { A = 1 }, { A = 0 }
    if group.report == "selected" then given1.C, given0.C = 1, 1 end
    local p1, p0 = assert(m:p({ B = 1 }, given1)), assert(m:p({ B = 1 }, given0))
    if math.abs(p1 - p0) < 0.02 then m:close() return nil end
    local function render()
      local words = ctx:label(order)
      local a, b = words.A, words.B
      local units = ctx.domain.units
      local parts = {
        ("A study of %s found the following causal relationships, and no others: "):format(units),
        ctx:describe_edges(m, words),
      }
      local stat = ("%s that %s are %s likely to be ones that %s (%s against %s)."):format(
        units, a.yes, p1 > p0 and "more" or "less", b.yes, bench.pct(p1), bench.pct(p0))
      if group.report == "selected" then
        parts[#parts + 1] = (" The study only looked at %s that %s. Among them, %s"):format(units, words.C.yes, stat)
      else
        parts[#parts + 1] = " In the data, " .. stat
      end
      if ctx.adversarial then
        parts[#parts + 1] = (" Many experts take this association as proof that %s drives %s."):format(a.name, b.name)
      end
      parts[#parts + 1] = " " .. ctx:wording({
        ("Does %s have a causal effect on %s?"):format(a.name, b.name),
        ("Is %s a cause of %s?"):format(a.name, b.name),
        ("Would changing %s change %s?"):format(a.name, b.name),
      })
      parts[#parts + 1] = " Answer yes or no."
      local variables = {}
      for n, w in pairs(words) do variables[n] = w.name end
      return table.concat(parts), variables
    end
    return {
      model = m, rung = 2, structure = name, render = render,
      query = { type = "graph", relation = "causes", from = "A", to = "B" },
      shows = group.report .. ":" .. bench.pct(p1) .. "/" .. bench.pct(p0),
    }
  end,
}
