-- wrk script: POST /api/v2/analytics/batch with 100 valid client events per request.
-- Every event_id is unique: "<run prefix>-<thread>-4000-8000-<counter>" (RFC 4122 version 4
-- and variant bits; the 32-bit run prefix comes from IBENCH_PREFIX, one per run).
-- The Authorization header comes from the command line (-H "Authorization: Bearer ...").
-- done() prints "ACK accepted duplicate rejected non200" summed over the threads.
local prefix = os.getenv("IBENCH_PREFIX") or "0badcafe"
local size = tonumber(os.getenv("IBENCH_BATCH") or "100")
local threads = {}
thread_no = 0
accepted, duplicate, rejected, non200 = 0, 0, 0, 0
first_error = nil
local counter = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

wrk.headers["Content-Type"] = "application/json"

local screens = {"today", "plan", "video", "profile", "challenges", "settings"}

local function event(id, occurred)
  local kind = math.random()
  local video = math.random(1, 30)
  local t, d
  if kind < 0.35 then
    t, d = "screen_viewed", string.format('{"screen":"%s","source":"tab"}', screens[math.random(1, 6)])
  elseif kind < 0.65 then
    t, d = "video_progress", string.format('{"video_id":%d,"position_s":%.1f,"duration_s":600}',
      video, math.random() * 600)
  elseif kind < 0.80 then
    t, d = "video_started", string.format('{"video_id":%d,"autoplay":%s}', video,
      math.random() < 0.5 and "true" or "false")
  elseif kind < 0.90 then
    t, d = "video_completed", string.format('{"video_id":%d,"watched_s":600}', video)
  else
    t, d = "app_opened", '{"cold_start":false,"build":"2.4.1"}'
  end
  return string.format('{"event_id":"%s","event_type":"%s","event_data":%s,"occurred_at":"%s"}',
    id, t, d, occurred)
end

function request()
  local now = os.time()
  local sent = os.date("!%Y-%m-%dT%H:%M:%SZ", now)
  local occurred = os.date("!%Y-%m-%dT%H:%M:%SZ", now - math.random(1, 120))
  local parts = {}
  for i = 1, size do
    counter = counter + 1
    parts[i] = event(string.format("%s-%04x-4000-8000-%012x", prefix, thread_no, counter), occurred)
  end
  local body = '{"sent_at":"' .. sent .. '","events":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", nil, nil, body)  -- wrk.headers: -H Authorization, Content-Type
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if non200 == 1 then first_error = status .. " " .. string.sub(body, 1, 300) end
    return
  end
  accepted = accepted + tonumber(string.match(body, '"accepted":%s*(%d+)') or "0")
  duplicate = duplicate + tonumber(string.match(body, '"duplicate":%s*(%d+)') or "0")
  rejected = rejected + tonumber(string.match(body, '"rejected":%s*(%d+)') or "0")
end

function done(summary, latency, requests)
  local a, d, r, n = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("accepted")
    d = d + thread:get("duplicate")
    r = r + thread:get("rejected")
    n = n + thread:get("non200")
  end
  io.write(string.format("ACK %d %d %d %d\n", a, d, r, n))
  for _, thread in ipairs(threads) do
    local e = thread:get("first_error")
    if e then io.write("FIRST ERROR " .. e .. "\n") end
  end
end
