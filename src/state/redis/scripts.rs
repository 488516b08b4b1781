//! The Lua scripts the Redis store runs, each atomic in Redis: the same steps the Rust code
//! takes in memory, so that every replica sees one state.

/// Round robin: the next available member after the one picked last, as
/// `eval::strategy` does it. Returns the cursor as it was.
pub(super) const ROUND_ROBIN: &str = r"
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not prev then prev = '' end
local mask = ARGV[#ARGV]
local n = #ARGV - 2
local start = 0
for i = 1, n do
  if ARGV[i + 1] == prev then start = i end
end
for j = 0, n - 1 do
  local i = ((start + j) % n) + 1
  if string.sub(mask, i, i) == '1' then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[i + 1])
    return prev
  end
end
return prev
";

/// Smooth weighted round robin (nginx), as `eval::strategy` does it. Returns the weights as
/// they were.
pub(super) const WEIGHTED: &str = r"
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not prev then prev = '' end
local mask = ARGV[2]
local n = #ARGV - 2
local cur = {}
local count = 0
for v in string.gmatch(prev, '[^,]+') do
  count = count + 1
  cur[count] = tonumber(v)
end
if count ~= n then
  cur = {}
  for k = 1, n do cur[k] = 0 end
end
local total = 0
local best = nil
for k = 1, n do
  if string.sub(mask, k, k) == '1' then
    local w = tonumber(ARGV[k + 2])
    cur[k] = cur[k] + w
    total = total + w
    if best == nil or cur[k] > cur[best] then best = k end
  end
end
if best == nil then return prev end
cur[best] = cur[best] - total
local out = {}
for k = 1, n do out[k] = string.format('%d', cur[k]) end
redis.call('HSET', KEYS[1], ARGV[1], table.concat(out, ','))
return prev
";

/// Reserves every agent named for a call, in place of the call's earlier reservations, or
/// none: returns those reserved for another call.
pub(super) const RESERVE: &str = r"
local sid, untl, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local taken = {}
for i = 4, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local bar = string.find(v, '|', 1, true)
    local owner = string.sub(v, 1, bar - 1)
    local till = tonumber(string.sub(v, bar + 1))
    if owner ~= sid and till > now then table.insert(taken, ARGV[i]) end
  end
end
if #taken > 0 then return taken end
-- The call's earlier reservations (of a decision made again) give way to these.
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i + 1], 1, #sid + 1) == sid .. '|' then redis.call('HDEL', KEYS[1], all[i]) end
end
for i = 4, #ARGV do
  redis.call('HSET', KEYS[1], ARGV[i], sid .. '|' .. ARGV[2])
end
return taken
";

/// Applies an agent event once per call, kind and agent: 0 when it was a repeat.
pub(super) const EVENT: &str = r"
if not redis.call('SET', KEYS[8], '1', 'NX', 'EX', ARGV[8]) then return 0 end
local kind, agent, today, at, sid, caller = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if kind == 'completed' then
  local status = redis.call('HGET', KEYS[1], agent)
  if (not status) or status == 'busy' then redis.call('HSET', KEYS[1], agent, 'available') end
  if redis.call('HGET', KEYS[3], agent) == today then
    redis.call('HINCRBY', KEYS[2], agent, 1)
  else
    redis.call('HSET', KEYS[2], agent, 1)
    redis.call('HSET', KEYS[3], agent, today)
  end
  redis.call('HSET', KEYS[4], agent, at)
  if caller ~= '' then redis.call('SET', KEYS[7], agent .. '|' .. at, 'EX', ARGV[7]) end
else
  redis.call('HINCRBY', KEYS[5], agent, 1)
end
local all = redis.call('HGETALL', KEYS[6])
for i = 1, #all, 2 do
  local v = all[i + 1]
  if string.sub(v, 1, #sid + 1) == sid .. '|' and (kind == 'completed' or all[i] == agent) then
    redis.call('HDEL', KEYS[6], all[i])
  end
end
return 1
";

/// The next number of a call after an unanswered attempt, as `call::next_attempt` does it:
/// the tried agent released (one missed offer, once), the next number not yet tried whose
/// agent is free answered and reserved. Returns the answer and whether it rings at once.
pub(super) const ATTEMPT: &str = r"
local sid, tried, untl, now, agent = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[6]
local akey = 'a:' .. tried
local parallel = redis.call('HGET', KEYS[1], 'parallel') or '0'
local done = redis.call('HGET', KEYS[1], akey)
if done then return {done, parallel} end
local function split(s)
  local out = {}
  if not s or s == '' then return out end
  for part in string.gmatch(s .. ',', '([^,]*),') do table.insert(out, part) end
  return out
end
local numbers = split(redis.call('HGET', KEYS[1], 'numbers'))
local agents = split(redis.call('HGET', KEYS[1], 'agents'))
local offered = split(redis.call('HGET', KEYS[1], 'offered'))
if agent ~= '' then
  local v = redis.call('HGET', KEYS[2], agent)
  if v and string.sub(v, 1, #sid + 1) == sid .. '|' then redis.call('HDEL', KEYS[2], agent) end
  if redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[5]) then
    redis.call('HINCRBY', KEYS[3], agent, 1)
  end
end
local seen = {}
for _, o in ipairs(offered) do seen[o] = true end
if not seen[tried] then
  seen[tried] = true
  table.insert(offered, tried)
end
local answer, holders = {}, {}
for i, n in ipairs(numbers) do
  if not seen[n] then
    local a = agents[i] or ''
    local free = true
    if a ~= '' then
      local st = redis.call('HGET', KEYS[4], a)
      if st and st ~= 'available' then free = false end
      local v = redis.call('HGET', KEYS[2], a)
      if free and v then
        local bar = string.find(v, '|', 1, true)
        if string.sub(v, 1, bar - 1) ~= sid and tonumber(string.sub(v, bar + 1)) > now then
          free = false
        end
      end
    end
    if free then
      table.insert(answer, n)
      table.insert(holders, a)
      if parallel ~= '1' then break end
    end
  end
end
if untl ~= '' then
  for _, a in ipairs(holders) do
    if a ~= '' then redis.call('HSET', KEYS[2], a, sid .. '|' .. untl) end
  end
end
for _, n in ipairs(answer) do table.insert(offered, n) end
local joined = table.concat(answer, ',')
redis.call('HSET', KEYS[1], 'offered', table.concat(offered, ','), akey, joined)
return {joined, parallel}
";
