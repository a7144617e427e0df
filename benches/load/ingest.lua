-- wrk script for the tapak ingest benchmark: POSTs pre-signed WhatsApp Cloud API deliveries to /webhooks/whatsapp.
--
--   REQUESTS=/path/requests wrk -t2 -c64 -d30s --latency -s ingest.lua http://127.0.0.1:PORT
--
-- Thread k (0-based) reads REQUESTS.k (written by gen_requests.py --shards T, T = wrk threads): one request per line,
-- "<hex signature>\t<body>". Requests are formatted once at start-up; request() only hands out the next one, so the
-- Lua cost per request is tiny. Each message id is sent once; if a thread runs out it wraps around (redeliveries,
-- which the server deduplicates) and done() says so, because then "stored == 200s" no longer holds.
-- response() counts statuses per thread; done() sums them over threads and prints a machine-readable line:
--   RESULT ok=<200s> non200=<n> wrapped=<0|1> loaded=<requests loaded>

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local i = 0
ok_count = 0
bad_count = 0
wrapped = 0
loaded = 0
statuses = ""

function init(args)
  local prefix = os.getenv("REQUESTS") or "requests"
  local path = prefix .. "." .. tostring(tid)
  local f = io.open(path, "rb")
  if not f then
    io.stderr:write("ingest.lua: cannot open " .. path .. "\n")
    os.exit(1)
  end
  for line in f:lines() do
    local tab = line:find("\t", 1, true)
    if tab then
      local sig = line:sub(1, tab - 1)
      local body = line:sub(tab + 1)
      n = n + 1
      reqs[n] = wrk.format("POST", "/webhooks/whatsapp", {
        ["Content-Type"] = "application/json",
        ["X-Hub-Signature-256"] = "sha256=" .. sig,
        ["User-Agent"] = "facebookexternalua",
      }, body)
    end
  end
  f:close()
  loaded = n
  if n == 0 then
    io.stderr:write("ingest.lua: no requests in " .. path .. "\n")
    os.exit(1)
  end
end

function request()
  i = i + 1
  if i > n then
    i = 1
    wrapped = 1
  end
  return reqs[i]
end

local other = {}
function response(status, headers, body)
  if status == 200 then
    ok_count = ok_count + 1
  else
    bad_count = bad_count + 1
    other[status] = (other[status] or 0) + 1
    if bad_count <= 3 then
      io.stderr:write("ingest.lua: HTTP " .. status .. ": " .. (body or ""):sub(1, 200) .. "\n")
    end
    local s = ""
    for k, v in pairs(other) do s = s .. k .. ":" .. v .. " " end
    statuses = s
  end
end

function done(summary, latency, requests)
  local ok, bad, wr, ld = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + (t:get("ok_count") or 0)
    bad = bad + (t:get("bad_count") or 0)
    wr = math.max(wr, t:get("wrapped") or 0)
    ld = ld + (t:get("loaded") or 0)
    local s = t:get("statuses")
    if s and s ~= "" then io.write("non-200 statuses (thread): " .. s .. "\n") end
  end
  io.write(string.format("RESULT ok=%d non200=%d wrapped=%d loaded=%d requests=%d errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    ok, bad, wr, ld, summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
