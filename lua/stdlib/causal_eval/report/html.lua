-- SPDX-License-Identifier: MIT
-- Escaping and number formats shared by the report's templates and charts.
-- Everything a template writes that came from a store (model names,
-- prompts, raw answers, error messages) goes through esc: records hold
-- whatever a model or a provider sent back.
local M = {}

local ENTITIES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

--- Text for an HTML text node or a quoted attribute value (nil: "").
--- Control characters other than tab and newline become U+FFFD: HTML
--- forbids them, and a NUL would end the text early in some readers.
function M.esc(s)
  if s == nil then return "" end
  s = tostring(s)
  s = s:gsub("[&<>\"']", ENTITIES)
  if s:find("[%z\1-\8\11\12\14-\31\127]") then s = s:gsub("[%z\1-\8\11\12\14-\31\127]", "\239\191\189") end
  return s
end

--- A fraction as a percentage: 0.4857 -> "48.6%" (digits after the point: 1).
function M.pct(x, digits)
  if type(x) ~= "number" or x ~= x then return "–" end
  return ("%." .. (digits or 1) .. "f%%"):format(x * 100)
end

--- A signed difference in points: 0.11 -> "+11.0%".
function M.signed_pct(x, digits)
  if type(x) ~= "number" or x ~= x then return "–" end
  return ("%+." .. (digits or 1) .. "f%%"):format(x * 100)
end

--- An integer with thousands separators: 200004 -> "200,004".
function M.int(n)
  if type(n) ~= "number" then return "–" end
  local s = ("%d"):format(math.floor(n + 0.5))
  local sign, digits = s:match("^(-?)(%d+)$")
  digits = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. digits
end

--- Milliseconds, with the precision their size deserves: "0.0044 ms",
--- "12.3 ms", "845 ms", "12.4 s".
function M.ms(x)
  if type(x) ~= "number" or x ~= x then return "–" end
  if x >= 10000 then return ("%.1f s"):format(x / 1000) end
  if x >= 100 then return ("%.0f ms"):format(x) end
  if x >= 1 then return ("%.1f ms"):format(x) end
  if x == 0 then return "0 ms" end
  return ("%.2g ms"):format(x)
end

--- US dollars: "$12.35", "$0.0123", "$0".
function M.usd(x)
  if type(x) ~= "number" or x ~= x then return "–" end
  if x == 0 then return "$0" end
  if x >= 1 then return ("$%.2f"):format(x) end
  return ("$%.4f"):format(x)
end

--- A p-value: "0.0043", "<0.0001".
function M.p(x)
  if type(x) ~= "number" or x ~= x then return "–" end
  if x < 0.0001 then return "<0.0001" end
  return ("%.4f"):format(x)
end

--- At most max characters of s (UTF-8 when s is valid UTF-8, else bytes):
--- the text and how many characters were left out.
function M.truncate(s, max)
  s = tostring(s or "")
  local n = utf8.len(s)
  if not n then
    if #s <= max then return s, 0 end
    return s:sub(1, max), #s - max
  end
  if n <= max then return s, 0 end
  return s:sub(1, utf8.offset(s, max + 1) - 1), n - max
end

--- An id fit for an HTML anchor, stable for a key: letters, digits and
--- '-' kept, the rest replaced, and a short hash added when anything was
--- replaced so that two keys never share an anchor.
function M.slug(prefix, key)
  key = tostring(key)
  local s = key:gsub("[^%w%-]", "-")
  if s ~= key then s = s .. "-" .. require("causal_eval.rng").hex(key):sub(1, 6) end
  return prefix .. "-" .. s
end

return M
