-- wrk script: POST /api/v2/analytics/batch with 100 valid client events per request
-- (bench/batch_common.lua: ids, events, ACK counts; the bearer token from -H).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "batch_common.lua")

function request()
  return batch_request(
    function(id, occurred)
      local event_type, data = random_event()
      return string.format('{"event_id":"%s","event_type":"%s","event_data":%s,"occurred_at":"%s"}',
        id, event_type, data, occurred)
    end,
    function(sent, items) return '{"sent_at":"' .. sent .. '","events":[' .. items .. ']}' end)
end
