#!/usr/bin/env bash
# Builds every Lambda bootstrap for arm64 (provided.al2023) with cargo-lambda, each binary once
# however many functions run it, into target/lambda/{api,sync,events-in,events-out}/bootstrap, and prints each one's
# size unzipped and zipped, then those sizes and the build time as one JSON line (the last line)
# (`make build-lambdas`, `make bench-build`).
# Installs cargo-lambda and zig into .tools/lambda when missing (infra/tools.sh lambda).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
infra/tools.sh lambda
export PATH="$ROOT/.tools/lambda/bin:$PATH"
# cargo-lambda finds zig through the ziglang package's `python -m ziglang`
export CARGO_ZIGBUILD_ZIG_PATH="$ROOT/.tools/lambda/bin/python -m ziglang"
started=$(date +%s)
# by package: building the whole workspace's binaries would unify the test-only features other
# members enable (`testing`) into the Lambda binaries
cargo lambda build --release --arm64 -p api -p sync -p events-in -p events-out
seconds=$(( $(date +%s) - started ))
echo "build-lambdas: built in $seconds s"
printf '%-11s %12s %12s\n' binary unzipped zipped
json=""
for bin in api sync events-in events-out; do
  f="target/lambda/$bin/bootstrap"
  [[ -f "$f" ]] || { echo "build-lambdas: $f is missing" >&2; exit 1; }
  zipped=$(cd "$(dirname "$f")" && rm -f bootstrap.zip && python3 -c "import zipfile,sys; z=zipfile.ZipFile('bootstrap.zip','w',zipfile.ZIP_DEFLATED,compresslevel=9); z.write('bootstrap'); z.close()" && stat -c %s bootstrap.zip)
  printf '%-11s %9.2f MB %9.2f MB\n' "$bin" "$(echo "$(stat -c %s "$f") / 1000000" | bc -l)" "$(echo "$zipped / 1000000" | bc -l)"
  json+="${json:+, }\"$bin\": {\"unzipped_bytes\": $(stat -c %s "$f"), \"zipped_bytes\": $zipped}"
done
# The same figures as one JSON line (bench/all.sh reads it).
echo "{\"bootstraps\": {$json}, \"build_seconds\": $seconds}"
