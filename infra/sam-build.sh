#!/usr/bin/env bash
# `sam build` of template.yaml as a deployment runs it (`make sam-build`): SAM's
# rust-cargolambda build method, one build of the `api` binary shared by every API function
# and one of `sync`. Prints how long it took. .aws-sam/build is always cleared; the cargo
# cache in target/ is reused unless CLEAN=1 (then the arm64 build directory is removed first,
# for the time of a build from scratch).
# Installs SAM, cargo-lambda and zig into .tools when missing (infra/tools.sh sam lambda).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
infra/tools.sh sam lambda
export PATH="$ROOT/.tools/lambda/bin:$ROOT/.tools/sam/bin:$PATH"
export CARGO_ZIGBUILD_ZIG_PATH="$ROOT/.tools/lambda/bin/python -m ziglang"
export SAM_CLI_TELEMETRY=0
rm -rf .aws-sam/build
if [[ "${CLEAN:-0}" == 1 ]]; then
  rm -rf target/aarch64-unknown-linux-gnu target/lambda
fi
started=$(date +%s)
sam build --beta-features
echo "sam-build: built in $(( $(date +%s) - started )) s ($([[ "${CLEAN:-0}" == 1 ]] && echo "from scratch" || echo "cargo cache reused"))"
echo "sam-build: $(grep -c 'CodeUri:' .aws-sam/build/template.yaml) functions served by $(ls .aws-sam/build/*/bootstrap | wc -l) built artifacts"
