-- One pool's global figures, for the status views and /metrics (read only). ARGV[1]: at most
-- this many live sessions listed (0: none). Returns nil when the pool does not exist, else
-- {closed ('' when open), size, live, busy, in flight, bad inits, pending initial creations,
-- retired kept, counters (flat name/value list), the server's time (ms), live sessions listed
-- (each a JSON object: id, created, uses, in_flight, cf, errors), retired sessions kept
-- (newest first, each the JSON `retire` wrote)}. Busy sessions and requests in flight are
-- counted from the live leases: O(requests in flight + sessions listed + retired kept),
-- whatever the pool's size.
if redis.call('EXISTS', META) == 0 then return nil end
local now = now_ms()
local m = redis.call('HMGET', META, 'closed', 'size', 'bad', 'pending')
local leases = redis.call('ZRANGEBYSCORE', LEASES, '(' .. now, '+inf')
local busy, seen = 0, {}
for _, member in ipairs(leases) do
  local sid = string.match(member, '^(.*)|')
  if not seen[sid] then
    seen[sid] = true
    if redis.call('SISMEMBER', ALL, sid) == 1 then busy = busy + 1 end
  end
end
local want, live = tonumber(ARGV[1] or '0'), redis.call('SCARD', ALL)
local listed = {}
if want > 0 and live > 0 then
  local ids
  if live <= want then ids = redis.call('SMEMBERS', ALL) else ids = redis.call('SRANDMEMBER', ALL, want) end
  for _, sid in ipairs(ids) do
    local s = redis.call('HMGET', P .. 's:' .. sid, 'created', 'uses', 'in_flight', 'cf', 'errors')
    if s[1] then
      listed[#listed + 1] = cjson.encode({id = sid, created = tonumber(s[1]), uses = tonumber(s[2]),
        in_flight = tonumber(s[3]), cf = tonumber(s[4]), errors = tonumber(s[5])})
    end
  end
end
return {m[1] or '', tonumber(m[2] or 0), live, busy, #leases,
  tonumber(m[3] or 0), tonumber(m[4] or 0), redis.call('LLEN', RETIRED),
  redis.call('HGETALL', P .. 'stats'), now, listed, redis.call('LRANGE', RETIRED, 0, -1)}
