-- wrk script: POST /v1/batch (Segment's HTTP Tracking API) with 100 track messages per call,
-- as an SDK sends them: messageId, userId (the bench user, a server key trusts it) or an
-- anonymousId, properties, timestamp, and the SDK's context (app, os, device, locale,
-- library). Every messageId is unique: "<run prefix>-<thread>-4000-8000-<counter>".
-- The write key's Authorization header comes from the command line (-H "Authorization:
-- Basic ..."), the user id from IBENCH_USER_ID. done() prints "ACK accepted duplicate
-- rejected non200" summed over the threads, as batch.lua does.
local prefix = os.getenv("IBENCH_PREFIX") or "0badcafe"
local user_id = os.getenv("IBENCH_USER_ID") or "1"
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
local contexts = {
  '{"app":{"version":"2.4.1","build":"241"},"os":{"name":"iOS","version":"17.4"},'
    .. '"device":{"model":"iPhone15,2"},"locale":"en-US","timezone":"Europe/Berlin",'
    .. '"library":{"name":"analytics-ios","version":"4.1.8"}}',
  '{"app":{"version":"2.3.0","build":"230"},"os":{"name":"Android","version":"14"},'
    .. '"device":{"model":"Pixel 8"},"locale":"de-DE","timezone":"Asia/Kathmandu",'
    .. '"library":{"name":"analytics-android","version":"4.11.3"}}',
}

local function properties()
  local kind = math.random()
  local video = math.random(1, 30)
  if kind < 0.35 then
    return "screen_viewed", string.format('{"screen":"%s","source":"tab"}', screens[math.random(1, 6)])
  elseif kind < 0.65 then
    return "video_progress", string.format('{"video_id":%d,"position_s":%.1f,"duration_s":600}',
      video, math.random() * 600)
  elseif kind < 0.80 then
    return "video_started", string.format('{"video_id":%d,"autoplay":%s}', video,
      math.random() < 0.5 and "true" or "false")
  elseif kind < 0.90 then
    return "video_completed", string.format('{"video_id":%d,"watched_s":600}', video)
  end
  return "app_opened", '{"cold_start":false,"build":"2.4.1"}'
end

local function message(id, occurred)
  local event, props = properties()
  local who
  if math.random() < 0.5 then
    who = string.format('"userId":"%s"', user_id)
  else
    who = string.format('"anonymousId":"%s-anon-%04x"', prefix, thread_no)
  end
  return string.format(
    '{"type":"track","messageId":"%s",%s,"event":"%s","properties":%s,"timestamp":"%s",'
      .. '"context":%s}',
    id, who, event, props, occurred, contexts[math.random(1, 2)])
end

function request()
  local now = os.time()
  local sent = os.date("!%Y-%m-%dT%H:%M:%SZ", now)
  local occurred = os.date("!%Y-%m-%dT%H:%M:%SZ", now - math.random(1, 120))
  local parts = {}
  for i = 1, size do
    counter = counter + 1
    parts[i] = message(string.format("%s-%04x-4000-8000-%012x", prefix, thread_no, counter), occurred)
  end
  local body = '{"sentAt":"' .. sent .. '","batch":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", nil, nil, body)
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
  if rejected > 0 and not first_error then first_error = "rejected: " .. string.sub(body, 1, 400) end
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
