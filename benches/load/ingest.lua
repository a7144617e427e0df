-- wrk script for the tapak ingest benchmark: POSTs pre-signed WhatsApp Cloud API deliveries to /webhooks/whatsapp.
--
--   REQUESTS=/path/requests wrk -t2 -c64 -d30s --latency -s ingest.lua http://127.0.0.1:PORT
--
-- Thread k (0-based) sends REQUESTS.k, written by `gen_requests.py --shards T --format http` (T = wrk threads): raw
-- HTTP/1.1 requests back to back, each with its own body and X-Hub-Signature-256. The file is read in one go on the
-- thread's first request() (not in init(): wrk starts thread 0 before it runs thread 1's init, so a slow init would
-- let one thread run outside the measured interval); request() only slices the next request out of that string.
-- Each message id is sent once; if a thread runs out it wraps around (redeliveries, which the server deduplicates)
-- and done() says so, because then "stored == 200s" no longer holds.
-- response() counts statuses per thread; done() sums them over threads and prints one machine-readable line:
--   RESULT ok=<200s> non200=<n> wrapped=<0|1> requests=... p99_us=... (see done())

-- RATE (messages/s over all connections, with CONNS the connection count) paces the load: each connection waits
-- CONNS/RATE s after a response before its next request, so the offered rate is at most RATE (a sustained load, not a
-- burst). Without RATE every connection sends as fast as it is answered.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local data = nil
local pos = 1
local MARK = "POST /webhooks/whatsapp "
ok_count = 0
bad_count = 0
wrapped = 0
statuses = ""

local function load()
  local path = (os.getenv("REQUESTS") or "requests") .. "." .. tostring(tid)
  local f = io.open(path, "rb")
  if not f then
    io.stderr:write("ingest.lua: cannot open " .. path .. "\n")
    os.exit(1)
  end
  data = f:read("*a")
  f:close()
  if not data or data:sub(1, #MARK) ~= MARK then
    io.stderr:write("ingest.lua: " .. path .. " does not hold raw requests (gen_requests.py --format http)\n")
    os.exit(1)
  end
end

local pause_ms = nil
local rate, conns = tonumber(os.getenv("RATE") or ""), tonumber(os.getenv("CONNS") or "")
if rate and conns and rate > 0 then
  pause_ms = 1000 * conns / rate
  function delay()
    return pause_ms
  end
end

function request()
  if not data then load() end
  local nxt = data:find(MARK, pos + 1, true)
  local req
  if nxt then
    req = data:sub(pos, nxt - 1)
    pos = nxt
  else
    req = data:sub(pos)
    pos = 1
    wrapped = 1
  end
  return req
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
  local ok, bad, wr = 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + (t:get("ok_count") or 0)
    bad = bad + (t:get("bad_count") or 0)
    wr = math.max(wr, t:get("wrapped") or 0)
    local s = t:get("statuses")
    if s and s ~= "" then io.write("non-200 statuses (one thread): " .. s .. "\n") end
  end
  io.write(string.format("RESULT ok=%d non200=%d wrapped=%d requests=%d errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    ok, bad, wr, summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
