#!/usr/bin/env bash
# Load benchmark of the shadow (not run in CI): p50/p99 of Exotel's Passthru at half of routec's
# saturation rate, on two servers side by side, one with no shadow and one with a candidate
# shadowing every call, measured in alternating rounds (target: p99 with the shadow <= 1.1x
# without). Both run all along, so both are warm and share the machine alike; each round
# also says the server's CPU per request, steadier than p99 on 2 shared cores. The candidate
# is `rules/` with one rule changed.
#
# Needs wrk and hey (Debian: apt-get install wrk hey).
# Usage: benches/shadow-load.sh [SECONDS PER RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load-lib.sh
secs=${1:-10}
rounds=${2:-5}
needs_tools wrk hey
cargo build --release --quiet
candidate=$(mktemp -d)
cp -r rules/. "$candidate"
sed -i 's/-> team TECH_L1$/-> team TECH_L2/' "$candidate/routing.route"
query='CallSid=9953099079d70b89bbc1aa43ae6d1893&CallFrom=09901320691&CallTo=08069891522&Direction=incoming&CurrentTime=2024-09-03%2011:44:59&digits=%221%22'
./target/release/routec serve rules --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:18090 >/dev/null 2>/tmp/routec-plain.err &
plain=$!
./target/release/routec serve rules --listen 127.0.0.1:18081 --admin-listen 127.0.0.1:18091 --shadow "$candidate" >/dev/null 2>/tmp/routec-shadow.err &
shadowed=$!
trap 'kill $plain $shadowed 2>/dev/null || true; rm -rf "$candidate"' EXIT
for port in 18080 18081 18090 18091; do wait_for $port; done
wrk -t2 -c64 -d"${secs}s" "http://127.0.0.1:18080/exotel/passthru?$query" > /tmp/shadow-wrk.txt
rps=$(awk '/Requests/ && /sec/ {print $2}' /tmp/shadow-wrk.txt)
half=$(awk -v r="$rps" 'BEGIN {printf "%d", r/2}')
echo "saturation $rps req/s (no shadow); paced at ~$half req/s (hey, 20 workers)"
# run LABEL PID PORT: one paced run; prints its figures and appends "p99 cpu" to /tmp/shadow-$PORT.
run() {
  local before after answered p99 cpu
  before=$(cpu_ticks "$2")
  hey -z "${secs}s" -c 20 -q $(( half / 20 )) "http://127.0.0.1:$3/exotel/passthru?$query" > /tmp/shadow-hey.txt
  after=$(cpu_ticks "$2")
  answered=$(awk '/\[[0-9]+\]/ {n += $2} END {print n}' /tmp/shadow-hey.txt)
  p99=$(hey_pct 99 < /tmp/shadow-hey.txt)
  cpu=$(per_request $((after - before)) "$answered")
  echo "$p99 $cpu" >> "/tmp/shadow-$3"
  printf '%s p50 %s ms, p99 %s ms, CPU %s us per request\n' "$1" "$(hey_pct 50 < /tmp/shadow-hey.txt)" "$p99" "$cpu"
}
rm -f /tmp/shadow-18080 /tmp/shadow-18081
for round in $(seq 1 "$rounds"); do
  # Which goes first alternates, so neither always follows the other.
  if [ $((round % 2)) -eq 1 ]; then
    run "round $round, no shadow  :" $plain 18080
    run "round $round, with shadow:" $shadowed 18081
  else
    run "round $round, with shadow:" $shadowed 18081
    run "round $round, no shadow  :" $plain 18080
  fi
done
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
p99_plain=$(cut -d' ' -f1 /tmp/shadow-18080 | median)
p99_shadow=$(cut -d' ' -f1 /tmp/shadow-18081 | median)
cpu_plain=$(cut -d' ' -f2 /tmp/shadow-18080 | median)
cpu_shadow=$(cut -d' ' -f2 /tmp/shadow-18081 | median)
awk -v r="$rounds" -v a="$p99_plain" -v b="$p99_shadow" -v c="$cpu_plain" -v d="$cpu_shadow" 'BEGIN {
  printf "median of %s rounds: p99 %.2f ms without, %.2f ms with the shadow (%.2fx); CPU %.1f -> %.1f us per request (%+.1f%%)\n", r, a, b, b / a, c, d, (d / c - 1) * 100 }'
echo "shadowed calls: $(curl -s http://127.0.0.1:18091/v1/shadow | grep -o '"calls":[0-9]*')"
