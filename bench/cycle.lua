-- wrk script: GET request paths in turn from a list, one path per line.
--   wrk -t2 -c64 -d10s -s bench/cycle.lua https://127.0.0.1:PORT -- PATHS_FILE
-- If BENCH_TOKEN is set in the environment, every request carries
-- "Authorization: Bearer $BENCH_TOKEN" (an environment variable, so that the
-- token never shows in a process list). At the end one line
--   BENCH_JSON {...}
-- gives the counts, errors and latency percentiles (microseconds) for
-- bench/run.py, which need not parse wrk's human-readable report.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local paths = {}
local n = 0

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
  f:close()
  assert(#paths > 0, "no paths in " .. args[1])
  -- Threads start at different places so they do not read in lockstep.
  n = (id * 7919) % #paths
  local token = os.getenv("BENCH_TOKEN")
  if token and #token > 0 then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  n = n % #paths + 1
  return wrk.format("GET", paths[n])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,' ..
    '"errors_timeout":%d,"latency_p50_us":%.1f,"latency_p90_us":%.1f,' ..
    '"latency_p99_us":%.1f,"latency_max_us":%.1f,"latency_mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
