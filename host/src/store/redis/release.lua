-- Requests of this host are done, and everything they have to say goes in this one step (when no
-- lease of the pool carried it first: settle.rs). ARGV: max concurrency, this host's id, the
-- offer horizon (ms), the channel hosts listen on, then what `settle` reads. Returns 1.
settle(5, tonumber(ARGV[1]))
if redis.call('EXISTS', META) == 1 then offer(now_ms(), ARGV[2], tonumber(ARGV[3]), ARGV[4]) end
return 1
