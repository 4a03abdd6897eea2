#!/usr/bin/env bash
# Technique-inference benchmark (`make bench-infer`): runs the in-process benchmark
# (shared/views/examples/bench_infer.rs) on the ATT&CK releases of ATTACK_DATA_DIR:
#   - leave one campaign out on enterprise 18.1: for every live campaign with at least four
#     techniques and seeds 1 to 5, half its techniques hidden, the rest observed, the model
#     built without the campaign and without the direct uses of the groups it is attributed to;
#     recall@10, recall@20 and NDCG@20 of the model, of popularity and of plain co-occurrence,
#     a few variants of the model's weights, and the model with a simulated tenant history
#     (the other intrusion reports ATT&CK cites; the reports of every procedure; the other
#     campaigns);
#   - the same, shorter, on enterprise 17.1, mobile 18.0 and ICS 18.1 when present;
#   - ProcedureSets::of build time, p50/p99 of `infer` with 20 observed techniques alone and
#     with a 4,000-entity tenant history, and that history's encoded size.
#
# Environment: ATTACK_DATA_DIR (../shared/attack-data); CARGO (cargo).
# Output: the figures, then one JSON line (the last line).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
export ATTACK_DATA_DIR="${ATTACK_DATA_DIR:-$ROOT/../shared/attack-data}"

"$CARGO" run --quiet --release -p mitre-views --example bench_infer
