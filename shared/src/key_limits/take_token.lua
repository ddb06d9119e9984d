-- Takes one token from an API key's bucket, with the server's clock so that every API
-- replica refills the same bucket alike.
-- KEYS[1] the bucket (hash: tokens, at_ms); ARGV[1] tokens per minute (capacity and rate)
-- Returns 0 when a token was taken, else the milliseconds until the next one.
local capacity = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at_ms')
local tokens = tonumber(stored[1]) or capacity
local at = tonumber(stored[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * capacity / 60000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
elseif capacity > 0 then
  wait = math.ceil((1 - tokens) * 60000 / capacity)
else
  wait = 60000
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at_ms', tostring(now))
-- A bucket untouched for a minute is full again: the same as no bucket.
redis.call('PEXPIRE', KEYS[1], 61000)
return wait
