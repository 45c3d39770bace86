-- SPDX-License-Identifier: MIT
-- Output files that appear whole or not at all: written to PATH.tmp and
-- renamed over PATH on commit, so an interrupted command never leaves half a
-- file where a whole one was expected.
--
-- What is not a plain file is written straight to: standard output, a
-- device, a pipe. Renamed over, /dev/null became a plain file (for the
-- whole machine, as root) and a pipe's reader got nothing. A link to a file
-- stays a link: the file it names is replaced. Every write is checked, and
-- commit fails on the first that failed: on a full disk, generate wrote a
-- cut-off file and said it had written every question.
--
--   local out, err = outfile.open(path)   -- path nil or "-": standard output
--   out.file:write(...)
--   local ok, err = out:commit()          -- or out:abort()
local host = require "causal_eval.host"

local M = {}

local Out = {}
Out.__index = Out

-- a file's writes, the first failure kept for commit
local Writer = {}
Writer.__index = Writer

function Writer:write(...)
  if self.err then return nil, self.err end
  local ok, err = self.f:write(...)
  if not ok then
    self.err = err
    return nil, err
  end
  return self
end

local function writer(f) return setmetatable({ f = f }, Writer) end

--- True when path means standard output: none, or "-" as in most tools
--- (a file really named - is ./-).
function M.is_stdout(path) return path == nil or path == "-" end

function M.open(path)
  if M.is_stdout(path) then return setmetatable({ file = writer(io.stdout), shown = "standard output" }, Out) end
  if path == "" then return nil, "an empty file name" end
  local kind = host.file_kind(path)
  if kind == "directory" then return nil, path .. ": is a directory" end
  if kind and kind ~= "file" then
    local f, err = io.open(path, "wb")
    if not f then return nil, err end
    return setmetatable({ file = writer(f), direct = f, shown = path }, Out)
  end
  local target = kind == "file" and host.realpath(path) or path
  local tmp = target .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  return setmetatable({ file = writer(f), path = target, tmp = tmp, shown = path }, Out)
end

function Out:commit()
  local err = self.file.err
  local ok = err == nil
  local done, cerr
  if self.tmp then
    done, cerr = self.file.f:close()
    if ok and done then done, cerr = os.rename(self.tmp, self.path) end
    if not (ok and done) then os.remove(self.tmp) end
  elseif self.direct then
    done, cerr = self.direct:close()
  else
    done, cerr = io.stdout:flush()
  end
  err = err or (not done and cerr)
  if err then return nil, ("%s: %s"):format(self.shown, (tostring(err):gsub("^.-%.tmp: ", ""))) end
  return true
end

function Out:abort()
  if self.tmp then
    self.file.f:close()
    os.remove(self.tmp)
  elseif self.direct then
    self.direct:close()
  end
end

return M
