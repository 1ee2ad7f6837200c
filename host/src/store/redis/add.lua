-- Adds a session whose init passed. ARGV: sid, first delay (ms), for use (0/1), max
-- concurrency, lease TTL (ms), lease token, cookies (JSON), data (JSON), the cookies keyed
-- (JSON list of {key, cookie}: see merge_jar), the proactive retirement limits (age, idle: ms;
-- -1: none), the pool's TTL (ms), the engine clock's advance (ms: `lease.lua`'s skew). Returns
-- 1, or nil when the pool does not exist.
if redis.call('EXISTS', META) == 0 then return nil end
local sid, first, for_use = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
MAX, AGE, IDLE, POOL_TTL = tonumber(ARGV[4]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local now = now_ms()
-- The session's times, on the engine's clock (`lease.lua`); its lease's, on the server's.
local vnow = now + tonumber(ARGV[13])
local key = P .. 's:' .. sid
local n = 0
if for_use then n = 1 end
redis.call('HSET', key, 'created', vnow, 'last_use', vnow, 'next_use', vnow + first,
  'in_flight', n, 'uses', n, 'cf', 0, 'errors', 0, 'cookies', ARGV[7], 'data', ARGV[8], 'jar', ARGV[9])
redis.call('PEXPIRE', key, POOL_TTL)
redis.call('SADD', ALL, sid)
if n < MAX then redis.call('ZADD', READY, vnow + first, sid) end
index_due(sid)
if for_use then redis.call('ZADD', LEASES, now + tonumber(ARGV[5]), sid .. '|' .. ARGV[6]) end
redis.call('HSET', META, 'bad', 0)
keep_pool()
return 1
