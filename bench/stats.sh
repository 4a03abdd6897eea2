#!/usr/bin/env bash
# Statistics read cost at 10,000 and 100,000 mappings (`make bench-stats`).
#
# Installs what is missing (the local stack's tools), builds target/perf/mitre, starts a local
# stack of its own (DynamoDB Local on BENCH_STATS_DDB_PORT=8310, moto S3 on
# BENCH_STATS_S3_PORT=4876, state in .local/bench-stats), imports enterprise ATT&CK 18.1 and
# runs `mitre bench-stats`: per size, a fresh tenant's mappings (one entity per ten mappings)
# written through the real write path (statistics kept in each write's transaction), then per
# statistics route the in-process p50/p99 and DynamoDB calls per read, beside a recount of the same data (a Query
# over every mapping, then the same computation) measured in the same run, and whether the
# kept counters equal the recount. The stack is always stopped at the end.
#
# Environment: BENCH_STATS_SIZES (10000,100000), BENCH_ITERATIONS (50), BENCH_RECOUNTS (3),
# ATTACK_DATA_DIR (../shared/attack-data), BENCH_STATS_DDB_PORT, BENCH_STATS_S3_PORT, CARGO.
# Output: a table, then one JSON line of every figure (the last line).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
SIZES="${BENCH_STATS_SIZES:-10000,100000}"
ITERATIONS="${BENCH_ITERATIONS:-50}"
RECOUNTS="${BENCH_RECOUNTS:-3}"
export LOCAL_DDB_PORT="${BENCH_STATS_DDB_PORT:-8310}" LOCAL_S3_PORT="${BENCH_STATS_S3_PORT:-4876}"
ATTACK_DATA_DIR="${ATTACK_DATA_DIR:-$ROOT/../shared/attack-data}"

die() { echo "bench-stats: error: $*" >&2; exit 1; }
[[ "$SIZES" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "BENCH_STATS_SIZES must be comma-separated integers, not '$SIZES'"
[[ "$ITERATIONS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ITERATIONS must be a positive integer"
[[ "$RECOUNTS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RECOUNTS must be a positive integer"
# shellcheck source=bench/stack.sh
source "$ROOT/bench/stack.sh"
bench_stack bench-stats
echo "== mitre bench-stats --sizes $SIZES --iterations $ITERATIONS --recounts $RECOUNTS"
"$MITRE" bench-stats --sizes "$SIZES" --iterations "$ITERATIONS" --recounts "$RECOUNTS" >"$WORK/out.json" || die "mitre bench-stats failed"

python3 - "$WORK/out.json" <<'PYEOF'
import json, sys
out = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print()
print(f"Statistics reads, {out['iterations']} warm reads per route (ms); recount = a Query over every mapping + the same computation, {out['recounts']} runs")
print(f"  {'mappings':>9} {'route':20} {'p50':>8} {'p99':>8} {'calls':>6} {'recount p50':>12} {'recount p99':>12} {'calls':>6} {'recount/ours':>13}")
for r in out["results"]:
    for route in ("techniques_top10", "techniques_quarter", "tactics", "kill_chain"):
        x = r[route]
        print(f"  {r['mappings']:>9} {route:20} {x['p50_ms']:8.2f} {x['p99_ms']:8.2f} {x['ddb_calls_per_read']:6.2f} {x['recount_p50_ms']:12.1f} {x['recount_p99_ms']:12.1f} {x['recount_ddb_calls']:6} {x['p50_ratio_recount_over_ours']:13.1f}")
    print(f"  {r['mappings']:>9} mappings ({r['entities']} entities) written in {r['write_seconds']} s; counters equal the recount: {r['counters_equal_recount']}")
print()
print(json.dumps(out))
PYEOF
