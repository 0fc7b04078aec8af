-- GET /api/system/ping walking a file of tokens (BENCH_TOKENS, one per line): "distinct tokens".
-- Each thread starts at its own offset and cycles through the whole file. The requests are
-- formatted once in init(), so the load generator spends per request about what it spends on
-- the static plaintext request it is compared with.
dofile(os.getenv("BENCH_D") .. "/common.lua")
local requests, idx, count
function init(args)
  local tokens = read_lines(env("BENCH_TOKENS", "tokens.txt"))
  local n = tonumber(env("BENCH_THREADS", "1"))
  local hdr = base_headers()
  requests = {}
  for i, t in ipairs(tokens) do
    hdr["Authorization"] = "Bearer " .. t
    requests[i] = wrk.format("GET", "/api/system/ping", hdr, nil)
  end
  count = #requests
  idx = math.floor((tid - 1) * count / n)
end
function request()
  idx = idx % count + 1
  return requests[idx]
end
