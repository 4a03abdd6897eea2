# Sourced by the benchmarks that measure `mitre` against a local stack of their own (bench/stats.sh,
# bench/views.sh): `bench_stack NAME` checks the enterprise 18.1 bundle, installs the stack's
# tools, builds target/perf/mitre (MITRE), makes a work directory (WORK), starts DynamoDB Local
# and the S3 server on LOCAL_DDB_PORT / LOCAL_S3_PORT with their state in .local/NAME (stopped,
# and WORK removed, on exit) and imports the bundle (after enterprise BENCH_PREVIOUS_RELEASE, when
# set). Needs ROOT, CARGO, ATTACK_DATA_DIR and die().
bench_stack() {
  local name="$1"
  local bundle="$ATTACK_DATA_DIR/enterprise-attack-18.1.json.gz"
  [[ -f "$bundle" ]] || die "$bundle not found (ATTACK_DATA_DIR)"
  bundle="$(cd "$(dirname "$bundle")" && pwd)/$(basename "$bundle")"
  export LOCAL_STATE_DIR="$ROOT/.local/$name"
  export TABLE_NAME="sentineliq-mitre-$name" BUCKET_NAME="sentineliq-mitre-$name"

  echo "== tools"
  infra/tools.sh dynamodb s3
  echo "== build (perf profile)"
  "$CARGO" build --profile perf -p mitre-cli
  MITRE="$ROOT/target/perf/mitre"

  WORK="$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")"
  trap 'infra/local-down.sh >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  echo "== local stack (ports $LOCAL_DDB_PORT and $LOCAL_S3_PORT, state in .local/$name)"
  infra/local-up.sh
  # shellcheck disable=SC1091
  source "$LOCAL_STATE_DIR/env"
  if [[ -n "${BENCH_PREVIOUS_RELEASE:-}" ]]; then
    # an earlier release first: the 18.1 import then computes the release changes from it
    echo "== import enterprise-attack $BENCH_PREVIOUS_RELEASE"
    "$MITRE" import --url "$ATTACK_DATA_DIR/enterprise-attack-$BENCH_PREVIOUS_RELEASE.json.gz" --json | tail -n 1
  fi
  echo "== import enterprise-attack 18.1"
  "$MITRE" import --url "$bundle" --json | tail -n 1
}
