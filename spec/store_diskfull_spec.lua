-- SPDX-License-Identifier: MIT
-- A results store on a disk that fills up: the run stops saying the disk is
-- full and where (LMDB reported a short write as "Input/output error"), and
-- so does a salvage file that does not fit. The disk is a real one: a small
-- tmpfs when the specs may mount one (root), else a file-size limit
-- (ulimit -f), which the messages name as such.
local H = require "spec.helpers"

describe("a full disk", function()
  local dir, mnt, mounted
  setup(function()
    dir = H.tmpdir()
    mnt = dir .. "/mnt"
    H.sh("mkdir -p " .. mnt)
    local _, code = H.sh(("mount -t tmpfs -o size=600k tmpfs %s"):format(mnt))
    mounted = code == 0
  end)
  teardown(function()
    if mounted then H.sh("umount " .. mnt) end
    H.rm(dir)
  end)

  -- runs the binary with args on the small disk: (exit status, stderr)
  local function on_small_disk(args)
    local words = {}
    for i, a in ipairs(args) do words[i] = H.quote(a) end
    local cmd = H.quote(H.bin) .. " " .. table.concat(words, " ")
    -- without a mount: files may not grow past 600 KiB (SIGXFSZ ignored, so writes fail with EFBIG)
    if not mounted then cmd = "trap '' XFSZ; ulimit -f 1200; exec " .. cmd end
    local r = H.run(cmd)
    return r.code, r.stderr
  end

  local function full(where)
    return (mounted and "the disk is full (%s)" or "size limit for this process (ulimit -f) (%s)"):format(where)
  end

  it("stops a run with the disk full and where, not an I/O error", function()
    local data = mnt .. "/store"
    local code, err = on_small_disk({ "run", "--bench", "all", "--n", "60", "--data", data })
    assert.are.equal(1, code, err)
    assert.is_truthy(err:find(full(data), 1, true), err)
    assert.is_nil(err:find("Input/output error", 1, true), err)
    assert.is_nil(err:find("traceback", 1, true), err)
  end)

  it("says so when a salvage file does not fit", function()
    local data = dir .. "/big"
    local r = H.run({ "run", "--bench", "all", "--n", "60", "--data", data, "--quiet" })
    assert.are.equal(0, r.code, r.stderr)
    H.sh("rm -rf " .. mnt .. "/store")
    local code, err = on_small_disk({ "results", "check", "--data", data, "--salvage", mnt .. "/salvage.jsonl" })
    assert.are.equal(1, code, err)
    assert.is_truthy(err:find(full(mnt), 1, true), err)
    assert.is_nil(H.read(mnt .. "/salvage.jsonl"), "a partial salvage file was left")
  end)
end)
