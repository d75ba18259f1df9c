-- Like wrk_bodies.lua, and counts responses by status and by X-Upstream (the replica or replicas,
-- comma-separated when nginx retried, that answered). RATE_PER_CONNECTION (requests/s, optional)
-- paces each connection: the soak's open-loop-like load below capacity.
local bodies = {}
local counter = 0
local threads = {}
local pause_ms = nil
statuses, upstreams = {}, {}

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
  local rate = tonumber(os.getenv("RATE_PER_CONNECTION") or "")
  if rate then pause_ms = 1000 / rate end
end

function delay()
  if not pause_ms then return 0 end
  -- whole milliseconds only: round up or down at random so that the mean is exact
  local whole = math.floor(pause_ms)
  if math.random() < pause_ms - whole then whole = whole + 1 end
  return whole
end

function request()
  counter = counter % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[counter])
end

function response(status, headers, body)
  local s = tostring(status)
  statuses[s] = (statuses[s] or 0) + 1
  local u = headers["X-Upstream"] or headers["x-upstream"]
  if u then upstreams[u] = (upstreams[u] or 0) + 1 end
end

local function json_counts(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, string.format('"%s": %d', k, v)) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function merged(name)
  local all = {}
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get(name)) do all[k] = (all[k] or 0) + v end
  end
  return all
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p90": %d, "p99": %d, ' ..
    '"max": %d, "mean": %.1f}, "statuses": %s, "upstreams": %s}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    json_counts(merged("statuses")), json_counts(merged("upstreams"))))
end
