-- Score of the oldest queued job whose record still exists. Entries whose record expired
-- (TTL) without a sweeper are dropped on the way, so one lost job cannot pin the metric.
-- KEYS[1] queued index; ARGV[1] job key prefix
for _ = 1, 100 do
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #first == 0 then
    return false
  end
  if redis.call('EXISTS', ARGV[1] .. first[1]) == 1 then
    return first[2]
  end
  redis.call('ZREM', KEYS[1], first[1])
end
return false
