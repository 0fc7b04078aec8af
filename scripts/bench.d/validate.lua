-- GET /api/system/ping walking a file of tokens (BENCH_TOKENS, one per line): "distinct tokens".
-- Each thread starts at its own offset and cycles through the whole file.
dofile(os.getenv("BENCH_D") .. "/common.lua")
local tokens, idx, hdr
function init(args)
  tokens = read_lines(env("BENCH_TOKENS", "tokens.txt"))
  local n = tonumber(env("BENCH_THREADS", "1"))
  idx = math.floor((tid - 1) * #tokens / n)
  hdr = base_headers()
end
function request()
  idx = idx % #tokens + 1
  hdr["Authorization"] = "Bearer " .. tokens[idx]
  return wrk.format("GET", "/api/system/ping", hdr, nil)
end
