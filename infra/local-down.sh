#!/usr/bin/env bash
# Stops the local sentineliq-mitre stack started by infra/local-up.sh: exactly
# the processes recorded in .local/*.pid. Harmless when nothing runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# LOCAL_STATE_DIR: where pid files, logs and env go (default .local; the tests use .local/test).
STATE="${LOCAL_STATE_DIR:-$ROOT/.local}"

# name -> command-line pattern, guarding against a recycled pid.
declare -A PATTERN=([dynamodb]=DynamoDBLocal.jar [s3]=moto_server)

stopped=0
shopt -s nullglob
for file in "$STATE"/*.pid; do
  name="$(basename "$file" .pid)"
  pid="$(cat "$file" 2>/dev/null || true)"
  pattern="${PATTERN[$name]:-}"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
     && { [[ -z "$pattern" ]] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"; }; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "local-down: $name (pid $pid) still alive after 10s, sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    echo "local-down: stopped $name (pid $pid)"
    stopped=$((stopped + 1))
  else
    echo "local-down: $name was not running"
  fi
  rm -f "$file"
done
rm -f "$STATE/env"
(( stopped > 0 )) || echo "local-down: nothing to stop"
