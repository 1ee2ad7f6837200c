-- Requests of this host are done, and everything they have to say goes in this one step (when no
-- lease of the pool carried it first: settle.rs). ARGV: max concurrency, the proactive
-- retirement limits (age, idle: ms; -1: none), the pool's TTL (ms), this host's id, the offer
-- horizon (ms), the channel hosts listen on, then what `settle` reads. Returns 1.
MAX, AGE, IDLE, POOL_TTL = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
settle(8)
if redis.call('EXISTS', META) == 1 then
  keep_pool()
  offer(now_ms(), ARGV[5], tonumber(ARGV[6]), ARGV[7])
end
return 1
