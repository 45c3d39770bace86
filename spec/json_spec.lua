-- SPDX-License-Identifier: MIT
local json = require "causal_eval.json"

describe("causal_eval.json", function()
  it("encodes with sorted keys, so equal values give equal bytes", function()
    assert.are.equal('{"a":1,"b":[1,2,{"c":true,"d":null}],"z":"x"}',
      json.encode({ z = "x", b = { 1, 2, { d = json.null, c = true } }, a = 1 }))
    local t = {}
    for i = 1, 50 do t["k" .. i] = i end
    assert.are.equal(json.encode(t), json.encode(t))
  end)

  it("orders keys byte by byte, as memcmp does, past shared prefixes and zero bytes", function()
    -- keys that share 8 bytes or more, end where another goes on, hold a
    -- zero byte or bytes above 0x7f: memcmp's order, the shorter first
    -- where one begins the other (the order records are written in)
    local keys = { "", "a", "a\0", "a\0b", "a\1", "ab", "abcdefgh", "abcdefgh\0", "abcdefghi", "abcdefgh\255",
      "abcdefg", "abcdefgz", "\255", "\255\0", "\127", "\128", "é", "e", "ez", "b", "bcdefghij", "bcdefghia",
      "answer_type", "answer_text", "attempts" }
    local function bytewise(x, y)
      for i = 1, math.min(#x, #y) do
        local a, b = x:byte(i), y:byte(i)
        if a ~= b then return a < b end
      end
      return #x < #y
    end
    local want = { table.unpack(keys) }
    table.sort(want, bytewise)
    local t = {}
    for i, k in ipairs(keys) do t[k] = i end
    local text = json.encode(t)
    local parts = {}
    for _, k in ipairs(want) do parts[#parts + 1] = json.encode(k) .. ":" .. t[k] end
    assert.are.equal("{" .. table.concat(parts, ",") .. "}", text)
  end)

  it("keeps integers and floats apart, with the shortest round-trip floats", function()
    assert.are.equal("[1,1.0,0.1,0.30000000000000004,-0.0,1e-07,123456.789]",
      json.encode({ 1, 1.0, 0.1, 0.1 + 0.2, -0.0, 1e-7, 123456.789 }))
    local v = json.decode("[1, 1.0, 2.5e3, -7]")
    assert.are.equal("integer", math.type(v[1]))
    assert.are.equal("float", math.type(v[2]))
    assert.are.equal(2500.0, v[3])
    assert.are.equal(-7, v[4])
    for _, x in ipairs({ 0.1, 1 / 3, math.pi, 1e300, 5e-324, -2.5, 0.07 }) do
      assert.are.equal(x, json.decode(json.encode(x)))
    end
  end)

  it("escapes strings and reads escapes, surrogate pairs included", function()
    assert.are.equal('"a\\"b\\\\c\\n\\t\\u0001é"', json.encode('a"b\\c\n\t\1é'))
    -- every byte that needs an escape, among runs of plain text
    assert.are.equal('"x\\b\\f\\r\\u001f\\u007fy ~"', json.encode("x\b\f\r\31\127y ~"))
    assert.are.equal("x\u{e9}\u{1F600}/", json.decode('"x\\u00e9\\ud83d\\ude00\\/"'))
  end)

  it("marks empty arrays and passes null through", function()
    assert.are.equal('{"a":[],"b":{}}', json.encode({ a = json.array(), b = {} }))
    local v = json.decode('{"a": null, "b": [null, 1]}')
    assert.are.equal(json.null, v.a)
    assert.are.equal(json.null, v.b[1])
    assert.are.equal(json.null, require("cjson").null)
  end)

  it("reports where malformed input breaks, with the name given", function()
    local cases = {
      { '{"a": [1, 2,]}', "f.json:1:13: unexpected character" },
      { '\n\n  {"a" 1}', "f.json:3:8: expected ':' after the key" },
      { '[1, 2', "f.json:1:6: unterminated array" },
      { '"abc', "f.json:1:1: unterminated string" },
      { '{"a": 01}', "f.json:1:7: number with a leading zero" },
      { '"\\ud800"', "f.json:1:2: lone UTF-16 surrogate in \\u escape" },
      { '[1] x', "f.json:1:5: unexpected text after the value" },
      { '', "f.json:1:1: unexpected end of input" },
    }
    for _, c in ipairs(cases) do
      local v, err = json.decode(c[1], "f.json")
      assert.is_nil(v)
      assert.are.equal(c[2], err)
    end
  end)

  it("raises on values JSON cannot hold, naming where they are", function()
    assert.has_error(function() json.encode({ a = { print } }) end, "json.encode: a value of type function at .a[1]")
    assert.has_error(function() json.encode({ x = 0 / 0 }) end, "json.encode: NaN or infinity (not JSON) at .x")
    local cyc = {}
    cyc.self = cyc
    assert.has_error(function() json.encode(cyc) end)
    assert.has_error(function() json.encode({ [true] = 1 }) end)
    assert.has_error(function() json.encode(print) end, "json.encode: a value of type function at the top level")
    assert.has_error(function() json.encode({ a = { { 1, { b = { [3] = 1, c = print } } } } }) end,
      "json.encode: a value of type function at .a[1][2].b.c")
    assert.has_error(function() json.encode({ a = { [2] = 1, [true] = 2 } }) end,
      "json.encode: a table key of type boolean (JSON keys are strings) at .a")
    -- a path over 511 characters is cut there
    local deep, t = {}, nil
    t = deep
    for _ = 1, 100 do t.abcdefgh = {}; t = t.abcdefgh end
    t.x = print
    local ok, err = pcall(json.encode, deep)
    assert.is_false(ok)
    assert.are.equal(("json.encode: a value of type function at " .. (".abcdefgh"):rep(57)):sub(1, 41 + 511), err)
  end)

  it("writes integers exactly, at both ends of their range", function()
    for _, v in ipairs({ 0, 7, -7, 10, -10, 1234567890123, math.maxinteger, math.mininteger }) do
      assert.are.equal(string.format("%d", v), json.encode(v))
      assert.are.equal(v, json.decode(json.encode(v)))
    end
    assert.are.equal('{"a":-1,"b":[1,-20,300]}', json.encode({ b = { 1, -20, 300 }, a = -1 }))
  end)

  it("builds only the kept keys of a top-level object, and checks the whole text", function()
    local text = '{"id":"q1","graph":{"nodes":["a","b"],"edges":[["a","b"]]},"p":[0.5,{"x":null}],"prompt":"Is it?","n":3}'
    local v = json.decode(text, "q.json", { "id", "prompt", "missing" })
    assert.are.same({ id = "q1", prompt = "Is it?" }, v)
    assert.are.same({ graph = json.decode(text).graph, n = 3 }, json.decode(text, nil, { "graph", "n" }))
    -- nested objects keep all their keys; only the top level is chosen from
    assert.are.same({ graph = { nodes = { "a", "b" }, edges = { { "a", "b" } } } }, json.decode(text, nil, { "graph" }))
    -- a top-level array or scalar is decoded whole
    assert.are.same({ 1, { a = 2 } }, json.decode('[1,{"a":2}]', nil, { "b" }))
    assert.are.equal(7, json.decode("7", nil, { "b" }))
    -- an error in a skipped value is found and placed as without keep
    for _, bad in ipairs({ '{"id":1,"graph":{"a":[1,2}}', '{"id":1,"g":"\\q"}', '{"id":1,"g":[1,2', '{"id":1,"g":tru}' }) do
      local v1, e1 = json.decode(bad, "f.json")
      local v2, e2 = json.decode(bad, "f.json", { "id" })
      assert.is_nil(v1)
      assert.is_nil(v2)
      assert.are.equal(e1, e2)
    end
    assert.has_error(function() json.decode("{}", nil, { 1 }) end)
  end)

  it("refuses a number beyond a double, which it could not write back", function()
    for _, text in ipairs({ "1e309", "-1e400", '{"a":0.51e309}', "[1,2e999]" }) do
      local v, err = json.decode(text, "n.json")
      assert.is_nil(v)
      assert.matches("number out of range", err, 1, true)
    end
    assert.are.equal(1.7976931348623157e308, json.decode("1.7976931348623157e308"))
    assert.are.equal(0, json.decode("1e-400"))
  end)

  it("works again after an error, and after a large value", function()
    for _ = 1, 3 do
      assert.has_error(function() json.encode({ a = { b = print } }) end, "json.encode: a value of type function at .a.b")
      assert.are.equal('{"a":1}', json.encode({ a = 1 }))
      assert.is_nil((json.decode('{"a":"\\q"}')))
      assert.are.same({ a = "\n" }, json.decode('{"a":"\\n"}'))
    end
    local big = ("x"):rep(3 * 1024 * 1024)
    for _ = 1, 2 do
      assert.are.equal(big, json.decode(json.encode(big)))
      assert.are.equal(#big + 2, #json.encode(big))
    end
    -- a finalizer that encodes while a decode is under way gets its own buffer
    local seen
    for _ = 1, 200 do setmetatable({}, { __gc = function() seen = json.encode({ in_gc = true }) end }) end
    local parts = {}
    for i = 1, 2000 do parts[i] = ('{"k%d":"%s"}'):format(i, ("v"):rep(50)) end
    local v = json.decode("[" .. table.concat(parts, ",") .. "]")
    assert.are.equal(2000, #v)
    collectgarbage()
    assert.are.equal('{"in_gc":true}', seen)
  end)

  it("reads escapes, quotes and control characters in every position of a string", function()
    for pos = 0, 39 do
      local a, b = ("a"):rep(pos), ("b"):rep(39 - pos)
      for esc, want in pairs({ ['\\"'] = '"', ["\\\\"] = "\\", ["\\n"] = "\n", ["\\u00e9"] = "\u{e9}", ["\u{e9}"] = "\u{e9}" }) do
        assert.are.equal(a .. want .. b, json.decode('"' .. a .. esc .. b .. '"'))
      end
      local v, err = json.decode('"' .. a .. "\1" .. b .. '"', "s.json")
      assert.is_nil(v)
      assert.are.equal(("s.json:1:%d: control character in string (escape it)"):format(pos + 2), err)
      -- a string cut short in any position
      v, err = json.decode('"' .. a, "s.json")
      assert.is_nil(v)
      assert.matches("unterminated string", err)
    end
  end)

  it("decodes long arrays and objects, nested, in order", function()
    local arr, obj = {}, {}
    for i = 1, 100000 do arr[i] = (i % 3 == 0) and { i, tostring(i) } or i end
    for i = 1, 1000 do obj["k" .. i] = { n = i, list = { i, i + 1 }, empty = {} } end
    local v = json.decode(json.encode({ arr = arr, obj = obj, last = "x" }))
    assert.are.equal(100000, #v.arr)
    assert.are.same({ 99999, "99999" }, v.arr[99999])
    assert.are.equal(100000, v.arr[100000])
    assert.are.same({ n = 1000, list = { 1000, 1001 }, empty = {} }, v.obj.k1000)
    assert.are.equal("[]", json.encode(json.decode("[]")))
    assert.are.equal('{"a":[],"b":{}}', json.encode(json.decode('{"a":[],"b":{}}')))
    -- a key given twice: the last one, as before
    assert.are.same({ a = 2 }, json.decode('{"a":1,"a":2}'))
  end)

  it("writes number keys as strings, in small and large objects", function()
    assert.are.equal('{"1":"a","3":"c","b":true}', json.encode({ [1] = "a", [3] = "c", b = true }))
    assert.are.equal('{"-2":1,"10":2}', json.encode({ [10] = 2, [-2] = 1 }))
    local big = { x = 1 }
    for i = 2, 60, 2 do big[i] = i end
    big[61] = 61
    local text = json.encode(big)
    assert.are.equal(61, json.decode(text)["61"])
    assert.are.equal(1, json.decode(text).x)
    assert.has_error(function() json.encode({ [1] = 1, ["1"] = 2, [5] = 0 }) end,
      "json.encode: key '1' given twice (as a string and a number) at the top level")
    assert.are.equal("{}", json.encode({}))
    assert.are.equal("[]", json.encode(json.array({})))
    assert.are.equal('{"a":{},"b":[]}', json.encode({ a = {}, b = json.array({}) }))
  end)

  it("sorts the keys of small and large objects alike", function()
    for _, n in ipairs({ 1, 2, 5, 31, 32, 33, 100 }) do
      local t, keys = {}, {}
      for i = n, 1, -1 do
        local k = ("k%03d"):format((i * 37) % 101)
        t[k] = i
        keys[#keys + 1] = k
      end
      table.sort(keys)
      local parts = {}
      for _, k in ipairs(keys) do parts[#parts + 1] = ('"%s":%d'):format(k, t[k]) end
      assert.are.equal("{" .. table.concat(parts, ",") .. "}", json.encode(t))
    end
  end)

  it("round-trips a generated question", function()
    local bench = require "causal_eval.bench"
    local q = bench.question(assert(bench.load("intervention")), bench.options{}, 7, 3)
    local s = json.encode(q)
    assert.are.equal(s, json.encode(json.decode(s)))
  end)
end)
