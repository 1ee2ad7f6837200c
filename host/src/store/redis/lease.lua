-- One rotation step. ARGV: max concurrency, uniform sample u, lease TTL (ms), lease token, the
-- proactive retirement limits (age, idle: ms; -1: none), retire (1; 0 in cookie mode), the
-- engine clock's advance over real time (ms; 0 but in tests, whose clock is moved forward), the
-- pool's TTL (ms), this host's id, the offer horizon (ms), the channel hosts listen on (see
-- `offer`), then what `settle` reads: this host's requests done since its last step on the
-- pool, settled first (settle.rs), so that a request waits on one round trip.
-- Returns the sessions retired in this step (a count, then their ids: they need replacements),
-- then {'closed', reason} | {'create'} | {'empty'} | {'busy'} | {'wait', ms} |
-- {'ready', sid, cookies, data}: the session's cookie jar and guest data come with the lease,
-- so that a request needs no other step before it is sent; nil when the pool does not exist.
-- A step that finds no session records this host as waiting (`wait_here`).
local u, ttl, token = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
MAX, AGE, IDLE, POOL_TTL = tonumber(ARGV[1]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[9])
local retire, skew = ARGV[7] == '1', tonumber(ARGV[8])
local host, horizon, channel = ARGV[10], tonumber(ARGV[11]), ARGV[12]
settle(13)
-- One read of the pool's meta (its `size` tells it exists), and of the chosen session below:
-- each Redis call costs Redis time on every request.
local m = redis.call('HMGET', META, 'size', 'closed', 'pending', 'delay_ms', 'rnd')
if not m[1] then return nil end
local now = now_ms()
reap(now)
keep_pool()
offer(now, host, horizon, channel)
-- The sessions' times (creation, uses, next use, due) are on the engine's clock: the server's
-- plus its advance (0 but under the tests' virtual clock); leases and waits on the server's.
local vnow = now + skew
local retired = {}
local function answer(...)
  local out = {#retired}
  for _, sid in ipairs(retired) do out[#out + 1] = sid end
  for _, v in ipairs({...}) do out[#out + 1] = v end
  return out
end
if m[2] then return answer('closed', m[2]) end
if tonumber(m[3]) > 0 then
  redis.call('HINCRBY', META, 'pending', -1)
  return answer('create')
end
if retire then
  -- Proactive retirement (engine/pool.rs `retire_expiring`), global: the sessions whose next
  -- possible use is past their age or idle limit, popped from the due index.
  local at = vnow
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', DUE, '-inf', at)) do
    local s = redis.call('HMGET', P .. 's:' .. sid, 'created', 'last_use', 'next_use', 'in_flight')
    local why = 'age limit'
    if s[1] then
      local nxt = math.max(tonumber(s[3]), at)
      local old = AGE >= 0 and nxt >= tonumber(s[1]) + AGE
      local idle = IDLE >= 0 and tonumber(s[4]) == 0 and nxt >= tonumber(s[2]) + IDLE
      if idle and not old then why = 'idle limit' end
    end
    if retire_session(sid, 'proactive: ' .. why) == 1 then retired[#retired + 1] = sid end
  end
end
-- The session available earliest (the ready index holds the sessions below the concurrency
-- limit), passing over those this host offered to the other hosts while they still wait (at
-- most OFFER_SCAN looked at). One whose key expired (unused for the pool's TTL) is forgotten
-- and replaced like a retired one.
local first = redis.call('ZRANGE', READY, 0, OFFER_SCAN - 1, 'WITHSCORES')
local sid, at, s, waiting
for j = 1, #first, 2 do
  local c, t = first[j], tonumber(first[j + 1])
  if t > vnow then sid, at = c, t; break end
  local f = redis.call('HMGET', P .. 's:' .. c, 'offer', 'in_flight', 'uses', 'cookies', 'data',
    'next_use')
  if not f[6] then
    retire_session(c, 'forgotten')
    retired[#retired + 1] = c
  else
    local by, till = string.match(f[1] or '', '^(.*)|(%d+)$')
    local skip = false
    if by == host and tonumber(till) > now then
      if waiting == nil then waiting = others_waiting(now, host) end
      skip = waiting
    end
    if not skip then sid, at, s = c, t, f; break end
  end
end
if not sid then
  if redis.call('SCARD', ALL) == 0 then return answer('empty') end
  wait_here(now, host, horizon)
  return answer('busy')
end
if at > vnow then wait_here(now, host, horizon); return answer('wait', tostring(at - vnow)) end
local delay = tonumber(m[4])
if m[5] == '1' then delay = math.floor(delay * (0.5 + u)) end
local key = P .. 's:' .. sid
local n = (tonumber(s[2]) or 0) + 1
redis.call('HSET', key, 'in_flight', n, 'uses', (tonumber(s[3]) or 0) + 1, 'next_use', vnow + delay,
  'last_use', vnow)
if s[1] then redis.call('HDEL', key, 'offer') end
redis.call('PEXPIRE', key, POOL_TTL)
if n < MAX then redis.call('ZADD', READY, vnow + delay, sid) else redis.call('ZREM', READY, sid) end
index_due(sid)
redis.call('ZADD', LEASES, now + ttl, sid .. '|' .. token)
redis.call('ZREM', WAITING, host)
return answer('ready', sid, s[4] or '[]', s[5] or '{}')
