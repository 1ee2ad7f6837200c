-- The pool bounds of bounds.rs, global: every host of a namespace admits its pools here.
-- KEYS[1]: the namespace's registry prefix; KEYS[1] .. kind (0 named, 1 client, 2 params,
-- 3 location) is a sorted set of the pools of that kind by their last use (server ms). Pools
-- of `[sessions.pools]` with a size are kept and never registered here.
-- ARGV: pool id, its kind, pool_idle_timeout (ms), the pools' TTL (ms), max_pools, the kind's
-- bound, SWEEP.
-- A pool registered already is touched. A new one past its kind's bound (then past max_pools)
-- takes the place of the least recently used pool idle for pool_idle_timeout, of its kind
-- (then of any kind), and at most SWEEP more idle pools go; without one it is refused.
-- Entries older than the TTL are dropped first: their pools' keys expired.
-- Returns {0, evicted id...} (admitted) or {1} (the kind's bound is full) or {2} (max_pools).
local R = KEYS[1]
local id, kind = ARGV[1], tonumber(ARGV[2])
local idle, ttl, max_pools, cap, sweep = tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sets = {R .. '0', R .. '1', R .. '2', R .. '3'}
for _, set in ipairs(sets) do redis.call('ZREMRANGEBYSCORE', set, '-inf', now - ttl) end
local mine = sets[kind + 1]
local function keep()
  for _, set in ipairs(sets) do redis.call('PEXPIRE', set, ttl) end
end
if redis.call('ZSCORE', mine, id) then
  redis.call('ZADD', mine, now, id)
  keep()
  return {0}
end
-- The least recently used idle pool of `set`, as {score, id}, or nil.
local function oldest(set)
  local r = redis.call('ZRANGEBYSCORE', set, '-inf', now - idle, 'WITHSCORES', 'LIMIT', 0, 1)
  if #r == 0 then return nil end
  return {tonumber(r[2]), r[1], set}
end
local function oldest_any()
  local best = nil
  for _, set in ipairs(sets) do
    local o = oldest(set)
    if o and (not best or o[1] < best[1]) then best = o end
  end
  return best
end
local evicted = {0}
local function evict(o)
  redis.call('ZREM', o[3], o[2])
  evicted[#evicted + 1] = o[2]
end
if redis.call('ZCARD', mine) >= cap then
  local o = oldest(mine)
  if not o then return {1} end
  evict(o)
end
local total = 0
for _, set in ipairs(sets) do total = total + redis.call('ZCARD', set) end
if total >= max_pools then
  local o = oldest_any()
  if not o then return {2} end
  evict(o)
end
for _ = 1, sweep do
  local o = oldest_any()
  if not o then break end
  evict(o)
end
redis.call('ZADD', mine, now, id)
keep()
return evicted
