-- Shared by every script (prepended): KEYS[1] is the pool's meta hash; every other key of
-- the pool is KEYS[1]'s prefix plus a suffix, in the same {hash tag}, so the pool's keys sit
-- in one Redis Cluster slot. Times are the server's (TIME), in milliseconds, shared by every
-- host.
local P = string.sub(KEYS[1], 1, -5)
local META, READY, LEASES, ALL, RETIRED = KEYS[1], P .. 'ready', P .. 'leases', P .. 'all', P .. 'retired'
-- A pool's counters outlive its last write by a week, then go (a pool no host uses any more).
local STATS_TTL = 604800
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- One request is done with session `sid`: it leaves the in-flight count, and joins the ready
-- index again at its next-use time when below the concurrency limit `max`.
local function release_one(sid, max)
  local key = P .. 's:' .. sid
  if redis.call('EXISTS', key) == 0 then return end
  local n = tonumber(redis.call('HINCRBY', key, 'in_flight', -1))
  if n < 0 then redis.call('HSET', key, 'in_flight', 0); n = 0 end
  if n < max then
    redis.call('ZADD', READY, tonumber(redis.call('HGET', key, 'next_use')), sid)
  end
end
-- Frees the leases whose holder stopped renewing them (a host killed with -9).
local function reap(now, max)
  local dead = redis.call('ZRANGEBYSCORE', LEASES, '-inf', now)
  for _, member in ipairs(dead) do
    redis.call('ZREM', LEASES, member)
    release_one(string.match(member, '^(.*)|'), max)
  end
end
