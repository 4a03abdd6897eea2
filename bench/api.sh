#!/usr/bin/env bash
# API latency benchmark of sentineliq-mitre against mitreattack-python, MITRE's own
# library (`make bench-api`).
#
# Installs what is missing (the local stack's tools; mitreattack-python in .tools/peer, pinned
# in infra/tools.sh),
# builds target/perf/mitre, starts a local stack of its own (DynamoDB Local on
# BENCH_API_DDB_PORT=8300, moto S3 on BENCH_API_S3_PORT=4866, state in .local/bench-api),
# imports enterprise ATT&CK 18.1 into it and then measures:
#   ours   `mitre bench-api`: cold load, then p50/p99 of GET techniques/T1059.001,
#          techniques?tactic=credential-access&limit=500 and techniques?q=powershell&limit=50,
#          in process, against the synced store;
#   peer   ../shared/bench/peer_mitreattack.py (load seconds, peak RSS) and
#          bench/peer_queries.py (the same three queries through the library).
# It also serves the API (`mitre serve` on BENCH_API_PORT=3300) to count what the three
# queries return and checks those counts against the library's. The stack and the server
# are always stopped at the end.
#
# Environment: BENCH_ITERATIONS (200) timed iterations per query, ours and the peer's;
# ATTACK_DATA_DIR (../shared/attack-data); BENCH_PEER (../shared/bench/peer_mitreattack.py);
# BENCH_API_DDB_PORT, BENCH_API_S3_PORT, BENCH_API_PORT; CARGO (cargo).
#
# Output: a table, then one JSON line of every figure (the last line).
# Exit status: 0 when every measurement ran, even when we lose a comparison or a count
# disagrees (the table says so); non-zero when a command failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
ITERATIONS="${BENCH_ITERATIONS:-200}"
API_PORT="${BENCH_API_PORT:-3300}"

export LOCAL_STATE_DIR="$ROOT/.local/bench-api"
export LOCAL_DDB_PORT="${BENCH_API_DDB_PORT:-8300}" LOCAL_S3_PORT="${BENCH_API_S3_PORT:-4866}"
export TABLE_NAME=sentineliq-mitre-bench-api BUCKET_NAME=sentineliq-mitre-bench-api
ATTACK_DATA_DIR="${ATTACK_DATA_DIR:-$ROOT/../shared/attack-data}"
PEER="${BENCH_PEER:-$ROOT/../shared/bench/peer_mitreattack.py}"
PEER_PY="$ROOT/.tools/peer/bin/python"
PRINCIPAL="arn:aws:iam::000000000000:user/bench"

die() { echo "bench-api: error: $*" >&2; exit 1; }

[[ "$ITERATIONS" =~ ^[0-9]+$ ]] && (( ITERATIONS > 0 )) || die "BENCH_ITERATIONS must be a positive integer, not '$ITERATIONS'"
[[ "$API_PORT" =~ ^[0-9]+$ ]] && (( API_PORT > 0 && API_PORT < 65536 )) || die "invalid BENCH_API_PORT '$API_PORT'"
BUNDLE="$ATTACK_DATA_DIR/enterprise-attack-18.1.json.gz"
for f in "$BUNDLE" "$PEER"; do
  [[ -f "$f" ]] || die "$f not found (ATTACK_DATA_DIR / BENCH_PEER)"
done
BUNDLE="$(cd "$(dirname "$BUNDLE")" && pwd)/$(basename "$BUNDLE")"
PEER="$(cd "$(dirname "$PEER")" && pwd)/$(basename "$PEER")"
for cmd in curl python3; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd is required"
done

echo "== tools"
infra/tools.sh dynamodb s3 peer
PEER_VERSION="$("$PEER_PY" -c 'from importlib import metadata; print(metadata.version("mitreattack-python"))')" \
  || die "mitreattack-python is not installed in .tools/peer"

echo "== build (perf profile)"
"$CARGO" build --profile perf -p mitre-cli
MITRE="$ROOT/target/perf/mitre"
[[ -x "$MITRE" ]] || die "target/perf/mitre was not built"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-api.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  infra/local-down.sh >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# Interrupted: clean up (EXIT trap) and report the signal.
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== local stack for the benchmark (ports $LOCAL_DDB_PORT and $LOCAL_S3_PORT, state in .local/bench-api)"
infra/local-up.sh
# shellcheck disable=SC1091
source "$LOCAL_STATE_DIR/env"

echo "== import enterprise-attack 18.1"
"$MITRE" import --url "$BUNDLE" --json >"$WORK/import.json" || die "mitre import failed"
tail -n 1 "$WORK/import.json"

echo "== ours: mitre bench-api --iterations $ITERATIONS"
"$MITRE" bench-api --iterations "$ITERATIONS" >"$WORK/ours.json" || die "mitre bench-api failed"
tail -n 1 "$WORK/ours.json"

echo "== result counts through the served API (port $API_PORT)"
(exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null && die "port $API_PORT is already in use; set BENCH_API_PORT"
MITRE_SUPERUSERS="$PRINCIPAL" "$MITRE" serve --port "$API_PORT" >"$LOCAL_STATE_DIR/serve.log" 2>&1 &
SERVER_PID=$!
api() {
  curl -sS --fail-with-body --max-time 30 -H "x-dev-principal-arn: $PRINCIPAL" "http://127.0.0.1:$API_PORT/api/v1/mitre/$1"
}
deadline=$(( SECONDS + 30 ))
until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$API_PORT/"; do
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$LOCAL_STATE_DIR/serve.log" >&2; die "mitre serve exited (see $LOCAL_STATE_DIR/serve.log)"; }
  (( SECONDS < deadline )) || die "mitre serve did not answer on port $API_PORT within 30s"
  sleep 0.2
done
api "techniques/T1059.001" >"$WORK/detail.json" || die "GET techniques/T1059.001 failed: $(cat "$WORK/detail.json")"
api "techniques?tactic=credential-access&limit=500" >"$WORK/tactic.json" || die "GET techniques?tactic=credential-access failed: $(cat "$WORK/tactic.json")"
api "techniques?q=powershell&limit=500" >"$WORK/search.json" || die "GET techniques?q=powershell failed: $(cat "$WORK/search.json")"
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

echo "== peer: $(basename "$PEER") (mitreattack-python $PEER_VERSION)"
"$PEER_PY" "$PEER" "$BUNDLE" >"$WORK/peer.json" || die "$PEER failed"
tail -n 1 "$WORK/peer.json"

echo "== peer: bench/peer_queries.py --iterations $ITERATIONS"
"$PEER_PY" "$ROOT/bench/peer_queries.py" "$BUNDLE" --iterations "$ITERATIONS" >"$WORK/peer_queries.json" \
  || die "bench/peer_queries.py failed"
tail -n 1 "$WORK/peer_queries.json"

echo
python3 - "$WORK" "$ITERATIONS" <<'PYEOF'
import json, sys
from pathlib import Path

work, iterations = Path(sys.argv[1]), int(sys.argv[2])
last = lambda name: json.loads((work / name).read_text().strip().splitlines()[-1])
load = lambda name: json.loads((work / name).read_text())
ours, peer, pq = last("ours.json"), last("peer.json"), last("peer_queries.json")
detail, tactic, search = load("detail.json"), load("tactic.json"), load("search.json")

def ratio(a, b):
    return float(f"{a / b:.3g}") if b else None

def rfmt(r):
    return "n/a" if r is None else f"{r:.3g}"

queries = [
    ("technique_detail", "GET techniques/T1059.001 (detail)"),
    ("techniques_by_tactic", "GET techniques?tactic=credential-access"),
    ("search_powershell", "GET techniques?q=powershell"),
]
print(f"API latency, {iterations} warm iterations per query (ms; ratio = ours / peer, lower is better)")
print(f"  {'query':42} {'ours p50':>9} {'ours p99':>9} {'peer p50':>9} {'peer p99':>9} {'p50 ratio':>10} {'p99 ratio':>10}")
latency = {}
for key, label in queries:
    o, p = ours[key], pq[key]
    r50, r99 = ratio(o["p50_ms"], p["p50_ms"]), ratio(o["p99_ms"], p["p99_ms"])
    latency[key] = {"ours_p50_ms": o["p50_ms"], "ours_p99_ms": o["p99_ms"], "peer_p50_ms": p["p50_ms"],
                    "peer_p99_ms": p["p99_ms"], "peer_first_call_ms": p["first_call_ms"],
                    "p50_ratio": r50, "p99_ratio": r99, "ours_ddb_calls": o["ddb_calls"]}
    print(f"  {label:42} {o['p50_ms']:9.3f} {o['p99_ms']:9.3f} {p['p50_ms']:9.3f} {p['p99_ms']:9.3f} {rfmt(r50):>10} {rfmt(r99):>10}")
print("  peer first calls (relationship maps built and cached on the first call): "
      + ", ".join(f"{k} {pq[k]['first_call_ms']:.1f} ms" for k, _ in queries))
print(f"  peer search: {pq['search_function']} (case-insensitive substring of descriptions)")

print()
print("Load and memory")
print(f"  ours  cold load (catalog from DynamoDB/S3 + first detail request): {ours['cold_load_seconds']:.4f} s, "
      f"+{ours['cold_load_rss_mb']} MB RSS; process RSS after the run {ours['rss_mb']} MB")
print(f"  peer  MitreAttackData load: {peer['load_seconds']} s (peer_mitreattack.py), {pq['load_seconds']} s (peer_queries.py); "
      f"peak RSS {peer['peak_rss_mb']} MB / {pq['peak_rss_mb']} MB")
peer_cold = round(pq["load_seconds"] + pq["technique_detail"]["first_call_ms"] / 1e3, 3)
print(f"  peer  load + first detail query: {peer_cold} s   ratio ours/peer: cold {ratio(ours['cold_load_seconds'], peer_cold)}, "
      f"RSS {ratio(ours['rss_mb'], pq['peak_rss_mb'])}")

print()
requests = iterations * len(queries)
warm_calls = sum(ours[k]["ddb_calls"] for k, _ in queries)
print(f"DynamoDB calls: first request {ours['first_request_ddb_calls']}; warm {warm_calls} over {requests} requests "
      f"= {warm_calls / requests:g} per request (expected 0)")

# Counts: ours through the served API, the peer's through the library.
pc = pq["counts"]
def total(page):
    if page.get("next_cursor"):
        raise SystemExit("bench-api: a count query returned more than one page")
    return len(page["items"])
checks = [("credential-access techniques", total(tactic), pc["credential_access"], peer["credential_access"])]
for key in ("subtechniques", "mitigations", "groups", "software", "campaigns", "detection_strategies"):
    # groups as the library credits them (directly and through attributed campaigns), as ours do
    peer_key = f"t1059_001_{key}" if key == "groups" else f"t1059_001_{key}_direct_active"
    checks.append((f"T1059.001 {key.replace('_', ' ')}", len(detail[key]), pc[peer_key], None))
checks.append(("q=powershell techniques (name or description)", total(search),
               pc["search_powershell_name_or_description"], None))
print()
print("Result counts (peer: active objects with a direct, active relationship; as the library returns them in brackets)")
count_rows, disagreements = [], []
for label, o, p, p2 in checks:
    agree = o == p and (p2 is None or p2 == p)
    extra = ""
    if label.startswith("T1059.001"):
        raw = pc[f"t1059_001_{label.split(' ', 1)[1].replace(' ', '_')}"]
        extra = f" [{raw}]" if raw != p else ""
    elif label.startswith("credential"):
        extra = f" [peer_mitreattack.py {p2}]"
    elif label.startswith("q="):
        extra = f" [description only: {pc['search_powershell_description']}]"
    print(f"  {label:48} ours {o:4}  peer {p:4}{extra:32} {'agree' if agree else 'DISAGREE'}")
    count_rows.append({"count": label, "ours": o, "peer": p, "agree": agree})
    if not agree:
        disagreements.append(label)
if peer["t1059_001_groups"] != pc["t1059_001_groups"] or peer["t1059_001_mitigations"] != pc["t1059_001_mitigations"]:
    print(f"  note: peer_mitreattack.py counts T1059.001 groups {peer['t1059_001_groups']}, mitigations {peer['t1059_001_mitigations']}")
print(f"  {'all comparable counts agree' if not disagreements else 'disagreements: ' + ', '.join(disagreements)}")

print()
print(json.dumps({
    "iterations": iterations,
    "ours": ours,
    "peer": {"library": pq["library"], "version": pq["version"], "peer_mitreattack": peer, "queries": pq},
    "latency": latency,
    "cold": {"ours_cold_load_seconds": ours["cold_load_seconds"], "peer_load_seconds": pq["load_seconds"],
             "peer_load_plus_first_detail_seconds": peer_cold, "ours_rss_mb": ours["rss_mb"],
             "ours_cold_load_rss_mb": ours["cold_load_rss_mb"], "peer_peak_rss_mb": pq["peak_rss_mb"]},
    "ddb_calls_per_warm_request": warm_calls / requests,
    "counts": count_rows,
    "counts_agree": not disagreements,
}))
PYEOF
