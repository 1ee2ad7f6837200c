-- One rotation step. ARGV: max concurrency, uniform sample u, lease TTL (ms), lease token, the
-- proactive retirement limits (age, idle: ms; -1: none), retire (1; 0 in cookie mode), the
-- engine clock's advance over real time (ms; 0 but in tests, whose clock is moved forward), the
-- pool's TTL (ms), then what `settle` reads: this host's requests done since its last step on
-- the pool, settled first (settle.rs), so that a request waits on one round trip.
-- Returns the sessions retired in this step (a count, then their ids: they need replacements),
-- then {'closed', reason} | {'create'} | {'empty'} | {'busy'} | {'wait', ms} |
-- {'ready', sid, cookies, data}: the session's cookie jar and guest data come with the lease,
-- so that a request needs no other step before it is sent; nil when the pool does not exist.
local u, ttl, token = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
MAX, AGE, IDLE, POOL_TTL = tonumber(ARGV[1]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[9])
local retire, skew = ARGV[7] == '1', tonumber(ARGV[8])
settle(10)
if redis.call('EXISTS', META) == 0 then return nil end
local now = now_ms()
reap(now)
keep_pool()
local retired = {}
local function answer(...)
  local out = {#retired}
  for _, sid in ipairs(retired) do out[#out + 1] = sid end
  for _, v in ipairs({...}) do out[#out + 1] = v end
  return out
end
local closed = redis.call('HGET', META, 'closed')
if closed then return answer('closed', closed) end
if tonumber(redis.call('HGET', META, 'pending')) > 0 then
  redis.call('HINCRBY', META, 'pending', -1)
  return answer('create')
end
if retire then
  -- Proactive retirement (engine/pool.rs `retire_expiring`), global: the sessions whose next
  -- possible use is past their age or idle limit, popped from the due index.
  local at = now + skew
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
if redis.call('SCARD', ALL) == 0 then return answer('empty') end
-- The session available earliest; one whose key expired (unused for the pool's TTL) is
-- forgotten and replaced like a retired one.
local sid, at = nil, nil
for _ = 1, 8 do
  local first = redis.call('ZRANGE', READY, 0, 0, 'WITHSCORES')
  if #first == 0 then break end
  if redis.call('EXISTS', P .. 's:' .. first[1]) == 1 then
    sid, at = first[1], tonumber(first[2])
    break
  end
  retire_session(first[1], 'forgotten')
  retired[#retired + 1] = first[1]
end
if not sid then
  if redis.call('SCARD', ALL) == 0 then return answer('empty') end
  return answer('busy')
end
if at > now then return answer('wait', tostring(at - now)) end
local delay = tonumber(redis.call('HGET', META, 'delay_ms'))
if redis.call('HGET', META, 'rnd') == '1' then delay = math.floor(delay * (0.5 + u)) end
local key = P .. 's:' .. sid
local n = tonumber(redis.call('HINCRBY', key, 'in_flight', 1))
redis.call('HINCRBY', key, 'uses', 1)
redis.call('HSET', key, 'next_use', now + delay, 'last_use', now)
redis.call('PEXPIRE', key, POOL_TTL)
if n < MAX then redis.call('ZADD', READY, now + delay, sid) else redis.call('ZREM', READY, sid) end
index_due(sid)
redis.call('ZADD', LEASES, now + ttl, sid .. '|' .. token)
local jar = redis.call('HMGET', key, 'cookies', 'data')
return answer('ready', sid, jar[1] or '[]', jar[2] or '{}')
