#!/usr/bin/env bash
# Technique-suggestion benchmark (`make bench-suggest`): checks the rule table and the labelled
# alerts (tests/data/suggest/check.py), then runs the in-process benchmark
# (shared/suggest/examples/bench.rs) on enterprise ATT&CK 18.1:
#   - top-1 and top-3 accuracy (exact technique and parent level) and the precision and
#     coverage of auto-mapping at the chosen threshold, for the engine and for a plain BM25
#     ranking of technique names and descriptions, in-sample (the shipped constants), with a
#     two-fold split (odd/even ids) and leave-one-out;
#   - the same without the rule table (how much the catalog-derived signals carry alone);
#   - p50/p99 latency of a 2 KB alert with 10 observables; engine build time and memory;
#   - unseen sources: the same measures on public labelled sets the engine was never fitted on
#     (Atomic Red Team commands, TRAM sentences, MITRE CAR analytics), beside BM25;
#   - the review replay: an analyst confirms the right and rejects the wrong auto-mappings of one
#     half of a labelled set (the project's alerts, Atomic Red Team commands, TRAM sentences),
#     then the other half is enriched with and without that tenant's feedback.
#
# Environment: ATTACK_DATA_DIR (../shared/attack-data); CARGO (cargo).
# Output: the figures, then one JSON line (the last line).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
export ATTACK_DATA_DIR="${ATTACK_DATA_DIR:-$ROOT/../shared/attack-data}"

python3 tests/data/suggest/check.py
echo
"$CARGO" run --quiet --release -p mitre-suggest --example bench
