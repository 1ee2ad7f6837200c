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
-- One read of the pool's meta (its `size` tells it exists), and of the chosen session below:
-- a lease is about 15 calls, each of which costs Redis time on every request.
local m = redis.call('HMGET', META, 'size', 'closed', 'pending', 'delay_ms', 'rnd')
if not m[1] then return nil end
local now = now_ms()
reap(now, max)
offer(now, host, horizon, channel)
if m[2] then return {'closed', m[2]} end
if tonumber(m[3]) > 0 then
  redis.call('HINCRBY', META, 'pending', -1)
  return {'create'}
end
-- The session available earliest, passing over those this host offered to the other hosts
-- while they still wait (at most OFFER_SCAN looked at). The ready index only holds live
-- sessions: when it is empty, the pool is empty or every session is busy.
local first = redis.call('ZRANGE', READY, 0, OFFER_SCAN - 1, 'WITHSCORES')
if #first == 0 then
  if redis.call('SCARD', ALL) == 0 then return {'empty'} end
  wait_here(now, host, horizon)
  return {'busy'}
end
local sid, at, s, waiting
for j = 1, #first, 2 do
  local c, t = first[j], tonumber(first[j + 1])
  if t > now then sid, at = c, t; break end
  local f = redis.call('HMGET', P .. 's:' .. c, 'offer', 'in_flight', 'uses', 'cookies', 'data')
  local by, till = string.match(f[1] or '', '^(.*)|(%d+)$')
  local skip = false
  if by == host and tonumber(till) > now then
    if waiting == nil then waiting = others_waiting(now, host) end
    skip = waiting
  end
  if not skip then sid, at, s = c, t, f; break end
end
if not sid then wait_here(now, host, horizon); return {'busy'} end
if at > now then wait_here(now, host, horizon); return {'wait', tostring(at - now)} end
local delay = tonumber(m[4])
if m[5] == '1' then delay = math.floor(delay * (0.5 + u)) end
local key = P .. 's:' .. sid
local n = (tonumber(s[2]) or 0) + 1
redis.call('HSET', key, 'in_flight', n, 'uses', (tonumber(s[3]) or 0) + 1, 'next_use', now + delay,
  'last_use', now)
if s[1] then redis.call('HDEL', key, 'offer') end
if n < max then redis.call('ZADD', READY, now + delay, sid) else redis.call('ZREM', READY, sid) end
redis.call('ZADD', LEASES, now + ttl, sid .. '|' .. token)
redis.call('ZREM', WAITING, host)
return {'ready', sid, s[4] or '[]', s[5] or '{}'}
