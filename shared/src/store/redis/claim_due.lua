-- Takes up to ARGV[3] ids due at ARGV[1] from the purge schedule and pushes each one's
-- due time to ARGV[2] (the end of the lease), atomically: two sweepers never get one id.
-- KEYS[1] purge schedule
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id)
end
return ids
