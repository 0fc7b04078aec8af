-- etcd baseline: POST /v3/kv/put through etcd's JSON gateway, a distinct key per request
-- ("<BENCH_KEY_PREFIX><thread>/<n>", base64 as the gateway wants; one prefix per run) and a value the size of a token id, so
-- each put is one replicated, fsynced write like one revocation.
dofile(os.getenv("BENCH_D") .. "/common.lua")
local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local hdr, value, n, prefix

local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = string.byte(s, i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = {math.floor(v / 262144) % 64, math.floor(v / 4096) % 64, math.floor(v / 64) % 64, v % 64}
    out[#out + 1] = string.sub(chars, q[1] + 1, q[1] + 1) .. string.sub(chars, q[2] + 1, q[2] + 1)
        .. (b and string.sub(chars, q[3] + 1, q[3] + 1) or "=")
        .. (c and string.sub(chars, q[4] + 1, q[4] + 1) or "=")
  end
  return table.concat(out)
end

function init(args)
  hdr = {["Content-Type"] = "application/json"}
  value = b64("revoked:0123456789abcdef0123456789abcdef")
  n = 0
  prefix = env("BENCH_KEY_PREFIX", "bench/") .. tid .. "/"
end

function request()
  n = n + 1
  sent = sent + 1
  local body = '{"key":"' .. b64(prefix .. n) .. '","value":"' .. value .. '"}'
  return wrk.format("POST", "/v3/kv/put", hdr, body)
end

function response(status, headers, body)
  count_status(status, body)
end
