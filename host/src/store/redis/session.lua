-- Session-level steps, chosen by ARGV[1], on session ARGV[2]:
-- fail field max            -> 1 when the count reached max (and the session must go), else 0
-- retire reason pool_ttl_ms -> 1 when retired now, 0 when already gone (its history kept in
--                              the capped why-retired list)
-- data                      -> the session's data (JSON), or nil
local op, sid = ARGV[1], ARGV[2]
local key = P .. 's:' .. sid
if op == 'retire' then
  POOL_TTL = tonumber(ARGV[4])
  return retire_session(sid, ARGV[3])
end
if redis.call('EXISTS', key) == 0 then
  if op == 'data' then return nil end
  return 0
end
if op == 'fail' then
  local n = tonumber(redis.call('HINCRBY', key, ARGV[3], 1))
  if n >= math.max(1, tonumber(ARGV[4])) then return 1 end
  return 0
elseif op == 'data' then
  return redis.call('HGET', key, 'data')
end
return redis.error_reply('unknown session step ' .. op)
