#!/usr/bin/env bash
# Counts the CloudFormation resources of each template after the SAM transform (offline, with
# the samtranslator of .tools/sam), per type and per API route, and fails when one has more
# than the limit. CloudFormation allows 500 resources per stack; the default limit, 450, keeps
# room to react before that. A nested stack counts on its own (each child template is counted
# as a template of its own; the parent counts each child as one AWS::CloudFormation::Stack).
# Usage: infra/template-resources.sh [--limit N] [--brief] [TEMPLATE...]
#   TEMPLATE  default: template.yaml
#   --limit N default: $TEMPLATE_RESOURCE_LIMIT, else 450
#   --brief   one line per template (its count), instead of the counts per type and route
# Exits 1 when a template has more resources than the limit (or cannot be transformed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIMIT="${TEMPLATE_RESOURCE_LIMIT:-450}"
BRIEF=0
templates=()
while (( $# )); do
  case "$1" in
    --limit) LIMIT="${2:?--limit needs a number}"; shift 2 ;;
    --limit=*) LIMIT="${1#--limit=}"; shift ;;
    --brief) BRIEF=1; shift ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) templates+=("$1"); shift ;;
  esac
done
[[ "$LIMIT" =~ ^[0-9]+$ ]] || { echo "template-resources: the limit must be a number, not '$LIMIT'" >&2; exit 2; }
(( ${#templates[@]} )) || templates=("$ROOT/template.yaml")

"$ROOT/infra/tools.sh" sam

# Nothing here talks to AWS; the region only fills the pseudo parameters.
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline
unset AWS_PROFILE AWS_SESSION_TOKEN
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

"$ROOT/.tools/sam/bin/python" - "$LIMIT" "$BRIEF" "${templates[@]}" <<'PYEOF'
import collections, json, logging, sys
from cfnlint.decode import decode
from samtranslator.translator.transform import transform

CLOUDFORMATION_LIMIT = 500
limit = int(sys.argv[1])
brief = sys.argv[2] == "1"
paths = sys.argv[3:]
# samtranslator warns about the usage metrics it keeps for AWS when a transform ends unpublished
logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)

class NoManagedPolicies:
    """The templates name no managed policy by name, so nothing has to be looked up in IAM."""
    def load(self):
        return {}

# What one API route costs: its function, and what SAM or the template adds for it (role,
# invoke permissions; in a child stack of the nested plan, its integration and routes).
PER_ROUTE = ("AWS::IAM::Role", "AWS::Lambda::Permission", "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Route")

over, counts = [], []
for path in paths:
    template, matches = decode(path)
    if matches or template is None:
        sys.exit(f"template-resources: cannot parse {path}: {matches}")
    template = json.loads(json.dumps(template))
    api_functions = []
    for name, res in template["Resources"].items():
        if res.get("Type") == "AWS::Serverless::Function":
            # `sam package` would upload the code and put its S3 location here.
            res["Properties"]["CodeUri"] = "s3://bucket/code.zip"
            if "MITRE_ROUTE" in res["Properties"].get("Environment", {}).get("Variables", {}):
                api_functions.append(name)
    resources = transform(template, {}, NoManagedPolicies())["Resources"]
    by_type = collections.Counter(r["Type"] for r in resources.values())
    per_function = {f: [n for n, r in resources.items() if n == f or (n.startswith(f) and r["Type"] in PER_ROUTE)] for f in api_functions}
    costs = collections.Counter(len(v) for v in per_function.values())
    rest = len(resources) - sum(len(v) for v in per_function.values())
    counts.append((len(resources), path))
    if len(resources) > limit:
        over.append(f"{path}: {len(resources)}")
    if brief:
        print(f"{len(resources):>5} resources, {len(api_functions):>3} API routes  {path}")
        continue
    if len(paths) > 1:
        print(f"== {path}")
    print(f"{len(resources)} CloudFormation resources after the SAM transform (limit {limit}; CloudFormation's: {CLOUDFORMATION_LIMIT})")
    for t, n in sorted(by_type.items()):
        print(f"  {n:>4} {t}")
    if api_functions:
        kinds = collections.Counter(resources[n]["Type"] for v in per_function.values() for n in v)
        each = ", ".join(f"{n / len(api_functions):g} {t}" for t, n in sorted(kinds.items()))
        print(f"{len(api_functions)} API routes; each costs " + ", ".join(f"{c} resources ({n} routes)" for c, n in sorted(costs.items())))
        print(f"  ({each}); the rest of the stack: {rest}")
        cost = max(costs)
        print(f"room for {max(limit - len(resources), 0) // cost} more routes before the limit ({max(CLOUDFORMATION_LIMIT - len(resources), 0) // cost} before CloudFormation's)")
if len(paths) > 1:
    largest = max(counts)
    print(f"template-resources: {len(paths)} templates, the largest {largest[1]} with {largest[0]} resources (limit {limit})")
if over:
    sys.exit(f"template-resources: more than {limit} resources after the SAM transform:\n  " + "\n  ".join(over))
PYEOF
