-- Writes a job record with its TTL, indexes it when queued and publishes its state,
-- atomically; with ARGV[7] = '1', only when no record of the job exists.
-- KEYS[1] job hash, KEYS[2] queued index, KEYS[3] events channel
-- ARGV[1] state, ARGV[2] record JSON, ARGV[3] event JSON, ARGV[4] job id,
-- ARGV[5] queued index score (creation time), ARGV[6] TTL in ms, ARGV[7] keep an existing record
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'record', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if ARGV[1] == 'queued' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
end
redis.call('PUBLISH', KEYS[3], ARGV[3])
return 1
