#!/usr/bin/env bash
# Load benchmark of the memory store's snapshot file (not run in CI): `routec serve rules`
# saturated with new calls (benches/fresh-calls.lua: 100,000 calls remembered within seconds)
# by wrk, with no snapshot and with one written every 2 s, alternating; wrk's p99 and
# slowest answer for each. Writing the snapshot must not hold decisions up.
#
# Needs wrk (Debian: apt-get install wrk).
# Usage: benches/snapshot-load.sh [SECONDS PER RUN] [ROUNDS] [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load-lib.sh
secs=${1:-12}
rounds=${2:-2}
binary=${3:-target/release/routec}
needs_tools wrk
[ "$binary" != target/release/routec ] || cargo build --release --quiet
snapshot=$(mktemp -d)/state.json
run() { # LABEL SNAPSHOT_PATH (empty: none)
  ROUTEC_STATE_SNAPSHOT=$2 ROUTEC_STATE_SNAPSHOT_SECS=2 "$binary" serve rules \
    --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:18090 >/dev/null 2>&1 &
  local pid=$!
  wait_for 18080
  local out
  out=$(wrk -t2 -c64 -d"${secs}s" --latency -s benches/fresh-calls.lua http://127.0.0.1:18080)
  kill $pid; wait $pid 2>/dev/null || true
  echo "$1: $(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}') decisions/s;" \
    "p99 $(echo "$out" | awk '$1 == "99%" {print $2}'), slowest $(echo "$out" | awk '$1 == "Latency" {print $4}')"
}
for _ in $(seq 1 "$rounds"); do
  run "no snapshot        " ""
  run "snapshot every 2 s " "$snapshot"
  rm -f "$snapshot"
done
