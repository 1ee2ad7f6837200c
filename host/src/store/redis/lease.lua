-- One rotation step. ARGV: max concurrency, uniform sample u, lease TTL (ms), lease token, this
-- host's id, the offer horizon (ms), the channel hosts listen on (see `offer`), then what
-- `settle` reads: this host's requests done since its last step on the pool, settled first
-- (settle.rs), so that a request waits on one round trip.
-- Returns {'closed', reason} | {'create'} | {'empty'} | {'busy'} | {'wait', ms} |
-- {'ready', sid, cookies, data}: the session's cookie jar and guest data come with the lease,
-- so that a request needs no other step before it is sent; nil when the pool does not exist.
-- A step that finds no session records this host as waiting (`wait_here`).
local max, u, ttl, token = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local host, horizon, channel = ARGV[5], tonumber(ARGV[6]), ARGV[7]
settle(8, max)
if redis.call('EXISTS', META) == 0 then return nil end
local now = now_ms()
reap(now, max)
offer(now, host, horizon, channel)
local closed = redis.call('HGET', META, 'closed')
if closed then return {'closed', closed} end
if tonumber(redis.call('HGET', META, 'pending')) > 0 then
  redis.call('HINCRBY', META, 'pending', -1)
  return {'create'}
end
if redis.call('SCARD', ALL) == 0 then return {'empty'} end
-- The session available earliest, passing over those this host offered to the other hosts
-- while they still wait (at most OFFER_SCAN looked at).
local first = redis.call('ZRANGE', READY, 0, OFFER_SCAN - 1, 'WITHSCORES')
local sid, at, waiting
for j = 1, #first, 2 do
  local s, t = first[j], tonumber(first[j + 1])
  local skip = false
  if t <= now then
    local by, till = string.match(redis.call('HGET', P .. 's:' .. s, 'offer') or '', '^(.*)|(%d+)$')
    if by == host and tonumber(till) > now then
      if waiting == nil then waiting = others_waiting(now, host) end
      skip = waiting
    end
  end
  if not skip then sid, at = s, t; break end
end
if not sid then wait_here(now, host, horizon); return {'busy'} end
if at > now then wait_here(now, host, horizon); return {'wait', tostring(at - now)} end
local delay = tonumber(redis.call('HGET', META, 'delay_ms'))
if redis.call('HGET', META, 'rnd') == '1' then delay = math.floor(delay * (0.5 + u)) end
local key = P .. 's:' .. sid
local n = tonumber(redis.call('HINCRBY', key, 'in_flight', 1))
redis.call('HINCRBY', key, 'uses', 1)
redis.call('HSET', key, 'next_use', now + delay, 'last_use', now)
redis.call('HDEL', key, 'offer')
if n < max then redis.call('ZADD', READY, now + delay, sid) else redis.call('ZREM', READY, sid) end
redis.call('ZADD', LEASES, now + ttl, sid .. '|' .. token)
redis.call('ZREM', WAITING, host)
local jar = redis.call('HMGET', key, 'cookies', 'data')
return {'ready', sid, jar[1] or '[]', jar[2] or '{}'}
