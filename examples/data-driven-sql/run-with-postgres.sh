#!/usr/bin/env bash
# One command: load the example's customer table into PostgreSQL (schema `routec_example`,
# made afresh), decide a call for each caller in it and one unknown caller.
# Usage: examples/data-driven-sql/run-with-postgres.sh [path/to/routec]
# The database: ROUTEC_EXAMPLE_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
routec=${1:-"$here/../../target/release/routec"}
[ -x "$routec" ] || (cd "$here/../.." && cargo build --release --quiet)
export ROUTEC_EXAMPLE_DATABASE_URL=${ROUTEC_EXAMPLE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
psql --quiet --no-psqlrc -v ON_ERROR_STOP=1 "$ROUTEC_EXAMPLE_DATABASE_URL" -f "$here/setup.sql" >/dev/null
for from in 09845000001 09845000002 09845000003 09845000004 09845000005 09845000999; do
  case=$(printf '{"call": {"CallSid": "demo", "CallFrom": "%s"}}' "$from")
  printf '%s -> ' "$from"
  echo "$case" | "$routec" eval "$here" --input - | python3 -c \
    'import json,sys; d=json.load(sys.stdin); print(d["rule"], d["numbers"] or d["queue"] or d["flow"], d["degraded"] or "")'
done
