#!/usr/bin/env bash
# Starts the local sentineliq-mitre stack: DynamoDB Local (in memory) and an S3
# emulator (moto), then creates the table and the bucket and writes .local/env.
# Running it again while the stack is up is harmless.
#
# Environment: LOCAL_DDB_PORT (8000), LOCAL_S3_PORT (4566), TABLE_NAME
# (sentineliq-mitre), BUCKET_NAME (sentineliq-mitre-local), LOCAL_UP_TIMEOUT (60).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# LOCAL_STATE_DIR: where pid files, logs and env go (default .local; the tests use .local/test).
STATE="${LOCAL_STATE_DIR:-$ROOT/.local}"
LOCAL_DDB_PORT="${LOCAL_DDB_PORT:-8000}"
LOCAL_S3_PORT="${LOCAL_S3_PORT:-4566}"
TABLE_NAME="${TABLE_NAME:-sentineliq-mitre}"
BUCKET_NAME="${BUCKET_NAME:-sentineliq-mitre-local}"
LOCAL_UP_TIMEOUT="${LOCAL_UP_TIMEOUT:-60}"
REGION="us-east-1"
PY="$ROOT/.tools/venv/bin/python"

die() { echo "local-up: error: $*" >&2; exit 1; }

for p in "$LOCAL_DDB_PORT" "$LOCAL_S3_PORT"; do
  [[ "$p" =~ ^[0-9]+$ ]] && (( p > 0 && p < 65536 )) || die "invalid port '$p'"
done
[[ "$LOCAL_DDB_PORT" != "$LOCAL_S3_PORT" ]] || die "LOCAL_DDB_PORT and LOCAL_S3_PORT must differ"
command -v java >/dev/null 2>&1 || die "java not found on PATH: DynamoDB Local needs a Java runtime (17 or later)"

"$ROOT/infra/tools.sh" dynamodb s3
JAR_DIR="$("$ROOT/infra/tools.sh" jar-dir)"
mkdir -p "$STATE"

# answers PORT: true when an HTTP server answers on 127.0.0.1:PORT (any status).
answers() {
  "$PY" - "$1" <<'PYEOF' >/dev/null 2>&1
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2)
except urllib.error.HTTPError:
    pass
PYEOF
}

# port_busy PORT: true when anything accepts TCP connections on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# our_pid NAME PATTERN: prints the pid recorded in .local/NAME.pid when that
# process is alive and its command line matches PATTERN; drops stale pid files.
our_pid() {
  local file="$STATE/$1.pid" pid
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
     && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"; then
    echo "$pid"; return 0
  fi
  rm -f "$file"; return 1
}

# start NAME PATTERN PORT CMD...: starts CMD in the background unless already running.
start() {
  local name="$1" pattern="$2" port="$3"; shift 3
  local pid
  if pid="$(our_pid "$name" "$pattern")"; then
    echo "local-up: $name already running (pid $pid, port $port)"
    return 0
  fi
  port_busy "$port" && die "port $port is already in use by another process (not started by this script); free it or set a different port (LOCAL_DDB_PORT / LOCAL_S3_PORT)"
  # exec in the subshell: the recorded pid is the server process itself.
  ( cd "$STATE" && exec nohup "$@" </dev/null >"$STATE/$name.log" 2>&1 ) &
  echo "$!" >"$STATE/$name.pid"
  echo "local-up: started $name (pid $!, port $port, log $STATE/$name.log)"
}

# Check both ports before starting anything.
our_pid dynamodb DynamoDBLocal.jar >/dev/null || ! port_busy "$LOCAL_DDB_PORT" \
  || die "port $LOCAL_DDB_PORT (LOCAL_DDB_PORT) is already in use by another process (not started by this script)"
our_pid s3 moto_server >/dev/null || ! port_busy "$LOCAL_S3_PORT" \
  || die "port $LOCAL_S3_PORT (LOCAL_S3_PORT) is already in use by another process (not started by this script)"

# DynamoDB Local has no bind-address option: it listens on all interfaces.
start dynamodb DynamoDBLocal.jar "$LOCAL_DDB_PORT" \
  java -Djava.library.path="$JAR_DIR/DynamoDBLocal_lib" -jar "$JAR_DIR/DynamoDBLocal.jar" \
  -inMemory -sharedDb -disableTelemetry -port "$LOCAL_DDB_PORT"
start s3 moto_server "$LOCAL_S3_PORT" \
  "$ROOT/.tools/venv/bin/moto_server" -H 127.0.0.1 -p "$LOCAL_S3_PORT"

# Wait (bounded) until both answer.
deadline=$(( SECONDS + LOCAL_UP_TIMEOUT ))
for svc in "dynamodb DynamoDBLocal.jar $LOCAL_DDB_PORT" "s3 moto_server $LOCAL_S3_PORT"; do
  read -r name pattern port <<<"$svc"
  until answers "$port"; do
    if ! our_pid "$name" "$pattern" >/dev/null; then
      tail -n 20 "$STATE/$name.log" >&2 2>/dev/null || true
      die "$name exited during startup (see $STATE/$name.log)"
    fi
    (( SECONDS < deadline )) || die "$name did not answer on port $port within ${LOCAL_UP_TIMEOUT}s (see $STATE/$name.log)"
    sleep 0.5
  done
done

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$LOCAL_DDB_PORT"
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$LOCAL_S3_PORT"
# the same server emulates SQS and EventBridge (the module's events)
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$LOCAL_S3_PORT"
export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$LOCAL_S3_PORT"
export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"
export AWS_ACCESS_KEY_ID="local" AWS_SECRET_ACCESS_KEY="local"
export TABLE_NAME BUCKET_NAME
"$PY" "$ROOT/infra/local_init.py"

{
  echo "# sentineliq-mitre local stack (written by infra/local-up.sh); source this file."
  for var in AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_EVENTBRIDGE AWS_REGION AWS_DEFAULT_REGION \
             AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY TABLE_NAME BUCKET_NAME LOCAL_DDB_PORT LOCAL_S3_PORT; do
    printf 'export %s=%q\n' "$var" "${!var}"
  done
} >"$STATE/env.tmp"
mv "$STATE/env.tmp" "$STATE/env"

cat <<SUMMARY
local-up: ready
  DynamoDB Local  $AWS_ENDPOINT_URL_DYNAMODB  (pid $(cat "$STATE/dynamodb.pid"), in memory; listens on all interfaces)
  S3 (moto)       $AWS_ENDPOINT_URL_S3  (pid $(cat "$STATE/s3.pid"), 127.0.0.1 only)
  table $TABLE_NAME, bucket $BUCKET_NAME
  environment: source $STATE/env     stop: infra/local-down.sh
SUMMARY
