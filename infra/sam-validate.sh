#!/usr/bin/env bash
# Validates template.yaml offline: SAM transform + cfn-lint (sam validate --lint), checks
# that the table's key schema is identical to infra/table.json, that every IAM action of
# the transformed template exists and that the stack has at most TEMPLATE_RESOURCE_LIMIT (450)
# resources (infra/template-resources.sh). Then renders the nested-stack plan
# (`mitre template --nested`, docs/operations.md) into a temporary folder, for the route table
# and for NESTED_EXTRA_ROUTES (60) more routes, and validates and counts every stack of it
# the same way.
# Exits non-zero on any error or warning.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPLATE="${1:-$ROOT/template.yaml}"
CARGO="${CARGO:-cargo}"
EXTRA_ROUTES="${NESTED_EXTRA_ROUTES:-60}"

"$ROOT/infra/tools.sh" sam

export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export SAM_CLI_TELEMETRY=0
# Dummy credentials: nothing here talks to AWS, but botocore must not go
# looking for real ones (config files, instance metadata).
export AWS_ACCESS_KEY_ID=validate AWS_SECRET_ACCESS_KEY=validate
unset AWS_PROFILE AWS_SESSION_TOKEN
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

cd "$ROOT"
out="$(mktemp)"
plan="$(mktemp -d)"
trap 'rm -rf "$out" "$plan"' EXIT

# sam validate --lint of one template; any warning or error fails.
validate() {
  local status=0
  "$ROOT/.tools/sam/bin/sam" validate --lint -t "$1" >"$out" 2>&1 || status=$?
  cat "$out"
  if (( status != 0 )); then
    echo "sam-validate: sam validate --lint of $1 failed (exit $status)" >&2
    exit "$status"
  fi
  # Belt and braces: treat any reported warning or error as a failure.
  if sed "s#$1##g" "$out" | grep -qE '^\[?[EW][0-9]{4}|[Ww]arning|[Ee]rror'; then
    echo "sam-validate: sam validate reported warnings or errors for $1" >&2
    exit 1
  fi
}

validate "$TEMPLATE"

# The deployed table must have exactly the key schema of infra/table.json.
"$ROOT/.tools/sam/bin/python" - "$TEMPLATE" "$ROOT/infra/table.json" <<'PYEOF'
import json, sys
from cfnlint.decode import decode

template, matches = decode(sys.argv[1])
if matches or template is None:
    sys.exit(f"sam-validate: cannot parse {sys.argv[1]}: {matches}")
spec = json.load(open(sys.argv[2]))
tables = {n: r for n, r in template["Resources"].items() if r.get("Type") == "AWS::DynamoDB::Table"}
if list(tables) != ["Table"]:
    sys.exit(f"sam-validate: expected exactly one table resource named Table, found {list(tables)}")
props = json.loads(json.dumps(tables["Table"]["Properties"]))
bad = [k for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode") if props.get(k) != spec.get(k)]
if bad:
    sys.exit(f"sam-validate: Table {', '.join(bad)} differ from infra/table.json")
print("sam-validate: Table key schema matches infra/table.json")
PYEOF

# Every IAM action of the transformed template must exist: an unknown action (a typo, or an
# API name that is no IAM action, such as dynamodb:TransactWriteItems) grants nothing, and
# neither sam validate nor cfn-lint report it. The actions are cfn-lint's copy of the Service
# Authorization Reference.
"$ROOT/.tools/sam/bin/python" - "$TEMPLATE" <<'PYEOF'
import glob, json, os, sys
import cfnlint
from cfnlint.decode import decode
from samtranslator.translator.transform import transform

template, _ = decode(sys.argv[1])
template = json.loads(json.dumps(template))
for res in template["Resources"].values():
    if res.get("Type") == "AWS::Serverless::Function":
        res["Properties"]["CodeUri"] = "s3://bucket/code.zip"

class NoManagedPolicies:
    def load(self):
        return {}

resources = transform(template, {}, NoManagedPolicies())["Resources"]
data = os.path.join(os.path.dirname(cfnlint.__file__), "data", "AdditionalSpecs", "Policies.json")
known = {svc: {a.lower() for a in spec["Actions"]} for svc, spec in json.load(open(data)).items()}
bad = []
checked = 0
for name, res in resources.items():
    if res["Type"] != "AWS::IAM::Role":
        continue
    for policy in res["Properties"].get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        for st in statements if isinstance(statements, list) else [statements]:
            actions = st.get("Action", [])
            for action in actions if isinstance(actions, list) else [actions]:
                checked += 1
                service, _, verb = action.partition(":")
                if "*" not in verb and verb.lower() not in known.get(service.lower(), ()):
                    bad.append(f"{name}: {action}")
if bad:
    sys.exit("sam-validate: unknown IAM actions:\n  " + "\n  ".join(bad))
print(f"sam-validate: all {checked} IAM actions of the roles exist")
PYEOF
# Room to grow: the stack's resources after the SAM transform, under the limit.
"$ROOT/infra/template-resources.sh" "$TEMPLATE"

# The nested-stack plan, for the route table as it is and with EXTRA_ROUTES more routes: every
# stack of today's plan passes sam validate --lint; cfn-lint (which sam validate --lint runs,
# after the same SAM transform) checks every stack of both in one run, and over the parents
# also the parameters each passes against its child's (E3043), which sam validate skips. Every
# stack stays under the limit.
echo "sam-validate: the nested-stack plan, for the route table and for $EXTRA_ROUTES more routes"
"$CARGO" run --quiet -p mitre-cli --bin mitre -- template --nested "$plan/now" >/dev/null
"$CARGO" run --quiet -p mitre-cli --bin mitre -- template --nested "$plan/next" --extra-routes "$EXTRA_ROUTES" >/dev/null
for t in "$plan"/now/*.yaml; do
  validate "$t"
done
"$ROOT/.tools/sam/bin/cfn-lint" "$plan"/now/*.yaml "$plan"/next/*.yaml
echo "sam-validate: cfn-lint found nothing in the $(ls "$plan"/now/*.yaml "$plan"/next/*.yaml | wc -l) templates of both plans"
"$ROOT/infra/template-resources.sh" --brief "$plan"/now/*.yaml "$plan"/next/*.yaml
echo "sam-validate: OK"
