-- Session-level steps, chosen by ARGV[1], on session ARGV[2]:
-- fail field max            -> 1 when the count reached max (and the session must go), else 0
-- retire reason history_len -> 1 when retired now, 0 when already gone
-- data                      -> the session's data (JSON), or nil
local op, sid = ARGV[1], ARGV[2]
local key = P .. 's:' .. sid
if redis.call('EXISTS', key) == 0 then
  if op == 'data' then return nil end
  return 0
end
if op == 'fail' then
  local n = tonumber(redis.call('HINCRBY', key, ARGV[3], 1))
  if n >= math.max(1, tonumber(ARGV[4])) then return 1 end
  return 0
elseif op == 'retire' then
  redis.call('SREM', ALL, sid)
  redis.call('ZREM', READY, sid)
  local s = redis.call('HMGET', key, 'created', 'uses', 'cf', 'errors')
  redis.call('DEL', key)
  redis.call('LPUSH', RETIRED, cjson.encode({id = sid, reason = ARGV[3], created = s[1],
    uses = s[2], cf = s[3], errors = s[4], at = now_ms()}))
  redis.call('LTRIM', RETIRED, 0, tonumber(ARGV[4]) - 1)
  return 1
elseif op == 'data' then
  return redis.call('HGET', key, 'data')
end
return redis.error_reply('unknown session step ' .. op)
