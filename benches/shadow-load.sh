#!/usr/bin/env bash
# Load benchmark of the shadow (not run in CI): p50/p99 of Exotel's Connect at half of routec's
# saturation rate, with no shadow and with a candidate shadowing every call (target: p99 with
# the shadow <= 1.1x without). The candidate is `rules/` with one rule changed.
#
# Needs wrk and hey (Debian: apt-get install wrk hey). Usage: benches/shadow-load.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load-lib.sh
secs=${1:-10}
needs_tools wrk hey
cargo build --release --quiet
candidate=$(mktemp -d)
cp -r rules/. "$candidate"
sed -i 's/-> team TECH_L1$/-> team TECH_L2/' "$candidate/routing.route"
# Passthru reads only: no reservations pile up over a long run.
url='http://127.0.0.1:18080/exotel/passthru?CallSid=9953099079d70b89bbc1aa43ae6d1893&CallFrom=09901320691&CallTo=08069891522&Direction=incoming&CurrentTime=2024-09-03%2011:44:59&digits=%221%22'
measure "no shadow  " "$url"
measure "with shadow" "$url" --shadow "$candidate"
rm -rf "$candidate"
