#!/usr/bin/env bash
# Checks the running server against its OpenAPI description (api/openapi.json) with
# schemathesis: no server error, no answer outside the schema, on both listeners.
# Not run in CI (it takes minutes); its figures go in the notes. Needs Python 3 and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet schemathesis
fi
cargo build --release --quiet
token=schemathesis-admin
export ROUTEC_ADMIN_TOKEN=$token ROUTEC_LOG_DECISIONS=false
./target/release/routec serve rules --listen 127.0.0.1:18180 --admin-listen 127.0.0.1:18190 \
  >/dev/null 2>/tmp/routec-schemathesis.err &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs http://127.0.0.1:18190/healthz >/dev/null 2>&1 && break
  sleep 0.1
done
run() {
  "$venv/bin/schemathesis" run api/openapi.json --url "$1" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-200}" \
    --header "Authorization: Bearer $token" \
    --include-path-regex "$2"
}
echo "== Exotel's listener"
run http://127.0.0.1:18180 '^/(exotel|healthz|readyz)'
echo "== the admin listener"
run http://127.0.0.1:18190 '^/(v1|metrics|healthz|readyz)'
