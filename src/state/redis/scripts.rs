//! The Lua scripts the Redis store runs, each atomic in Redis: the same steps the Rust code
//! takes in memory, so that every replica sees one state; and how they are invoked.
//!
//! A version (`{PREFIX}:version`: an epoch set when the key is made, so a Redis that lost its
//! data never repeats one, and a count) moves with every change a replica cannot see coming:
//! events, status changes, attempts. A replica's mirror of the state is fresh while its version
//! is the current one; decisions' own steps and reservations do not move it, as the decision
//! script checks them itself. Decisions, events and status changes are also published on the
//! steps channel (`{PREFIX}:steps`), which keeps the other replicas' mirrors current.

use ::redis::aio::ConnectionManager;
use ::redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind, ToRedisArgs};

/// The scripts, invoked by their hash (`EVALSHA`; loaded again when Redis answers `NOSCRIPT`).
pub(super) struct Scripts {
    pub(super) decide: Script,
    pub(super) reserve: Script,
    pub(super) event: Script,
    pub(super) attempt: Script,
    pub(super) status: Script,
}

impl Scripts {
    pub(super) fn new() -> Scripts {
        Scripts {
            decide: Script::new(DECIDE),
            reserve: Script::new(RESERVE),
            event: Script::new(EVENT),
            attempt: Script::new(ATTEMPT),
            status: Script::new(STATUS),
        }
    }
}

/// One invocation of a script: `EVALSHA`, its keys and its arguments, each written into the
/// command's one buffer as it is added. (The crate's `ScriptInvocation` keeps every key and
/// argument in a vector of its own, then copies them into a command when it sends it: for a
/// decision's forty, that and the keys' formatting took 20,000 instructions, by callgrind.)
pub(super) struct Invocation<'s> {
    script: &'s Script,
    command: Cmd,
}

impl<'s> Invocation<'s> {
    pub(super) fn new(script: &'s Script, keys: &[&str]) -> Invocation<'s> {
        // Room for a decision's: about forty arguments, most of a kilobyte.
        let mut command = Cmd::with_capacity(48, 1024);
        command
            .arg("EVALSHA")
            .arg(script.get_hash())
            .arg(keys.len());
        for key in keys {
            command.arg(*key);
        }
        Invocation { script, command }
    }

    pub(super) fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        self.command.arg(arg);
        self
    }

    /// Sends it; when Redis does not have the script (restarted, failed over, flushed), loads
    /// it and sends it again.
    pub(super) async fn invoke<T: FromRedisValue>(
        &self,
        con: &mut ConnectionManager,
    ) -> RedisResult<T> {
        match self.command.query_async(con).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.script.load_async(con).await?;
                self.command.query_async(con).await
            }
            answered => answered,
        }
    }
}

/// The Lua functions the scripts share: the current version, and a new one.
macro_rules! version_lua {
    () => {
        r"
local call = redis.call
local function version(key)
  local v = call('HMGET', key, 'epoch', 'n')
  if not v[1] then
    local t = call('TIME')
    v = {t[1] .. '.' .. t[2], '0'}
    call('HSET', key, 'epoch', v[1], 'n', 0)
  end
  return v[1] .. ':' .. v[2]
end
local function bump(key)
  local before = version(key)
  local n = call('HINCRBY', key, 'n', 1)
  return {before, call('HGET', key, 'epoch') .. ':' .. n}
end
"
    };
}

/// One decision's whole step, in one round trip. With the call already decided (and not to be
/// decided again), answers `{'known', its record}`. When the replica decided on a state older
/// than the version or the caller's last agent, answers `{'stale', version, the state}` and
/// changes nothing. Otherwise takes the round-robin and weighted steps (from the cursors as
/// Redis has them, as `eval::strategy` does it), reserves the offered agents (all, or none when
/// another call holds one), writes the call's record, and answers `{'ok', the number of steps,
/// the cursor or weights each step started from, then the agents another call holds}`. What it
/// changed in the cursors, the weights and the reservations it publishes on the steps channel,
/// for the other replicas' mirrors: the replica's name, then a line each of kind, field and
/// value apart by tabs. A replica that knows of no other sends no name, and nothing is
/// published: no one follows.
///
/// KEYS: version, cursors, weights, reserved, call, status, calls, day, ended, missed, last,
/// steps channel.
/// ARGV: expected version (`*`: any, and any last agent), last agent seen (`*`: the decision
/// did not read it, and it is not looked up), sid, now, reserved
/// until, decided anew (`1`), origin (empty: publish nothing), then the steps (`r` key n
/// names… mask, or `w` key mask n weights…) after their count, the agents to reserve after
/// theirs, the record's text (`record::RecordText`; empty: none) and its expiry.
///
/// The record is one string, not a hash: a new hash of seven fields and its expiry took a
/// third of the script's time in Redis, one `SET … PXAT` a tenth.
const DECIDE: &str = concat!(
    version_lua!(),
    r"
-- Globals read once: each use of a global (or a field of one) is a table lookup in Lua 5.1.
local sub, find, tonumber, ARGV, KEYS = string.sub, string.find, tonumber, ARGV, KEYS
local expected, seen, sid, now, untl, anew = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
if sid ~= '' and anew ~= '1' then
  local record = call('GET', KEYS[5])
  if record then return {'known', record} end
end
local current = version(KEYS[1])
local last
if seen ~= '*' then last = call('GET', KEYS[11]) or '' end
if expected ~= '*' and (current ~= expected or (last and last ~= seen)) then
  return {'stale', current, call('HGETALL', KEYS[6]), call('HGETALL', KEYS[7]),
    call('HGETALL', KEYS[8]), call('HGETALL', KEYS[9]), call('HGETALL', KEYS[10]),
    call('HGETALL', KEYS[4]), call('HGETALL', KEYS[2]), call('HGETALL', KEYS[3]),
    last or call('GET', KEYS[11]) or ''}
end
local i = 8
-- One flat list: each nested table costs Redis about 4,000 instructions to answer.
local reply = {'ok', ARGV[i]}
local publish = ARGV[7] ~= ''
local changes = publish and {ARGV[7]}
for s = 1, tonumber(ARGV[i]) do
  local kind, field = ARGV[i + 1], ARGV[i + 2]
  if kind == 'r' then
    local n = tonumber(ARGV[i + 3])
    local mask = ARGV[i + 4 + n]
    local prev = call('HGET', KEYS[2], field) or ''
    local start = 0
    for k = 1, n do
      if ARGV[i + 3 + k] == prev then start = k end
    end
    for j = 0, n - 1 do
      local k = ((start + j) % n) + 1
      if sub(mask, k, k) == '1' then
        call('HSET', KEYS[2], field, ARGV[i + 3 + k])
        if publish then table.insert(changes, 'c\t' .. field .. '\t' .. ARGV[i + 3 + k]) end
        break
      end
    end
    reply[2 + s] = prev
    i = i + 4 + n
  else
    local mask, n = ARGV[i + 3], tonumber(ARGV[i + 4])
    local prev = call('HGET', KEYS[3], field) or ''
    local cur, count = {}, 0
    for v in string.gmatch(prev, '[^,]+') do
      count = count + 1
      cur[count] = tonumber(v)
    end
    if count ~= n then
      cur = {}
      for k = 1, n do cur[k] = 0 end
    end
    local total, best = 0, nil
    for k = 1, n do
      if sub(mask, k, k) == '1' then
        local w = tonumber(ARGV[i + 4 + k])
        cur[k] = cur[k] + w
        total = total + w
        if best == nil or cur[k] > cur[best] then best = k end
      end
    end
    if best ~= nil then
      cur[best] = cur[best] - total
      local out = {}
      for k = 1, n do out[k] = string.format('%d', cur[k]) end
      local weights = table.concat(out, ',')
      call('HSET', KEYS[3], field, weights)
      if publish then table.insert(changes, 'w\t' .. field .. '\t' .. weights) end
    end
    reply[2 + s] = prev
    i = i + 4 + n
  end
end
i = i + 1
local wanted = tonumber(ARGV[i])
local taken = 0
for k = i + 1, i + wanted do
  local v = call('HGET', KEYS[4], ARGV[k])
  if v then
    local bar = find(v, '|', 1, true)
    if sub(v, 1, bar - 1) ~= sid and tonumber(sub(v, bar + 1)) > now then
      taken = taken + 1
      reply[#reply + 1] = ARGV[k]
    end
  end
end
if wanted > 0 and taken == 0 then
  if anew == '1' then
    -- The call's earlier reservations give way to these.
    local all = call('HGETALL', KEYS[4])
    for k = 1, #all, 2 do
      if sub(all[k + 1], 1, #sid + 1) == sid .. '|' then call('HDEL', KEYS[4], all[k]) end
    end
  end
  for k = i + 1, i + wanted do
    call('HSET', KEYS[4], ARGV[k], sid .. '|' .. untl)
    if publish then table.insert(changes, 'r\t' .. ARGV[k] .. '\t' .. sid .. '|' .. untl) end
  end
end
if publish and #changes > 1 then call('PUBLISH', KEYS[12], table.concat(changes, '\n')) end
i = i + wanted + 1
if ARGV[i] ~= '' then call('SET', KEYS[5], ARGV[i], 'PXAT', ARGV[i + 1]) end
return reply
"
);

/// A supervisor's status change: answers the version before and after it, and publishes it
/// as the event script does (KEYS[3], after ARGV[3]).
const STATUS: &str = concat!(
    version_lua!(),
    r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local v = bump(KEYS[2])
redis.call('PUBLISH', KEYS[3], ARGV[3] .. '\nv\t' .. v[1] .. '\t' .. v[2] .. '\ns\t' .. ARGV[1]
  .. '\t' .. ARGV[2])
return v
"
);

/// Reserves every agent named for a call, in place of the call's earlier reservations, or
/// none: returns those reserved for another call.
const RESERVE: &str = r"
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

/// Applies an agent event once per call, kind and agent: answers the version before and after
/// it, or 0 when it was a repeat. Publishes it on the steps channel (KEYS[10]) after the
/// replica's name (ARGV[9]), with the versions, so that the other replicas' mirrors take it and
/// stay current.
const EVENT: &str = concat!(
    version_lua!(),
    r"
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
local v = bump(KEYS[9])
redis.call('PUBLISH', KEYS[10], ARGV[9] .. '\nv\t' .. v[1] .. '\t' .. v[2] .. '\ne\t' .. kind
  .. '\t' .. agent .. '\t' .. today .. '\t' .. at .. '\t' .. caller .. '\t' .. sid)
return v
"
);

/// The next number of a call after an unanswered attempt, as `call::next_attempt` does it:
/// the tried agent released (one missed offer, once), the next number not yet tried whose
/// agent is free answered and reserved. Returns the answer, whether it rings at once, and
/// (unless the attempt was answered before) what it changed, as published on the steps
/// channel (KEYS[7], after ARGV[7]).
const ATTEMPT: &str = concat!(
    version_lua!(),
    r"
local sid, tried, untl, now, agent = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[6]
local record = redis.call('GET', KEYS[1])
local fields, names = {}, {}
if record then
  for name, value in string.gmatch(record, '([^\t\n]*)\t([^\n]*)') do
    table.insert(names, name)
    fields[name] = value
  end
end
-- As `record::RecordText` writes a field's name.
local akey = 'a:' .. string.gsub(tried, '[\t\n]', ' ')
local parallel = fields['parallel'] or '0'
local done = fields[akey]
if done then return {done, parallel} end
local function split(s)
  local out = {}
  if not s or s == '' then return out end
  for part in string.gmatch(s .. ',', '([^,]*),') do table.insert(out, part) end
  return out
end
local numbers = split(fields['numbers'])
local agents = split(fields['agents'])
local offered = split(fields['offered'])
local changes = {ARGV[7]}
if agent ~= '' then
  local v = redis.call('HGET', KEYS[2], agent)
  if v and string.sub(v, 1, #sid + 1) == sid .. '|' then
    redis.call('HDEL', KEYS[2], agent)
    table.insert(changes, 'x\t' .. agent .. '\t' .. sid)
  end
  if redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[5]) then
    redis.call('HINCRBY', KEYS[3], agent, 1)
    table.insert(changes, 'm\t' .. agent .. '\t1')
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
    if a ~= '' then
      redis.call('HSET', KEYS[2], a, sid .. '|' .. untl)
      table.insert(changes, 'r\t' .. a .. '\t' .. sid .. '|' .. untl)
    end
  end
end
for _, n in ipairs(answer) do table.insert(offered, n) end
local joined = table.concat(answer, ',')
if record then
  local function put(name, value)
    if fields[name] == nil then table.insert(names, name) end
    fields[name] = value
  end
  put('offered', table.concat(offered, ','))
  put(akey, joined)
  local lines = {}
  for _, name in ipairs(names) do table.insert(lines, name .. '\t' .. fields[name]) end
  redis.call('SET', KEYS[1], table.concat(lines, '\n'), 'KEEPTTL')
end
local v = bump(KEYS[6])
table.insert(changes, 'v\t' .. v[1] .. '\t' .. v[2])
local text = table.concat(changes, '\n')
redis.call('PUBLISH', KEYS[7], text)
return {joined, parallel, text}
"
);
