-- Shared helpers for the wrk scripts in scripts/bench.d (loaded with dofile by each of them).
-- Configuration comes from environment variables set by bench.py:
--   BENCH_OUT      JSON file done() writes (requests, duration, latency percentiles, errors, statuses)
--   BENCH_AUTH     fixed "Bearer ..." Authorization value (optional)
--   BENCH_HEADERS  extra headers, "Name: value|Name: value" (optional)
--   BENCH_LIMIT    total number of requests over all threads; a thread stops after its share
-- Only 127.0.0.1 is ever targeted (bench.py builds the URLs).

local threads = {}
local thread_count = 0

function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

function read_lines(path)
  local t = {}
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if line ~= "" then t[#t + 1] = line end
  end
  f:close()
  return t
end

function base_headers()
  local h = {}
  local auth = env("BENCH_AUTH", nil)
  if auth then h["Authorization"] = auth end
  local extra = env("BENCH_HEADERS", nil)
  if extra then
    for item in string.gmatch(extra, "[^|]+") do
      local k, v = string.match(item, "^%s*([^:]+):%s*(.*)$")
      if k then h[k] = v end
    end
  end
  return h
end

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  threads[#threads + 1] = thread
end

-- Per-thread state (each wrk thread has its own Lua state; tid/nthreads are set in setup()).
sent = 0
statuses = {}
limit = nil
stopped = false

-- Share of BENCH_LIMIT for this thread (call from init()).
function thread_limit()
  local total = tonumber(env("BENCH_LIMIT", "0"))
  if total == nil or total <= 0 then return nil end
  local n = tonumber(env("BENCH_THREADS", "1"))
  local share = math.floor(total / n)
  if tid <= total % n then share = share + 1 end
  return share
end

-- A harmless request sent while a thread stops (so no extra token is minted or revoked).
-- wrk's main thread sleeps for the whole -d duration even when every thread has stopped, so a
-- stopping thread drops a marker file <BENCH_OUT>.stopped.<tid>; bench.py sends wrk SIGINT once
-- all markers exist (wrk then reports the real run time).
function filler()
  if not stopped then
    stopped = true
    local out = env("BENCH_OUT", nil)
    if out then
      local f = io.open(out .. ".stopped." .. tid, "w")
      if f then f:close() end
    end
  end
  wrk.thread:stop()
  return wrk.format("GET", "/healthz", {}, nil)
end

-- First body seen for each non-2xx status (trimmed), to say why requests failed.
bodies = {}

function count_status(status, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
  if (status < 200 or status > 299) and bodies[k] == nil and body then
    bodies[k] = string.sub(body, 1, 200)
  end
end

local function json_value(v)
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = string.format("%q:%s", tostring(k), json_value(x)) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif type(v) == "string" then
    return string.format("%q", v)
  elseif v == nil then
    return "null"
  else
    return tostring(v)
  end
end

function done(summary, latency, requests)
  local merged = {}
  local sample_bodies = {}
  local sent_total = 0
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then for k, n in pairs(s) do merged[k] = (merged[k] or 0) + n end end
    local b = t:get("bodies")
    if b then for k, v in pairs(b) do sample_bodies[k] = sample_bodies[k] or v end end
    sent_total = sent_total + (t:get("sent") or 0)
  end
  local pct = {}
  for _, p in ipairs({50, 75, 90, 99, 99.9}) do pct[tostring(p)] = latency:percentile(p) end
  local out = {
    requests = summary.requests,
    duration_us = summary.duration,
    bytes = summary.bytes,
    errors = {connect = summary.errors.connect, read = summary.errors.read,
              write = summary.errors.write, status = summary.errors.status,
              timeout = summary.errors.timeout},
    latency_us = {min = latency.min, max = latency.max, mean = latency.mean,
                  stdev = latency.stdev, percentiles = pct},
    statuses = merged,
    error_bodies = sample_bodies,
    sent = sent_total,
  }
  local path = env("BENCH_OUT", nil)
  if path then
    local f = assert(io.open(path, "w"))
    f:write(json_value(out))
    f:close()
  end
end
