-- One pool's global figures, for the status views and /metrics (read only). Returns nil when
-- the pool does not exist, else {closed ('' when open), size, live, busy, in flight, bad inits,
-- pending initial creations, retired kept, counters (flat name/value list)}. Busy sessions and
-- requests in flight are counted from the live leases: O(requests in flight), whatever the
-- pool's size.
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
return {m[1] or '', tonumber(m[2] or 0), redis.call('SCARD', ALL), busy, #leases,
  tonumber(m[3] or 0), tonumber(m[4] or 0), redis.call('LLEN', RETIRED),
  redis.call('HGETALL', P .. 'stats')}
