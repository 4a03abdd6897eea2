#!/usr/bin/env bash
# Fuzzing (`make fuzz`): cargo-fuzz (pinned below, installed into .tools/fuzz) runs each target of
# fuzz/ with the nightly toolchain for FUZZ_SECONDS (60) each:
#   stix_bundle   the STIX parser and the catalog built from it (any bytes, each domain)
#   api_request   the whole router: paths, query parameters, bodies, cursors, If-Match (no 500)
#   suggest       the suggestion engine on any text and observables
# Corpora grow in .local/fuzz/<target> from the seeds in fuzz/seeds/<target>; a crash stops the
# run with its input in fuzz/artifacts/<target>/ (reproduce: infra/fuzz.sh repro TARGET FILE),
# and each one found becomes a regression test before it is fixed.
# Usage: infra/fuzz.sh [TARGET...] | infra/fuzz.sh repro TARGET FILE
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO_FUZZ_VERSION="0.13.2"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
TARGETS=(stix_bundle api_request suggest)

die() { echo "fuzz: error: $*" >&2; exit 1; }
[[ "$SECONDS_EACH" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SECONDS must be a positive integer"
rustup toolchain list | grep -q '^nightly' || die "the nightly toolchain is needed (rustup toolchain install nightly)"

FUZZ_BIN="$ROOT/.tools/fuzz/bin/cargo-fuzz"
if ! [[ -x "$FUZZ_BIN" ]] || [[ "$("$FUZZ_BIN" --version 2>/dev/null)" != *"$CARGO_FUZZ_VERSION"* ]]; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/fuzz"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$ROOT/.tools/fuzz"
fi
export PATH="$ROOT/.tools/fuzz/bin:$PATH"

if [[ "${1:-}" == "repro" ]]; then
  [[ $# -eq 3 ]] || die "usage: infra/fuzz.sh repro TARGET FILE"
  exec cargo +nightly fuzz run --fuzz-dir fuzz "$2" "$3"
fi
(( $# > 0 )) && TARGETS=("$@")
echo "== build (nightly, address sanitizer)"
for t in "${TARGETS[@]}"; do cargo +nightly fuzz build --fuzz-dir fuzz "$t" || die "building $t failed"; done
for t in "${TARGETS[@]}"; do
  [[ -f "fuzz/fuzz_targets/$t.rs" ]] || die "no fuzz target '$t'"
  mkdir -p ".local/fuzz/$t"
  echo "== $t (${SECONDS_EACH}s)"
  log=".local/fuzz/$t.log"
  status=0
  cargo +nightly fuzz run --fuzz-dir fuzz "$t" ".local/fuzz/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|(panicked|SUMMARY|Test unit written)' "$log" || true
  (( status == 0 )) || die "$t failed (exit $status; see $log; a crash input is under fuzz/artifacts/$t/)"
done
echo "fuzz: no crash in ${TARGETS[*]}"
