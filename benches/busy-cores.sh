#!/usr/bin/env bash
# Runs a command with every core kept from idling: one busy loop a core at the lowest priority
# (nice 19), killed when the command ends. On a virtual machine whose idle cores halt, waking
# one costs the hypervisor's exit and interrupt; this shows what a round trip costs without
# that wake-up, to tell the machine's latency from the program's.
# Usage: benches/busy-cores.sh cargo bench --bench state
#        benches/busy-cores.sh redis-benchmark -c 1 -n 100000 -t ping_mbulk
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $(basename "$0") COMMAND [ARGS...]" >&2; exit 2; }
loops=()
for _ in $(seq 1 "$(nproc)"); do
  nice -n 19 sh -c 'while :; do :; done' &
  loops+=($!)
done
trap 'kill "${loops[@]}" 2>/dev/null || true' EXIT
"$@"
