-- SPDX-License-Identifier: MIT
-- causal_eval.yaml under the host: core-schema scalars, collections, aliases,
-- merges, documents, limits, marks, and both error contracts (misuse raises,
-- failure returns nil, "name:line:column: message", kind).
local yaml = require "causal_eval.yaml"

local null = yaml.null

-- load must fail with this kind and exactly this message
local function fails(kind, msg, text, opts)
  local v, err, k = yaml.load(text, opts)
  assert.is_nil(v, "expected a failure for: " .. text)
  assert.are.equal(msg, err)
  assert.are.equal(kind, k)
end

-- fn(...) must raise an error whose message contains pattern (plain text)
local function raises(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.is_truthy(tostring(err):find(pattern, 1, true),
    ("error %q does not contain %q"):format(tostring(err), pattern))
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local function tmpdir()
  local name = os.tmpname()
  os.remove(name)
  assert(os.execute("mkdir -p '" .. name .. "'"))
  return name
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

local function nested(n, inner)
  return ("["):rep(n) .. (inner or "") .. ("]"):rep(n)
end

describe("causal_eval.yaml", function()
  describe("scalars (YAML 1.2 core schema)", function()
    it("reads integers as Lua integers", function()
      local cases = {
        ["0"] = 0, ["42"] = 42, ["-17"] = -17, ["+17"] = 17, ["012"] = 12,
        ["0o17"] = 15, ["0x1F"] = 31, ["0xff"] = 255,
        ["9223372036854775807"] = math.maxinteger,
        ["-9223372036854775808"] = math.mininteger,
        ["0x7FFFFFFFFFFFFFFF"] = math.maxinteger,
      }
      for text, want in pairs(cases) do
        local v = yaml.load(text)
        assert.are.equal(want, v, text)
        assert.are.equal("integer", math.type(v), text)
      end
    end)

    it("keeps non-core integer spellings as strings", function()
      for _, text in ipairs { "0o8", "0x", "0X10", "-0x10", "1_000", "0b101", "12abc" } do
        assert.are.equal(text, yaml.load(text))
      end
    end)

    it("refuses integers that do not fit in 64 bits", function()
      fails("schema", "<string>:1:1: integer 9223372036854775808 does not fit in 64 bits",
        "9223372036854775808")
      fails("schema", "<string>:1:1: integer -9223372036854775809 does not fit in 64 bits",
        "-9223372036854775809")
      fails("schema", "<string>:2:6: integer 0x8000000000000000 does not fit in 64 bits",
        "a:\n  b: 0x8000000000000000\n")
    end)

    it("reads floats as Lua floats", function()
      local cases = {
        ["1.5"] = 1.5, ["-1.5"] = -1.5, [".5"] = 0.5, ["-.5"] = -0.5, ["1."] = 1.0,
        ["1.0"] = 1.0, ["1e3"] = 1000.0, ["1E-2"] = 0.01, ["2.5e+1"] = 25.0,
        [".inf"] = math.huge, [".Inf"] = math.huge, [".INF"] = math.huge, ["+.inf"] = math.huge,
        ["-.inf"] = -math.huge, ["-.Inf"] = -math.huge, ["-.INF"] = -math.huge,
      }
      for text, want in pairs(cases) do
        local v = yaml.load(text)
        assert.are.equal(want, v, text)
        assert.are.equal("float", math.type(v), text)
      end
      for _, text in ipairs { ".nan", ".NaN", ".NAN" } do
        local v = yaml.load(text)
        assert.are.equal("float", math.type(v))
        assert.is_true(v ~= v, text .. " is NaN")
      end
      local long = "1" .. ("0"):rep(150) .. ".5"
      assert.are.equal(1e150, yaml.load(long))
    end)

    it("keeps float look-alikes as strings", function()
      for _, text in ipairs { "-.nan", ".iNf", "inf", "1e", "e3", ".", "1.2.3", "1,5" } do
        assert.are.equal(text, yaml.load(text))
      end
    end)

    it("reads booleans in all three cases", function()
      for _, t in ipairs { "true", "True", "TRUE" } do assert.are.equal(true, yaml.load(t)) end
      for _, t in ipairs { "false", "False", "FALSE" } do assert.are.equal(false, yaml.load(t)) end
      for _, t in ipairs { "tRUE", "yes", "no", "on", "off", "y" } do assert.are.equal(t, yaml.load(t)) end
    end)

    it("reads null forms as yaml.null", function()
      for _, t in ipairs { "~", "null", "Null", "NULL" } do assert.are.equal(null, yaml.load(t)) end
      assert.are.equal("nULL", yaml.load("nULL"))
      local t = yaml.load("a:\nb: ~\nc: null\n")
      assert.are.equal(null, t.a)
      assert.are.equal(null, t.b)
      assert.are.equal(null, t.c)
      assert.are.equal(3, count(t)) -- keys with null values survive
      assert.are.equal(null, yaml.load(""))
      assert.are.equal(null, yaml.load("---\n"))
      assert.are.equal(null, yaml.load("# comment only\n"))
    end)

    it("keeps quoted and block scalars as strings", function()
      assert.are.equal("1", yaml.load("'1'"))
      assert.are.equal("true", yaml.load('"true"'))
      assert.are.equal("null", yaml.load("'null'"))
      assert.are.equal("~", yaml.load('"~"'))
      assert.are.equal("", yaml.load("''"))
      assert.are.equal("123\n", yaml.load("|\n  123\n"))
      assert.are.equal("a\0b", yaml.load('"a\\0b"'))
      assert.are.equal("é", yaml.load('"\\u00e9"'))
    end)

    it("applies core tags and refuses the others", function()
      assert.are.equal("1", yaml.load("!!str 1"))
      assert.are.equal("true", yaml.load("!!str true"))
      assert.are.equal("12", yaml.load("! 12"))
      assert.are.equal(12, yaml.load("!!int 12"))
      assert.are.equal(16, yaml.load("!!int '0x10'"))
      local f = yaml.load("!!float 1")
      assert.are.equal(1.0, f)
      assert.are.equal("float", math.type(f))
      assert.are.equal(false, yaml.load('!!bool "false"'))
      assert.are.equal(null, yaml.load("!!null ''"))
      assert.are.same({ 1 }, yaml.load("!!seq [1]"))
      assert.are.same({ a = 1 }, yaml.load("!!map {a: 1}"))
      fails("schema", "<string>:1:1: 'abc' is not a valid !!int", "!!int abc")
      fails("schema", "<string>:1:4: '1.5' is not a valid !!int", "a: !!int 1.5")
      fails("schema", "<string>:1:3: '1' is not a valid !!bool", "- !!bool 1")
      fails("schema", "<string>:2:6: unsupported tag !custom", "a:\n  b: !custom x\n")
      fails("schema", "<string>:1:1: unsupported tag tag:yaml.org,2002:binary", "!!binary aGk=")
      fails("schema", "<string>:1:1: unsupported tag tag:yaml.org,2002:map", "!!map [1]")
    end)
  end)

  describe("collections", function()
    it("reads sequences and mappings", function()
      local t = yaml.load("name: demo\nlist:\n  - a\n  - b: 1\n    c: [x, y]\nn: 3\n")
      assert.are.same({ name = "demo", list = { "a", { b = 1, c = { "x", "y" } } }, n = 3 }, t)
      assert.are.same({ 1, "two", 3.0, {}, {} }, yaml.load("[1, two, 3.0, [], {}]"))
      assert.are.same({}, yaml.load("[]"))
    end)

    it("keeps scalar key types", function()
      local t = yaml.load("1: int\n1.5: float\ntrue: bool\n'1': str\n")
      assert.are.equal("int", t[1])
      assert.are.equal("float", t[1.5])
      assert.are.equal("bool", t[true])
      assert.are.equal("str", t["1"])
      assert.are.equal(4, count(t))
    end)

    it("refuses keys Lua cannot hold", function()
      fails("schema", "<string>:1:3: mapping keys must be scalars", "? [a]\n: 1\n")
      fails("schema", "<string>:2:1: null mapping key is not supported", "a: 1\n~: 2\n")
      fails("schema", "<string>:2:3: NaN mapping key is not supported", "x:\n  .nan: 1\n")
    end)
  end)

  describe("anchors and aliases", function()
    it("copies the anchored value at each alias", function()
      local t = yaml.load("a: &x {k: [1, 2]}\nb: *x\nc: &s hello\nd: *s\n")
      assert.are.same(t.a, t.b)
      assert.are_not.equal(t.a, t.b) -- fresh tables per visit
      t.b.k[1] = 99
      assert.are.equal(1, t.a.k[1])
      assert.are.equal("hello", t.d)
    end)

    it("uses the latest definition of a redefined anchor", function()
      assert.are.same({ 1, 1, 2, 2 }, yaml.load("- &a 1\n- *a\n- &a 2\n- *a\n"))
    end)

    it("reports unknown and recursive aliases where they are", function()
      fails("schema", "<string>:1:4: alias *nope names no anchor", "a: *nope\n")
      fails("schema", "<string>:3:4: alias *x names no anchor", "a: &x 1\n---\nb: *x\n")
      fails("schema", "<string>:1:5: alias *a refers to its own enclosing node", "&a [*a]")
      fails("schema", "<string>:3:8: alias *x refers to its own enclosing node",
        "a: &x\n  b:\n    c: *x\n")
    end)
  end)

  describe("merge keys", function()
    it("merges, with explicit keys winning", function()
      local t = yaml.load("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n")
      assert.are.same({ x = 1, y = 3 }, t.m)
      assert.are.same({ x = 1, y = 2 }, t.base)
    end)

    it("lets the first of several merged mappings win", function()
      local t = yaml.load("a: &a {x: 1}\nb: &b {x: 2, z: 3}\nm: {<<: [*a, *b], w: 0}\n")
      assert.are.same({ x = 1, z = 3, w = 0 }, t.m)
      t = yaml.load("a: &a {x: 1}\nb: &b {x: 2, z: 3}\nm: {<<: [*b, *a]}\n")
      assert.are.same({ x = 2, z = 3 }, t.m)
    end)

    it("treats a quoted << as a plain key", function()
      assert.are.same({ ["<<"] = 1 }, yaml.load("'<<': 1\n"))
    end)

    it("refuses to merge anything but mappings, located at <<", function()
      fails("schema", "<string>:3:3: merge key << expects a mapping or a sequence of mappings",
        "s: &s 1\nm:\n  <<: *s\n")
      fails("schema", "<string>:1:5: merge key << expects a mapping or a sequence of mappings",
        "m: {<<: [{a: 1}, 2]}")
    end)
  end)

  describe("documents", function()
    it("load returns the single document", function()
      assert.are.same({ a = 1 }, yaml.load("---\na: 1\n...\n"))
    end)

    it("load refuses several documents and names load_all", function()
      fails("schema", "<string>:3:1: expected one document, found 2 (use load_all)", "a: 1\n---\nb: 2\n")
    end)

    it("load_all returns every document in a list", function()
      local docs = yaml.load_all("a: 1\n---\nb: 2\n...\n---\n- x\n--- 7\n---\n")
      assert.are.same({ { a = 1 }, { b = 2 }, { "x" }, 7, null }, docs)
      assert.are.same({}, yaml.load_all(""))
      assert.are.same({ 1 }, yaml.load_all("1"))
    end)

    it("fails the whole stream on an error in a later document", function()
      local v, err, kind = yaml.load_all("a: 1\n---\nb: [\n")
      assert.is_nil(v)
      assert.are.equal("<string>:4:1: did not find expected node content (while parsing a flow node at line 4)", err)
      assert.are.equal("syntax", kind)
    end)
  end)

  describe("duplicate keys", function()
    it("are errors naming both places", function()
      fails("schema", "<string>:2:1: duplicate key 'a' (first at line 1)", "a: 1\na: 2\n")
      fails("schema", "<string>:4:3: duplicate key 'k' (first at line 2)", "x:\n  k: 1\n  j: 2\n  k: 3\n")
    end)

    it("compare keys as Lua stores them", function()
      fails("schema", "<string>:2:1: duplicate key (first at line 1)", "1: a\n1.0: b\n")
      fails("schema", "<string>:2:1: duplicate key (first at line 1)", "0x10: a\n16: b\n")
      fails("schema", "<string>:2:1: duplicate key (first at line 1)", "9220000000000000000: a\n9.22e18: b\n")
      fails("schema", "<string>:3:1: duplicate key 'x' (first at line 2)", "a: &k x\nx: 1\n*k : 2\n")
      assert.are.equal(3, count(yaml.load("1: a\n'1': b\ntrue: c\n")))
    end)

    it("stay fast on a 100k-key mapping", function()
      local parts = {}
      for i = 1, 100000 do parts[i] = ("key%d: %d"):format(i, i) end
      local text = table.concat(parts, "\n")
      local t0 = os.clock()
      local t = assert(yaml.load(text))
      assert.are.equal(100000, count(t))
      assert.are.equal(77777, t.key77777)
      local v, err = yaml.load(text .. "\nkey5: again\n")
      assert.is_nil(v)
      assert.are.equal("<string>:100001:1: duplicate key 'key5' (first at line 5)", err)
      assert.is_true(os.clock() - t0 < 10, "took " .. (os.clock() - t0) .. " s")
    end)
  end)

  describe("limits", function()
    it("stops an alias bomb quickly with a limit error", function()
      local lol = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
      for i, c in ipairs { "b", "c", "d", "e", "f", "g", "h", "i" } do
        local prev = string.char(c:byte() - 1)
        lol = lol .. c .. ": &" .. c .. " [" .. ("*" .. prev .. ","):rep(9) .. "*" .. prev .. "]\n"
        assert(i)
      end
      local t0 = os.clock()
      fails("limit", "<string>:6:29: document expands to more than 1000000 nodes (alias expansion bound, max_nodes)", lol)
      assert.is_true(os.clock() - t0 < 1, "took " .. (os.clock() - t0) .. " s")
    end)

    it("applies max_nodes to the whole stream", function()
      local text = "[1, 2, 3, 4, 5]\n---\n[1, 2, 3, 4, 5]\n"
      assert.are.equal(2, #yaml.load_all(text, { max_nodes = 12 }))
      local v, err, kind = yaml.load_all(text, { max_nodes = 10 })
      assert.is_nil(v)
      assert.are.equal("<string>:3:11: documents together expand to more than 10 nodes (alias expansion bound, max_nodes)", err)
      assert.are.equal("limit", kind)
    end)

    it("allows 64 levels and refuses 65", function()
      assert.is_table(yaml.load(nested(64)))
      assert.is_table(yaml.load(nested(63, "1")))
      fails("limit", "<string>:1:65: document nested deeper than 64 levels (max_depth)", nested(65))
      fails("limit", "<string>:1:65: document nested deeper than 64 levels (max_depth)", nested(64, "1"))
    end)

    it("counts depth through aliases", function()
      local text = "a: &a " .. nested(62) .. "\nb: *a\nc: [*a]\nd: [[*a]]\n"
      fails("limit", "<string>:4:6: document nested deeper than 64 levels (max_depth)", text)
      fails("limit", "<string>:3:5: document nested deeper than 3 levels (max_depth)",
        "x: &x [1]\ny: *x\nz: [*x]\n", { max_depth = 3 })
      assert.is_table(yaml.load("x: &x [1]\ny: *x\n", { max_depth = 3 }))
    end)

    it("honours max_size", function()
      assert.are.same({ a = 12345 }, yaml.load("a: 12345", { max_size = 8 }))
      fails("limit", "<string>: input is 9 bytes, over the limit of 8 bytes (max_size)", "a: 123456", { max_size = 8 })
    end)
  end)

  describe("errors", function()
    it("locates syntax errors at line:column", function()
      fails("syntax", "<string>:1:11: mapping values are not allowed in this context", "key: value: x\n")
      fails("syntax", "<string>:2:2: did not find expected ',' or ']' (while parsing a flow sequence at line 1)",
        "a: [1, 2\nb: 3\n")
      fails("syntax", "<string>:3:2: did not find expected key (while parsing a block mapping at line 1)",
        "a:\n  - 1\n - 2\n")
      fails("syntax", "<string>:2:6: found character that cannot start any token (while scanning for the next token at line 2)",
        "ok: 1\nbad: @x\n")
      fails("syntax", "<string>:2:5: control characters are not allowed (#x1)", "a: 1\nb: x\1y\n")
      fails("syntax", "<string>:2:4: invalid leading UTF-8 octet (#xFF)", "a: 1\nb: \255\n")
    end)

    it("uses the filename option in messages", function()
      local v, err, kind = yaml.load("x: [\n", { filename = "cfg/x.yaml" })
      assert.is_nil(v)
      assert.are.equal("cfg/x.yaml:2:1: did not find expected node content (while parsing a flow node at line 2)", err)
      assert.are.equal("syntax", kind)
    end)

    it("gives every failure kind a located message", function()
      local cases = {
        { "syntax", "a: [\n" },
        { "schema", "a: 1\na: 2\n" },
        { "limit", nested(70) },
      }
      for _, c in ipairs(cases) do
        local v, err, kind = yaml.load(c[2], { filename = "f.yaml" })
        assert.is_nil(v)
        assert.are.equal(c[1], kind)
        assert.is_truthy(err:match("^f%.yaml:%d+:%d+: "), err)
      end
    end)
  end)

  describe("files", function()
    local dir
    setup(function() dir = tmpdir() end)
    teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

    it("loads a file, and all its documents", function()
      local p = write(dir .. "/ok.yaml", "a: 1\nb: [x, y]\n")
      assert.are.same({ a = 1, b = { "x", "y" } }, yaml.load_file(p))
      p = write(dir .. "/two.yaml", "--- 1\n--- 2\n")
      assert.are.same({ 1, 2 }, yaml.load_file_all(p))
      local v, err, kind = yaml.load_file(p)
      assert.is_nil(v)
      assert.are.equal(p .. ":2:5: expected one document, found 2 (use load_all)", err)
      assert.are.equal("schema", kind)
    end)

    it("prefixes errors with the file path", function()
      local p = write(dir .. "/bad.yaml", "a: 1\nb: [x, y\n")
      local v, err, kind = yaml.load_file(p)
      assert.is_nil(v)
      assert.are.equal(p .. ":3:1: did not find expected ',' or ']' (while parsing a flow sequence at line 2)", err)
      assert.are.equal("syntax", kind)
      p = write(dir .. "/dup.yaml", "a: 1\na: 2\n")
      v, err, kind = yaml.load_file(p)
      assert.are.equal(p .. ":2:1: duplicate key 'a' (first at line 1)", err)
      assert.are.equal("schema", kind)
      v, err, kind = yaml.load_file_all(p)
      assert.are.equal(p .. ":2:1: duplicate key 'a' (first at line 1)", err)
      p = write(dir .. "/big.yaml", "a: 1234567890\n")
      v, err, kind = yaml.load_file(p, { max_size = 8 })
      assert.are.equal(p .. ":1:1: file is over the limit of 8 bytes (max_size)", err)
      assert.are.equal("limit", kind)
    end)

    it("reports a missing file and a directory as io failures", function()
      local v, err, kind = yaml.load_file(dir .. "/missing.yaml")
      assert.is_nil(v)
      assert.are.equal(dir .. "/missing.yaml: cannot open: No such file or directory", err)
      assert.are.equal("io", kind)
      v, err, kind = yaml.load_file(dir)
      assert.is_nil(v)
      assert.are.equal(dir .. ": is a directory", err)
      assert.are.equal("io", kind)
    end)

    it("returns marks from files too", function()
      local p = write(dir .. "/m.yaml", "dev:\n  port: 80\n")
      local t, marks = yaml.load_file(p, { marks = true })
      assert.are.same({ dev = { port = 80 } }, t)
      assert.are.same({ line = 2, column = 9, key_line = 2, key_column = 3 }, marks["dev.port"])
    end)
  end)

  describe("yaml.null", function()
    it("is one value, equal to itself and distinct from nil and false", function()
      assert.are.equal(yaml.null, yaml.null)
      assert.are.equal(yaml.null, yaml.load("~"))
      assert.are.equal("userdata", type(yaml.null))
      assert.are_not.equal(nil, yaml.null)
      assert.are_not.equal(false, yaml.null)
      assert.is_true(yaml.load("~") == yaml.load("null"))
    end)

    it("equals cjson.null when lua-cjson is there", function()
      local ok, cjson = pcall(require, "cjson")
      if ok then assert.are.equal(cjson.null, yaml.null) end
    end)
  end)

  describe("marks", function()
    it("maps dotted paths to value and key positions", function()
      local t, marks = yaml.load("name: demo\nlist:\n  - a\n  - b: 1\n    c: [x, y]\n", { marks = true })
      assert.are.equal("demo", t.name)
      assert.are.same({ line = 1, column = 1 }, marks[""])
      assert.are.same({ line = 1, column = 7, key_line = 1, key_column = 1 }, marks.name)
      assert.are.same({ line = 3, column = 3, key_line = 2, key_column = 1 }, marks.list)
      assert.are.same({ line = 3, column = 5 }, marks["list.1"])
      assert.are.same({ line = 4, column = 5 }, marks["list.2"])
      assert.are.same({ line = 4, column = 8, key_line = 4, key_column = 5 }, marks["list.2.b"])
      assert.are.same({ line = 5, column = 8, key_line = 5, key_column = 5 }, marks["list.2.c"])
      assert.are.same({ line = 5, column = 12 }, marks["list.2.c.2"])
      assert.are.equal(9, count(marks))
    end)

    it("gives non-string keys their Lua spelling", function()
      local _, marks = yaml.load("1: a\ntrue: b\n", { marks = true })
      assert.are.same({ line = 1, column = 4, key_line = 1, key_column = 1 }, marks["1"])
      assert.are.same({ line = 2, column = 7, key_line = 2, key_column = 1 }, marks["true"])
    end)

    it("places an aliased value at its anchor and a merged key at its source", function()
      local _, marks = yaml.load("a: &x [1]\nb: *x\nm:\n  <<: {k: 2}\n", { marks = true })
      assert.are.same({ line = 1, column = 4, key_line = 2, key_column = 1 }, marks.b)
      assert.are.same({ line = 1, column = 8 }, marks["b.1"])
      assert.are.same({ line = 4, column = 11, key_line = 4, key_column = 8 }, marks["m.k"])
    end)

    it("prefixes paths with the document number in load_all", function()
      local docs, marks = yaml.load_all("a: 1\n---\nb: 2\n", { marks = true })
      assert.are.same({ { a = 1 }, { b = 2 } }, docs)
      assert.are.same({ line = 1, column = 1 }, marks["1"])
      assert.are.same({ line = 1, column = 4, key_line = 1, key_column = 1 }, marks["1.a"])
      assert.are.same({ line = 3, column = 4, key_line = 3, key_column = 1 }, marks["2.b"])
    end)

    it("are not returned unless asked for", function()
      assert.are.equal(1, select("#", yaml.load("a: 1")))
      assert.are.equal(1, select("#", yaml.load("a: 1", { marks = false })))
      assert.are.equal(2, select("#", yaml.load("a: 1", { marks = true })))
    end)
  end)

  describe("misuse raises", function()
    it("checks the text and options arguments", function()
      raises("bad argument #1", yaml.load)
      raises("bad argument #1", yaml.load, {})
      raises("bad argument #2", yaml.load, "a", 5)
      raises("bad argument #1", yaml.load_file)
      raises("bad argument #1", yaml.load_all, nil)
      raises("bad argument #2", yaml.load_file_all, "x.yaml", "opts")
    end)

    it("names the option at fault", function()
      raises("bad argument #2 to", yaml.load, "a", { max_depth = 0 })
      raises("max_depth must be in 1..256", yaml.load, "a", { max_depth = 0 })
      raises("max_depth must be in 1..256", yaml.load, "a", { max_depth = 257 })
      raises("max_depth: integer expected, got string", yaml.load, "a", { max_depth = "deep" })
      raises("max_depth must be an integer", yaml.load, "a", { max_depth = 2.5 })
      raises("max_size must be positive", yaml.load, "a", { max_size = 0 })
      raises("max_size: integer expected, got table", yaml.load, "a", { max_size = {} })
      raises("max_nodes must be positive", yaml.load, "a", { max_nodes = -1 })
      raises("max_nodes: integer expected, got boolean", yaml.load_all, "a", { max_nodes = true })
      raises("filename: string expected, got table", yaml.load, "a", { filename = {} })
      raises("max_depth must be in 1..256", yaml.load_file, "/nonexistent", { max_depth = 0 })
    end)

    it("accepts integral floats and numeric strings for limits", function()
      assert.are.equal(1, yaml.load("1", { max_depth = 1.0, max_size = "10" }))
    end)
  end)

  describe("resolve", function()
    it("resolves one plain scalar by the core schema", function()
      assert.are.equal(12, yaml.resolve("12"))
      assert.are.equal("integer", math.type(yaml.resolve("12")))
      assert.are.equal(255, yaml.resolve("0xff"))
      assert.are.equal(1.5, yaml.resolve("1.5"))
      assert.are.equal("float", math.type(yaml.resolve("1e3")))
      assert.are.equal(math.huge, yaml.resolve(".inf"))
      assert.are.equal(true, yaml.resolve("True"))
      assert.are.equal(false, yaml.resolve("FALSE"))
      assert.are.equal(null, yaml.resolve("null"))
      assert.are.equal(null, yaml.resolve(""))
      assert.are.equal("abc", yaml.resolve("abc"))
      assert.are.equal("'1'", yaml.resolve("'1'")) -- no quote handling: text as given
      assert.are.equal("yes", yaml.resolve("yes"))
    end)

    it("returns nil and a message for an integer out of range", function()
      local v, err = yaml.resolve("99999999999999999999")
      assert.is_nil(v)
      assert.are.equal("integer 99999999999999999999 does not fit in 64 bits", err)
    end)

    it("raises on a non-string", function()
      raises("bad argument #1", yaml.resolve, {})
      raises("bad argument #1", yaml.resolve)
    end)
  end)
end)

describe("causal_eval.yaml robustness", function()
  local yaml = require "causal_eval.yaml"
  local host = require "causal_eval.host"

  it("rejects misspelled options instead of ignoring them", function()
    local ok, err = pcall(yaml.load, "a: 1", { max_dept = 3 })
    assert.is_false(ok)
    assert.matches("bad argument #2 to '.*load' %(unknown option 'max_dept'%)", err)
    assert.has_error(function() yaml.load_file("x.yaml", { filename = "y" }) end)
  end)

  it("frees the parsed stream when building the Lua value runs out of memory", function()
    -- a large document, converted under a memory limit that cuts it off midway;
    -- under AddressSanitizer a leaked stream fails the run at exit
    local parts = {}
    for i = 1, 2000 do parts[#parts + 1] = ("k%d: [a, b, {c: %d}]"):format(i, i) end
    local text = table.concat(parts, "\n")
    local failures = 0
    for extra = 20000, 200000, 20000 do
      collectgarbage()
      host.set_memory_limit(host.memory().used + extra)
      local ok = pcall(yaml.load, text)
      host.set_memory_limit(0)
      if not ok then failures = failures + 1 end
    end
    assert.truthy(failures > 0, "the limit should have cut some conversions off")
    assert.are.equal(2000, #(function() local n = {} for k in pairs(yaml.load(text)) do n[#n + 1] = k end return n end)())
  end)
end)
