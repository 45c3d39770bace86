-- SPDX-License-Identifier: MIT
-- A damaged results store: bytes flipped in meta, branch, leaf and overflow
-- pages, and the file cut short. Every read command either gives exactly
-- what it gave on the intact store (exit 0) or says the store is damaged,
-- where, and what to run (exit 1): never a crash, a traceback or part of
-- an answer with exit 0. `results check --salvage` gives back every record
-- that lies on pages the damage did not touch.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local rng = require "causal_eval.rng"

local READS = {
  show = { "results", "show", "last" },
  export = { "results", "export", "last" },
  trend = { "results", "trend", "--days", "100000" },
  list = { "results", "list" },
  -- commands outside `results` that read the store say it the same way
  compare = { "compare", "last", "--iters", "500" },
  resume = { "run", "--resume", "last", "--quiet", "--cache", "off" },
}
local READ_ORDER = { "show", "export", "trend", "list", "compare" }

local function u16(s, at) return s:byte(at + 1) | s:byte(at + 2) << 8 end
local function u64(s, at) return string.unpack("<I8", s, at + 1) end

-- A salvage file's lines by "db\0key", without where each was found (a
-- copy found elsewhere is still the same record).
local function salvage_lines(path)
  local out = {}
  for line in (H.read(path) or ""):gmatch("[^\n]+") do
    local o = assert(json.decode(line))
    out[o.db .. "\0" .. o.key] = { line = line:gsub(',"page":%d+', ""):gsub(',"overflow":%[%d+,%d+%]', ""), page = o.page,
                                   overflow = o.overflow }
  end
  return out
end

describe("a damaged results store", function()
  local dir, pristine, file, psize, npages, ref, records
  local kinds = { meta = { 0, 1 }, branch = {}, leaf = {}, overflow = {} }

  setup(function()
    dir = H.tmpdir()
    pristine = dir .. "/pristine"
    -- 240 records and their 240 score lines; chain and counterfactual
    -- prompts are long enough to need overflow pages
    local r = H.run({ "run", "--bench", "ladder,counterfactual,causal_chain", "--n", "40", "--model", "baseline:random",
                      "--model", "baseline:always_yes", "--data", pristine, "--quiet" })
    assert(r.code == 0, r.stderr)
    ref = {}
    for name, args in pairs(READS) do
      if name ~= "resume" then -- it writes, and its table is new every time
        local rr = H.run(H.concat(args, { "--data", pristine }))
        assert(rr.code == 0, rr.stderr)
        ref[name] = rr.stdout
      end
    end
    local c = H.run({ "results", "check", "--data", pristine, "--salvage", dir .. "/pristine.jsonl" })
    assert(c.code == 0, c.stdout .. c.stderr)
    records = salvage_lines(dir .. "/pristine.jsonl")
    file = assert(H.read(pristine .. "/data.mdb"))
    psize = u16(file, 16 + 24) | u16(file, 16 + 26) << 16
    npages = #file // psize
    for p = 2, npages - 1 do
      local at = p * psize
      if u64(file, at) == p then
        local flags = u16(file, at + 10)
        if flags == 1 then kinds.branch[#kinds.branch + 1] = p
        elseif flags == 2 then kinds.leaf[#kinds.leaf + 1] = p
        elseif flags == 4 then
          -- the whole run of pages the value spans
          for q = p, p + string.unpack("<I4", file, at + 13) - 1 do kinds.overflow[#kinds.overflow + 1] = q end
        end
      end
    end
    assert(#kinds.branch > 0 and #kinds.leaf > 0 and #kinds.overflow > 0,
      ("pages: %d branch, %d leaf, %d overflow"):format(#kinds.branch, #kinds.leaf, #kinds.overflow))
  end)
  teardown(function() H.rm(dir) end)

  -- the damaged file of case i, and the pages it touched
  local function damage(i)
    local r = rng.new(1000 + i)
    local touched = {}
    local order = { "meta", "branch", "leaf", "overflow", "leaf", "branch" }
    if i % 8 == 7 then
      local cuts = { 2 * psize - 1, #file // 2, #file - psize, psize * (2 + r:int(0, npages - 3)) + 100 }
      local len = cuts[(i // 8) % #cuts + 1]
      for p = len // psize, npages - 1 do touched[p] = true end
      return file:sub(1, len), touched, ("cut to %d bytes"):format(len)
    end
    local kind = order[i % #order + 1]
    local list = kinds[kind]
    local p = list[r:int(1, #list)]
    touched[p] = true
    local bytes = file
    local flips = ({ 1, 3, 12 })[i % 3 + 1]
    for _ = 1, flips do
      -- half the flips where the page keeps its header and node offsets,
      -- or (meta pages) the fields LMDB reads
      local span = r:bernoulli(0.5) and (kind == "meta" and 160 or 64) or psize
      local at = p * psize + r:int(0, span - 1)
      bytes = bytes:sub(1, at) .. string.char(bytes:byte(at + 1) ~ (1 << r:int(0, 7))) .. bytes:sub(at + 2)
    end
    return bytes, touched, ("%d flips in %s page %d"):format(flips, kind, p)
  end

  local function plain_failure(r, what)
    assert.is_true(r.code < 128, what .. ": killed by a signal: " .. r.code .. "\n" .. r.stderr)
    assert.is_nil(r.stderr:find("traceback", 1, true), what .. ": " .. r.stderr)
    assert.is_nil(r.stderr:find("%.lua:%d+:"), what .. ": " .. r.stderr)
  end

  it("never crashes, never answers in part, and salvages every record off the damaged pages", function()
    local seen = { ok = 0, damaged = 0 }
    for i = 0, 31 do
      local bytes, touched, how = damage(i)
      local case = ("%s/case%d"):format(dir, i)
      H.sh("mkdir -p " .. case)
      H.write(case .. "/data.mdb", bytes)
      for _, name in ipairs(READ_ORDER) do
        local r = H.run(H.concat(READS[name], { "--data", case }))
        local what = ("%s on %s"):format(name, how)
        plain_failure(r, what)
        if r.code == 0 then
          assert.are.equal(ref[name], r.stdout, what .. ": exit 0 with a different answer")
          seen.ok = seen.ok + 1
        else
          assert.are.equal(1, r.code, what)
          assert.matches("data%.mdb is damaged", r.stderr, 1, false, what)
          assert.matches("causal%-eval results check %-%-data", r.stderr, 1, false, what)
          seen.damaged = seen.damaged + 1
        end
      end
      local c = H.run({ "results", "check", "--data", case, "--salvage", case .. "/salvage.jsonl" })
      plain_failure(c, "check on " .. how)
      assert.is_true(c.code == 0 or c.code == 1, how .. ": check exit " .. c.code .. "\n" .. c.stderr)
      assert.matches(c.code == 0 and "the store is intact" or "the store is damaged", c.stdout, 1, true)
      local got = salvage_lines(case .. "/salvage.jsonl")
      for k, rec in pairs(records) do
        local off = not touched[rec.page]
        if rec.overflow then
          for q = rec.overflow[1], rec.overflow[1] + rec.overflow[2] - 1 do
            if touched[q] then off = false end
          end
        end
        if off then
          assert.is_not_nil(got[k], ("%s: the record %q (page %d) was not salvaged"):format(how, k, rec.page))
          assert.are.equal(rec.line, got[k].line, how)
        end
      end
      -- a resume writes (its run entry, "last"): after the salvage, and it
      -- either finishes or says the store is damaged like the reads
      local r = H.run(H.concat(READS.resume, { "--data", case }))
      plain_failure(r, "resume on " .. how)
      if r.code ~= 0 then
        assert.are.equal(1, r.code, "resume on " .. how .. "\n" .. r.stderr)
        assert.matches("data%.mdb is damaged", r.stderr, 1, false, "resume on " .. how)
        assert.matches("causal%-eval results check %-%-data", r.stderr, 1, false, "resume on " .. how)
      end
      H.rm(case)
    end
    -- the matrix must exercise both outcomes
    assert.is_true(seen.ok > 0 and seen.damaged > 0, json.encode(seen))
  end)

  it("checks an intact store as intact, and reads a store written before records had checksums", function()
    local c = H.run({ "results", "check", "--data", pristine, "--json" })
    assert.are.equal(0, c.code, c.stderr)
    local rep = json.decode(c.stdout)
    assert.is_true(rep.intact)
    assert.are.equal(240, rep.summary.databases.records.read)
    assert.are.equal(0, rep.summary.legacy)
    -- an empty data.mdb is not a new store: its data is gone
    H.sh("mkdir -p " .. dir .. "/empty && : > " .. dir .. "/empty/data.mdb")
    local r = H.run({ "results", "list", "--data", dir .. "/empty" })
    assert.are.equal(1, r.code)
    assert.matches("is damaged: the file is empty", r.stderr, 1, true)
  end)
end)

describe("a full results store", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rm(dir) end)

  -- the run's summary counted none of its answers and said only "full"; a
  -- later `results show` replayed the journal and counted them all
  it("says its answers are kept in the journal, and a resume with room stores every one once", function()
    local data = dir .. "/d"
    local r = H.run({ "run", "--quiet", "--model", "baseline:always_yes", "--bench", "causal_chain,ladder", "--n", "1000",
                      "--data", data, "--set", "store.map_size_mb=1" })
    assert.are.equal(1, r.code, r.stderr)
    assert.matches("the store is full (raise store.map_size_mb); the answers not written are kept in its journal", r.stderr,
      1, true)
    local run_id = r.stderr:match("run (%d+%-%d+%-%x+)")
    r = H.run({ "run", "--json", "--quiet", "--resume", run_id, "--data", data })
    assert.are.equal(0, r.code, r.stderr)
    local rep = json.decode(r.stdout)
    assert.are.equal("completed", rep.status)
    assert.are.equal(2000, rep.models[1].n)
  end)
end)
