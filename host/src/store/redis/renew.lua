-- Extends a lease. ARGV: sid, token, TTL (ms). Returns 1, or 0 when the lease is gone.
local member = ARGV[1] .. '|' .. ARGV[2]
if not redis.call('ZSCORE', LEASES, member) then return 0 end
redis.call('ZADD', LEASES, now_ms() + tonumber(ARGV[3]), member)
return 1
