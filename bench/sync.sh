#!/usr/bin/env bash
# Sync benchmark of sentineliq-mitre against the naive boto3 loader (`make bench-sync`).
#
# Installs what is missing, builds target/perf/mitre, starts a local stack of its own
# (DynamoDB Local on BENCH_DDB_PORT=8200, moto S3 on BENCH_S3_PORT=4766, state in
# .local/bench), runs bench/bench_sync.py against it and always stops the stack.
#
# Environment: BENCH_ROUNDS (2) full-sync rounds of ours and of the naive loader,
# run alternately; ATTACK_DATA_DIR (../shared/attack-data); BENCH_NAIVE_LOADER
# (../shared/bench/naive_loader.py); BENCH_NAIVE_THREADS (8); CARGO (cargo).
#
# Exit status: 0 when every measurement ran, even if a goal is missed (the verdict
# lines say so); non-zero when a command failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"

export LOCAL_STATE_DIR="$ROOT/.local/bench"
export LOCAL_DDB_PORT="${BENCH_DDB_PORT:-8200}" LOCAL_S3_PORT="${BENCH_S3_PORT:-4766}"
# The stack's own table and bucket stay empty: every measurement makes fresh ones.
export TABLE_NAME=sentineliq-mitre-bench BUCKET_NAME=sentineliq-mitre-bench
ATTACK_DATA_DIR="${ATTACK_DATA_DIR:-$ROOT/../shared/attack-data}"
NAIVE="${BENCH_NAIVE_LOADER:-$ROOT/../shared/bench/naive_loader.py}"

die() { echo "bench-sync: error: $*" >&2; exit 1; }

for f in "$ATTACK_DATA_DIR/enterprise-attack-18.0.json.gz" "$ATTACK_DATA_DIR/enterprise-attack-18.1.json.gz" "$NAIVE"; do
  [[ -f "$f" ]] || die "$f not found (ATTACK_DATA_DIR / BENCH_NAIVE_LOADER)"
done
ATTACK_DATA_DIR="$(cd "$ATTACK_DATA_DIR" && pwd)"
NAIVE="$(cd "$(dirname "$NAIVE")" && pwd)/$(basename "$NAIVE")"

echo "== tools"
infra/tools.sh dynamodb s3

echo "== build (perf profile)"
"$CARGO" build --profile perf -p mitre-cli
[[ -x "$ROOT/target/perf/mitre" ]] || die "target/perf/mitre was not built"

echo "== local stack for the benchmark (ports $LOCAL_DDB_PORT and $LOCAL_S3_PORT, state in .local/bench)"
trap 'infra/local-down.sh >/dev/null 2>&1 || true' EXIT
# Interrupted: stop the stack (EXIT trap) and report the signal.
trap 'exit 130' INT
trap 'exit 143' TERM
infra/local-up.sh
# shellcheck disable=SC1091
source "$LOCAL_STATE_DIR/env"

echo "== benchmark"
"$ROOT/.tools/venv/bin/python" "$ROOT/bench/bench_sync.py" \
  --mitre "$ROOT/target/perf/mitre" \
  --data-dir "$ATTACK_DATA_DIR" \
  --naive "$NAIVE" \
  --rounds "${BENCH_ROUNDS:-2}" \
  --naive-threads "${BENCH_NAIVE_THREADS:-8}"
