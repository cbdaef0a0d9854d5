"""Lua scripts of the Redis bus: each runs atomically on the Redis server, on its clock.

Times come from Redis's ``TIME`` so that servers with skewed clocks agree on heartbeats. (Redis
7 replicates scripts by their effects, so calling ``TIME`` in a script is allowed.)
"""

from __future__ import annotations

# The sorted set of servers holds one member per server process, "id|incarnation", scored by
# its heartbeat's deadline (Redis ms). A member whose deadline passed is a server that died (or
# left: LEAVE sets its deadline to now); members are forgotten an hour after their deadline.

# KEYS[1] this server's heartbeat key, KEYS[2] the sorted set; ARGV[1] member, ARGV[2] ttl (ms),
# ARGV[3] info (JSON), ARGV[4] forget members this long after their deadline (ms).
# Returns {now, this member's previous deadline or nil, every member and deadline (flat)}.
HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local previous = redis.call('ZSCORE', KEYS[2], ARGV[1])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
return {now, previous or false, redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')}
"""

# KEYS[1] the sorted set. Returns the members whose deadline has not passed.
LIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
"""

# KEYS[1] this server's heartbeat key, KEYS[2] the sorted set; ARGV[1] member. The member stays
# (with a passed deadline) so that every server sees it leave, not merely vanish.
LEAVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', KEYS[1])
redis.call('ZADD', KEYS[2], 'XX', now - 1, ARGV[1])
return 1
"""

# KEYS[1] the lease, KEYS[2] its fencing counter; ARGV[1] holder, ARGV[2] ttl (ms),
# ARGV[3] how long the counter is kept (ms), ARGV[4] a nonce of this attempt. The lease's value
# is holder|token|nonce. Returns the new token, or nil if the lease is held; an attempt sent
# twice (retried on a dropped connection) gets its token again rather than nil.
# A counter that does not exist (never used, expired, or lost with a Redis restart) starts at
# Redis's clock in ms, so tokens keep growing across those: it would take more acquisitions of
# one lease than milliseconds elapsed for a new start to fall below an old token.
ACQUIRE = """
local value = redis.call('GET', KEYS[1])
if value then
  local holder, token, nonce = string.match(value, '^(.*)|(%d+)|([^|]*)$')
  if holder == ARGV[1] and nonce == ARGV[4] then
    return tonumber(token)
  end
  return false
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)))
end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token .. '|' .. ARGV[4], 'PX', ARGV[2])
return token
"""

# KEYS[1] the lease; ARGV[1] its value (holder|token|nonce), ARGV[2] ttl (ms). 1 if renewed, else 0.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] the lease; ARGV[1] its value. 1 if released, 0 if it was not held with that value.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# KEYS[1] the lease. Returns {value, pttl} or nil.
HOLDER = """
local value = redis.call('GET', KEYS[1])
if not value then
  return false
end
return {value, redis.call('PTTL', KEYS[1])}
"""

# What the continuity proof needs from XINFO STREAM, without the first and last entries that
# XINFO sends along (a 4 MB update would travel again with every check).
_STATE = """
local function state(key)
  local ok, info = pcall(redis.call, 'XINFO', 'STREAM', key)
  if not ok then
    return false
  end
  local m = {}
  for j = 1, #info, 2 do
    m[info[j]] = info[j + 1]
  end
  return {m['last-generated-id'], m['recorded-first-entry-id'], m['max-deleted-entry-id'],
          m['entries-added'], m['length']}
end
"""

# KEYS the streams. Returns, per stream, {last id, first id, max deleted id, entries added,
# length} or nil when it does not exist.
STATE = (
    _STATE
    + """
local result = {}
for i, key in ipairs(KEYS) do
  result[i] = state(key)
end
return result
"""
)

# KEYS the streams, ARGV[1] how many entries at most per stream, ARGV[1 + i] the id to read
# after in KEYS[i]. Returns, per stream, {state or nil, entries after that id}: atomically, so
# the state proves (or not) that the entries follow the id with nothing removed in between.
READ = (
    _STATE
    + """
local result = {}
for i, key in ipairs(KEYS) do
  local s = state(key)
  local entries = {}
  if s then
    entries = redis.call('XRANGE', key, '(' .. ARGV[1 + i], '+', 'COUNT', ARGV[1])
  end
  result[i] = {s, entries}
end
return result
"""
)
