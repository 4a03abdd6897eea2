#!/usr/bin/env bash
# Technique-suggestion benchmark (`make bench-suggest`): checks the rule table and the labelled
# alerts (tests/data/suggest/check.py), then runs the in-process benchmark
# (shared/suggest/examples/bench.rs) on enterprise ATT&CK 18.1:
#   - leave one source out over Atomic Red Team tests, TRAM sentences, CAR analytics (from
#     $LABELLED_DATA_DIR, ../shared/labelled-data) and the project's labelled alerts: example
#     profiles and calibration learned without the held-out source, then top-1 and top-3
#     accuracy (exact and parent level) and auto-mapping precision, coverage and mappings per
#     item at the shipped threshold, with and without the rule table, beside plain BM25 on the
#     same texts; precision and coverage by threshold; the threshold chosen on the left-out
#     scores; the calibration fitted on all four (the constants the code ships);
#   - p50/p99 latency of a 2 KB alert with 10 observables; engine build time and memory;
#   - the review replay: an analyst confirms the right and rejects the wrong auto-mappings of one
#     half of a labelled set (the project's alerts, Atomic Red Team commands, TRAM sentences),
#     then the other half is enriched with and without that tenant's feedback.
#
# Environment: ATTACK_DATA_DIR (../shared/attack-data); LABELLED_DATA_DIR (../shared/labelled-data);
# CARGO (cargo).
# Output: the figures, then one JSON line (the last line).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
export ATTACK_DATA_DIR="${ATTACK_DATA_DIR:-$ROOT/../shared/attack-data}"

python3 tests/data/suggest/check.py
echo
"$CARGO" run --quiet --release -p mitre-suggest --example bench
