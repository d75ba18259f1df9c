-- Like wrk_bodies.lua, and counts responses by status (200, 503 with Retry-After, anything else).
local bodies = {}
local counter = 0
local threads = {}
ok, busy, busy_no_retry, other = 0, 0, 0, 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("BODIES_FILE")) do
    table.insert(bodies, line)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  counter = math.random(#bodies)
end

function request()
  counter = counter % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[counter])
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  elseif status == 503 then
    if headers["retry-after"] or headers["Retry-After"] then busy = busy + 1 else busy_no_retry = busy_no_retry + 1 end
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t = {ok = 0, busy = 0, busy_no_retry = 0, other = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p90": %d, "p99": %d, ' ..
    '"max": %d, "mean": %.1f}, "status_200": %d, "status_503_retry_after": %d, "status_503_no_retry_after": %d, ' ..
    '"status_other": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    t.ok, t.busy, t.busy_no_retry, t.other))
end
