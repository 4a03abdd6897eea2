#!/usr/bin/env bash
# Headless Chromium for the analyst views (matrix SVG/HTML, report HTML).
#
# Usage:
#   infra/browser.sh install                   install Debian's chromium when it is missing
#   infra/browser.sh screenshot FILE OUT.png [WIDTHxHEIGHT]
#                                              render FILE (.html or .svg) to a PNG (default 1440x900)
#   infra/browser.sh dom FILE                  print FILE's DOM once its scripts have run
#   infra/browser.sh samples                   write target/views-samples/ (a sample case's matrix,
#                                              report and layer on ATT&CK 18.1) and its screenshots
#
# CHROMIUM names another browser binary (default: chromium on the PATH, else /usr/bin/chromium).
# Idempotent; needs root (or sudo) only to install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { echo "browser.sh: error: $*" >&2; exit 1; }
log() { echo "browser.sh: $*" >&2; }

chromium_bin() {
  if [[ -n "${CHROMIUM:-}" ]]; then echo "$CHROMIUM"; return 0; fi
  command -v chromium 2>/dev/null && return 0
  [[ -x /usr/bin/chromium ]] && { echo /usr/bin/chromium; return 0; }
  return 1
}

install() {
  if chromium_bin >/dev/null; then return 0; fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get is missing: install Chromium by hand and set CHROMIUM"
  local sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  log "installing chromium (Debian package)"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-liberation fonts-dejavu-core >/dev/null \
    || die "apt-get install chromium failed"
  chromium_bin >/dev/null || die "chromium is still missing after the install"
}

# run_chromium ARGS... : one headless run with a fresh profile, no network chatter.
run_chromium() {
  local bin profile rc=0
  bin="$(chromium_bin)" || die "chromium is missing: run infra/browser.sh install"
  profile="$(mktemp -d)"
  "$bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" "$@" 2> >(grep -v -e 'unexpected operator' -e 'dbus' -e 'bytes written to file' -e '^$' >&2) || rc=$?
  rm -rf "$profile"
  return "$rc"
}

url_of() {
  [[ -f "$1" ]] || die "$1 not found"
  echo "file://$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
}

screenshot() {
  [[ $# -ge 2 ]] || die "usage: infra/browser.sh screenshot FILE OUT.png [WIDTHxHEIGHT]"
  local size="${3:-1440x900}" out
  out="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
  run_chromium --screenshot="$out" --window-size="${size/x/,}" --virtual-time-budget=3000 "$(url_of "$1")" >/dev/null
  [[ -s "$out" ]] || die "no screenshot was written to $out"
  echo "$out"
}

dom() {
  [[ $# -eq 1 ]] || die "usage: infra/browser.sh dom FILE"
  run_chromium --dump-dom --window-size=1440,900 --virtual-time-budget=3000 "$(url_of "$1")"
}

samples() {
  install
  (cd "$ROOT" && cargo test -p mitre-views --lib -- samples::)
  ls -l "$ROOT/target/views-samples"
}

case "${1:-}" in
  install) install ;;
  screenshot) shift; screenshot "$@" ;;
  dom) shift; dom "$@" ;;
  samples) samples ;;
  *) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
