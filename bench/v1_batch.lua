-- wrk script: POST /v1/batch (Segment's HTTP Tracking API) with 100 track messages per call,
-- as an SDK sends them: messageId, userId (the bench user, IBENCH_USER_ID: a server key is
-- trusted for it) or an anonymousId, properties, timestamp, and the SDK's context (app, os,
-- device, locale, library). bench/batch_common.lua: ids, events, ACK counts; the write
-- key's Basic Authorization from -H.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "batch_common.lua")

local user_id = os.getenv("IBENCH_USER_ID") or "1"
local contexts = {
  '{"app":{"version":"2.4.1","build":"241"},"os":{"name":"iOS","version":"17.4"},'
    .. '"device":{"model":"iPhone15,2"},"locale":"en-US","timezone":"Europe/Berlin",'
    .. '"library":{"name":"analytics-ios","version":"4.1.8"}}',
  '{"app":{"version":"2.3.0","build":"230"},"os":{"name":"Android","version":"14"},'
    .. '"device":{"model":"Pixel 8"},"locale":"de-DE","timezone":"Asia/Kathmandu",'
    .. '"library":{"name":"analytics-android","version":"4.11.3"}}',
}

function request()
  return batch_request(
    function(id, occurred)
      local event_type, data = random_event()
      local who = string.format('"userId":"%s"', user_id)
      if math.random() < 0.5 then
        who = string.format('"anonymousId":"%s-anon-%04x"', run_prefix(), thread_no)
      end
      return string.format(
        '{"type":"track","messageId":"%s",%s,"event":"%s","properties":%s,"timestamp":"%s",'
          .. '"context":%s}',
        id, who, event_type, data, occurred, contexts[math.random(1, 2)])
    end,
    function(sent, items) return '{"sentAt":"' .. sent .. '","batch":[' .. items .. ']}' end)
end
