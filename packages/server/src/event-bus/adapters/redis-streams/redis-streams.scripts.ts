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
-- Where the current epoch begins when it is not the log's origin; same hash tag.
local epochStartKey = epochKey .. '-start'

local function ensure_epoch(candidate)
  local created = redis.pcall('XGROUP', 'CREATE', stream, '${EPOCH_MARKER_GROUP}', '$', 'MKSTREAM')
  local epoch = redis.call('GET', epochKey)
  if (type(created) == 'table' and created.err) and epoch then
    return epoch
  end
  redis.call('SET', epochKey, candidate)
  redis.call('DEL', epochStartKey)
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
  return { epoch, info['last-generated-id'], info['max-deleted-entry-id'], tostring(info['length']), redis.call('GET', epochStartKey) or '0-0' }
end
`;

/**
 * Appends groups of entries exactly once.
 *
 * KEYS: stream, epoch, the attempt record, the layout record, then the
 * record of each group that carries a caller's key. ARGV: epoch candidate, max length, max age in
 * ms (0 = none), slack, attempt window in ms, key window in ms, then per
 * group: its entry count, the index in KEYS of its record (0 = none), its
 * fingerprint, and per entry its field count followed by the fields, or 0
 * followed by the values of type, data, scopes and ts (every event
 * streamgate writes, in entry format 2: fewer arguments to send and convert).
 *
 * Returns { replayed (0 or 1), epoch, first id written or '', then for each
 * group not written now: its number, 'duplicate' or 'conflict', and for a
 * duplicate the record "epoch firstId count" }; or { 2, layout record } when
 * the log was closed for a partitioned layout (CLOSE_LOG_SCRIPT): nothing is
 * written after its marker, which is the last entry its readers hand on.
 * The check is inside the script, so no append can fall between the marker
 * and the record; it costs one GET per append.
 *
 * The first entry gets a '*' id and every later one '<same ms>-*', so the ids
 * of one append are consecutive within one millisecond and the reply, the
 * attempt record and each key record need name only the first id. An
 * attempt record found on entry means this exact append already ran (its
 * reply was lost): its result is returned and nothing is written.
 */
export const APPEND_SCRIPT = `${COMMON}
local saved = redis.call('GET', KEYS[3])
if saved then
  local replay = cjson.decode(saved)
  replay[1] = 1
  return replay
end
local moved = redis.call('GET', KEYS[4])
if moved then return { 2, moved } end
local epoch = ensure_epoch(ARGV[1])
local result = { 0, epoch, '' }
local spec = '*'
local written = 0
local group = 0
local i = 7
while i <= #ARGV do
  group = group + 1
  local count, key, fingerprint = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), ARGV[i + 2]
  i = i + 3
  local record = false
  if key > 0 then record = redis.call('GET', KEYS[key]) end
  if record then
    local space = string.find(record, ' ', 1, true)
    result[#result + 1] = group
    if string.sub(record, 1, space - 1) == fingerprint then
      result[#result + 1] = 'duplicate'
      result[#result + 1] = string.sub(record, space + 1)
    else
      result[#result + 1] = 'conflict'
      result[#result + 1] = ''
    end
    for _ = 1, count do
      local n = tonumber(ARGV[i])
      if n == 0 then n = 4 end
      i = i + n + 1
    end
  else
    local first
    for e = 1, count do
      local n = tonumber(ARGV[i])
      local id
      if n == 0 then
        id = redis.call('XADD', stream, spec, 'type', ARGV[i + 1], 'data', ARGV[i + 2], 'scopes', ARGV[i + 3], 'ts', ARGV[i + 4], 'v', '2')
        n = 4
      else
        local args = { 'XADD', stream, spec }
        for j = 1, n do args[j + 3] = ARGV[i + j] end
        id = redis.call(unpack(args))
      end
      if spec == '*' then
        result[3] = id
        spec = string.sub(id, 1, string.find(id, '-', 1, true)) .. '*'
      end
      if e == 1 then first = id end
      i = i + n + 1
    end
    written = written + count
    if key > 0 then
      redis.call('SET', KEYS[key], fingerprint .. ' ' .. epoch .. ' ' .. first .. ' ' .. count, 'PX', ARGV[6])
    end
  end
end
if written > 0 then trim(tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])) end
redis.call('SET', KEYS[3], cjson.encode(result), 'PX', ARGV[5])
return result
`;

/** KEYS: stream, epoch. ARGV: epoch candidate, max length, max age in ms, slack. */
export const TRIM_SCRIPT = `${COMMON}
ensure_epoch(ARGV[1])
trim(tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
return 1
`;

/** KEYS: stream, epoch. ARGV: epoch candidate. Returns { epoch, lastId, maxDeletedId, length, epochStart }. */
export const INFO_SCRIPT = `${COMMON}
return meta(ensure_epoch(ARGV[1]))
`;

/**
 * KEYS: stream, epoch. ARGV: epoch candidate, after (exclusive), until
 * (inclusive, or '+'), count. Returns { epoch, lastId, maxDeletedId, length, epochStart, entries }.
 */
export const RANGE_SCRIPT = `${COMMON}
local epoch = ensure_epoch(ARGV[1])
local entries = redis.call('XRANGE', stream, '(' .. ARGV[2], ARGV[3], 'COUNT', tonumber(ARGV[4]))
local result = meta(epoch)
result[6] = entries
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
 * KEYS: stream, epoch. ARGV: group, consumer, count, the reader's position,
 * then the ids of entries the reader handed on since its last read, which
 * it acknowledges here rather than in a command of their own (XACK is
 * idempotent, so a re-sent script acknowledges nothing twice).
 * Reads new entries for the group and, in the same atomic step, the log's
 * metadata. First checks that the entry at the position (the last one the
 * reader handed on) is still there: one that is gone while
 * max-deleted-entry-id is below it was never deleted, so the log went back.
 * Returns { epoch or '', lastId, maxDeletedId, entries, rewound (0 or 1) }.
 */
export const READ_NEW_SCRIPT = `${COMMON}
local position = ARGV[4]
if #ARGV > 4 then
  redis.call('XACK', stream, ARGV[1], unpack(ARGV, 5))
end
if position ~= '0-0' and redis.call('EXISTS', stream) == 1 then
  local info = stream_info()
  local max_deleted = info['max-deleted-entry-id']
  if id_gt(position, max_deleted) and #redis.call('XRANGE', stream, position, position) == 0 then
    return { redis.call('GET', epochKey) or '', info['last-generated-id'], max_deleted, {}, 1 }
  end
end
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', tonumber(ARGV[3]), 'STREAMS', stream, '>')
local info = stream_info()
local entries = {}
if reply and reply[1] then entries = reply[1][2] end
return { redis.call('GET', epochKey) or '', info['last-generated-id'], info['max-deleted-entry-id'], entries, 0 }
`;

/**
 * KEYS: stream, epoch. ARGV: the epoch to leave, epoch candidate. Gives the
 * log a new epoch beginning at its tip, unless its epoch is no longer the
 * one to leave. Returns meta.
 */
export const RENEW_EPOCH_SCRIPT = `${COMMON}
if redis.call('GET', epochKey) == ARGV[1] and redis.call('EXISTS', stream) == 1 then
  redis.call('SET', epochKey, ARGV[2])
  redis.call('SET', epochStartKey, stream_info()['last-generated-id'])
end
return meta(ensure_epoch(ARGV[2]))
`;

/**
 * KEYS: stream, epoch, layout record. ARGV: epoch candidate, layout id, P,
 * the candidate for the epoch the log continues under, then the marker
 * entry's fields. Closes the log for appends: appends the marker and, in the
 * same step, gives the log a new epoch beginning at the marker (as
 * RENEW_EPOCH_SCRIPT does), then sets the record "<layout> <P> <marker id>
 * <new epoch>" without expiry. Why a new epoch: every reader of the log
 * already turns one into `epoch_changed` for its connections (live ones,
 * ones catching up, ones that attach later with a cursor of the old epoch),
 * which is what a client of the single log must hear once its writers have
 * moved. A log that never held a stream gets the record only ("- -"): it
 * has neither readers nor cursors to tell. A record already there wins and
 * is returned unchanged, so the script may run any number of times (several
 * writers starting at once, a call re-sent after a lost reply) and writes
 * one marker. Returns the record.
 */
export const CLOSE_LOG_SCRIPT = `${COMMON}
local existing = redis.call('GET', KEYS[3])
if existing then return existing end
local marker, epoch = '-', '-'
if redis.call('EXISTS', stream) == 1 then
  ensure_epoch(ARGV[1])
  marker = redis.call('XADD', stream, '*', unpack(ARGV, 5))
  epoch = ARGV[4]
  redis.call('SET', epochKey, epoch)
  redis.call('SET', epochStartKey, marker)
end
local record = ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. marker .. ' ' .. epoch
redis.call('SET', KEYS[3], record)
return record
`;
