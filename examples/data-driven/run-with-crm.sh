#!/usr/bin/env bash
# One command: start the CRM stub on 127.0.0.1:9000, decide a call for each caller in
# data/crm.json (and one unknown caller), stop the stub.
# Usage: examples/data-driven/run-with-crm.sh [path/to/routec]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
routec=${1:-"$here/../../target/release/routec"}
[ -x "$routec" ] || (cd "$here/../.." && cargo build --release --quiet)
python3 "$here/crm-stub.py" 9000 2>/dev/null &
stub=$!
trap 'kill $stub 2>/dev/null' EXIT
for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.0.1/9000) 2>/dev/null && break
  sleep 0.1
done
export CRM_TOKEN=${CRM_TOKEN:-example-token}
for from in 09845000001 09845000002 09845000003 09845000004 09845000005 09845000999; do
  case=$(printf '{"call": {"CallSid": "demo", "CallFrom": "%s"}}' "$from")
  printf '%s -> ' "$from"
  echo "$case" | "$routec" eval "$here" --input - | python3 -c \
    'import json,sys; d=json.load(sys.stdin); print(d["rule"], d["numbers"] or d["queue"] or d["flow"], d["degraded"] or "")'
done
