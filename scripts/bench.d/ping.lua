-- GET /api/system/ping with a fixed (or no) Authorization header: the anonymous plaintext
-- baseline (BENCH_AUTH unset) and "validate one repeated token" (BENCH_AUTH=Bearer <token>).
-- No response() callback, so wrk does as little work per request as possible;
-- non-2xx answers show up as summary.errors.status.
dofile(os.getenv("BENCH_D") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/api/system/ping"
wrk.headers = base_headers()
