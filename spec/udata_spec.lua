-- SPDX-License-Identifier: MIT
-- A native object's methods check what they are called on (host/lua/udata.h:
-- its metatable, remembered by the address of its type's name): the right
-- object passes, before and after the first check; any other value gets
-- lauxlib's message, naming the type expected.
local json = require "causal_eval.json"
local rng = require "causal_eval.rng"

describe("a native object's method", function()
  it("takes its own object and refuses any other, with lauxlib's message", function()
    local p, r = json.picker({ "a" }), rng.new(7)
    local function refuses(f, self, expected)
      local ok, err = pcall(f, self, "{}")
      assert.is_false(ok)
      assert.truthy(tostring(err):find(expected .. " expected, got ", 1, true), tostring(err))
    end
    -- refused before any object of the type was checked in this state
    refuses(p.pick, r, "causal_eval.json_picker")
    refuses(p.pick, {}, "causal_eval.json_picker")
    refuses(p.pick, nil, "causal_eval.json_picker")
    for _ = 1, 3 do
      local ok, v = p:pick('{"a": 1}')
      assert.is_true(ok)
      assert.are.equal(1, v)
      assert.is_number(r:uniform())
      -- and after: another type's object, a light userdata, a table
      refuses(p.pick, r, "causal_eval.json_picker")
      refuses(p.pick, json.null, "causal_eval.json_picker")
      refuses(p.pick, setmetatable({}, getmetatable(p)), "causal_eval.json_picker")
      refuses(r.uniform, p, "causal_eval.rng")
    end
  end)
end)
