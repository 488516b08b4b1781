-- wrk script for the load scripts: Exotel's real Connect request, each time with a new
-- `CallSid`, as every call of a day is new. Without it, wrk sends the same call again and
-- again, and a server that keeps a call's record answers all but the first from it.
-- Usage: wrk -s benches/fresh-calls.lua http://HOST:PORT
-- With PACE_MS set, each connection waits that long after an answer before its next request
-- (wrk's `delay`), so that a number of connections paces the load instead of saturating.
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local pace = tonumber(os.getenv("PACE_MS") or "")
if pace then
  function delay()
    return pace
  end
end

local sent = 0
local rest = "&CallFrom=09901320691&CallTo=08069891522&Direction=incoming"
  .. "&Created=Tue,%2003%20Sep%202024%2011:44:54&DialCallDuration=0"
  .. "&StartTime=2024-09-03%2011:44:54&EndTime=1970-01-01%2005:30:00&CallType=call-attempt"
  .. "&DialWhomNumber=&flow_id=11754&tenant_id=1409&From=09901320691&To=08069891522"
  .. "&CurrentTime=2024-09-03%2011:44:59&digits=%228%22"

function request()
  sent = sent + 1
  -- 32 hex digits, as Exotel's are: the thread, then the request's number in it.
  local sid = string.format("%08x%024x", id or 0, sent)
  return wrk.format("GET", "/exotel/connect?CallSid=" .. sid .. rest)
end
