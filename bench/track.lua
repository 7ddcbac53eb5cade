-- wrk script: POST /api/v2/analytics/track with one valid client event per request.
-- The Authorization header comes from the command line (-H "Authorization: Bearer ...").
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"event_type": "screen_viewed", "event_data": {"screen": "today", "source": "bench"}}'
