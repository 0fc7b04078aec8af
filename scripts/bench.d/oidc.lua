-- POST /access/api/v1/oidc/token: the OIDC exchange, as setup-jfrog-cli sends it, one ID token
-- after another from BENCH_TOKENS (one per line; each thread starts at its own offset).
dofile(os.getenv("BENCH_D") .. "/common.lua")
local hdr, tokens, i
function init(args)
  hdr = base_headers()
  hdr["Content-Type"] = "application/json"
  tokens = read_lines(env("BENCH_TOKENS", ""))
  i = tid * 7919
  limit = thread_limit()
end
function request()
  if limit and sent >= limit then return filler() end
  sent = sent + 1
  i = i + 1
  local tok = tokens[(i % #tokens) + 1]
  local body = '{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange",'
      .. '"subject_token_type":"urn:ietf:params:oauth:token-type:id_token",'
      .. '"subject_token":"' .. tok .. '","provider_name":"bench","gh_run_id":"1"}'
  return wrk.format("POST", "/access/api/v1/oidc/token", hdr, body)
end
function response(status, headers, resp)
  count_status(status, resp)
end
