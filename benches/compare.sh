#!/usr/bin/env bash
# Two builds of routec side by side (not run in CI): each saturated in turn with wrk (2
# threads, 64 connections) on `routec serve rules`, Exotel's real Connect request, ROUNDS
# rounds of 5 s each, alternating which goes first. Prints, per run: decisions/s, the server's
# CPU a request (user + system over the run, /proc/PID/stat) and its workers' involuntary
# context switches per 1,000 requests.
#
# Build the other revision into its own target directory first, e.g.
#   git worktree add /tmp/old REV && (cd /tmp/old && CARGO_TARGET_DIR=$PWD/target/old cargo build --release)
# Every request is a new call (benches/fresh-calls.lua); with CALLS=same, the same call is asked
# again and again (all but the first answered from the call's record). The decision log goes
# to /dev/null; with LOG=pipe, through a pipe to a reader (`cat`), as to journald or a
# container's log driver, and the reader's CPU a request is printed too.
# Usage: benches/compare.sh OLD_BINARY [NEW_BINARY (default target/release/routec)] [ROUNDS (3)]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load-lib.sh
needs_tools wrk
old=$1
new=${2:-target/release/routec}
rounds=${3:-3}
[ "$new" != target/release/routec ] || cargo build --release --quiet
query=$exotel_query
script=(-s benches/fresh-calls.lua)
[ "${CALLS:-fresh}" != same ] || script=()

run() { # LABEL BINARY
  local pid reader=
  if [ "${LOG:-null}" = pipe ]; then
    mkfifo /tmp/compare-log.$$
    cat /tmp/compare-log.$$ >/dev/null &
    reader=$!
    "$2" serve rules --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:18090 >/tmp/compare-log.$$ 2>/dev/null &
    pid=$!
  else
    "$2" serve rules --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:18090 >/dev/null 2>&1 &
    pid=$!
  fi
  wait_for 18080
  rm -f /tmp/compare-log.$$
  local s0 c0 r0=0 out s1 c1 r1=0 n
  s0=$(preemptions $pid); c0=$(cpu_ticks $pid); [ -z "$reader" ] || r0=$(cpu_ticks $reader)
  out=$(wrk -t2 -c64 -d5s "${script[@]}" "http://127.0.0.1:18080/exotel/connect?$query")
  s1=$(preemptions $pid); c1=$(cpu_ticks $pid); [ -z "$reader" ] || r1=$(cpu_ticks $reader)
  kill $pid; wait $pid 2>/dev/null || true
  [ -z "$reader" ] || wait $reader 2>/dev/null || true
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  local read_text=
  [ -z "$reader" ] || read_text=" the log's reader $(per_request $((r1 - r0)) "$n" 2) µs;"
  echo "$1: $(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}') decisions/s;" \
    "CPU $(per_request $((c1 - c0)) "$n" 2) µs a request;$read_text" \
    "$(awk -v s=$((s1 - s0)) -v n="$n" 'BEGIN {printf "%.0f", s / n * 1000}') preemptions per 1,000"
}

for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then run old "$old"; run new "$new"; else run new "$new"; run old "$old"; fi
done
