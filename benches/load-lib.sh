# Shared by the load scripts (sourced, not run): tools, waiting for a port, and the paced
# half-saturation measurement both overhead scripts compare with and without a feature.

needs_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$(basename "$0") needs $tool (apt-get install $*)" >&2; exit 2; }
  done
}

# Exotel's real Connect request's query, as the load scripts send it.
exotel_query='CallSid=9953099079d70b89bbc1aa43ae6d1893&CallFrom=09901320691&CallTo=08069891522&Direction=incoming&Created=Tue,%2003%20Sep%202024%2011:44:54&DialCallDuration=0&StartTime=2024-09-03%2011:44:54&EndTime=1970-01-01%2005:30:00&CallType=call-attempt&DialWhomNumber=&flow_id=11754&tenant_id=1409&From=09901320691&To=08069891522&CurrentTime=2024-09-03%2011:44:59&digits=%228%22'

wait_for() {
  for _ in $(seq 1 600); do
    (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2; exit 1
}

# A process's CPU time so far, in clock ticks (user + system, all its threads).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# A process's involuntary context switches so far (its threads preempted), over its threads.
preemptions() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^nonvoluntary_ctxt/ {s += $2} END {printf "%d", s}'; }

# per_request TICKS REQUESTS [DECIMALS (1)]: microseconds of CPU a request.
per_request() {
  awk -v t="$1" -v n="$2" -v d="${3:-1}" -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "%." d "f", t / hz * 1e6 / n}'
}

# A process's time waiting for a core so far, in nanoseconds: ready to run, but every core
# busy (the second field of /proc/PID/task/*/schedstat, over its threads).
run_queue_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{w += $2} END {printf "%d", w}'; }

# routec's own count of Connect requests it answered within 100 µs, and of all it answered
# (its request histogram on the admin port $1; the first bucket's bound is 100 µs).
answered_within_100us() {
  curl -s "http://127.0.0.1:$1/metrics" | awk '/^routec_http_request_duration_seconds_bucket\{route="\/exotel\/connect"/ && /le="0.0001"/ {fast += $NF}
    /^routec_http_request_duration_seconds_count\{route="\/exotel\/connect"/ {all += $NF} END {printf "%d %d", fast, all}'
}

# share_within_100us BEFORE AFTER: routec's share of the Connect requests answered between two
# readings of `answered_within_100us` that took at most 100 µs by its own histogram.
share_within_100us() {
  echo "$1 $2" | awk '{printf "routec  : by its own histogram, %.2f%% of these requests answered within 100 µs\n", ($3 - $1) * 100 / ($4 - $2)}'
}

# paced_new LABEL PORT [COMMAND…]: new calls (benches/fresh-calls.lua) paced by wrk against
# PORT, $connections connections each waiting 1 ms after an answer, for $secs seconds, wrk
# run under COMMAND if given (`taskset -c 1`, say): requests/s, p50/p90/p99 and the slowest.
paced_new() {
  local label=$1 port=$2; shift 2
  PACE_MS=1 "$@" wrk -t2 -c"$connections" -d"${secs}s" --latency -s benches/fresh-calls.lua \
    "http://127.0.0.1:$port/exotel/connect?$exotel_query" > /tmp/load-paced-new.txt
  echo "$label: $(awk '/Requests\/sec/ {printf "%d", $2}' /tmp/load-paced-new.txt) req/s;" \
    "$(awk '$1 == "50%" || $1 == "90%" || $1 == "99%" {printf "p%s %s, ", substr($1, 1, 2), $2}' /tmp/load-paced-new.txt)" \
    "max $(awk '/Latency/ {print $4; exit}' /tmp/load-paced-new.txt)"
}

# The machine's CPU ticks so far, busy and in all, over every core (/proc/stat's first line:
# idle and iowait are not busy).
machine_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }

# hey's latency percentile $1 (50, 99) in ms, from its report on stdin.
hey_pct() { awk -v p="$1%" '$1 == p {printf "%.2f", $3 * 1000}'; }

# measure LABEL URL [SERVE ARGS…]: starts `routec serve rules` with the args, runs the hook
# `while_serving` if defined (a console, say), finds the saturation rate with wrk (once: the
# first call's rate is the load of every call after), then paces half of it evenly with hey.
half=""
measure() {
  local label=$1 url=$2; shift 2
  ./target/release/routec serve rules --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:18090 "$@" >/dev/null 2>/tmp/routec-measure.err &
  local pid=$!
  wait_for 18080
  wait_for 18090
  local helper=""
  if declare -F while_serving >/dev/null; then
    while_serving &
    helper=$!
  fi
  wrk -t2 -c64 -d"${secs}s" "$url" > /tmp/measure-wrk.txt
  local rps
  rps=$(awk '/Requests\/sec/ {print $2}' /tmp/measure-wrk.txt)
  [ -n "$half" ] || half=$(awk -v r="$rps" 'BEGIN {printf "%d", r/2}')
  hey -z "${secs}s" -c 20 -q $(( half / 20 )) "$url" > /tmp/measure-hey.txt
  echo "$label: saturation $rps req/s; at ~$half req/s p50 $(hey_pct 50 < /tmp/measure-hey.txt) ms, p99 $(hey_pct 99 < /tmp/measure-hey.txt) ms"
  [ -z "$helper" ] || { kill "$helper" 2>/dev/null; wait "$helper" 2>/dev/null || true; }
  kill $pid; wait $pid 2>/dev/null || true
}
