-- SPDX-License-Identifier: MIT
-- The API's security: users from a YAML file with argon2id password hashes,
-- login, bearer tokens and rate limits. The state lives in a native store
-- (causal_eval.auth) that every worker thread attaches to, so a token made
-- on one worker is good on all and the limits count all workers together.
-- Each call returns what the router turns into a response: a table, or nil
-- and { status, code, message, headers }.
--
--   local sec = assert(security.new(cfg.values))   -- main thread
--   local sec = assert(security.attach(id, cfg.values)) -- a worker, id = sec:id()
--   sec:login(username, password, remote)  --> { token, token_type, expires_at, expires_in, user }
--   sec:authenticate(authorization)        --> { user, expires_at, key }
--   sec:limit(who)                         --> headers (X-RateLimit-*), or nil, 429
--   security.adduser(users_file, name, password) --> true, "added" | "replaced"
local auth = require "causal_eval.auth"
local host = require "causal_eval.host"
local yaml = require "causal_eval.yaml"
local config = require "causal_eval.config"

local M = {}

M.NAME_MAX = 64
M.PASSWORD_MAX = 1024
M.STRENGTHS = { "interactive", "moderate", "sensitive" }

local display_path = config.display_path

-- ---- settings ----

-- The api.* values security uses, from a Config, its values, or a partial
-- table (defaults fill what is missing).
local function settings(values)
  if type(values) == "table" and type(values.values) == "table" then values = values.values end
  local api = type(values) == "table" and type(values.api) == "table" and values.api or {}
  local spec = config.schema.api
  local function get(k)
    if api[k] ~= nil then return api[k] end
    return spec[k].default
  end
  return {
    users_file = get("users_file"),
    token_ttl = get("token_ttl"),
    max_tokens_per_user = get("max_tokens_per_user"),
    rate_limit_per_minute = get("rate_limit_per_minute"),
    login_attempts_per_minute = get("login_attempts_per_minute"),
    password_strength = get("password_strength"),
  }
end

-- ---- the users file ----

--- True when name can be a user's: letters, digits and . _ @ -, starting
--- with a letter or digit, at most NAME_MAX bytes.
function M.valid_name(name)
  return type(name) == "string" and #name <= M.NAME_MAX and name:match("^[%w][%w._@-]*$") ~= nil
end

local function describe(v)
  if v == yaml.null then return "null" end
  if type(v) == "table" then return next(v) == nil and "an empty table" or (#v > 0 and "a sequence" or "a mapping") end
  if type(v) == "string" then return "a string" end
  return ("%s %s"):format(math.type(v) or type(v), tostring(v))
end

local function is_mapping(v) return type(v) == "table" and (next(v) == nil or #v == 0) end

-- The loader's "path:line:col: ..." with the path as messages show it.
local function with_shown(msg, path, shown)
  msg = tostring(msg)
  if msg:sub(1, #path) == path then return shown .. msg:sub(#path + 1) end
  return msg
end

--- Reads a users file: { name = hash }, its stamp (changes with the file)
--- and its mode. A missing file gives nil, message, "missing"; a bad one
--- nil and every problem, each as file:line:column.
function M.load_users(path)
  local shown = display_path(path)
  local mode, stamp = auth.file_stat(path)
  if mode == nil then return nil, with_shown(stamp, path, shown) end
  if mode == false then
    return nil, ("%s: no such users file (api.users_file); add a user with `causal-eval serve adduser NAME`"):format(shown),
      "missing"
  end
  local doc, marks = yaml.load_file(path, { marks = true })
  if doc == nil then return nil, with_shown(marks, path, shown) end
  local problems = {}
  local function problem(mark, fmt, ...)
    mark = mark or {}
    local line, col = mark.line or 1, mark.column or 1
    problems[#problems + 1] = { line = line, column = col, n = #problems,
                                text = ("%s:%d:%d: " .. fmt):format(shown, line, col, ...) }
  end
  local function report()
    table.sort(problems, function(a, b)
      if a.line ~= b.line then return a.line < b.line end
      if a.column ~= b.column then return a.column < b.column end
      return a.n < b.n
    end)
    local lines = {}
    for i, p in ipairs(problems) do lines[i] = p.text end
    return nil, table.concat(lines, "\n")
  end
  local function key_mark(p)
    local m = marks[p] or {}
    return { line = m.key_line or m.line, column = m.key_column or m.column }
  end
  if doc == yaml.null then doc = {} end -- an empty file: no users yet
  if not is_mapping(doc) then
    problem(marks[""], "expected a mapping with 'users:', got %s", describe(doc))
    return report()
  end
  for k in pairs(doc) do
    if k ~= "users" then problem(key_mark(tostring(k)), "unknown key '%s' (the file holds 'users:')", tostring(k)) end
  end
  local list = doc.users
  if list == nil or list == yaml.null then list = {} end
  if not is_mapping(list) then
    problem(marks.users, "'users' must be a mapping of user names to their settings, got %s", describe(list))
    return report()
  end
  local names = {}
  for name in pairs(list) do names[#names + 1] = name end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  local users = {}
  for _, name in ipairs(names) do
    local p = "users." .. tostring(name)
    local entry = list[name]
    if type(name) ~= "string" then
      problem(key_mark(p), "user name %s: must be text (quote it)", tostring(name))
    elseif not M.valid_name(name) then
      problem(key_mark(p), "user name '%s': use letters, digits and . _ @ - (at most %d bytes)", name, M.NAME_MAX)
    elseif not is_mapping(entry) then
      problem(marks[p], "user '%s': expected a mapping with password_hash, got %s", name, describe(entry))
    else
      for k in pairs(entry) do
        if k ~= "password_hash" then
          problem(key_mark(p .. "." .. tostring(k)), "user '%s': unknown key '%s' (a user has password_hash)", name,
            tostring(k))
        end
      end
      local hash = entry.password_hash
      if hash == nil or hash == yaml.null then
        problem(marks[p], "user '%s': no password_hash (set one with `causal-eval serve adduser %s`)", name, name)
      elseif type(hash) ~= "string" then
        problem(marks[p .. ".password_hash"], "user '%s': password_hash must be a string, got %s", name, describe(hash))
      else
        local ok, why = auth.cost(hash)
        if ok then users[name] = hash
        else problem(marks[p .. ".password_hash"], "user '%s': password_hash: %s", name, why) end
      end
    end
  end
  if #problems > 0 then return report() end
  return users, stamp, mode
end

-- The file as adduser writes it: names sorted, everything quoted (the
-- characters a name or hash may hold need no escapes inside quotes).
local function render(users)
  local names = {}
  for name in pairs(users) do names[#names + 1] = name end
  table.sort(names)
  local out = {
    "# causal-eval serve: API users and their argon2id password hashes.",
    "# Written by `causal-eval serve adduser NAME`; keep it private (mode 0600).",
    next(users) and "users:" or "users: {}",
  }
  for _, name in ipairs(names) do
    out[#out + 1] = ('  "%s":'):format(name)
    out[#out + 1] = ('    password_hash: "%s"'):format(users[name])
  end
  return table.concat(out, "\n") .. "\n"
end

local function others_can_read(mode) return mode & 0x3f ~= 0 end -- any of 0077

local function mode_warning(shown, mode)
  return ("%s can be read by others (mode %04o): chmod 600 %s"):format(shown, mode, shown)
end

-- Takes the users file's lock, waiting a little for another adduser.
local function lock(path)
  local lockfile = require "causal_eval.lockfile"
  local deadline = host.clock() + 5
  while true do
    local lk, err, holder = lockfile.take(path .. ".lock")
    if lk or holder == nil or host.clock() > deadline then return lk, err, holder end
    host.sleep(0.05)
  end
end

--- Writes a user with a new argon2id hash of password into the users file:
--- creates the file (mode 0600), replaces the user's hash if present, keeps
--- every other user; the file is replaced whole (temporary file and rename).
--- opts.strength: interactive (default), moderate or sensitive; opts.cost:
--- { ops, mem } instead (for tests). Returns true and "added" or "replaced",
--- or nil and a message; a file with errors is left as it is.
function M.adduser(users_file, name, password, opts)
  opts = opts or {}
  if type(users_file) ~= "string" or users_file == "" then error("adduser: users_file must be a path", 2) end
  if type(name) ~= "string" then error("adduser: name must be a string", 2) end
  if type(password) ~= "string" then error("adduser: password must be a string", 2) end
  if not M.valid_name(name) then
    return nil, ("user name '%s': use letters, digits and . _ @ -, starting with a letter or digit (at most %d bytes)")
      :format(name, M.NAME_MAX)
  end
  if #password == 0 then return nil, "the password is empty" end
  if #password > M.PASSWORD_MAX then return nil, ("the password is longer than %d bytes"):format(M.PASSWORD_MAX) end
  local hash, err = auth.hash(password, opts.cost or opts.strength or "interactive")
  if not hash then return nil, err end

  local shown = display_path(users_file)
  local lk, lerr, holder = lock(users_file)
  if not lk then
    if holder then return nil, ("%s: another adduser is writing it (process %d)"):format(shown, holder) end
    return nil, with_shown(lerr, users_file, shown)
  end
  local users, why, missing = M.load_users(users_file)
  if not users and missing ~= "missing" then
    lk:release()
    return nil, why
  end
  users = users or {}
  local what = users[name] and "replaced" or "added"
  users[name] = hash
  local ok, werr = auth.replace_file(users_file, render(users), 0x180) -- 0600 for a new file
  lk:release()
  if not ok then return nil, with_shown(werr, users_file, shown) end
  return true, what
end

-- ---- the CLI: causal-eval serve adduser ----

local function adduser_parser()
  local argparse = require "causal_eval.argparse"
  return argparse.new{
    prog = "causal-eval serve adduser",
    summary = "add an API user, or set a user's password (read from the terminal with echo off, or from stdin)",
    options = {
      { "--users-file", arg = "FILE", help = "the users file (default: api.users_file)" },
      { "--strength", arg = "S", choices = M.STRENGTHS,
        help = "argon2id cost of the hash (default: api.password_strength)" },
      { "--env", arg = "NAME", help = "configuration environment" },
      { "--config", arg = "FILE", help = "configuration file" },
      { "--set", arg = "SECTION.KEY=VALUE", multiple = true, help = "override one setting" },
    },
    positionals = { { "NAME" } },
  }
end

function M.adduser_help() return adduser_parser():help() end

-- The password: twice from a terminal (echo off), else one line of stdin.
local function read_password(name)
  if host.isatty(0) then
    local pw, err, why = auth.read_secret(("Password for %s: "):format(name))
    if not pw then return nil, why == "eof" and "no password given" or err end
    local again
    again, err, why = auth.read_secret("Repeat the password: ")
    if not again then return nil, why == "eof" and "no password given" or err end
    if again ~= pw then return nil, "the two passwords differ" end
    return pw
  end
  local line = io.stdin:read("L")
  if not line then return nil, "no password on standard input" end
  return (line:gsub("\r?\n$", ""))
end

--- `causal-eval serve adduser NAME [options]`: argv holds what follows
--- "adduser". Returns the exit status (0, 1 on failure, 2 on a usage error).
function M.adduser_command(argv, cli)
  local parser = adduser_parser()
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  local cfg, cerr = config.load{ env = args.env, file = args.config, set = args.set }
  if not cfg then
    io.stderr:write(cerr, "\n")
    return 2
  end
  local s = settings(cfg.values)
  local file = args.users_file or s.users_file
  if not M.valid_name(args.NAME) then
    return cli.usage_error(parser, ("user name '%s': use letters, digits and . _ @ -, starting with a letter or digit (at most %d bytes)")
      :format(args.NAME, M.NAME_MAX))
  end
  local pw, perr = read_password(args.NAME)
  if not pw then
    io.stderr:write(("causal-eval serve adduser: %s\n"):format(perr))
    return 1
  end
  local ok, what = M.adduser(file, args.NAME, pw, { strength = args.strength or s.password_strength })
  if not ok then
    io.stderr:write(("causal-eval serve adduser: %s\n"):format(what))
    return 1
  end
  local shown = display_path(file)
  io.stdout:write(what == "added" and ("added user %s to %s\n"):format(args.NAME, shown)
    or ("set a new password for %s in %s (the user's tokens are void once the server reads it)\n"):format(args.NAME, shown))
  local mode = auth.file_stat(file)
  if mode and others_can_read(mode) then io.stderr:write("warning: ", mode_warning(shown, mode), "\n") end
  return 0
end

-- ---- the service ----

local Security = {}
Security.__index = Security

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)) end

-- Where a worker's warnings go (one line each, prefixed); a spec may catch them.
local function warn(msg) io.stderr:write((msg:gsub("[^\n]+", "causal-eval serve: %0")), "\n") end

local function wrap(store, s)
  return setmetatable({ store = store, settings = s, file = s.users_file, shown = display_path(s.users_file),
                        warned = {}, checked = host.clock(), warn = warn }, Security)
end

--- Main thread: reads the users file and creates the shared store.
--- values: the configuration (a Config or its values). Returns the object,
--- or nil and a message (missing, unreadable or bad users file, no users).
--- sec.warnings lists what a person should hear (a file others can read).
function M.new(values)
  local s = settings(values)
  local shown = display_path(s.users_file)
  local users, stamp, mode = M.load_users(s.users_file)
  if not users then return nil, stamp end
  if next(users) == nil then
    return nil, ("%s: no users yet; add one with `causal-eval serve adduser NAME`"):format(shown)
  end
  local store = auth.new{
    token_ttl = s.token_ttl,
    max_tokens_per_user = s.max_tokens_per_user,
    rate_per_minute = s.rate_limit_per_minute,
    logins_per_minute = s.login_attempts_per_minute,
  }
  local ok, err = store:set_users(users, stamp)
  if not ok then
    store:close()
    return nil, ("%s: %s"):format(shown, err)
  end
  local sec = wrap(store, s)
  sec.warnings = {}
  if others_can_read(mode) then sec.warnings[1] = mode_warning(shown, mode) end
  return sec
end

--- A worker thread: the store made by new, by its id.
function M.attach(id, values)
  local store, err = auth.attach(id)
  if not store then return nil, err end
  return wrap(store, settings(values))
end

function Security:id() return self.store:id() end
function Security:close() self.store:close() end

-- Takes in an edited users file (adduser while the server runs): a user
-- added can log in, a user removed or given a new password loses its
-- tokens. A file that went missing or bad keeps the users read before,
-- with one warning per version of the file.
function Security:refresh()
  self.checked = host.clock()
  local mode, stamp = auth.file_stat(self.file)
  local seen = self.store:stamp()
  if not mode or stamp == seen then return end
  local users, err = M.load_users(self.file)
  if users then
    users, err = self.store:set_users(users, stamp, seen) -- false: another worker was quicker, with a newer file
    if users == nil then err = ("%s: %s"):format(self.shown, err) end
  end
  if users == false then return end
  if not users and not self.warned[stamp] then
    self.warned[stamp] = true
    self.warn(err .. "\nkeeping the users read before")
  end
end

local function bad_field(field, v)
  return { status = 400, code = "bad_request", message = ("%s: expected a string, got %s"):format(field, describe(v)) }
end

--- POST /auth/login. Returns { token, token_type, expires_at, expires_in,
--- user }, or nil and an error: 401 invalid_credentials (a wrong password
--- and an unknown user read the same), 429 too_many_attempts with
--- Retry-After, 400 for a field that is not a string.
function Security:login(username, password, remote)
  if type(username) ~= "string" then return nil, bad_field("username", username) end
  if type(password) ~= "string" then return nil, bad_field("password", password) end
  self:refresh()
  remote = type(remote) == "string" and remote or nil
  local status, a, user, expires
  -- In a coroutine of a causal_eval.async loop the password check (100 ms
  -- or more) runs on a thread of its own while the loop serves the rest.
  local async = package.loaded["causal_eval.async"]
  if async and async.current() then
    local job = self.store:login_start(username, password, remote)
    while not job:done() do async.sleep(0.002) end
    status, a, user, expires = job:result()
  else
    status, a, user, expires = self.store:login(username, password, remote)
  end
  if status == "ok" then
    return { token = a, token_type = "Bearer", expires_at = iso(expires), expires_in = self.settings.token_ttl,
             user = user }
  elseif status == "limited" then
    local secs = math.max(1, math.ceil(a))
    return nil, { status = 429, code = "too_many_attempts",
                  message = ("too many failed logins for this user or from this address; retry in %d s"):format(secs),
                  headers = { ["retry-after"] = tostring(secs) } }
  end
  return nil, { status = 401, code = "invalid_credentials", message = "wrong user name or password" }
end

local REALM = 'Bearer realm="causal-eval"'

--- Checks an Authorization header. Returns { user, expires_at, key } (key
--- names the token for limit; it is not the token), or nil and a 401:
--- unauthorized (no bearer token), token_invalid, token_expired.
function Security:authenticate(header)
  if host.clock() - self.checked >= 1 then self:refresh() end -- a password changed: its tokens go within a second
  local status, user, expires, key = self.store:check(type(header) == "string" and header or nil)
  if status == "ok" then return { user = user, expires_at = iso(expires), key = key } end
  if status == "missing" then
    return nil, { status = 401, code = "unauthorized",
                  message = "this endpoint needs an Authorization: Bearer TOKEN header (POST /auth/login gives a token)",
                  headers = { ["www-authenticate"] = REALM } }
  elseif status == "expired" then
    return nil, { status = 401, code = "token_expired",
                  message = ("the token expired at %s; log in again"):format(iso(expires)),
                  headers = { ["www-authenticate"] = REALM .. ', error="invalid_token", error_description="the token expired"' } }
  end
  return nil, { status = 401, code = "token_invalid", message = "unknown or revoked token; log in again",
                headers = { ["www-authenticate"] = REALM .. ', error="invalid_token"' } }
end

--- Forgets the token of an Authorization header (a logout). True when it was known.
function Security:logout(header) return type(header) == "string" and self.store:revoke(header) end

local function int(x) return ("%d"):format(math.floor(x)) end

--- Takes one request from a token's bucket (who: what authenticate
--- returned, or any string key). Returns the X-RateLimit-* headers ({}
--- without a limit), or nil and a 429 rate_limited with Retry-After.
--- Reset is the seconds until the bucket is full again.
function Security:limit(who)
  local key = type(who) == "table" and who.key or who
  if type(key) ~= "string" then error("limit: expected what authenticate returned, or a string key", 2) end
  local ok, limit, remaining, reset, retry = self.store:limit(key)
  if limit == 0 then return {} end
  local headers = {
    ["x-ratelimit-limit"] = int(limit),
    ["x-ratelimit-remaining"] = int(remaining),
    ["x-ratelimit-reset"] = int(math.ceil(reset)),
  }
  if ok then return headers end
  local secs = math.max(1, math.ceil(retry))
  headers["retry-after"] = tostring(secs)
  return nil, { status = 429, code = "rate_limited",
                message = ("rate limit of %s requests a minute reached; retry in %d s"):format(int(limit), secs),
                headers = headers }
end

--- How many users and tokens the store holds.
function Security:counts() return self.store:counts() end

return M
