#!/usr/bin/env bash
# Every benchmark, then one report (`make bench`): the Lambda bootstraps' build and sizes
# (infra/build-lambdas.sh), sync (bench/sync.sh), API (bench/api.sh), statistics
# (bench/stats.sh), views (bench/views.sh), suggestions (bench/suggest.sh), technique inference
# (bench/infer.sh), events (bench/events.sh) and cold starts (bench/cold.sh), in that order. Each step's whole output goes
# to target/bench/<step>.log (and the terminal), its last line, the JSON of its figures, to
# target/bench/<step>.json, its exit
# code and time to target/bench/<step>.status. A failed step is recorded and the others still
# run. Then `mitre bench-report target/bench` writes target/bench/report.md and report.png.
#
# Environment: BENCH_ONLY (all) a comma-separated subset of build,sync,api,stats,views,suggest,infer,events,cold
# (the report also uses the JSON left by earlier runs of the others); BENCH_STATS_SIZES (10000
# here: the 100,000 size takes about 45 minutes); BENCH_DIR (target/bench); CARGO (cargo); and
# each benchmark's own variables.
#
# Exit status: 0 when every step that ran succeeded, 1 when one failed (after the report).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
OUT="${BENCH_DIR:-target/bench}"
export BENCH_STATS_SIZES="${BENCH_STATS_SIZES:-10000}"

STEPS=(build sync api stats views suggest infer events cold)
declare -A COMMAND=(
  [build]=infra/build-lambdas.sh [sync]=bench/sync.sh [api]=bench/api.sh [stats]=bench/stats.sh
  [views]=bench/views.sh [suggest]=bench/suggest.sh [infer]=bench/infer.sh [events]=bench/events.sh [cold]=bench/cold.sh
)

die() { echo "bench: error: $*" >&2; exit 2; }

ONLY=",${BENCH_ONLY:-$(IFS=,; echo "${STEPS[*]}")},"
BENCH_ONLY="${BENCH_ONLY:-}"
for s in ${BENCH_ONLY//,/ }; do
  [[ -n "${COMMAND[$s]:-}" ]] || die "unknown step '$s' in BENCH_ONLY (steps: ${STEPS[*]})"
done
mkdir -p "$OUT"

# Interrupted: stop here (each benchmark stops its own stack).
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

failed=()
ran=()
for step in "${STEPS[@]}"; do
  [[ "$ONLY" == *",$step,"* ]] || continue
  log="$OUT/$step.log"
  rm -f "$OUT/$step.json" "$OUT/$step.status"
  echo "== bench: $step (${COMMAND[$step]}; log $log)"
  started=$SECONDS
  "${COMMAND[$step]}" </dev/null 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  seconds=$(( SECONDS - started ))
  printf '{"step": "%s", "command": "%s", "exit": %d, "seconds": %d}\n' "$step" "${COMMAND[$step]}" "$code" "$seconds" >"$OUT/$step.status"
  last="$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)"
  if (( code == 0 )) && python3 -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(0 if isinstance(d, dict) else 1)' "$last" 2>/dev/null; then
    printf '%s\n' "$last" >"$OUT/$step.json"
    echo "== bench: $step done in ${seconds} s"
  else
    (( code != 0 )) || { code=1; printf '{"step": "%s", "command": "%s", "exit": 1, "seconds": %d, "error": "no JSON last line"}\n' "$step" "${COMMAND[$step]}" "$seconds" >"$OUT/$step.status"; }
    echo "== bench: $step FAILED (exit $code, ${seconds} s; see $log)" >&2
    failed+=("$step")
  fi
  ran+=("$step")
done

echo "== bench: report"
"$CARGO" build --profile perf -p mitre-cli || die "building target/perf/mitre failed"
target/perf/mitre bench-report "$OUT" || die "mitre bench-report failed"
echo "bench: ran ${ran[*]:-nothing}; report in $OUT/report.md, chart in $OUT/report.png"
if (( ${#failed[@]} )); then
  echo "bench: failed: ${failed[*]} (logs in $OUT/<step>.log)" >&2
  exit 1
fi
