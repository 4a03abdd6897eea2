#!/usr/bin/env bash
# Property-based checks of the API against its own OpenAPI document (`make test-schema`):
# schemathesis (pinned in infra/tools.sh) generates requests for every operation of
# `GET openapi.json` as `mitre serve` publishes it, with a registered analyst as the caller
# (the document's local-only x-dev-principal-arn scheme), and checks that no answer is a 5xx,
# that every status, content type and body matches the document, and that the document states
# what the API accepts (schema-valid requests accepted, schema-violating ones rejected).
#
# Two checks are left out, for what a local server cannot show: `ignored_auth` (SigV4 is
# verified by API Gateway before a request reaches the function; `mitre serve` takes the caller
# from its local header and ignores Authorization) and `missing_required_header` (a change
# without If-Match is answered 428 Precondition Required, RFC 6585, which the check does not
# expect). Exit status: schemathesis's (non-zero when a check failed).
#
# Starts a local stack of its own (DynamoDB Local on SCHEMA_DDB_PORT=8330, moto S3 on
# SCHEMA_S3_PORT=4896, state in .local/schema), imports enterprise 18.1, mobile 18.0 and ICS
# 18.1, maps the demo cases,
# serves the API on SCHEMA_API_PORT=3330 and always stops all of it at the end.
# Environment: SCHEMA_MAX_EXAMPLES (25) per operation, ATTACK_DATA_DIR, CARGO.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
MAX_EXAMPLES="${SCHEMA_MAX_EXAMPLES:-25}"
API_PORT="${SCHEMA_API_PORT:-3330}"
export LOCAL_STATE_DIR="$ROOT/.local/schema"
export LOCAL_DDB_PORT="${SCHEMA_DDB_PORT:-8330}" LOCAL_S3_PORT="${SCHEMA_S3_PORT:-4896}"
export TABLE_NAME=sentineliq-mitre-schema BUCKET_NAME=sentineliq-mitre-schema
ATTACK_DATA_DIR="${ATTACK_DATA_DIR:-$ROOT/../shared/attack-data}"
ANALYST="arn:aws:iam::000000000000:user/schema-analyst"

die() { echo "test-schema: error: $*" >&2; exit 1; }
[[ "$MAX_EXAMPLES" =~ ^[1-9][0-9]*$ ]] || die "SCHEMA_MAX_EXAMPLES must be a positive integer"
BUNDLES=()
for pair in enterprise-attack:enterprise-attack-18.1 mobile-attack:mobile-attack-18.0 ics-attack:ics-attack-18.1; do
  f="$ATTACK_DATA_DIR/${pair#*:}.json.gz"
  [[ -f "$f" ]] || die "$f not found (ATTACK_DATA_DIR)"
  BUNDLES+=("${pair%%:*}:$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
done

echo "== tools"
infra/tools.sh dynamodb s3 schemathesis
"$CARGO" build -p mitre-cli
MITRE="$ROOT/target/debug/mitre"

SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  infra/local-down.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

infra/local-up.sh
# shellcheck disable=SC1091
source "$LOCAL_STATE_DIR/env"
for b in "${BUNDLES[@]}"; do
  "$MITRE" import --domain "${b%%:*}" --url "${b#*:}" --json | tail -n 1
done
"$MITRE" principal put "$ANALYST" --tenant acme --role analyst
"$MITRE" demo --tenant acme >/dev/null

(exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null && die "port $API_PORT is already in use; set SCHEMA_API_PORT"
"$MITRE" serve --port "$API_PORT" >"$LOCAL_STATE_DIR/serve.log" 2>&1 &
SERVER_PID=$!
deadline=$(( SECONDS + 30 ))
until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$API_PORT/"; do
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$LOCAL_STATE_DIR/serve.log" >&2; die "mitre serve exited"; }
  (( SECONDS < deadline )) || die "mitre serve did not answer on port $API_PORT within 30s"
  sleep 0.2
done

echo "== schemathesis $("$ROOT/.tools/schemathesis/bin/st" --version 2>/dev/null | tail -n 1), $MAX_EXAMPLES examples per operation"
"$ROOT/.tools/schemathesis/bin/st" run "http://127.0.0.1:$API_PORT/api/v1/mitre/openapi.json" \
  -H "x-dev-principal-arn: $ANALYST" \
  --checks all --exclude-checks ignored_auth,missing_required_header \
  --max-examples "$MAX_EXAMPLES" --seed 1 --workers 2 --continue-on-failure
