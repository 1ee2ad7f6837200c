-- Pool-level steps, chosen by ARGV[1]:
-- register size delay_ms rnd max_bad pool_ttl_ms
--                                      -> {size, delay_ms, rnd} in force (the first
--                                         registration's options win); every key of the
--                                         pool lives pool_ttl_ms more
-- drop                                 -> 1: the pool and its sessions are deleted (evicted)
-- give_back                            -> 1
-- close reason                         -> the reason in force
-- closed                               -> the reason, or nil
-- reopen                               -> 1 when it was closed, else 0
-- bad_init                             -> {count, close (0/1)}
-- bad_inits                            -> count
-- options                              -> {size, delay_ms, rnd}
local op = ARGV[1]
local exists = redis.call('EXISTS', META) == 1
if op == 'register' then
  if not exists then
    redis.call('HSET', META, 'size', ARGV[2], 'delay_ms', ARGV[3], 'rnd', ARGV[4],
      'max_bad', ARGV[5], 'pending', ARGV[2], 'bad', 0)
  end
  POOL_TTL = tonumber(ARGV[6])
  keep_pool()
  return redis.call('HMGET', META, 'size', 'delay_ms', 'rnd')
elseif op == 'drop' then
  for _, sid in ipairs(redis.call('SMEMBERS', ALL)) do redis.call('DEL', P .. 's:' .. sid) end
  redis.call('DEL', META, READY, LEASES, ALL, RETIRED, DUE, STATS)
  return 1
end
if not exists then return nil end
local function missing()
  return math.max(0, tonumber(redis.call('HGET', META, 'size')) - redis.call('SCARD', ALL))
end
if op == 'give_back' then
  local pending = tonumber(redis.call('HGET', META, 'pending')) + 1
  redis.call('HSET', META, 'pending', math.min(pending, missing()))
  return 1
elseif op == 'close' then
  redis.call('HSETNX', META, 'closed', ARGV[2])
  return redis.call('HGET', META, 'closed')
elseif op == 'closed' then
  return redis.call('HGET', META, 'closed')
elseif op == 'reopen' then
  if redis.call('HDEL', META, 'closed') == 0 then return 0 end
  redis.call('HSET', META, 'bad', 0, 'pending', missing())
  return 1
elseif op == 'bad_init' then
  local n = tonumber(redis.call('HINCRBY', META, 'bad', 1))
  local max = math.max(1, tonumber(redis.call('HGET', META, 'max_bad')))
  if n >= max then return {n, 1} end
  return {n, 0}
elseif op == 'bad_inits' then
  return tonumber(redis.call('HGET', META, 'bad'))
elseif op == 'options' then
  return redis.call('HMGET', META, 'size', 'delay_ms', 'rnd')
end
return redis.error_reply('unknown pool step ' .. op)
