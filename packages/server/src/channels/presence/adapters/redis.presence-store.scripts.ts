/**
 * Presence on Redis 7.0, which has no per-field expiry (HEXPIRE): per
 * channel, a sorted set of connections scored by expiry (member: the JSON
 * array [userId, nodeId, connectionId]), a hash of connections per user and
 * a hash of each user's info. The three keys share a hash tag of their own,
 * so every script touches one slot of a Redis Cluster and channels spread
 * over the shards.
 *
 * KEYS: 1 expiry set, 2 users hash, 3 info hash.
 * ARGV: 1 notice channel (PUB/SUB), 2 the channel's name, 3 key TTL in ms
 * ('0': leave it as it is),
 * then per operation.
 *
 * Every script prunes expired connections first or last, and reports
 * `{ joined: [[userId, info|false], ...], left: [userId, ...] }` as JSON;
 * it publishes the same report on the notice channel when it says
 * anything, so every node hears the changes in the order Redis made them.
 * Each may run twice (a retry after a lost reply) without changing more.
 */
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local joined = {}
local left = {}
local function drop(member)
  redis.call('ZREM', KEYS[1], member)
  local ok, parts = pcall(cjson.decode, member)
  if not ok or type(parts) ~= 'table' or type(parts[1]) ~= 'string' then return end
  local user = parts[1]
  if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
    redis.call('HDEL', KEYS[2], user)
    redis.call('HDEL', KEYS[3], user)
    left[#left + 1] = user
  end
end
local function prune()
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)
  for _, member in ipairs(expired) do drop(member) end
end
local function report_joined(user)
  joined[#joined + 1] = { user, redis.call('HGET', KEYS[3], user) }
end
-- Adds or renews; a new connection counts for its user.
local function add(member, user, info, ttl, report_present)
  local existed = redis.call('ZSCORE', KEYS[1], member)
  redis.call('ZADD', KEYS[1], now + ttl, member)
  if info ~= '' then redis.call('HSET', KEYS[3], user, info) end
  if existed then
    if report_present and redis.call('HGET', KEYS[2], user) == '1' then report_joined(user) end
    return
  end
  if redis.call('HINCRBY', KEYS[2], user, 1) == 1 then report_joined(user) end
end
local function finish()
  if redis.call('ZCARD', KEYS[1]) == 0 then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  elseif ARGV[3] ~= '0' then
    for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
  end
  local report = cjson.encode({ c = ARGV[2], j = joined, l = left })
  if #joined > 0 or #left > 0 then redis.call('PUBLISH', ARGV[1], report) end
  return report
end
`;

/** ARGV 4.. : member, userId, info ('' for none), ttl. */
export const JOIN_SCRIPT = `${PRELUDE}
prune()
add(ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), true)
return finish()`;

/** ARGV 4.. : member, userId. A leave sent again reports the user again while they have no connection. */
export const LEAVE_SCRIPT = `${PRELUDE}
prune()
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  drop(ARGV[4])
elseif not redis.call('HGET', KEYS[2], ARGV[5]) then
  left[#left + 1] = ARGV[5]
end
return finish()`;

/**
 * ARGV 4: ttl, then member, userId, info per connection. Renews first, so
 * this node's own are never pruned. Two commands for the whole batch (one
 * ZMSCORE, one ZADD) rather than two or three per connection; only a
 * connection Redis lost (a restart, or a prune while this node was cut
 * off) is counted again, with its info.
 */
export const RENEW_SCRIPT = `${PRELUDE}
local ttl = tonumber(ARGV[4])
local members = {}
for i = 5, #ARGV, 3 do members[#members + 1] = ARGV[i] end
if #members > 0 then
  local scores = redis.call('ZMSCORE', KEYS[1], unpack(members))
  local renewed = {}
  for k = 1, #members do
    renewed[#renewed + 1] = now + ttl
    renewed[#renewed + 1] = members[k]
  end
  redis.call('ZADD', KEYS[1], unpack(renewed))
  for k = 1, #members do
    if not scores[k] then
      local i = 5 + (k - 1) * 3
      local user, info = ARGV[i + 1], ARGV[i + 2]
      if info ~= '' then redis.call('HSET', KEYS[3], user, info) end
      if redis.call('HINCRBY', KEYS[2], user, 1) == 1 then report_joined(user) end
    end
  end
end
prune()
return finish()`;

/**
 * ARGV 4: the most users to list. Replies [report, truncated, userId,
 * connections, info|false, ...]; a cut list is a random sample.
 */
export const MEMBERS_SCRIPT = `${PRELUDE}
prune()
local max = tonumber(ARGV[4])
local total = redis.call('HLEN', KEYS[2])
local flat
if total > max then
  flat = redis.call('HRANDFIELD', KEYS[2], max, 'WITHVALUES')
else
  flat = redis.call('HGETALL', KEYS[2])
end
local reply = { '', total > max and 1 or 0 }
for i = 1, #flat, 2 do
  reply[#reply + 1] = flat[i]
  reply[#reply + 1] = flat[i + 1]
  reply[#reply + 1] = redis.call('HGET', KEYS[3], flat[i])
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
end
local report = cjson.encode({ c = ARGV[2], j = joined, l = left })
if #left > 0 then redis.call('PUBLISH', ARGV[1], report) end
reply[1] = report
return reply`;
