#!/usr/bin/env bash
# The whole test suite: formatting, lints and the docs check, template validation, unit tests, then the integration tests against
# a local stack of their own (ports 8100 and 4666, state in .local/test), stopped at the end.
# `infra/test.sh integration` runs only the integration tests; `infra/test.sh load` only the
# load test (minutes long; LOAD_OPS_PER_WRITER, default 100, requests per writer), on ports
# 8140 and 4706 so that it can run beside the suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"

if [[ "${1:-all}" == "all" ]]; then
  echo "== format, lints and docs"
  "$CARGO" fmt --all --check
  # the cargo-fuzz crate is a workspace of its own
  "$CARGO" fmt --manifest-path fuzz/Cargo.toml --all --check
  infra/docs-check.sh
  "$CARGO" clippy --workspace --all-targets --quiet -- -D warnings
  echo "== template validation"
  infra/sam-validate.sh
  infra/checkov.sh
  echo "== build"
  "$CARGO" build --workspace --tests
  echo "== tools of the unit tests: mitreattack-python (layer round trip), headless Chromium (views)"
  infra/tools.sh peer
  infra/browser.sh install
  echo "== unit tests"
  "$CARGO" test --workspace --exclude mitre-tests
fi

echo "== local stack for the integration tests"
if [[ "${1:-all}" == "load" ]]; then
  export LOCAL_STATE_DIR="$ROOT/.local/test-load"
  export LOCAL_DDB_PORT="${LOAD_DDB_PORT:-8140}" LOCAL_S3_PORT="${LOAD_S3_PORT:-4706}"
else
  export LOCAL_STATE_DIR="$ROOT/.local/test"
  export LOCAL_DDB_PORT="${TEST_DDB_PORT:-8100}" LOCAL_S3_PORT="${TEST_S3_PORT:-4666}"
fi
export TABLE_NAME=sentineliq-mitre-test BUCKET_NAME=sentineliq-mitre-test
trap 'infra/local-down.sh >/dev/null 2>&1 || true' EXIT
infra/local-up.sh
# shellcheck disable=SC1091
source "$LOCAL_STATE_DIR/env"
export ATTACK_DATA_DIR="${ATTACK_DATA_DIR:-$ROOT/../shared/attack-data}"
if [[ "${1:-all}" == "load" ]]; then
  echo "== load test"
  "$CARGO" test -p mitre-tests --test integration -- --ignored --nocapture thirty_two_writers
  exit 0
fi
echo "== integration tests"
infra/tools.sh taxii peer
"$CARGO" test -p mitre-tests -- --test-threads="${TEST_THREADS:-4}"
