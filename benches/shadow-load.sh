#!/usr/bin/env bash
# Load benchmark of the shadow (not run in CI): p50/p99 of Exotel's Connect at half of routec's
# saturation rate, with no shadow and with a candidate shadowing every call (target: p99 with
# the shadow <= 1.1x without). The candidate is `rules/` with one rule changed.
#
# Needs wrk and hey (Debian: apt-get install wrk hey). Usage: benches/shadow-load.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
for tool in wrk hey; do
  command -v $tool >/dev/null || { echo "shadow-load.sh needs $tool (apt-get install wrk hey)" >&2; exit 2; }
done
cargo build --release --quiet
candidate=$(mktemp -d)
cp -r rules/. "$candidate"
sed -i 's/-> team TECH_L1$/-> team TECH_L2/' "$candidate/routing.route"
query='CallSid=9953099079d70b89bbc1aa43ae6d1893&CallFrom=09901320691&CallTo=08069891522&Direction=incoming&CurrentTime=2024-09-03%2011:44:59&digits=%221%22'
wait_for() {
  for _ in $(seq 1 600); do
    (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2; exit 1
}
hey_pct() { awk -v p="$1%" '$1 == p {printf "%.2f", $3 * 1000}'; }
half=""
measure() {
  local label=$1; shift
  # Passthru reads only: no reservations pile up over a long run.
  ./target/release/routec serve rules --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:18090 "$@" >/dev/null 2>/tmp/shadow-load.err &
  local pid=$!
  wait_for 18080
  local url="http://127.0.0.1:18080/exotel/passthru?$query"
  wrk -t2 -c64 -d"${secs}s" "$url" > /tmp/shadow-wrk.txt
  local rps
  rps=$(awk '/Requests\/sec/ {print $2}' /tmp/shadow-wrk.txt)
  # Both runs at half of the saturation without a shadow: the same load.
  [ -n "$half" ] || half=$(awk -v r="$rps" 'BEGIN {printf "%d", r/2}')
  hey -z "${secs}s" -c 20 -q $(( half / 20 )) "$url" > /tmp/shadow-hey.txt
  echo "$label: saturation $rps req/s; at ~$half req/s p50 $(hey_pct 50 < /tmp/shadow-hey.txt) ms, p99 $(hey_pct 99 < /tmp/shadow-hey.txt) ms"
  kill $pid; wait $pid 2>/dev/null || true
}
measure "no shadow  "
measure "with shadow" --shadow "$candidate"
rm -rf "$candidate"
