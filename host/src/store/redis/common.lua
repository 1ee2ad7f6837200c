-- Shared by every pool script (prepended): KEYS[1] is the pool's meta hash; every other key of
-- the pool is KEYS[1]'s prefix plus a suffix, in the same {hash tag}, so the pool's keys sit
-- in one Redis Cluster slot. Times are the server's (TIME), in milliseconds, shared by every
-- host.
local P = string.sub(KEYS[1], 1, -5)
local META, READY, LEASES, ALL, RETIRED = KEYS[1], P .. 'ready', P .. 'leases', P .. 'all', P .. 'retired'
-- DUE: the sessions with an age or idle limit, by the time they become due for proactive
-- retirement (engine/pool.rs' `due` index). STATS: the pool's counters, every host's.
local DUE, STATS = P .. 'due', P .. 'stats'
-- WAITING: the hosts with a request waiting for a session (fairness, below).
local WAITING = P .. 'waiting'
-- What each script sets from its arguments before any step: the concurrency limit, the
-- proactive retirement limits (ms; -1: none) and the pool's keys' time to live (ms).
local MAX, AGE, IDLE, POOL_TTL = 2147483647, -1, -1, 3600000
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Every key of the pool lives POOL_TTL past its last use (a pool no host uses any more goes,
-- with its counters); a session's key likewise past its own last use.
local function keep_pool()
  for _, k in ipairs({META, READY, LEASES, ALL, RETIRED, DUE, STATS, WAITING}) do
    redis.call('PEXPIRE', k, POOL_TTL)
  end
end
-- Fairness across hosts (issue 16). WAITING holds the hosts with a request waiting for a
-- session of the pool (host id, scored by when the entry lapses: each lease step that finds no
-- session renews it, a step that gets one removes it: the WAITING key). RELEASED holds the sessions this
-- script's `settle` released.
local RELEASED = {}
-- Sessions looked at by a lease passing over those its host offered.
local OFFER_SCAN = 8
-- True when a host other than `host` has a request waiting now.
local function others_waiting(now, host)
  local hosts = redis.call('ZRANGEBYSCORE', WAITING, now, '+inf', 'LIMIT', 0, 2)
  for _, h in ipairs(hosts) do
    if h ~= host then return true end
  end
  return false
end
-- `host` has a request waiting until `now + horizon` (it looks again within it, or gives up).
local function wait_here(now, host, horizon)
  redis.call('ZREMRANGEBYSCORE', WAITING, '-inf', now)
  redis.call('ZADD', WAITING, now + horizon, host)
end
-- The sessions `host` just released go to the other hosts' waiting requests first: while
-- another host waits, each is marked offered by `host` until `now + horizon` (its leases pass
-- over them meanwhile), and the hosts listening on `channel` are told (the payload is `host`,
-- which ignores its own message), so that their waiting requests look at once.
local function offer(now, host, horizon, channel)
  if next(RELEASED) == nil or not others_waiting(now, host) then return end
  for sid in pairs(RELEASED) do
    local key = P .. 's:' .. sid
    if redis.call('EXISTS', key) == 1 then
      redis.call('HSET', key, 'offer', host .. '|' .. tostring(now + horizon))
    end
  end
  redis.call('PUBLISH', channel, host)
end
-- Puts session `sid` in the due index at the earliest time its next possible use is past its
-- age or idle limit (engine/pool.rs `due_at`: at once, its creation time, when its next use
-- already is), or out of it when no limit applies.
local function index_due(sid)
  local s = redis.call('HMGET', P .. 's:' .. sid, 'created', 'last_use', 'next_use', 'in_flight')
  if not s[1] then redis.call('ZREM', DUE, sid); return end
  local created, last, nxt, n = tonumber(s[1]), tonumber(s[2]), tonumber(s[3]), tonumber(s[4])
  local limit = nil
  if AGE >= 0 then limit = created + AGE end
  if IDLE >= 0 and n == 0 and (not limit or last + IDLE < limit) then limit = last + IDLE end
  if not limit then redis.call('ZREM', DUE, sid); return end
  if nxt >= limit then limit = created end
  redis.call('ZADD', DUE, limit, sid)
end
-- Session `sid` leaves the pool's indexes (the live set, the ready and due indexes).
local function unindex(sid)
  redis.call('SREM', ALL, sid)
  redis.call('ZREM', READY, sid)
  redis.call('ZREM', DUE, sid)
end
-- Takes session `sid` out of rotation, keeping its history in the capped RETIRED list (its last
-- HISTORY); 1 when retired now, 0 when it was gone already.
local function retire_session(sid, reason)
  local key = P .. 's:' .. sid
  unindex(sid)
  if redis.call('EXISTS', key) == 0 then return 0 end
  local s = redis.call('HMGET', key, 'created', 'uses', 'cf', 'errors')
  redis.call('DEL', key)
  redis.call('LPUSH', RETIRED, cjson.encode({id = sid, reason = reason, created = s[1],
    uses = s[2], cf = s[3], errors = s[4], at = now_ms()}))
  redis.call('LTRIM', RETIRED, 0, HISTORY - 1)
  redis.call('PEXPIRE', RETIRED, POOL_TTL)
  return 1
end
-- One request is done with session `sid`: it leaves the in-flight count, and joins the ready
-- index again at its next-use time when below the concurrency limit MAX.
local function release_one(sid)
  local key = P .. 's:' .. sid
  local s = redis.call('HMGET', key, 'in_flight', 'next_use')
  if not s[2] then
    -- Retired meanwhile, or its key expired: it leaves the indexes too.
    unindex(sid)
    return
  end
  local n = math.max(0, (tonumber(s[1]) or 1) - 1)
  redis.call('HSET', key, 'in_flight', n)
  if n < MAX then redis.call('ZADD', READY, s[2], sid) end
  index_due(sid)
end
-- Frees the leases whose holder stopped renewing them (a host killed with -9).
local function reap(now)
  local dead = redis.call('ZRANGEBYSCORE', LEASES, '-inf', now)
  for _, member in ipairs(dead) do
    redis.call('ZREM', LEASES, member)
    release_one(string.match(member, '^(.*)|'))
  end
end
-- Merges cookies into session `sid`'s jar (cookie mode), as engine/cookies.rs does: `new` is a
-- list of {key, cookie JSON} (key: name, domain, path), a later cookie replaces an earlier one in
-- place, new ones are appended; then the first ones are dropped past MAX_COOKIES cookies or
-- MAX_JAR_BYTES bytes. The jar is kept twice: `jar` (the keyed list, for merging) and `cookies`
-- (the JSON array a lease sends), each cookie's JSON as the host wrote it.
local function merge_jar(sid, new)
  local key = P .. 's:' .. sid
  if redis.call('EXISTS', key) == 0 then return end
  local jar = cjson.decode(redis.call('HGET', key, 'jar') or '[]')
  local index = {}
  for i, e in ipairs(jar) do index[e[1]] = i end
  for _, e in ipairs(new) do
    local i = index[e[1]]
    if i then jar[i] = e else jar[#jar + 1] = e; index[e[1]] = #jar end
  end
  local drop, total = math.max(0, #jar - MAX_COOKIES), 0
  for i = drop + 1, #jar do total = total + #jar[i][2] end
  while total > MAX_JAR_BYTES do drop = drop + 1; total = total - #jar[drop][2] end
  local kept, raws = {}, {}
  for i = drop + 1, #jar do kept[#kept + 1] = jar[i]; raws[#raws + 1] = jar[i][2] end
  local keyed = '[]'
  if #kept > 0 then keyed = cjson.encode(kept) end
  redis.call('HSET', key, 'jar', keyed, 'cookies', '[' .. table.concat(raws, ',') .. ']')
end
-- What requests of this host had to say after their answers (settle.rs), from ARGV[i] on:
-- n, then n × (sid, lease token, the session's data as JSON or '' when unchanged: each a
-- release); m, then m × (sid, cookies to merge as a JSON list of {key, cookie}); then counter
-- name/increment pairs for the pool's stats hash. A lease already reaped (expired) is not
-- released twice; a session's data is still written while it lives. The counters of a pool
-- gone from Redis (evicted, expired) are dropped: no key of it is made again.
local function settle(i)
  local n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do
    local sid, token, data = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    i = i + 3
    if redis.call('ZREM', LEASES, sid .. '|' .. token) == 1 then
      release_one(sid)
      RELEASED[sid] = true
    end
    local key = P .. 's:' .. sid
    if data ~= '' and redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'data', data) end
  end
  local m = tonumber(ARGV[i]); i = i + 1
  for _ = 1, m do
    merge_jar(ARGV[i], cjson.decode(ARGV[i + 1]))
    i = i + 2
  end
  if i < #ARGV and redis.call('EXISTS', META) == 1 then
    for j = i, #ARGV - 1, 2 do
      redis.call('HINCRBY', STATS, ARGV[j], tonumber(ARGV[j + 1]))
    end
    redis.call('PEXPIRE', STATS, POOL_TTL)
  end
end
