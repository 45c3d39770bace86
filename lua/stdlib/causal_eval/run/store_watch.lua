-- SPDX-License-Identifier: MIT
-- The results store while a run works. A PostgreSQL server that cannot be
-- reached is retried by the store's writer (database.retry_for), the
-- answers waiting in memory and in the journal: that is said once, and
-- again when it has passed. A store that failed stops the run at once
-- rather than let it ask for answers it cannot keep; the run ends as
-- failed, and a resume writes what the journal kept.
local M = {}

--- watch(st, stop, code, say) -> tick(): stop is the run's stop flag, code
--- what it is set to, say(fmt, ...) a note for the person running it.
function M.new(st, stop, code, say)
  local shown, last = nil, 0
  local host = require "causal_eval.host"
  return function()
    local now = host.clock()
    if now - last < 0.1 then return end
    last = now
    local msg, state = st:trouble()
    if state == "failed" then
      stop:set(code, "the results store failed")
    elseif state == "retrying" and not shown then
      shown = true
      say("warning: %s", msg)
    elseif not state and shown then
      shown = nil
      say("the results store is reachable again")
    end
  end
end

return M
