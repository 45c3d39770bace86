-- SPDX-License-Identifier: MIT
-- causal_eval.serve.security and causal_eval.auth: password hashes, the
-- users file (adduser, errors, reload), login, tokens and their expiry,
-- both rate limits with their headers, the shared store across threads,
-- `causal-eval serve adduser` on a terminal and on stdin, and the same
-- through a running `causal-eval serve` over HTTP.
local H = require "spec.helpers"
local auth = require "causal_eval.auth"
local host = require "causal_eval.host"
local json = require "causal_eval.json"
local security = require "causal_eval.serve.security"

-- argon2id's least cost: the checks below are about behaviour, not cost
local CHEAP = { cost = { ops = 1, mem = 8192 } }

local function add(file, name, pw) assert(security.adduser(file, name, pw, CHEAP)) end

local function api(file, more)
  local t = { users_file = file }
  for k, v in pairs(more or {}) do t[k] = v end
  return { api = t }
end

describe("password hashes", function()
  it("are argon2id at the interactive cost by default and verify only the right password", function()
    local h = assert(auth.hash("correct horse"))
    assert.truthy(h:find("^%$argon2id%$v=19%$m=65536,t=2,p=1%$"))
    assert.is_true(auth.verify(h, "correct horse"))
    assert.is_false(auth.verify(h, "correct horsE"))
    assert.is_false(auth.verify(h, ""))
    assert.is_false(auth.verify("not a hash", "correct horse"))
    assert.are.same({ ops = 2, mem = 64 * 1024 * 1024 }, auth.cost(h))
    assert.are_not.equal(h, auth.hash("correct horse")) -- a fresh salt
  end)

  it("take the named costs and refuse what is not a password", function()
    local h = assert(auth.hash("pw", "moderate"))
    assert.truthy(h:find("m=262144,t=3", 1, true))
    assert.has_error(function() auth.hash("pw", "strong") end,
      "bad argument #2 to 'hash' (unknown strength 'strong' (interactive, moderate, sensitive))")
    local none, err = auth.hash("", CHEAP.cost)
    assert.is_nil(none)
    assert.are.equal("a password must have 1 to 1024 bytes", err)
    none, err = auth.cost("$2b$12$abcdefghijklmnopqrstuv")
    assert.is_nil(none)
    assert.are.equal("not an argon2id hash (it must start with $argon2id$)", err)
  end)
end)

describe("the users file", function()
  local dir, file
  before_each(function()
    dir = H.tmpdir()
    file = dir .. "/users.yaml"
  end)
  after_each(function() H.rm(dir) end)

  it("is created by adduser with mode 0600 and keeps other users when one is replaced", function()
    assert.are.same({ true, "added" }, { security.adduser(file, "alice", "pw-a", CHEAP) })
    local mode = auth.file_stat(file)
    assert.are.equal(0x180, mode) -- 0600
    add(file, "bob", "pw-b")
    add(file, "carol.x@example.org", "pw-c")
    local before = assert(security.load_users(file))
    assert.are.same({ true, "replaced" }, { security.adduser(file, "alice", "new-a", CHEAP) })
    local after = assert(security.load_users(file))
    assert.are.equal(before.bob, after.bob)
    assert.are.equal(before["carol.x@example.org"], after["carol.x@example.org"])
    assert.are_not.equal(before.alice, after.alice)
    assert.is_true(auth.verify(after.alice, "new-a"))
    assert.is_false(auth.verify(after.alice, "pw-a"))
    -- nothing left beside it: no temporary file, no lock
    assert.are.same({ "users.yaml" }, host.listdir(dir))
    assert.truthy(H.read(file):find('"alice":\n    password_hash: "$argon2id$', 1, true))
  end)

  it("keeps the mode an existing file was given", function()
    add(file, "alice", "pw")
    H.sh("chmod 640 " .. H.quote(file))
    add(file, "bob", "pw")
    assert.are.equal(0x1a0, (auth.file_stat(file))) -- 0640
  end)

  it("refuses bad names and passwords without touching the file", function()
    add(file, "alice", "pw")
    local text = H.read(file)
    for _, name in ipairs({ "", "-x", "a b", "a:b", "ü", ("x"):rep(65) }) do
      local ok, err = security.adduser(file, name, "pw", CHEAP)
      assert.is_nil(ok)
      assert.truthy(err:find("use letters, digits and . _ @ -", 1, true), err)
    end
    assert.are.same({ nil, "the password is empty" }, { security.adduser(file, "bob", "", CHEAP) })
    assert.are.same({ nil, "the password is longer than 1024 bytes" },
      { security.adduser(file, "bob", ("p"):rep(1025), CHEAP) })
    assert.are.equal(text, H.read(file))
    assert.has_error(function() security.adduser(file, 42, "pw") end, "adduser: name must be a string")
  end)

  it("names file:line:column for every problem, and adduser leaves a bad file alone", function()
    local good = assert(auth.hash("pw", CHEAP.cost))
    H.write(file, table.concat({
      "users:",
      '  alice:',
      '    password_hash: "' .. good .. '"',
      "  bob:",
      "    password: plain",
      "  carol:",
      '    password_hash: "$2b$12$abcdefghijklmnopqrstuv"',
      "  123:",
      "    password_hash: x",
      '  "a b":',
      "    password_hash: x",
      "  dave: just-a-string",
      "  erin:",
      "    password_hash: 7",
      "roles: {}",
    }, "\n") .. "\n")
    local users, err = security.load_users(file)
    assert.is_nil(users)
    local shown = file
    assert.are.equal(table.concat({
      shown .. ":5:5: user 'bob': unknown key 'password' (a user has password_hash)",
      shown .. ":5:5: user 'bob': no password_hash (set one with `causal-eval serve adduser bob`)",
      shown .. ":7:20: user 'carol': password_hash: not an argon2id hash (it must start with $argon2id$)",
      shown .. ":8:3: user name 123: must be text (quote it)",
      shown .. ":10:3: user name 'a b': use letters, digits and . _ @ - (at most 64 bytes)",
      shown .. ":12:9: user 'dave': expected a mapping with password_hash, got a string",
      shown .. ":14:20: user 'erin': password_hash must be a string, got integer 7",
      shown .. ":15:1: unknown key 'roles' (the file holds 'users:')",
    }, "\n"), err)
    local text = H.read(file)
    local ok, aerr = security.adduser(file, "frank", "pw", CHEAP)
    assert.is_nil(ok)
    assert.truthy(aerr:find(shown .. ":8:3:", 1, true))
    assert.are.equal(text, H.read(file))
  end)

  it("makes serve refuse to start when missing, empty, bad or not a file", function()
    local sec, err = security.new(api(file))
    assert.is_nil(sec)
    assert.are.equal(file .. ": no such users file (api.users_file); add a user with `causal-eval serve adduser NAME`", err)
    H.write(file, "")
    sec, err = security.new(api(file))
    assert.is_nil(sec)
    assert.are.equal(file .. ": no users yet; add one with `causal-eval serve adduser NAME`", err)
    H.write(file, "users:\n  alice: [1, 2\n")
    sec, err = security.new(api(file))
    assert.is_nil(sec)
    assert.truthy(err:find("^" .. file:gsub("%p", "%%%0") .. ":%d+:%d+: "), err)
    sec, err = security.new(api(dir))
    assert.is_nil(sec)
    assert.are.equal(dir .. ": not a regular file", err)
  end)

  it("warns when others can read it", function()
    add(file, "alice", "pw")
    local sec = assert(security.new(api(file)))
    assert.are.same({}, sec.warnings)
    sec:close()
    H.sh("chmod 644 " .. H.quote(file))
    sec = assert(security.new(api(file)))
    assert.are.same({ file .. " can be read by others (mode 0644): chmod 600 " .. file }, sec.warnings)
    sec:close()
  end)
end)

describe("login and tokens", function()
  local dir, file, sec
  before_each(function()
    dir = H.tmpdir()
    file = dir .. "/users.yaml"
    add(file, "alice", "alice-pw")
    add(file, "bob", "bob-pw")
  end)
  after_each(function()
    if sec then sec:close() end
    sec = nil
    H.rm(dir)
  end)

  it("gives a token for the right password, and the same answer for a wrong one and an unknown user", function()
    sec = assert(security.new(api(file, { token_ttl = 120 })))
    local t0 = os.time()
    local t = assert(sec:login("alice", "alice-pw", "192.0.2.1"))
    assert.truthy(t.token:find("^[%w_-]+$") and #t.token == 43, t.token)
    assert.are.equal("Bearer", t.token_type)
    assert.are.equal("alice", t.user)
    assert.are.equal(120, t.expires_in)
    local y, mo, d, h, mi, s = t.expires_at:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z$")
    assert.truthy(y, t.expires_at)
    local at = os.time{ year = y, month = mo, day = d, hour = h, min = mi, sec = s, isdst = false }
      - (os.time(os.date("*t", 0)) - os.time(os.date("!*t", 0)))
    assert.is_true(math.abs(at - (t0 + 120)) <= 2, t.expires_at)

    local who = assert(sec:authenticate("Bearer " .. t.token))
    assert.are.equal("alice", who.user)
    assert.are.equal(t.expires_at, who.expires_at)

    local none1, wrong = sec:login("alice", "bob-pw", "192.0.2.1")
    local none2, unknown = sec:login("mallory", "alice-pw", "192.0.2.1")
    assert.is_nil(none1)
    assert.is_nil(none2)
    assert.are.same({ status = 401, code = "invalid_credentials", message = "wrong user name or password" }, wrong)
    assert.are.same(wrong, unknown)
    local _, empty = sec:login("", "", nil)
    assert.are.same(wrong, empty)
    local _, bad = sec:login(nil, "x")
    assert.are.same({ status = 400, code = "bad_request", message = "username: expected a string, got nil nil" }, bad)
    _, bad = sec:login("alice", { 1 })
    assert.are.same({ status = 400, code = "bad_request", message = "password: expected a string, got a sequence" }, bad)
  end)

  it("answers 401 with the reason for a missing, unknown, malformed or revoked token", function()
    sec = assert(security.new(api(file)))
    local t = assert(sec:login("bob", "bob-pw"))
    local cases = {
      { nil, "unauthorized" }, { "", "unauthorized" }, { "Basic Ym9iOmJvYi1wdw==", "unauthorized" },
      { "Bearer", "unauthorized" }, { "Bearer x", "token_invalid" },
      { "Bearer " .. t.token:sub(1, 42), "token_invalid" },
      { "Bearer " .. t.token:sub(1, 42) .. (t.token:sub(43) == "A" and "B" or "A"), "token_invalid" },
      { "Bearer " .. t.token .. "x", "token_invalid" },
    }
    for _, c in ipairs(cases) do
      local who, err = sec:authenticate(c[1])
      assert.is_nil(who)
      assert.are.equal(401, err.status)
      assert.are.equal(c[2], err.code, tostring(c[1]))
      assert.truthy(err.headers["www-authenticate"]:find('^Bearer realm="causal%-eval"'))
    end
    assert.truthy(sec:authenticate("bearer   " .. t.token .. "  "))
    assert.is_true(sec:logout("Bearer " .. t.token))
    assert.is_false(sec:logout("Bearer " .. t.token))
    local _, err = sec:authenticate("Bearer " .. t.token)
    assert.are.equal("token_invalid", err.code)
  end)

  it("refuses an expired token with token_expired", function()
    sec = assert(security.new(api(file, { token_ttl = 1 })))
    local t = assert(sec:login("alice", "alice-pw"))
    assert.truthy(sec:authenticate("Bearer " .. t.token))
    host.sleep(1.2)
    for _ = 1, 2 do -- and says so again: it is not forgotten at once
      local who, err = sec:authenticate("Bearer " .. t.token)
      assert.is_nil(who)
      assert.are.equal(401, err.status)
      assert.are.equal("token_expired", err.code)
      assert.are.equal("the token expired at " .. t.expires_at .. "; log in again", err.message)
      assert.truthy(err.headers["www-authenticate"]:find('error="invalid_token"', 1, true))
    end
    assert.truthy(sec:authenticate("Bearer " .. assert(sec:login("alice", "alice-pw")).token))
  end)

  it("sees users added and passwords changed while it runs", function()
    sec = assert(security.new(api(file)))
    local t = assert(sec:login("alice", "alice-pw"))
    assert.is_nil(sec:login("carol", "carol-pw"))
    add(file, "carol", "carol-pw")
    assert.truthy(sec:login("carol", "carol-pw"))
    add(file, "alice", "alice-new")
    host.sleep(1.05) -- authenticate looks at the file at most once a second
    local _, err = sec:authenticate("Bearer " .. t.token)
    assert.are.equal("token_invalid", err.code) -- the old password's tokens are void
    assert.is_nil(sec:login("alice", "alice-pw"))
    assert.truthy(sec:login("alice", "alice-new"))
    -- a broken edit keeps the users read before, with one warning
    local said = {}
    sec.warn = function(msg) said[#said + 1] = msg end
    H.write(file, "users: [\n")
    assert.truthy(sec:login("bob", "bob-pw"))
    assert.truthy(sec:login("bob", "bob-pw"))
    assert.are.same({ file .. ":2:1: did not find expected node content (while parsing a flow node at line 2)\n"
      .. "keeping the users read before" }, said)
  end)

  it("checks a password on a thread of its own inside an async loop, which serves the rest meanwhile", function()
    assert(security.adduser(file, "carol", "carol-pw")) -- the interactive cost: 100 ms or more
    sec = assert(security.new(api(file)))
    local async = require "causal_eval.async"
    local loop = assert(async.new{})
    local results, ticks = {}, 0
    loop:spawn(function()
      results.good = { sec:login("carol", "carol-pw", "127.0.0.1") }
      results.bad = { sec:login("carol", "wrong", "127.0.0.1") }
    end)
    loop:spawn(function()
      while not results.bad do
        ticks = ticks + 1
        async.sleep(0.005)
      end
    end)
    loop:run()
    loop:close()
    assert.are.equal("carol", results.good[1].user)
    assert.truthy(sec:authenticate("Bearer " .. results.good[1].token))
    assert.are.equal("invalid_credentials", results.bad[2].code)
    assert.is_true(ticks >= 10, "the loop ran " .. ticks .. " times during two logins")
  end)

  it("limits failed logins per user and per address, with Retry-After, and a right one costs nothing", function()
    sec = assert(security.new(api(file, { login_attempts_per_minute = 3 })))
    for _ = 1, 5 do assert.truthy(sec:login("bob", "bob-pw", "198.51.100.1")) end
    for i = 1, 3 do
      local _, err = sec:login("alice", "wrong", "192.0.2." .. i)
      assert.are.equal(401, err.status)
    end
    -- alice's budget is spent, from any address, even with her password
    local none, err = sec:login("alice", "alice-pw", "203.0.113.50")
    assert.is_nil(none)
    assert.are.same({ status = 429, code = "too_many_attempts",
                      message = "too many failed logins for this user or from this address; retry in 20 s",
                      headers = { ["retry-after"] = "20" } }, err)
    -- an address's budget: three names from one address
    for _, name in ipairs({ "x1", "x2", "x3" }) do
      local _, e = sec:login(name, "pw", "203.0.113.9")
      assert.are.equal(401, e.status)
    end
    _, err = sec:login("bob", "bob-pw", "203.0.113.9")
    assert.are.equal(429, err.status)
    assert.truthy(sec:login("bob", "bob-pw", "203.0.113.10"))
    -- an unknown user is limited like a known one
    for _ = 1, 3 do sec:login("nobody", "pw", "10.9.9.9") end
    _, err = sec:login("nobody", "pw", "10.9.9.10")
    assert.are.equal("too_many_attempts", err.code)
  end)

  it("limits requests per token with X-RateLimit headers and 429 + Retry-After", function()
    sec = assert(security.new(api(file, { rate_limit_per_minute = 5 })))
    local a = assert(sec:authenticate("Bearer " .. assert(sec:login("alice", "alice-pw")).token))
    local b = assert(sec:authenticate("Bearer " .. assert(sec:login("alice", "alice-pw")).token))
    for i = 1, 5 do
      local h = assert(sec:limit(a))
      assert.are.equal("5", h["x-ratelimit-limit"])
      assert.are.equal(tostring(5 - i), h["x-ratelimit-remaining"])
      assert.are.equal(tostring(math.ceil(i * 12 - 0.5)), h["x-ratelimit-reset"]) -- 12 s a request
    end
    local none, err = sec:limit(a)
    assert.is_nil(none)
    assert.are.equal(429, err.status)
    assert.are.equal("rate_limited", err.code)
    assert.are.equal("12", err.headers["retry-after"])
    assert.are.equal("0", err.headers["x-ratelimit-remaining"])
    assert.are.equal("5", err.headers["x-ratelimit-limit"])
    assert.are.equal("rate limit of 5 requests a minute reached; retry in 12 s", err.message)
    assert.are.equal("4", assert(sec:limit(b))["x-ratelimit-remaining"]) -- another token, its own bucket
    assert.has_error(function() sec:limit(nil) end, "limit: expected what authenticate returned, or a string key")
    sec:close()
    sec = assert(security.new(api(file, { rate_limit_per_minute = 0 })))
    for _ = 1, 100 do assert.are.same({}, sec:limit("k")) end
  end)

  it("raises on a closed store and reports an unknown id", function()
    sec = assert(security.new(api(file)))
    local id = sec:id()
    local other = assert(security.attach(id, api(file)))
    other:close()
    other:close()
    assert.has_error(function() other:login("a", "b") end, "attempt to use a closed auth store")
    assert.are.same({ nil, "no auth store with id 999999" }, { security.attach(999999) })
  end)
end)

describe("the shared store across threads", function()
  it("gives one token store and one count of each limit to every worker", function()
    local dir = H.tmpdir()
    local file = dir .. "/users.yaml"
    add(file, "alice", "pw")
    add(file, "bob", "pw")
    H.write(dir .. "/sec_worker.lua", [[
local json = require "causal_eval.json"
local security = require "causal_eval.serve.security"
return { main = function(cfg, index)
  cfg = json.decode(cfg)
  local sec = assert(security.attach(cfg.id, { api = { users_file = cfg.file } }))
  local out = { tokens = {}, allowed = 0, refused = 0, bad = 0, limited = 0 }
  for i = 1, 3 do
    local t = assert(sec:login("alice", "pw", "10.0." .. index .. "." .. i))
    assert(sec:authenticate("Bearer " .. t.token))
    out.tokens[#out.tokens + 1] = t.token
  end
  local who = assert(sec:authenticate("Bearer " .. cfg.token))
  for _ = 1, 50 do
    if sec:limit(who) then out.allowed = out.allowed + 1 else out.refused = out.refused + 1 end
  end
  for i = 1, 5 do
    local _, err = sec:login("bob", "wrong", "10.1." .. index .. "." .. i)
    if err.status == 429 then out.limited = out.limited + 1 else out.bad = out.bad + 1 end
  end
  sec:close()
  return json.encode(out)
end }
]])
    H.write(dir .. "/main.lua", [[
local json = require "causal_eval.json"
local threads = require "causal_eval.threads"
local host = require "causal_eval.host"
local security = require "causal_eval.serve.security"
local file = ...
local sec = assert(security.new{ api = { users_file = file, rate_limit_per_minute = 100,
                                         login_attempts_per_minute = 6 } })
local token = assert(sec:login("alice", "pw")).token
local t0 = host.clock()
local g = threads.start(4, "sec_worker", json.encode{ id = sec:id(), file = file, token = token })
local res = { allowed = 0, refused = 0, bad = 0, limited = 0, valid = 0 }
for _, r in ipairs(g:join()) do
  assert(r.ok, r.error)
  local o = json.decode(r.result)
  for _, k in ipairs({ "allowed", "refused", "bad", "limited" }) do res[k] = res[k] + o[k] end
  for _, t in ipairs(o.tokens) do
    if sec:authenticate("Bearer " .. t) then res.valid = res.valid + 1 end
  end
end
res.seconds = host.clock() - t0
res.users, res.tokens = sec:counts()
print(json.encode(res))
]])
    local r = H.run({ dir .. "/main.lua", file }, { env = { CAUSAL_EVAL_PATH = dir } })
    assert.are.equal(0, r.code, r.stderr)
    local res = json.decode(r.stdout)
    H.rm(dir)
    -- tokens made on one thread are good on another
    assert.are.equal(12, res.valid)
    assert.are.equal(2, res.users)
    assert.are.equal(13, res.tokens)
    -- one bucket of 100 for the token, whatever thread asks (plus what refilled meanwhile)
    local refill = math.ceil(res.seconds * 100 / 60)
    assert.are.equal(200, res.allowed + res.refused)
    assert.is_true(res.allowed >= 100 and res.allowed <= 100 + refill, json.encode(res))
    -- one budget of 6 failed logins for bob, across threads and addresses
    assert.are.equal(20, res.bad + res.limited)
    assert.is_true(res.bad >= 6 and res.bad <= 6 + math.ceil(res.seconds * 6 / 60), json.encode(res))
  end)
end)

describe("causal-eval serve adduser", function()
  local dir, file
  before_each(function()
    dir = H.tmpdir()
    file = dir .. "/users.yaml"
  end)
  after_each(function() H.rm(dir) end)

  it("reads the password from the terminal twice with echo off", function()
    local term = H.pty({ "serve", "adduser", "alice", "--users-file", file })
    term:prompt("Password for alice: ")
    local m = term.p:modes()
    assert.is_false(m.echo)
    term:send("s3cret-pw\r")
    term:prompt("Repeat the password: ")
    term:send("s3cret-pw\r")
    term:expect("added user alice to " .. file)
    assert.are.same({ "exit", 0 }, { term:wait() })
    assert.is_nil(term.seen:find("s3cret", 1, true))
    term:close()
    local users = assert(security.load_users(file))
    assert.is_true(auth.verify(users.alice, "s3cret-pw"))
    assert.truthy(users.alice:find("m=65536,t=2", 1, true)) -- api.password_strength: interactive
  end)

  it("edits the line, refuses two different passwords, and gives the terminal back after Ctrl-C", function()
    local term = H.pty({ "serve", "adduser", "bob", "--users-file", file, "--strength", "interactive" })
    term:prompt("Password for bob: ")
    term:send("wrong\21pw-\195\188x\127\r") -- Ctrl-U clears, backspace takes the x
    term:prompt("Repeat the password: ")
    term:send("pw-\195\188\r")
    assert.are.same({ "exit", 0 }, { term:wait() })
    term:close()
    assert.is_true(auth.verify(assert(security.load_users(file)).bob, "pw-\195\188"))

    term = H.pty({ "serve", "adduser", "carol", "--users-file", file })
    term:prompt("Password for carol: ")
    term:send("one\r")
    term:prompt("Repeat the password: ")
    term:send("two\r")
    term:expect("causal-eval serve adduser: the two passwords differ")
    assert.are.same({ "exit", 1 }, { term:wait() })
    term:close()

    term = H.pty({ "serve", "adduser", "carol", "--users-file", file })
    term:prompt("Password for carol: ")
    term:send("abc\3")
    term:expect("causal-eval serve adduser: cancelled")
    assert.are.same({ "exit", 1 }, { term:wait() })
    local m = term.p:modes()
    assert.is_true(m.echo and m.canonical and m.signals)
    term:close()
    assert.is_nil(assert(security.load_users(file)).carol)
  end)

  it("reads one line of stdin when it is not a terminal, never argv", function()
    local function adduser(args, stdin)
      return H.run(H.concat({ "serve", "adduser" }, args), { stdin = stdin })
    end
    local r = adduser({ "dave", "--users-file", file }, "from-stdin\r\n")
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("added user dave to " .. file .. "\n", r.stdout)
    assert.is_true(auth.verify(assert(security.load_users(file)).dave, "from-stdin"))
    r = adduser({ "dave", "--users-file", file }, "again\n")
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("^set a new password for dave in "))

    r = adduser({ "erin", "--users-file", file })
    assert.are.equal(1, r.code)
    assert.are.equal("causal-eval serve adduser: no password on standard input\n", r.stderr)
    r = adduser({ "erin", "--users-file", file }, "\n")
    assert.are.equal(1, r.code)
    assert.are.equal("causal-eval serve adduser: the password is empty\n", r.stderr)
    r = adduser({ "erin", "secret", "--users-file", file }, "x\n")
    assert.are.equal(2, r.code)
    r = adduser({ "no way", "--users-file", file }, "x\n")
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("user name 'no way': use letters", 1, true), r.stderr)
    r = adduser({ "erin", "--users-file", dir .. "/missing/users.yaml" }, "x\n")
    assert.are.equal(1, r.code)
    assert.are.equal("causal-eval serve adduser: " .. dir .. "/missing/users.yaml.lock: cannot open the lock file: "
      .. "No such file or directory\n", r.stderr)
  end)

  it("writes api.users_file from the configuration and warns about a file others can read", function()
    H.write(file, "")
    H.sh("chmod 644 " .. H.quote(file))
    local r = H.run({ "serve", "adduser", "frank", "--set", "api.users_file=" .. file }, { stdin = "pw\n" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("warning: " .. file .. " can be read by others (mode 0644): chmod 600 " .. file .. "\n", r.stderr)
    assert.truthy(assert(security.load_users(file)).frank)
    r = H.run({ "serve", "adduser", "frank", "--set", "api.password_strength=weak" }, { stdin = "pw\n" })
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("api.password_strength: must be one of interactive, moderate, sensitive", 1, true))
  end)
end)

describe("security through a running causal-eval serve", function()
  local S = require "spec.serve_helpers"
  local base
  setup(function() base = S.setup() end)
  teardown(function() H.rm(base.dir) end)

  local function code(r) return r.json and r.json.error and r.json.error.code end

  it("expires tokens, limits requests and failed logins with their headers, and takes in new users", function()
    local srv = S.start{ base = base, set = { "api.token_ttl=4", "api.rate_limit_per_minute=4",
                                              "api.login_attempts_per_minute=2", "api.worker_count=2" } }
    local token = srv:login()
    local expiry = host.clock() + 4
    local r = srv:get("/results/recent")
    assert.are.equal(200, r.status, r.body)
    assert.are.equal("4", r.headers["x-ratelimit-limit"])
    assert.are.equal("3", r.headers["x-ratelimit-remaining"])
    assert.are.equal("15", r.headers["x-ratelimit-reset"])
    for _ = 1, 3 do srv:get("/results/recent") end
    r = srv:get("/results/recent")
    assert.are.equal(429, r.status)
    assert.are.equal("rate_limited", code(r))
    local wait = tonumber(r.headers["retry-after"]) -- 15 s a request, less what refilled meanwhile
    assert.is_true(wait >= 10 and wait <= 15, r.headers["retry-after"])

    -- a user added while it runs logs in at once, on whichever worker
    assert(security.adduser(base.users, "newcomer", "pw-new", CHEAP))
    r = srv:post("/auth/login", { username = "newcomer", password = "pw-new" }, { token = false })
    assert.are.equal(200, r.status, r.body)
    assert.are.equal("newcomer", r.json.user)

    -- failed logins: two, then 429 with Retry-After even for the right password
    local bad = { username = S.USER, password = "wrong" }
    assert.are.equal(401, srv:post("/auth/login", bad, { token = false }).status)
    assert.are.equal(401, srv:post("/auth/login", bad, { token = false }).status)
    r = srv:post("/auth/login", { username = S.USER, password = S.PASSWORD }, { token = false })
    assert.are.equal(429, r.status)
    assert.are.equal("too_many_attempts", code(r))
    wait = tonumber(r.headers["retry-after"]) -- 30 s a failure, less what refilled meanwhile
    assert.is_true(wait >= 25 and wait <= 30, r.headers["retry-after"])

    host.sleep(math.max(0, expiry + 0.2 - host.clock()))
    r = srv:get("/results/recent", { token = token })
    assert.are.equal(401, r.status)
    assert.are.equal("token_expired", code(r))
    assert.truthy(r.headers["www-authenticate"]:find('error="invalid_token"', 1, true))
    assert.are.equal(0, srv:stop(), srv:text())
  end)

  it("does not start without a users file, and says how to make one", function()
    local r = H.run({ "serve", "--port", "0", "--data", base.dir .. "/d2", "--set",
                      "api.users_file=" .. base.dir .. "/none.yaml" })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find(base.dir .. "/none.yaml: no such users file (api.users_file); add a user with "
      .. "`causal-eval serve adduser NAME`", 1, true), r.stderr)
  end)
end)
