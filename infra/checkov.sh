#!/usr/bin/env bash
# Runs checkov over template.yaml and fails on any failed check that
# infra/checkov-accepted.yaml does not accept with a written reason for that resource.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPLATE="${1:-$ROOT/template.yaml}"

"$ROOT/infra/tools.sh" checkov
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# checkov exits 1 when a check fails; the accepted list decides here.
"$ROOT/.tools/checkov/bin/checkov" -f "$TEMPLATE" --framework cloudformation -o json --quiet \
  --skip-download >"$out" 2>/dev/null || true

"$ROOT/.tools/checkov/bin/python" - "$out" "$ROOT/infra/checkov-accepted.yaml" <<'PYEOF'
import fnmatch, json, sys, yaml
report = json.load(open(sys.argv[1]))
if isinstance(report, list):
    report = next(r for r in report if r.get("check_type") == "cloudformation")
accepted = yaml.safe_load(open(sys.argv[2]))
summary = report["summary"]
if summary.get("parsing_errors"):
    sys.exit(f"checkov: {summary['parsing_errors']} parsing error(s) in the template")
failed = report["results"].get("failed_checks", [])
unaccepted, by_check = [], {}
for f in failed:
    rule = accepted.get(f["check_id"])
    if rule and any(fnmatch.fnmatch(f["resource"], p) for p in rule["resources"]):
        by_check.setdefault(f["check_id"], []).append(f["resource"])
    else:
        unaccepted.append(f)
print(f"checkov {summary['checkov_version']}: {summary['passed']} passed, {len(failed)} failed, "
      f"{len(failed) - len(unaccepted)} of them accepted")
for check, resources in sorted(by_check.items()):
    print(f"  accepted {check} on {len(resources)} resource(s): {accepted[check]['reason'].split('.')[0]}.")
for f in unaccepted:
    print(f"checkov: FAILED {f['check_id']} {f['check_name']} on {f['resource']} (not accepted)", file=sys.stderr)
sys.exit(1 if unaccepted else 0)
PYEOF
