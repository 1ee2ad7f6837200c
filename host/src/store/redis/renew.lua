-- Extends leases. ARGV: TTL (ms), then the leases as `sid|token` members. Returns the members
-- that are gone (released, or reaped once expired): their holders no longer hold them.
local at = now_ms() + tonumber(ARGV[1])
local gone = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', LEASES, ARGV[i]) then
    redis.call('ZADD', LEASES, at, ARGV[i])
  else
    gone[#gone + 1] = ARGV[i]
  end
end
return gone
