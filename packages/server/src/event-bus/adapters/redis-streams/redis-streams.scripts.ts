/**
 * Lua scripts that make each log operation atomic.
 *
 * Epoch: the epoch lives in `KEYS[2]`, but its truth is the marker group
 * `EPOCH_MARKER_GROUP` on the stream. A group lives and dies with the stream
 * key, so a stream that was deleted or flushed and then recreated (even by a
 * foreign XADD) has no marker, and the next operation starts a new epoch.
 *
 * Trimming: Redis does not record trimmed ids in `max-deleted-entry-id`, so
 * these scripts trim to an explicit boundary and record it with XSETID. That
 * makes `max-deleted-entry-id` exact: every event after a cursor is still in
 * the log iff `max-deleted-entry-id <= cursor`.
 */
export const EPOCH_MARKER_GROUP = 'streamgate:epoch-marker';

const COMMON = `
local stream, epochKey = KEYS[1], KEYS[2]

local function ensure_epoch(candidate)
  local created = redis.pcall('XGROUP', 'CREATE', stream, '${EPOCH_MARKER_GROUP}', '$', 'MKSTREAM')
  local epoch = redis.call('GET', epochKey)
  if (type(created) == 'table' and created.err) and epoch then
    return epoch
  end
  redis.call('SET', epochKey, candidate)
  return candidate
end

local function split_id(id)
  local dash = string.find(id, '-', 1, true)
  return string.sub(id, 1, dash - 1), string.sub(id, dash + 1)
end

local function id_gt(a, b)
  local am, as = split_id(a)
  local bm, bs = split_id(b)
  if #am ~= #bm then return #am > #bm end
  if am ~= bm then return am > bm end
  if #as ~= #bs then return #as > #bs end
  return as > bs
end

local function stream_info()
  local raw = redis.call('XINFO', 'STREAM', stream)
  local info = {}
  for i = 1, #raw, 2 do info[raw[i]] = raw[i + 1] end
  return info
end

-- Removes every entry with an id <= the retention boundary and records the
-- boundary as max-deleted-entry-id.
local function trim(max_len, max_age_ms, slack)
  local boundary = nil
  if max_age_ms > 0 then
    -- Redis time, the clock that stamped the ids.
    local t = redis.call('TIME')
    local cutoff_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - max_age_ms
    local cutoff_id = string.format('%.0f', math.max(cutoff_ms, 0)) .. '-0'
    -- Only look for the boundary when the oldest entry is old enough: a
    -- reverse range starting below every entry walks the whole stream.
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    if #first > 0 and id_gt(cutoff_id, first[1][1]) then
      local old = redis.call('XREVRANGE', stream, '(' .. cutoff_id, '-', 'COUNT', 1)
      if #old > 0 then boundary = old[1][1] end
    end
  end
  local len = redis.call('XLEN', stream)
  if len > max_len + slack then
    local excess = math.min(len - max_len, 10000)
    local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', excess)
    local candidate = head[#head][1]
    if boundary == nil or id_gt(candidate, boundary) then boundary = candidate end
  end
  if boundary == nil then return end
  local ms, seq = split_id(boundary)
  redis.call('XTRIM', stream, 'MINID', ms .. '-' .. tostring(tonumber(seq) + 1))
  local info = stream_info()
  local max_deleted = info['max-deleted-entry-id']
  if id_gt(boundary, max_deleted) then max_deleted = boundary end
  redis.call('XSETID', stream, info['last-generated-id'], 'MAXDELETEDID', max_deleted)
end

local function meta(epoch)
  local info = stream_info()
  return { epoch, info['last-generated-id'], info['max-deleted-entry-id'], tostring(info['length']) }
end
`;

/**
 * KEYS: stream, epoch. ARGV: epoch candidate, max length, max age in ms (0 =
 * none), slack, then per entry its field count followed by the fields.
 * Returns { epoch, id1, id2, ... }.
 */
export const APPEND_SCRIPT = `${COMMON}
local epoch = ensure_epoch(ARGV[1])
local result = { epoch }
local i = 5
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local args = { 'XADD', stream, '*' }
  for j = 1, n do args[#args + 1] = ARGV[i + j] end
  result[#result + 1] = redis.call(unpack(args))
  i = i + n + 1
end
trim(tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
return result
`;

/** KEYS: stream, epoch. ARGV: epoch candidate, max length, max age in ms, slack. */
export const TRIM_SCRIPT = `${COMMON}
ensure_epoch(ARGV[1])
trim(tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
return 1
`;

/** KEYS: stream, epoch. ARGV: epoch candidate. Returns { epoch, lastId, maxDeletedId, length }. */
export const INFO_SCRIPT = `${COMMON}
return meta(ensure_epoch(ARGV[1]))
`;

/**
 * KEYS: stream, epoch. ARGV: epoch candidate, after (exclusive), until
 * (inclusive, or '+'), count. Returns { epoch, lastId, maxDeletedId, length, entries }.
 */
export const RANGE_SCRIPT = `${COMMON}
local epoch = ensure_epoch(ARGV[1])
local entries = redis.call('XRANGE', stream, '(' .. ARGV[2], ARGV[3], 'COUNT', tonumber(ARGV[4]))
local result = meta(epoch)
result[5] = entries
return result
`;

/** KEYS: stream, epoch. ARGV: epoch candidate, group, start id ('$' or '0'). Returns 1 if created. */
export const CREATE_GROUP_SCRIPT = `${COMMON}
ensure_epoch(ARGV[1])
local created = redis.pcall('XGROUP', 'CREATE', stream, ARGV[2], ARGV[3])
if type(created) == 'table' and created.err then
  if string.find(created.err, 'BUSYGROUP', 1, true) then return 0 end
  return redis.error_reply(created.err)
end
return 1
`;

/**
 * KEYS: stream, epoch. ARGV: group, consumer, count. Reads new entries for
 * the group and, in the same atomic step, the log's metadata. Returns
 * { epoch or '', lastId, maxDeletedId, entries }.
 */
export const READ_NEW_SCRIPT = `${COMMON}
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', tonumber(ARGV[3]), 'STREAMS', stream, '>')
local info = stream_info()
local entries = {}
if reply and reply[1] then entries = reply[1][2] end
return { redis.call('GET', epochKey) or '', info['last-generated-id'], info['max-deleted-entry-id'], entries }
`;
