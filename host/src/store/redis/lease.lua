-- One rotation step. ARGV: max concurrency, uniform sample u, lease TTL (ms), lease token, then
-- what `settle` reads: this host's requests done since its last step on the pool, settled first
-- (settle.rs), so that a request waits on one round trip.
-- Returns {'closed', reason} | {'create'} | {'empty'} | {'busy'} | {'wait', ms} |
-- {'ready', sid, cookies, data}: the session's cookie jar and guest data come with the lease,
-- so that a request needs no other step before it is sent; nil when the pool does not exist.
local max, u, ttl, token = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
settle(5, max)
if redis.call('EXISTS', META) == 0 then return nil end
local now = now_ms()
reap(now, max)
local closed = redis.call('HGET', META, 'closed')
if closed then return {'closed', closed} end
if tonumber(redis.call('HGET', META, 'pending')) > 0 then
  redis.call('HINCRBY', META, 'pending', -1)
  return {'create'}
end
if redis.call('SCARD', ALL) == 0 then return {'empty'} end
local first = redis.call('ZRANGE', READY, 0, 0, 'WITHSCORES')
if #first == 0 then return {'busy'} end
local sid, at = first[1], tonumber(first[2])
if at > now then return {'wait', tostring(at - now)} end
local delay = tonumber(redis.call('HGET', META, 'delay_ms'))
if redis.call('HGET', META, 'rnd') == '1' then delay = math.floor(delay * (0.5 + u)) end
local key = P .. 's:' .. sid
local n = tonumber(redis.call('HINCRBY', key, 'in_flight', 1))
redis.call('HINCRBY', key, 'uses', 1)
redis.call('HSET', key, 'next_use', now + delay, 'last_use', now)
if n < max then redis.call('ZADD', READY, now + delay, sid) else redis.call('ZREM', READY, sid) end
redis.call('ZADD', LEASES, now + ttl, sid .. '|' .. token)
local jar = redis.call('HMGET', key, 'cookies', 'data')
return {'ready', sid, jar[1] or '[]', jar[2] or '{}'}
