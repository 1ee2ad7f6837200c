-- A request is done with its lease. ARGV: sid, token, max concurrency. A lease already reaped
-- (expired) is not released twice.
if redis.call('ZREM', LEASES, ARGV[1] .. '|' .. ARGV[2]) == 1 then
  release_one(ARGV[1], tonumber(ARGV[3]))
end
return 1
