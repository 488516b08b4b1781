#!/usr/bin/env bash
# Latency with the load generator off the server's core (not run in CI): `routec serve rules`
# and the bare handler of benches/baseline.rs each pinned to core 0 (taskset), the load
# generators to core 1, so that no answer waits for a core the load generator holds.
# `benches/load.sh` shares both cores between server and load generator, as a single small
# machine does; this shows what of its p99 is the sharing.
#
# 1. saturation of each server on its one core, wrk on the other (2 threads, 32 connections,
#    the same call asked again);
# 2. half of routec's saturation (or RATE requests a second), paced evenly by hey: p50/p90/p99
#    for both servers (target p99 <= 0.5 ms), and routec's own share of answers within 100 µs;
# 3. new calls at about the same rate, paced by wrk (benches/fresh-calls.lua): p50/p90/p99
#    for both.
#
# Needs wrk, hey, curl and taskset, and two cores. Usage: [RATE=N] benches/pinned-latency.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
. benches/load-lib.sh
needs_tools wrk hey curl taskset
[ "$(nproc)" -ge 2 ] || { echo "$(basename "$0") needs two cores" >&2; exit 2; }
cargo build --release --quiet
cargo bench --profile release --bench baseline --no-run --quiet
taskset -c 0 cargo bench --profile release --bench baseline --quiet -- --serve 127.0.0.1:18081 2>/dev/null &
baseline=$!
taskset -c 0 ./target/release/routec serve rules --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:18090 >/dev/null 2>/tmp/routec-pinned.err &
routec=$!
trap 'kill $baseline $routec 2>/dev/null; pkill -f "baseline.*--serve 127.0.0.1:18081" 2>/dev/null || true' EXIT
wait_for 18081
wait_for 18080
wait_for 18090
query=$exotel_query
url() { echo "http://127.0.0.1:$1/exotel/connect?$query"; }

echo "== saturation, each server on core 0, wrk on core 1 (wrk -t2 -c32 -d${secs}s)"
saturate() { # LABEL PORT
  taskset -c 1 wrk -t2 -c32 -d"${secs}s" "$(url "$2")" > /tmp/pinned-wrk.txt
  awk -v l="$1" '/Requests\/sec/ {printf "%s: %d req/s\n", l, $2}' /tmp/pinned-wrk.txt
  awk '/Requests\/sec/ {printf "%d", $2}' /tmp/pinned-wrk.txt > /tmp/pinned-rate.txt
}
saturate "baseline" 18081
saturate "routec  " 18080
routec_rps=$(cat /tmp/pinned-rate.txt)

# hey takes 25-30 µs of CPU a request, so on one core it paces at most about 30,000 a
# second: RATE sets a lower rate (requests a second) for it.
half=${RATE:-$(( routec_rps / 2 ))}
per_worker=$(( half / 20 ))
echo "== paced by hey on core 1 (~$half req/s: 20 workers at $per_worker req/s each)"
paced() { # LABEL PORT
  local own_before own_after
  [ "$2" = 18080 ] && own_before=$(answered_within_100us 18090)
  taskset -c 1 hey -z "${secs}s" -c 20 -q "$per_worker" "$(url "$2")" > /tmp/pinned-hey.txt
  echo "$1: $(awk '/Requests\/sec/ {printf "%d", $2}' /tmp/pinned-hey.txt) req/s;" \
    "p50 $(hey_pct 50 < /tmp/pinned-hey.txt) ms, p90 $(hey_pct 90 < /tmp/pinned-hey.txt) ms," \
    "p99 $(hey_pct 99 < /tmp/pinned-hey.txt) ms"
  if [ "$2" = 18080 ]; then
    own_after=$(answered_within_100us 18090)
    share_within_100us "$own_before" "$own_after"
  fi
}
paced "baseline" 18081
paced "routec  " 18080
echo "(target: routec's p99 <= 0.5 ms)"

connections=$(awk -v r="$half" 'BEGIN {c = int(r / 900); print (c < 2 ? 2 : c)}')
echo "== new calls at about the same rate (wrk on core 1, $connections connections each waiting 1 ms after an answer, ${secs}s)"
paced_new "baseline" 18081 taskset -c 1
paced_new "routec  " 18080 taskset -c 1
