-- SPDX-License-Identifier: MIT
-- Exported records are UTF-8 JSON lines whatever a reply held, and `-o -`
-- means standard output for every command that writes through outfile;
-- outfile writes a device or a pipe in place, keeps a link a link, and
-- fails on a write that fails.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local results = require "causal_eval.results"

describe("causal-eval results export", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rm(dir) end)

  local function export(args)
    local r = H.run(H.concat({ "results", "export", "last", "--data", dir .. "/d" }, args or {}), { cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    return r
  end

  it("writes valid UTF-8 whatever bytes a reply held", function()
    -- FF FE: never UTF-8; C3 A9: é; E2 82: a sequence cut short
    -- it reads the prompt: one that exits unread can still kill the run by SIGPIPE (process.run)
    local model = H.write(dir .. "/model.sh",
      "#!/bin/sh\ncat >/dev/null\nprintf 'Yes \\377\\376 caf\\303\\251 \\342\\202'\n")
    H.sh("chmod +x " .. H.quote(model))
    local r = H.run({ "run", "--quiet", "--model", "command:" .. model, "--bench", "ladder", "--n", "2",
                      "--data", dir .. "/d" })
    assert.are.equal(0, r.code, r.stderr)
    local want = "Yes \u{FFFD}\u{FFFD} caf\u{E9} \u{FFFD}"
    r = export()
    assert.truthy(utf8.len(r.stdout), "the export is not UTF-8")
    local n = 0
    for line in r.stdout:gmatch("[^\n]+") do
      assert.are.equal(want, assert(json.decode(line)).response)
      n = n + 1
    end
    assert.are.equal(2, n)
    -- a record stored raw, as before the encoder repaired replies
    local st = assert(results.open(dir .. "/d"))
    local key
    st:scan("records", "", function(k) key = key or k end)
    local raw = st:get("records", key):gsub('"response":"[^"]*"', '"response":"Yes \255"')
    assert(st:put("records", key, raw))
    st:close()
    r = export()
    assert.truthy(utf8.len(r.stdout), "the export is not UTF-8")
    assert.truthy(r.stdout:find('"response":"Yes \u{FFFD}"', 1, true), r.stdout)
  end)

  it("takes -o - as standard output, here, in generate and in profile", function()
    local r = H.run({ "run", "--quiet", "--model", "baseline:random", "--bench", "ladder", "--n", "3",
                      "--data", dir .. "/d" })
    assert.are.equal(0, r.code, r.stderr)
    r = export({ "-o", "-" })
    local _, lines = r.stdout:gsub("\n", "")
    assert.are.equal(3, lines)
    assert.is_nil(H.read(dir .. "/-"), "a file named - was written")
    assert.is_nil(r.stderr:find("wrote", 1, true), r.stderr)
    r = H.run({ "generate", "ladder", "--n", "2", "-o", "-" }, { cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    _, lines = r.stdout:gsub("\n", "")
    assert.are.equal(2, lines)
    assert.is_nil(H.read(dir .. "/-"), "a file named - was written")
    assert.is_nil(r.stderr:find("wrote", 1, true), r.stderr)
    H.write(dir .. "/busy.lua", "local t = {} for i = 1, 200000 do t[i % 100] = i end")
    r = H.run({ "profile", "--folded", "-", "busy.lua" }, { cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("busy.lua", 1, true), r.stdout)
    assert.is_nil(H.read(dir .. "/-"), "a file named - was written")
    -- a file named - is still reachable as ./-
    export({ "-o", "./-" })
    assert.truthy(H.read(dir .. "/-"))
  end)

  it("writes a device or a pipe in place, keeps a link, and fails when a write fails", function()
    local B = H.quote(H.bin)
    local function kind(path) return H.sh("stat -c %F " .. H.quote(path)):gsub("%s+$", "") end
    -- links in this folder: a rename over one replaces the link, never /dev/null or /dev/full
    H.sh(("ln -s /dev/null %s/null && ln -s /dev/full %s/full && mkfifo %s/fifo && echo old > %s/real && ln -s real %s/link")
      :format(H.quote(dir), H.quote(dir), H.quote(dir), H.quote(dir), H.quote(dir)))
    local r = H.run({ "generate", "ladder", "--n", "3", "-o", "null" }, { cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("symbolic link", kind(dir .. "/null"))
    assert.is_nil(H.read(dir .. "/null.tmp"))
    -- a pipe's reader gets the questions, and the pipe stays a pipe
    r = H.run(("cd %s && (timeout 20 cat fifo > got &) && %s generate ladder --n 3 -o fifo && sleep 0.5")
      :format(H.quote(dir), B))
    assert.are.equal(0, r.code, r.stderr)
    local _, lines = (H.read(dir .. "/got") or ""):gsub("\n", "")
    assert.are.equal(3, lines)
    assert.are.equal("fifo", kind(dir .. "/fifo"))
    -- a link to a file: the file is replaced, the link stays
    r = H.run({ "generate", "ladder", "--n", "3", "-o", "link" }, { cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("symbolic link", kind(dir .. "/link"))
    _, lines = H.read(dir .. "/real"):gsub("\n", "")
    assert.are.equal(3, lines)
    -- a full device, standard output on it, a file over its size limit, a folder
    r = H.run({ "generate", "ladder", "--n", "3", "-o", "full" }, { cwd = dir })
    assert.are.equal(1, r.code)
    assert.matches("causal-eval generate: full: No space left on device", r.stderr, 1, true)
    r = H.run(("%s generate ladder --n 3 > /dev/full"):format(B))
    assert.are.equal(1, r.code)
    assert.matches("standard output: No space left on device", r.stderr, 1, true)
    r = H.run(("%s help > /dev/full"):format(B))
    assert.are.equal(1, r.code)
    assert.matches("standard output", r.stderr, 1, true)
    r = H.run(("cd %s && trap '' XFSZ && ulimit -f 8 && exec %s generate all --n 50 -o big.jsonl"):format(H.quote(dir), B))
    assert.are.equal(1, r.code)
    assert.matches("causal-eval generate: big.jsonl: File too large", r.stderr, 1, true)
    assert.is_nil(H.read(dir .. "/big.jsonl"))
    assert.is_nil(H.read(dir .. "/big.jsonl.tmp"))
    r = H.run({ "generate", "ladder", "--n", "3", "-o", "." }, { cwd = dir })
    assert.are.equal(1, r.code)
    assert.matches("causal-eval generate: .: is a directory", r.stderr, 1, true)
  end)
end)
