-- Guarded state change of one job, atomically.
-- KEYS[1] job hash, KEYS[2] queued index, KEYS[3] events channel
-- ARGV[1] new state, ARGV[2] record JSON, ARGV[3] event JSON, ARGV[4] job id,
-- ARGV[5] queued index score (creation time), ARGV[6] the attempt the stored job must be at,
-- ARGV[7..] the states the change may start from
local current = redis.call('HGET', KEYS[1], 'state')
local stored = redis.call('HGET', KEYS[1], 'record')
if not current or not stored then
  return {'missing'}
end
local allowed = false
for i = 7, #ARGV do
  if ARGV[i] == current then
    allowed = true
    break
  end
end
if not allowed then
  return {'rejected', current}
end
-- The owning attempt is the stored record's `attempts` (absent reads as 0, as in Rust).
local attempts = tonumber(cjson.decode(stored)['attempts']) or 0
if attempts ~= tonumber(ARGV[6]) then
  return {'rejected', current}
end
-- HSET leaves the key's TTL alone (unlike SET), so the retention backstop is kept.
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'record', ARGV[2])
if ARGV[1] == 'queued' then
  -- A requeued job is queued again: back in the index (the oldest-job metric).
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
else
  redis.call('ZREM', KEYS[2], ARGV[4])
end
redis.call('PUBLISH', KEYS[3], ARGV[3])
return {'applied'}
