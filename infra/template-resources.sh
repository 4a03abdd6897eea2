#!/usr/bin/env bash
# Counts the CloudFormation resources of template.yaml after the SAM transform (offline, with
# the samtranslator of .tools/sam), per type and per API route. CloudFormation allows 500
# resources per stack. Usage: infra/template-resources.sh [TEMPLATE]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPLATE="${1:-$ROOT/template.yaml}"

"$ROOT/infra/tools.sh" sam

# Nothing here talks to AWS; the region only fills the pseudo parameters.
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline
unset AWS_PROFILE AWS_SESSION_TOKEN
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

"$ROOT/.tools/sam/bin/python" - "$TEMPLATE" <<'PYEOF'
import collections, json, sys
from cfnlint.decode import decode
from samtranslator.translator.transform import transform

LIMIT = 500
template, matches = decode(sys.argv[1])
if matches or template is None:
    sys.exit(f"template-resources: cannot parse {sys.argv[1]}: {matches}")
template = json.loads(json.dumps(template))
api_functions = []
for name, res in template["Resources"].items():
    if res.get("Type") == "AWS::Serverless::Function":
        # `sam package` would upload the code and put its S3 location here.
        res["Properties"]["CodeUri"] = "s3://bucket/code.zip"
        if "MITRE_ROUTE" in res["Properties"].get("Environment", {}).get("Variables", {}):
            api_functions.append(name)

class NoManagedPolicies:
    """The template names no managed policy by name, so nothing has to be looked up in IAM."""
    def load(self):
        return {}

resources = transform(template, {}, NoManagedPolicies())["Resources"]
by_type = collections.Counter(r["Type"] for r in resources.values())
# What SAM generates for a function: the function, its role and one permission per event.
per_function = {f: [n for n, r in resources.items() if n == f or (n.startswith(f) and r["Type"] in ("AWS::IAM::Role", "AWS::Lambda::Permission"))] for f in api_functions}
costs = collections.Counter(len(v) for v in per_function.values())
base = len(resources) - sum(len(v) for v in per_function.values())
print(f"{len(resources)} CloudFormation resources after the SAM transform (limit {LIMIT})")
for t, n in sorted(by_type.items()):
    print(f"  {n:>4} {t}")
print(f"{len(api_functions)} API routes; each costs " + ", ".join(f"{c} resources ({n} routes)" for c, n in sorted(costs.items())))
print(f"  (function, role, one permission per HttpApi event); the rest of the stack: {base}")
cost = max(costs) if costs else 1
print(f"room for {(LIMIT - len(resources)) // cost} more routes before the limit")
if len(resources) > LIMIT:
    sys.exit(f"template-resources: {len(resources)} resources exceed CloudFormation's {LIMIT}")
PYEOF
