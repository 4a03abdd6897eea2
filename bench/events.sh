#!/usr/bin/env bash
# Events benchmark (`make bench-events`): enrichment through the events queue beside the same
# alerts through `POST alerts/{id}/enrich` one by one, on a local stack of its own (DynamoDB
# Local on BENCH_EVENTS_DDB_PORT=8340, the S3/SQS/EventBridge server on BENCH_EVENTS_S3_PORT=4906,
# state in .local/bench-events) with enterprise ATT&CK 18.1 imported. The alerts are the
# project's 288 labelled alerts (tests/data/suggest/labelled.jsonl). Runs `mitre bench-events`
# (cli/src/bench_events.rs): HTTP one by one first, then the queue drained by
# BENCH_EVENTS_POLLERS (5) pollers handing batches of 10 to the consumer, then the alerts again
# at a steady half of that rate while the publisher reads the table's stream. Prints alerts a
# second and capacity units per alert of both paths, the end-to-end latency of the paced run
# (event put to first mapping, p50/p99) and the publisher's lag (commit to PutEvents, p50/p99).
# Goal: the queue at least 3 times the throughput of one-by-one HTTP enrichment. The stack is
# always stopped.
#
# Environment: BENCH_EVENTS_POLLERS, ATTACK_DATA_DIR, BENCH_EVENTS_DDB_PORT,
# BENCH_EVENTS_S3_PORT, CARGO. Output: a table, then one JSON line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
POLLERS="${BENCH_EVENTS_POLLERS:-5}"
export LOCAL_DDB_PORT="${BENCH_EVENTS_DDB_PORT:-8340}" LOCAL_S3_PORT="${BENCH_EVENTS_S3_PORT:-4906}"
ATTACK_DATA_DIR="${ATTACK_DATA_DIR:-$ROOT/../shared/attack-data}"

die() { echo "bench-events: error: $*" >&2; exit 1; }
[[ "$POLLERS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_EVENTS_POLLERS must be a positive integer"
# shellcheck source=bench/stack.sh
source "$ROOT/bench/stack.sh"
bench_stack bench-events
echo "== mitre bench-events --pollers $POLLERS"
"$MITRE" bench-events --pollers "$POLLERS" >"$WORK/out.json" || die "mitre bench-events failed"

python3 - "$WORK/out.json" <<'PYEOF'
import json, sys
o = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
h, q, pc, p = o["http"], o["queue"], o["paced"], o["publisher"]
print()
print(f"{o['alerts']} labelled alerts, enriched on DynamoDB Local (2 cores shared by everything)")
print(f"  {'path':34} {'alerts/s':>9} {'capacity/alert':>15} {'mappings':>9}")
print(f"  {'POST enrich, one by one (HTTP)':34} {h['alerts_per_s']:9.1f} {h['capacity_per_alert']:15.2f} {h['mappings']:9}")
print(f"  {'events queue drained, ' + str(o['pollers']) + ' pollers':34} {q['alerts_per_s']:9.1f} {q['capacity_per_alert']:15.2f} {q['mappings']:9}")
print(f"  queue / HTTP: {o['ratio']:.2f}x  (goal >= 3x: {'met' if o['ratio'] >= 3 else 'MISSED'})")
print(f"  paced at {pc['alerts_per_s']:.1f} alerts/s with the publisher running:")
print(f"  end to end, event put to first mapping: p50 {pc['e2e_p50_ms']:.0f} ms, p99 {pc['e2e_p99_ms']:.0f} ms ({pc['alerts_mapped']} alerts mapped)")
print(f"  publisher lag, commit to PutEvents: p50 {p['lag_p50_ms']:.0f} ms, p99 {p['lag_p99_ms']:.0f} ms over {p['events']} events")
print()
print(json.dumps(o))
PYEOF
