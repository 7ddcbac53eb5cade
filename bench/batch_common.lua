-- What bench/batch.lua and bench/v1_batch.lua share, loaded by each with dofile: the run's
-- unique ids, a random client event, the request builder, and the ACK bookkeeping.
-- Every id is "<run prefix>-<thread>-4000-8000-<counter>" (RFC 4122 version 4 and variant
-- bits; the 32-bit run prefix comes from IBENCH_PREFIX, one per run). The Authorization
-- header comes from the command line (-H). done() prints "ACK accepted duplicate rejected
-- non200" summed over the threads, from the counts each 200 answer carries.
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

-- A random valid client event: its type and its data as JSON text.
function random_event()
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

-- A POST of `size` items made by item(id, occurred), wrapped by envelope(sent, items).
function batch_request(item, envelope)
  local now = os.time()
  local sent = os.date("!%Y-%m-%dT%H:%M:%SZ", now)
  local occurred = os.date("!%Y-%m-%dT%H:%M:%SZ", now - math.random(1, 120))
  local parts = {}
  for i = 1, size do
    counter = counter + 1
    parts[i] = item(string.format("%s-%04x-4000-8000-%012x", prefix, thread_no, counter), occurred)
  end
  return wrk.format("POST", nil, nil, envelope(sent, table.concat(parts, ",")))
end

function run_prefix()
  return prefix
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if non200 == 1 then first_error = status .. " " .. string.sub(body, 1, 300) end
    return
  end
  accepted = accepted + tonumber(string.match(body, '"accepted":%s*(%d+)') or "0")
  duplicate = duplicate + tonumber(string.match(body, '"duplicate":%s*(%d+)') or "0")
  local refused = tonumber(string.match(body, '"rejected":%s*(%d+)') or "0")
  rejected = rejected + refused
  if refused > 0 and not first_error then first_error = "rejected: " .. string.sub(body, 1, 400) end
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
