-- DELETE /access/api/v1/tokens/<id> walking a file of token ids (BENCH_IDS, first field of each
-- line), each id at most once: the file is split into one slice per thread and a thread stops
-- when its slice is exhausted (so every DELETE hits a live token).
dofile(os.getenv("BENCH_D") .. "/common.lua")
local ids, i, last, hdr
function init(args)
  local all = read_lines(env("BENCH_IDS", "ids.txt"))
  local n = tonumber(env("BENCH_THREADS", "1"))
  local lo = math.floor((tid - 1) * #all / n) + 1
  local hi = math.floor(tid * #all / n)
  ids = {}
  for k = lo, hi do ids[#ids + 1] = string.match(all[k], "^(%S+)") end
  i = 0
  hdr = base_headers()
end
function request()
  if i >= #ids then return filler() end
  i = i + 1
  sent = sent + 1
  return wrk.format("DELETE", "/access/api/v1/tokens/" .. ids[i], hdr, nil)
end
function response(status, headers, body)
  count_status(status, body)
end
