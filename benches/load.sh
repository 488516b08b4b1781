#!/usr/bin/env bash
# Load benchmark of `routec serve` on 127.0.0.1 (not run in CI): the `rules/` policy answering
# Exotel's real Connect request, against a bare axum handler returning a fixed Connect answer
# (benches/baseline.rs), in the same run and the same way.
#
# 1. saturation: wrk with 2 threads, 64 connections, 10 s each, the two servers in turn
#    ROUNDS times (3; which goes first alternates): decisions per second (target: routec's
#    median ratio >= 0.85x the baseline), twice: every request a new call (`CallSid`, as Exotel
#    sends them: benches/fresh-calls.lua), and the same call asked again and again (all but
#    the first answered from the call's record); with each server's CPU a request, in user
#    space and in the kernel (/proc/PID/stat), and wrk's, which shares the machine's cores,
#    and how often the server's threads were preempted (/proc/PID/task/*/status);
#    then routec's `/healthz` with the same query, which decides nothing: what routec's
#    server (its limits, its routes, the request's metrics) costs apart from a decision;
# 2. half of routec's saturation rate, paced evenly by hey: p50/p99 latency (target
#    p99 <= 0.5 ms), with each server's wait for a core and routec's own share of answers
#    within 100 µs; then about half of its saturation with new calls, paced by wrk;
# 3. routec's peak RSS (VmHWM; target <= 64 MB).
#
# Needs wrk, hey and curl (Debian: apt-get install wrk hey curl). Usage: benches/load.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${ROUNDS:-3}
. benches/load-lib.sh
needs_tools wrk hey curl
cargo build --release --quiet
# Built before it is started: built while `wait_for` waits, it may not listen in time.
# With routec's own build settings (the release profile), not the benches'.
cargo bench --profile release --bench baseline --no-run --quiet
cargo bench --profile release --bench baseline --quiet -- --serve 127.0.0.1:18081 2>/dev/null &
baseline=$!
# The decision log goes where a real deployment sends it; here, nowhere.
./target/release/routec serve rules --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:18090 >/dev/null 2>/tmp/routec-load.err &
routec=$!
trap 'kill $baseline $routec 2>/dev/null; pkill -f "baseline.*--serve 127.0.0.1:18081" 2>/dev/null || true' EXIT
wait_for 18081
wait_for 18080
query=$exotel_query
rate() { awk '/Requests\/sec/ {print $2}'; }
baseline_pid=$(pgrep -f "baseline-.*--serve 127.0.0.1:18081" | head -1)

# wrk_against PID PORT OUT WRK_ARGS…: wrk on the port, its report in OUT, then where the CPU
# went a request: the server's in user space and in the kernel, and wrk's own. routec is
# asked at $routec_path, the baseline always at its one route.
routec_path=/exotel/connect
wrk_against() {
  local pid=$1 port=$2 out=$3; shift 3
  local before after path=/exotel/connect
  [ "$port" = 18080 ] && path=$routec_path
  before=$(awk '{print $14, $15}' "/proc/$pid/stat")
  local preempted_before preempted_after
  preempted_before=$(preemptions "$pid")
  { TIMEFORMAT='%U %S'; time wrk -t2 -c64 -d"${secs}s" "$@" "http://127.0.0.1:$port$path?$query" > "$out"; } 2> /tmp/load-wrk-time.txt
  after=$(awk '{print $14, $15}' "/proc/$pid/stat")
  preempted_after=$(preemptions "$pid")
  local n
  n=$(awk '/requests in/ {print $1}' "$out")
  cpu="user $(per_request $(( ${after% *} - ${before% *} )) "$n") µs, kernel $(per_request $(( ${after#* } - ${before#* } )) "$n") µs; wrk $(awk -v n="$n" '{printf "%.1f", ($1 + $2) * 1e6 / n}' /tmp/load-wrk-time.txt) µs; preempted $(awk -v p=$((preempted_after - preempted_before)) -v n="$n" 'BEGIN {printf "%.0f", p / n * 1000}') times per 1,000 requests"
}

saturate() { # LABEL WRK_ARGS… : the baseline and routec the same way, ROUNDS times, in turn
  echo "== saturation, $1 (wrk -t2 -c64 -d${secs}s, $rounds rounds)"
  shift
  local ratios=() round
  # Which goes first alternates: a machine that slows or speeds up during the run (other
  # tenants' load moved this machine's rates by a quarter within minutes) weighs on both.
  for round in $(seq 1 "$rounds"); do
    if [ $(( round % 2 )) = 1 ]; then
      wrk_against "$baseline_pid" 18081 /tmp/load-baseline.txt "$@"; base_cpu=$cpu
      wrk_against "$routec" 18080 /tmp/load-routec.txt --latency "$@"; routec_cpu=$cpu
    else
      wrk_against "$routec" 18080 /tmp/load-routec.txt --latency "$@"; routec_cpu=$cpu
      wrk_against "$baseline_pid" 18081 /tmp/load-baseline.txt "$@"; base_cpu=$cpu
    fi
    grep -q "Non-2xx" /tmp/load-routec.txt && { echo "routec answered non-2xx:"; cat /tmp/load-routec.txt; exit 1; }
    base_rps=$(rate < /tmp/load-baseline.txt)
    routec_rps=$(rate < /tmp/load-routec.txt)
    local ratio
    ratio=$(awk -v a="$routec_rps" -v b="$base_rps" 'BEGIN {printf "%.2f", a/b}')
    ratios+=("$ratio")
    echo "round $round: baseline $base_rps req/s, CPU a request: $base_cpu"
    echo "round $round: routec   $routec_rps req/s (${ratio}x), CPU a request: $routec_cpu"
  done
  echo "routec against the baseline, each round: ${ratios[*]}; median $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')x (target >= 0.85x)"
}
saturate "a new call each request" -s benches/fresh-calls.lua
routec_new_rps=$routec_rps
saturate "the same call asked again"
same_call_rps=$routec_rps
routec_path=/healthz saturate "routec's /healthz with the same query: no decision"
routec_rps=$same_call_rps

# Half of routec's saturation (of the same call asked again: hey sends one request), paced by
# hey (wrk cannot pace evenly): 20 workers, each sending at an even 1/20 of the rate. hey
# prints latency in 0.1 ms steps. The bare handler is paced at the same rate, so that the p99
# this machine gives any answer is beside routec's, and each server's CPU time over its run
# (/proc/PID/stat) gives its CPU per request; hey's own, and how busy both cores were
# (/proc/stat), show what the load generator leaves the servers. How long each server's
# threads were ready but waited for a core (schedstat), and the share routec answered within
# 100 µs by its own request histogram, show how much of the p99 is routec's own.
half=$(awk -v r="$routec_rps" 'BEGIN {printf "%d", r/2}')
per_worker=$(( half / 20 ))
echo "== half of saturation (~$half req/s: hey, 20 workers at $per_worker req/s each)"
paced() { # LABEL PID PORT
  local before after machine_before machine_after wait_before wait_after own_before own_after
  before=$(cpu_ticks "$2")
  machine_before=$(machine_ticks)
  wait_before=$(run_queue_ns "$2")
  [ "$3" = 18080 ] && own_before=$(answered_within_100us 18090)
  { TIMEFORMAT='%U %S'; time hey -z "${secs}s" -c 20 -q "$per_worker" "http://127.0.0.1:$3/exotel/connect?$query" > /tmp/load-half.txt; } 2> /tmp/load-hey-time.txt
  after=$(cpu_ticks "$2")
  machine_after=$(machine_ticks)
  wait_after=$(run_queue_ns "$2")
  grep -A3 "Status code" /tmp/load-half.txt | grep -v "\[200\]" | grep "\[" && { echo "$1 answered non-200"; exit 1; }
  local done_
  done_=$(awk '/\[200\]/ {print $2}' /tmp/load-half.txt)
  echo "$1: $(awk '/Requests\/sec/ {printf "%d", $2}' /tmp/load-half.txt) req/s;" \
    "p50 $(hey_pct 50 < /tmp/load-half.txt) ms, p90 $(hey_pct 90 < /tmp/load-half.txt) ms," \
    "p99 $(hey_pct 99 < /tmp/load-half.txt) ms; server CPU $(per_request $((after - before)) "$done_") µs a request;" \
    "hey's $(awk -v n="$done_" '{printf "%.1f", ($1 + $2) * 1e6 / n}' /tmp/load-hey-time.txt) µs;" \
    "the machine busy $(echo "$machine_before $machine_after" | awk '{printf "%d", ($3 - $1) * 100 / ($4 - $2)}')%;" \
    "the server's threads waited for a core $(awk -v w=$((wait_after - wait_before)) -v n="$done_" 'BEGIN {printf "%.1f", w / 1000 / n}') µs a request"
  if [ "$3" = 18080 ]; then
    own_after=$(answered_within_100us 18090)
    # Where the p99 goes: routec's own time (from the request read to the answer written)
    # against the whole round trip hey sees.
    share_within_100us "$own_before" "$own_after"
  fi
}
paced "baseline" "$baseline_pid" 18081
paced "routec  " "$routec" 18080
echo "(target: routec's p99 <= 0.5 ms)"

# The same half with a new call each request, as Exotel sends them: hey sends one request, so
# wrk paces here, each connection waiting 1 ms after an answer (benches/fresh-calls.lua), with
# as many connections as give about half of routec's saturation. A new call is remembered
# (100,000 at most), which the same call asked again never shows.
connections=$(awk -v r="$routec_new_rps" 'BEGIN {c = int(r / 2 / 900); print (c < 2 ? 2 : c)}')
echo "== half of saturation with new calls (wrk, $connections connections each waiting 1 ms after an answer, ${secs}s)"
paced_new "baseline" 18081
paced_new "routec  " 18080
echo "== memory"
echo "routec peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$routec/status) (target <= 64 MB)"
