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
# Two kinds of failure are none, and one `filter_failure` hook (written below) drops them, each
# logged to .local/schema/dropped-failures.tsv and counted at the end (schemathesis prints the
# total as "Filtered"); every other failure counts:
# - A refusal for what only the server can judge: a cursor of another list, a technique or tactic
#   the synced release lacks, `from` after `to`, a stale If-Match, ... No schema can state these,
#   so the document lists them per operation in `x-judged-by-server` (where, name, status, why;
#   shared/api/src/openapi.rs). Dropped: a schema-valid request (ST202) refused with that status,
#   the error naming that value (400 invalid_parameter: details.parameter; 422 unprocessable:
#   details.field; 412 precondition_failed: If-Match); and a schema-violating one (ST201) refused
#   412 for a stale If-Match, a refusal all the same (the precondition is evaluated before the
#   body is read, RFC 9110 13.2.2).
# - A schemathesis 4.32.5 bug: it judges patterns with \p{L} and \p{N} by its own translation
#   (core/jsonschema/patterns.py: \p{L} becomes Latin letters a-zA-Z and U+00C0-U+024F, \p{N}
#   becomes 0-9), so it calls q=日本 or q=¼ a violation of the document's `[\p{L}\p{N}]` and
#   reports the API's 200 as "schema-violating request accepted" (ST201). Dropped: such an ST201
#   whose one broken component is a query pattern the value matches after all, as jsonschema_rs
#   reads the document's pattern.
#
# Workers: 2, or 1 where schemathesis's Python is CPython 3.11.0 to 3.11.7, which has the
# ast.parse race of CPython gh-106905 (fixed in 3.11.8). There two worker threads can be in
# ast.parse at once (Hypothesis parses schemathesis's source to describe the lambdas of a strategy
# it validates); a garbage collection inside one lets the other thread run, both move the
# interpreter-wide AST recursion counter, and ast.parse raises "SystemError: AST constructor
# recursion depth mismatch", which schemathesis reports as a Runtime Error (Hypothesis:
# FlakyFailure) of whichever operation was generating. Not the API's doing, and never with one
# thread. (From 3.12 the collector runs only between bytecodes, so it cannot switch threads there.)
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

ST="$ROOT/.tools/schemathesis/bin/st"
WORKERS=2
if "$ROOT/.tools/schemathesis/bin/python" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:3] < (3, 11, 8) else 1)'; then
  WORKERS=1
fi
HOOKS="$LOCAL_STATE_DIR/schemathesis_hooks.py"
cat >"$HOOKS" <<'PY'
"""Written by infra/schemathesis.sh: the failures that are none (see the script's header)."""
import json
import os
import re

import jsonschema_rs
import schemathesis

# The error a refusal of a judged value carries: where the value is, and how the error names it.
NAMED = {
    400: ("query", "invalid_parameter", lambda details: details.get("parameter")),
    422: ("body", "unprocessable", lambda details: details.get("field")),
    412: ("header", "precondition_failed", lambda details: "If-Match"),
}
# The one component a negative case broke, as schemathesis describes it.
QUERY_PATTERN = re.compile(r"\nInvalid component: parameter `([^`]+)` in query - violates `pattern`")


def dropped(failure, case, why):
    with open(os.environ["DROPPED_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{case.operation.label}\t{failure.code} {why}\n")
    return False


def judged_refusal(failure, case, response):
    """A refusal for a value the operation's x-judged-by-server lists, as its error names it."""
    if response.status_code not in NAMED or (failure.code == "ST201" and response.status_code != 412):
        return None
    raw = case.operation.definition.raw
    judged = raw.get("x-judged-by-server", []) if isinstance(raw, dict) else []
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        return None
    where, code, name_of = NAMED[response.status_code]
    if not isinstance(error, dict) or error.get("code") != code:
        return None
    details = error.get("details")
    name = name_of(details if isinstance(details, dict) else {})
    if any(j.get("in") == where and j.get("name") == name and j.get("status") == response.status_code for j in judged):
        return f"{response.status_code} {code} {where} {name}\t{error.get('message')}"
    return None


def pattern_matched_after_all(failure, case):
    """A query value schemathesis calls pattern-violating that the document's own pattern matches."""
    found = QUERY_PATTERN.search(failure.message)
    if failure.code != "ST201" or found is None or "\n  - " in failure.message:
        return None
    name = found.group(1)
    value = (case.query or {}).get(name)
    raw = case.operation.definition.raw
    declared = [p for p in raw.get("parameters", []) if p.get("in") == "query" and p.get("name") == name]
    pattern = declared[0].get("schema", {}).get("pattern") if declared else None
    if isinstance(value, str) and pattern and jsonschema_rs.Draft202012Validator({"pattern": pattern}).is_valid(value):
        return f"schemathesis-pattern query {name}\t{value!r} matches {pattern}"
    return None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keep every failure but the two kinds the script's header describes."""
    if failure.code not in ("ST201", "ST202"):
        return True
    why = judged_refusal(failure, case, response) or pattern_matched_after_all(failure, case)
    return True if why is None else dropped(failure, case, why)
PY

export DROPPED_LOG="$LOCAL_STATE_DIR/dropped-failures.tsv"
: >"$DROPPED_LOG"

echo "== schemathesis $("$ST" --version 2>/dev/null | tail -n 1), $MAX_EXAMPLES examples per operation, $WORKERS worker(s)"
status=0
SCHEMATHESIS_HOOKS="$HOOKS" "$ST" run "http://127.0.0.1:$API_PORT/api/v1/mitre/openapi.json" \
  -H "x-dev-principal-arn: $ANALYST" \
  --checks all --exclude-checks ignored_auth,missing_required_header \
  --max-examples "$MAX_EXAMPLES" --seed 1 --workers "$WORKERS" --continue-on-failure || status=$?
echo "== failures that are none, dropped by the hook (each in $DROPPED_LOG)"
cut -f 2 "$DROPPED_LOG" | sort | uniq -c | sort -rn
exit "$status"
