-- SPDX-License-Identifier: MIT
-- The container's HEALTHCHECK: GET /healthz of the `serve` running in the
-- same container, with the binary's own HTTP client (libcurl), so the image
-- needs no curl package. Exit 0 when the answer is 200, 1 otherwise, with one
-- line saying why (podman/docker inspect keep it in the health log).
--   causal-eval /usr/local/share/causal-eval/container/healthcheck.lua [URL]
-- URL: the first argument, else $CAUSAL_EVAL_HEALTHCHECK_URL, else
-- http://127.0.0.1:8000/healthz (the image's default command listens there).
local http = require "causal_eval.http"

local url = arg[1] or os.getenv("CAUSAL_EVAL_HEALTHCHECK_URL") or "http://127.0.0.1:8000/healthz"
local ok, res, err = pcall(http.request, { url = url, timeout = 4, connect_timeout = 2 })
if not ok then
  io.stderr:write(("healthcheck: %s: %s\n"):format(url, tostring(res)))
  os.exit(1)
end
if not res then
  io.stderr:write(("healthcheck: %s: %s\n"):format(url, tostring(err)))
  os.exit(1)
end
if res.status ~= 200 then
  local why = res.error and ("%s (%s)"):format(res.message or "", res.error) or ("status " .. tostring(res.status))
  io.stderr:write(("healthcheck: %s: %s\n"):format(url, why))
  os.exit(1)
end
io.stdout:write(("healthcheck: %s: 200 %s\n"):format(url, (res.body or ""):sub(1, 200):gsub("%s+$", "")))
os.exit(0)
