-- A request is done with its lease, and everything it has to say goes in this one step.
-- ARGV: sid, token, max concurrency, the session's guest data as the request left it (JSON; ''
-- when unchanged), then counter name/increment pairs for the pool's stats hash. A lease already
-- reaped (expired) is not released twice; its data is still written while the session lives.
local sid = ARGV[1]
if redis.call('ZREM', LEASES, sid .. '|' .. ARGV[2]) == 1 then
  release_one(sid, tonumber(ARGV[3]))
end
local key = P .. 's:' .. sid
if ARGV[4] ~= '' and redis.call('EXISTS', key) == 1 then
  redis.call('HSET', key, 'data', ARGV[4])
end
if #ARGV > 4 then
  local stats = P .. 'stats'
  for i = 5, #ARGV - 1, 2 do
    redis.call('HINCRBY', stats, ARGV[i], tonumber(ARGV[i + 1]))
  end
  redis.call('EXPIRE', stats, STATS_TTL)
end
return 1
