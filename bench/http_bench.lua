-- wrk script for bench/http_bench.py. Cycles through the requests in WRK_REQUESTS_FILE (one a line:
-- METHOD<TAB>PATH[<TAB>form body]), each thread from its own offset, with the headers in WRK_HEADERS_FILE
-- ("Name: value" lines). done() prints one line: "WRK_JSON " and a JSON object (latencies in microseconds).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("offset", #threads * 7919)
end

local function read_headers()
  local headers = {}
  local name = os.getenv("WRK_HEADERS_FILE")
  if name and name ~= "" then
    for line in io.lines(name) do
      local key, value = line:match("^([^:]+):%s*(.-)%s*$")
      if key then headers[key] = value end
    end
  end
  return headers
end

function init(args)
  local base = read_headers()
  reqs = {}
  for line in io.lines(os.getenv("WRK_REQUESTS_FILE")) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    if method then
      local headers = {}
      for k, v in pairs(base) do headers[k] = v end
      if body == "" then
        body = nil
      else
        headers["Content-Type"] = "application/x-www-form-urlencoded"
      end
      table.insert(reqs, wrk.format(method, path, headers, body))
    end
  end
  index = (offset or 0) % #reqs
end

function request()
  index = index % #reqs + 1
  return reqs[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
