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

# Publishing. Every entry carries its *ordinal*: its rank among every entry ever added to its
# stream, counted in the stream's meta hash (``n``, with ``id`` the last entry's id). A reader
# that has seen ordinal k knows the next entry must be k + 1: a larger one means entries were
# removed before it read them (trimmed, deleted), a smaller one that the stream was made anew.
# KEYS: for each stream i, KEYS[2i-1] the stream and KEYS[2i] its meta hash; ARGV[1] how long
# both live without a publish (ms); then 4 arguments per message: stream index i, maxlen,
# header, data. The entry is h = "<ordinal>|<header>", d = data. Returns the entries' ids.
PUBLISH = """
local ids = {}
for a = 2, #ARGV, 4 do
  local i = tonumber(ARGV[a])
  local stream, meta = KEYS[2 * i - 1], KEYS[2 * i]
  local n = redis.call('HINCRBY', meta, 'n', 1)
  local id = redis.call('XADD', stream, 'MAXLEN', '~', ARGV[a + 1], '*',
                        'h', string.format('%d', n) .. '|' .. ARGV[a + 2], 'd', ARGV[a + 3])
  redis.call('HSET', meta, 'id', id)
  ids[#ids + 1] = id
end
for i = 1, #KEYS do
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
return ids
"""

# KEYS[1] a stream, KEYS[2] its meta hash; ARGV[1] an entry id. Returns {last id, last ordinal,
# the header of entry ARGV[1] or nil}: where a subscription that read up to ARGV[1] stands.
RESUME = """
local last = redis.call('HMGET', KEYS[2], 'id', 'n')
local entry = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
local header = false
if entry[1] then
  local fields = entry[1][2]
  for j = 1, #fields, 2 do
    if fields[j] == 'h' then
      header = fields[j + 1]
    end
  end
end
return {last[1] or false, last[2] or false, header}
"""
