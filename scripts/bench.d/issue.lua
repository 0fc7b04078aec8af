-- POST /access/api/v1/tokens (Bearer admin in BENCH_AUTH). BENCH_EXPIRES_IN picks non-revocable
-- (< 21600) or revocable (0 or >= 21600) tokens. Optional:
--   BENCH_LIMIT          stop after this many POSTs in total (a thread's share each)
--   BENCH_CAPTURE        file prefix: each thread appends "<token_id> <access_token>" lines of
--                        2xx answers to <prefix>.<tid>
--   BENCH_CAPTURE_EVERY  keep only every k-th answer of a thread (sampling a large fill)
dofile(os.getenv("BENCH_D") .. "/common.lua")
local hdr, body, out, every, seen
function init(args)
  hdr = base_headers()
  hdr["Content-Type"] = "application/x-www-form-urlencoded"
  local user = env("BENCH_USERNAME", "bench")
  body = "username=" .. user .. "&expires_in=" .. env("BENCH_EXPIRES_IN", "3600")
      .. "&scope=" .. env("BENCH_SCOPE", "applied-permissions/user")
  limit = thread_limit()
  local cap = env("BENCH_CAPTURE", nil)
  if cap then out = assert(io.open(cap .. "." .. tid, "a")); out:setvbuf("line") end
  every = tonumber(env("BENCH_CAPTURE_EVERY", "1"))
  seen = 0
end
function request()
  if limit and sent >= limit then return filler() end
  sent = sent + 1
  return wrk.format("POST", "/access/api/v1/tokens", hdr, body)
end
function response(status, headers, resp)
  count_status(status, resp)
  if out and status >= 200 and status < 300 then
    seen = seen + 1
    if seen % every == 0 then
      local id = string.match(resp, '"token_id"%s*:%s*"([^"]+)"')
      local tok = string.match(resp, '"access_token"%s*:%s*"([^"]+)"')
      if id and tok then out:write(id, " ", tok, "\n") end
    end
  end
end
