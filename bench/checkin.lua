-- wrk script: checks in every file of a list once, as one record each
-- (POST /v1/records, multipart: metadata, then the file), and then stops.
--   wrk -t2 -c16 -d600s -s bench/checkin.lua https://127.0.0.1:PORT -- FILES THREADS MARKER
-- FILES names one absolute path per line; THREADS is wrk's -t; every title
-- holds MARKER, so that bench/run.py finds the records afterwards with a
-- catalogue search. The token comes from BENCH_TOKEN in the environment, so
-- that it never shows in a process list.
--
-- wrk is built to run for a duration, so the ending takes some care (this is
-- wrk 4.1.0, Debian's):
--  * Thread k of THREADS takes files k+1, k+1+THREADS, ... Their request
--    bodies are built in init(), before the clock starts, so that sending
--    one costs wrk a copy and nothing more.
--  * delay(), which wrk calls before each request on a connection, hands out
--    the thread's files: 0 ms while some are left, and an hour once none
--    are, which parks that connection; request() then sends the file
--    delay() handed out. (request() cannot decline: wrk sends whatever it
--    returns, so delay() is the only way to leave a connection idle.)
--  * response() counts answers by status; when the thread has an answer for
--    each of its files it stops its own event loop and prints
--    "BENCH_THREAD_DONE k". wrk's main thread still sleeps for -d, so
--    bench/run.py sends wrk SIGINT once every thread has said so; wrk then
--    calls done(), which prints one line
--      BENCH_JSON {...}
--    with the counts and CLOCK_MONOTONIC times of the first request and the
--    last answer (the clock of Python's time.monotonic()).
-- wrk calls request() once before the run, on thread 0 only, to check that
-- it is well formed; that call is recognised (nothing handed out yet) and
-- does not use up a file.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local BOUNDARY = "custosbenchboundary7d1f"
local PARKED_MS = 3600 * 1000

local requests = {}  -- this thread's request texts, in order
local handed_out = 0  -- files delay() has released
local sent = 0        -- requests request() has returned
-- Globals, read by done() through thread:get().
share = 0
answered = 0
created = 0
other = 0
first_other = ""
t_first = -1
t_last = -1

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

function init(args)
  local list, nthreads, marker = args[1], tonumber(args[2]), args[3]
  assert(list and nthreads and marker, "usage: -- FILES THREADS MARKER")
  local token = os.getenv("BENCH_TOKEN")
  assert(token and #token > 0, "BENCH_TOKEN is not set")
  local paths = {}
  for line in assert(io.open(list, "r")):lines() do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
  for i = id + 1, #paths, nthreads do
    local path = paths[i]
    local name = path:match("([^/]+)$")
    local meta = '{"type":"general","title":' ..
        json_string(string.format("bench %s %05d", marker, i - 1)) ..
        ',"department":"sales","classification":"internal"}'
    local body = table.concat({
      "--" .. BOUNDARY,
      'Content-Disposition: form-data; name="metadata"',
      "Content-Type: application/json",
      "",
      meta,
      "--" .. BOUNDARY,
      'Content-Disposition: form-data; name="file"; filename="' .. name .. '"',
      "Content-Type: application/octet-stream",
      "",
      read_file(path),
      "--" .. BOUNDARY .. "--",
      "",
    }, "\r\n")
    -- wrk.format adds Host and Content-Length to the table it is given.
    local headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "multipart/form-data; boundary=" .. BOUNDARY,
    }
    requests[#requests + 1] = wrk.format("POST", "/v1/records", headers, body)
  end
  share = #requests
  if share == 0 then
    -- Nothing to send: this thread is done before it starts.
    -- (wrk.thread:stop() would not help here: wrk's event loop clears the
    -- stop flag when it starts. The idle thread ends with the others.)
    io.write(string.format("BENCH_THREAD_DONE %d\n", id))
    io.flush()
  end
end

function delay()
  if handed_out < share then
    handed_out = handed_out + 1
    return 0
  end
  return PARKED_MS
end

function request()
  if handed_out == 0 then
    -- wrk's check of the script, before the run: not sent.
    return requests[1] or wrk.format("GET", "/")
  end
  sent = sent + 1
  if t_first < 0 then
    t_first = now()
  end
  -- Past the share only if a connection broke mid-request and wrk sent
  -- again: answer something that counts as a failure.
  return requests[sent] or wrk.format("GET", "/")
end

function response(status, headers, body)
  answered = answered + 1
  if status == 201 then
    created = created + 1
  else
    other = other + 1
    if first_other == "" then
      first_other = string.format("HTTP %d %s", status, body:sub(1, 200))
    end
  end
  if answered == share then
    t_last = now()
    io.write(string.format("BENCH_THREAD_DONE %d\n", id))
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, reqs)
  local t = {share = 0, answered = 0, created = 0, other = 0}
  local first, last, firsts = nil, nil, {}
  for _, thread in ipairs(threads) do
    for k in pairs(t) do
      t[k] = t[k] + thread:get(k)
    end
    local f, l = thread:get("t_first"), thread:get("t_last")
    if f >= 0 and (first == nil or f < first) then first = f end
    if l >= 0 and (last == nil or l > last) then last = l end
    local fo = thread:get("first_other")
    if #fo > 0 then firsts[#firsts + 1] = json_string(fo) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"share":%d,"answered":%d,"created":%d,"other":%d,' ..
    '"t_first":%.6f,"t_last":%.6f,"first_other":[%s],"wrk_requests":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,' ..
    '"errors_timeout":%d,"latency_p50_us":%.1f,"latency_p99_us":%.1f,' ..
    '"latency_max_us":%.1f}\n',
    t.share, t.answered, t.created, t.other, first or -1, last or -1,
    table.concat(firsts, ","), summary.requests,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
