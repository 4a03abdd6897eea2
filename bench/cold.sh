#!/usr/bin/env bash
# Cold starts and peak RSS of the real `api` and `sync` binaries under the Lambda runtime API
# (part of `make bench`): builds them with the perf profile (host build), starts a local stack
# of its own (DynamoDB Local on BENCH_COLD_DDB_PORT=8330, S3 on BENCH_COLD_S3_PORT=4896, state
# in .local/bench-cold) and runs the integration test of tests/tests/integration/lambda_runtime.rs
# BENCH_COLD_RUNS (3) times with LAMBDA_BIN_DIR=target/perf. Each run prints both cold starts
# (process start to the first answer; the sync's includes a whole ICS 18.1 sync) and peak RSS;
# the figures are the medians of the runs. The stack is always stopped at the end.
#
# Environment: BENCH_COLD_RUNS (3), ATTACK_DATA_DIR (../shared/attack-data), BENCH_COLD_DDB_PORT,
# BENCH_COLD_S3_PORT, CARGO (cargo). Output: a table, then one JSON line (the last line).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
RUNS="${BENCH_COLD_RUNS:-3}"
TEST=integration::lambda_runtime::the_real_binaries_answer_lambda_events_like_the_router

export LOCAL_STATE_DIR="$ROOT/.local/bench-cold"
export LOCAL_DDB_PORT="${BENCH_COLD_DDB_PORT:-8330}" LOCAL_S3_PORT="${BENCH_COLD_S3_PORT:-4896}"
export TABLE_NAME=sentineliq-mitre-bench-cold BUCKET_NAME=sentineliq-mitre-bench-cold
export ATTACK_DATA_DIR="${ATTACK_DATA_DIR:-$ROOT/../shared/attack-data}"

die() { echo "bench-cold: error: $*" >&2; exit 1; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_COLD_RUNS must be a positive integer"
[[ -f "$ATTACK_DATA_DIR/ics-attack-18.1.json.gz" ]] || die "$ATTACK_DATA_DIR/ics-attack-18.1.json.gz not found (ATTACK_DATA_DIR)"
ATTACK_DATA_DIR="$(cd "$ATTACK_DATA_DIR" && pwd)"

echo "== tools"
infra/tools.sh dynamodb s3
echo "== build: api and sync (perf profile), the integration tests"
"$CARGO" build --profile perf --bin api --bin sync
for bin in api sync; do
  [[ -x "target/perf/$bin" ]] || die "target/perf/$bin was not built"
done
"$CARGO" test -p mitre-tests --test integration --no-run

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-cold.XXXXXX")"
trap 'infra/local-down.sh >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "== local stack (ports $LOCAL_DDB_PORT and $LOCAL_S3_PORT, state in .local/bench-cold)"
infra/local-up.sh
# shellcheck disable=SC1091
source "$LOCAL_STATE_DIR/env"

for (( i = 1; i <= RUNS; i++ )); do
  echo "== run $i of $RUNS"
  LAMBDA_BIN_DIR="$ROOT/target/perf" "$CARGO" test -p mitre-tests --test integration -- --nocapture --exact "$TEST" \
    2>&1 | tee "$WORK/run$i.log" || die "the cold-start test failed (run $i)"
  grep -o '{"cold_start".*' "$WORK/run$i.log" | tail -n 1 >>"$WORK/runs.jsonl" || die "run $i printed no cold_start line"
done

python3 - "$WORK/runs.jsonl" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = {"cold_start": {}, "binaries": "target/perf", "profile": "perf", "runs": len(runs)}
print()
print(f"Cold start (process start to first answer) and peak RSS, perf host build, median of {len(runs)} runs")
for name in ("api", "sync"):
    ms = [r["cold_start"][name]["ms"] for r in runs]
    rss = [r["cold_start"][name]["peak_rss_mib"] for r in runs]
    out["cold_start"][name] = {"ms": round(statistics.median(ms), 1), "peak_rss_mib": round(statistics.median(rss), 1),
                               "runs_ms": ms, "runs_peak_rss_mib": rss}
    print(f"  {name:5} {statistics.median(ms):8.1f} ms  (runs: {', '.join(f'{m:.1f}' for m in ms)})  peak RSS {statistics.median(rss):.1f} MiB")
print()
print(json.dumps(out))
PYEOF
