-- SPDX-License-Identifier: MIT
-- Headless Chromium for specs, driven over the DevTools protocol on a pipe
-- (--remote-debugging-pipe: commands on fd 3, answers and events on fd 4,
-- each a JSON text ended by a NUL), as spec/serve_dashboard_spec.lua does:
-- open pages, read the DOM, take screenshots, and keep every network event
-- and Chromium's own net log so a spec can check what a page asked for.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local host = require "causal_eval.host"

local C = {}

-- Chromium with nothing of its own to do: no sync, updates, sign-in,
-- autofill or leak checks, and a resolver that finds no host but the
-- loopback one, so whatever it still tries stays on this machine.
C.FLAGS = {
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-default-browser-check",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
  "--disable-default-apps", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
  "--disable-breakpad", "--no-pings", "--mute-audio", "--allow-browser-signin=false", "--password-store=basic",
  "--disable-features=AutofillServerCommunication,PasswordLeakDetection,NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--hide-scrollbars",
}

--- The chromium binary: CAUSAL_EVAL_CHROMIUM, else `chromium` on PATH; nil without one.
function C.path()
  local given = os.getenv("CAUSAL_EVAL_CHROMIUM")
  if given and given ~= "" then return given end
  local out, code = H.sh("command -v chromium")
  if code == 0 then return (out:gsub("%s+$", "")) end
  return nil
end

local Browser = {}
Browser.__index = Browser

--- Starts Chromium (window width x height) with its profile and net log in
--- dir. Our end of the command pipe is opened read-write, so a Chromium
--- that died cannot make a write raise SIGPIPE, and `timeout` ends a hung
--- one, which ends our reads.
function C.launch(bin, dir, width, height)
  H.sh(("mkfifo %s/in %s/out"):format(H.quote(dir), H.quote(dir)))
  local words = { "timeout", "-k", "5", "240", H.quote(bin) }
  for _, f in ipairs(C.FLAGS) do words[#words + 1] = H.quote(f) end
  words[#words + 1] = H.quote(("--window-size=%d,%d"):format(width or 1280, height or 860))
  words[#words + 1] = H.quote("--user-data-dir=" .. dir .. "/profile")
  words[#words + 1] = H.quote("--log-net-log=" .. dir .. "/netlog.json")
  words[#words + 1] = "--remote-debugging-pipe"
  words[#words + 1] = "about:blank"
  local script = ("%s 3<%s 4>%s >%s 2>&1 & echo $! >%s; wait $!; echo $? >%s"):format(table.concat(words, " "),
    H.quote(dir .. "/in"), H.quote(dir .. "/out"), H.quote(dir .. "/chromium.log"), H.quote(dir .. "/pid"),
    H.quote(dir .. "/exit"))
  local p = assert(io.popen(("sh -c %s >/dev/null 2>&1 & echo $!"):format(H.quote(script))))
  p:close()
  local b = setmetatable({ dir = dir, seq = 0, events = {} }, Browser)
  b.tx = assert(io.open(dir .. "/in", "r+"))
  b.rx = assert(io.open(dir .. "/out", "r"))
  local deadline = host.clock() + 10
  while not b.pid do
    b.pid = tonumber(H.read(dir .. "/pid") or "")
    if not b.pid then
      assert(host.clock() < deadline, "chromium did not start")
      host.sleep(0.01)
    end
  end
  return b
end

function Browser:log() return H.read(self.dir .. "/chromium.log") or "" end

function Browser:read()
  local buf = {}
  while true do
    local c = self.rx:read(1)
    if not c then error("chromium closed its end of the pipe; its log:\n" .. self:log(), 3) end
    if c == "\0" then break end
    buf[#buf + 1] = c
  end
  return assert(json.decode(table.concat(buf)))
end

--- A DevTools command; its result (events read meanwhile are kept).
function Browser:call(method, params, session)
  self.seq = self.seq + 1
  local id = self.seq
  self.tx:write(json.encode({ id = id, method = method, params = params or {}, sessionId = session }), "\0")
  self.tx:flush()
  while true do
    local m = self:read()
    if m.id == id then
      if m.error then error(("%s: %s"):format(method, json.encode(m.error)), 2) end
      return m.result
    end
    self.events[#self.events + 1] = m
  end
end

--- A new tab with the Network, Page, Runtime and Log domains on; its session.
function Browser:tab()
  local t = self:call("Target.createTarget", { url = "about:blank" })
  local s = self:call("Target.attachToTarget", { targetId = t.targetId, flatten = true }).sessionId
  for _, d in ipairs({ "Network", "Page", "Runtime", "Log" }) do self:call(d .. ".enable", nil, s) end
  return s
end

--- The value of a JavaScript expression in the tab (promises awaited).
function Browser:eval(s, expr)
  local r = self:call("Runtime.evaluate", { expression = expr, returnByValue = true, awaitPromise = true }, s)
  if r.exceptionDetails then
    error("in the page: " .. ((r.exceptionDetails.exception or {}).description or json.encode(r.exceptionDetails)), 2)
  end
  local v = r.result.value
  if v == json.null then return nil end
  return v
end

--- Waits until expr is truthy in the tab; its value.
function Browser:wait(s, expr, seconds, what)
  local deadline = host.clock() + (seconds or 20)
  local last
  while true do
    local ok, v = pcall(self.eval, self, s, expr)
    if ok and v ~= nil and v ~= false and v ~= "" and v ~= 0 then return v end
    if not ok then last = v end
    if host.clock() > deadline then
      error(("timed out waiting for %s%s"):format(what or expr, last and ("; last: " .. tostring(last)) or ""), 2)
    end
    host.sleep(0.05)
  end
end

--- Loads url in the tab and waits for the new document to be complete.
function Browser:go(s, url)
  self:eval(s, "window.__left = true; 1")
  self:call("Page.navigate", { url = url }, s)
  self:wait(s, ("!window.__left && location.href === %s && document.readyState === 'complete'"):format(json.encode(url)),
    20, "the page to load")
end

--- A PNG of the tab (bytes): the viewport, or with clip = CSS selector the
--- box of that element, scrolled to (at most max_height pixels of it).
function Browser:screenshot(s, selector, max_height)
  local params = { format = "png" }
  if selector then
    local box = json.decode(self:eval(s, ([[(() => { const e = document.querySelector(%s); if (!e) return null;
      const r = e.getBoundingClientRect(); return JSON.stringify({ x: r.left + window.scrollX, y: r.top + window.scrollY,
      w: r.width, h: r.height }); })()]]):format(json.encode(selector))) or "null")
    assert(box, "no element " .. selector)
    params.clip = { x = math.max(0, box.x - 12), y = math.max(0, box.y - 12), width = box.w + 24,
                    height = math.min(box.h + 24, max_height or 2400), scale = 1 }
    params.captureBeyondViewport = true
  end
  local shot = self:call("Page.captureScreenshot", params, s)
  local png = H.sh("base64 -d <" .. H.quote(H.write(self.dir .. "/shot.b64", shot.data)))
  assert(png:sub(1, 8) == "\137PNG\r\n\26\n", "not a PNG")
  return png
end

--- Closes the browser and waits for it to exit (the net log is complete then).
function Browser:close()
  if self.closed then return end
  self.closed = true
  pcall(self.call, self, "Browser.close")
  local deadline = host.clock() + 15
  while not H.read(self.dir .. "/exit") and host.clock() < deadline do host.sleep(0.05) end
  if not H.read(self.dir .. "/exit") then H.sh("kill " .. self.pid .. " 2>/dev/null") end
  self.tx:close()
  self.rx:close()
end

--- Every URL the net log says a page started a request for (Chromium's
--- own requests, "not an origin", left out); call after close.
function Browser:page_requests()
  local log = json.decode(assert(H.read(self.dir .. "/netlog.json"), "no net log"))
  local start_job
  for name, n in pairs(log.constants.logEventTypes) do if name == "URL_REQUEST_START_JOB" then start_job = n end end
  local urls = {}
  for _, e in ipairs(log.events) do
    local p = e.params
    if e.type == start_job and p and p.url and p.initiator ~= "not an origin" then urls[#urls + 1] = p.url end
  end
  return urls
end

return C
