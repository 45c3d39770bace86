-- SPDX-License-Identifier: MIT
-- A queued run of 2,000 questions whose worker is killed (kill -9) in the
-- middle, three workers in folders of their own writing to one PostgreSQL
-- database (a real PostgreSQL 15 and spec/queue_kill_case.lua).
local PG = require "spec.pg_helpers"
require("spec.queue_kill_case")(PG.backends()[2], { describe = describe, it = it, setup = setup, teardown = teardown,
                                                     assert = assert })
