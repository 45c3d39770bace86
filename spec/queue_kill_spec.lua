-- SPDX-License-Identifier: MIT
-- A queued run of 2,000 questions whose worker is killed (kill -9) in the
-- middle, three workers sharing an LMDB store on this machine
-- (spec/queue_kill_case.lua).
local PG = require "spec.pg_helpers"
require("spec.queue_kill_case")(PG.backends()[1], { describe = describe, it = it, setup = setup, teardown = teardown,
                                                     assert = assert })
