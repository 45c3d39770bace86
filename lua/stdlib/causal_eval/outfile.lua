-- SPDX-License-Identifier: MIT
-- Output files that appear whole or not at all: written to PATH.tmp and
-- renamed over PATH on commit, so an interrupted command never leaves half a
-- file where a whole one was expected.
--
--   local out, err = outfile.open(path)   -- path nil or "-": standard output
--   out.file:write(...)
--   local ok, err = out:commit()          -- or out:abort()
local M = {}

local Out = {}
Out.__index = Out

--- True when path means standard output: none, or "-" as in most tools
--- (a file really named - is ./-).
function M.is_stdout(path) return path == nil or path == "-" end

function M.open(path)
  if M.is_stdout(path) then return setmetatable({ file = io.stdout }, Out) end
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  return setmetatable({ file = f, path = path, tmp = tmp }, Out)
end

function Out:commit()
  if not self.tmp then return true end
  local ok, err = self.file:close()
  if ok then ok, err = os.rename(self.tmp, self.path) end
  if not ok then
    os.remove(self.tmp)
    return nil, tostring(err)
  end
  return true
end

function Out:abort()
  if self.tmp then
    self.file:close()
    os.remove(self.tmp)
  end
end

return M
