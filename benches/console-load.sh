#!/usr/bin/env bash
# Load benchmark of the console (not run in CI): p50/p99 of Exotel's Passthru at half of
# routec's saturation rate, with no console open and with one watching the Live page, on one
# server, alternating (target: p99 with it <= 1.05x without). The watcher is the Live page's
# own feed (`/console/api/events`: every decision it is sent, with its trace), read by curl: a
# browser on this 2-core machine would measure chromium's share of the CPU, not routec's.
#
# Needs wrk, hey and curl (Debian: apt-get install wrk hey curl).
# Usage: benches/console-load.sh [SECONDS PER RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load-lib.sh
secs=${1:-10}
rounds=${2:-3}
needs_tools wrk hey curl
cargo build --release --quiet
url='http://127.0.0.1:18080/exotel/passthru?CallSid=9953099079d70b89bbc1aa43ae6d1893&CallFrom=09901320691&CallTo=08069891522&Direction=incoming&CurrentTime=2024-09-03%2011:44:59&digits=%221%22'
# With no admin token the console opens on loopback without a login.
./target/release/routec serve rules --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:18090 >/dev/null 2>/tmp/routec-console-load.err &
routec=$!
trap 'kill $routec 2>/dev/null || true' EXIT
wait_for 18080
wrk -t2 -c64 -d"${secs}s" "$url" > /tmp/console-wrk.txt
rps=$(awk '/Requests/ && /sec/ {print $2}' /tmp/console-wrk.txt)
half=$(awk -v r="$rps" 'BEGIN {printf "%d", r/2}')
echo "saturation $rps req/s; paced at ~$half req/s (hey, 20 workers)"
run() {
  local before after answered
  before=$(cpu_ticks $routec)
  hey -z "${secs}s" -c 20 -q $(( half / 20 )) "$url" > /tmp/console-hey.txt
  after=$(cpu_ticks $routec)
  answered=$(awk '/\[[0-9]+\]/ {n += $2} END {print n}' /tmp/console-hey.txt)
  # CPU per request is steadier than p99 on 2 shared cores: it says what the console costs.
  printf '%s p50 %s ms, p99 %s ms, routec CPU %s us per request\n' "$1" \
    "$(hey_pct 50 < /tmp/console-hey.txt)" "$(hey_pct 99 < /tmp/console-hey.txt)" \
    "$(per_request $((after - before)) "$answered")"
}
for round in $(seq 1 "$rounds"); do
  run "round $round, no console  :"
  curl -sN http://127.0.0.1:18090/console/api/events > /tmp/console-feed.txt &
  watcher=$!
  sleep 0.5
  run "round $round, console open:"
  kill $watcher; wait $watcher 2>/dev/null || true
  echo "  the console was sent $(grep -c '^event: decisions' /tmp/console-feed.txt) batches, $(grep -o '"ts"' /tmp/console-feed.txt | wc -l) decisions"
done
