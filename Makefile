# sentineliq-mitre: the MITRE ATT&CK module. `make dev` and `make test` are all a new machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help dev local-up local-down build build-lambdas sam-build bench-suggest bench-infer bench-events test test-unit test-integration validate template template-check template-resources bench-sync bench-api bench-build bench-stats bench-views bench test-schema test-load fuzz serve

help:
	@echo "make dev        start the local stack, sync ATT&CK into it and show its status"
	@echo "make test       the whole test suite (starts and stops its own local stack)"
	@echo "make bench      every benchmark, then target/bench/report.md and report.png"
	@echo "make bench-sync sync benchmark against the naive boto3 loader"
	@echo "make bench-api  API latency benchmark against mitreattack-python"
	@echo "make bench-suggest  suggestion quality (engine against plain BM25) and speed"
	@echo "make bench-stats    statistics reads at 10,000 and 100,000 mappings beside a recount"
	@echo "make bench-views    view and list latency for a restricted case with 200 mappings"
	@echo "make bench-events   enrichment through the events queue beside POST enrich one by one; publisher lag"
	@echo "make test-schema    the API against its OpenAPI document (schemathesis)"
	@echo "make test-load      32 concurrent writers in two tenants, then no lost write, audit and statistics exact"
	@echo "make fuzz           cargo-fuzz targets (STIX parser, router, suggestions), FUZZ_SECONDS each"
	@echo "make build-lambdas / bench-build   arm64 Lambda bootstraps with cargo-lambda, and their sizes"
	@echo "make sam-build                     sam build of template.yaml, timed (CLEAN=1: from scratch)"
	@echo "make local-up / local-down   the local stack alone (DynamoDB Local + S3 server)"
	@echo "make template   render template.yaml from infra/template.base.yaml and the route table"

local-up:
	infra/local-up.sh

local-down:
	infra/local-down.sh

build:
	$(CARGO) build --workspace

# ATTACK_SOURCE: a bundle URL or path (gzip or plain) for machines without internet access.
PORT ?= 3000
# Demo identities of the local server (the x-dev-principal-arn header names the caller).
DEMO_SUPERUSER := arn:aws:iam::000000000000:user/demo-superuser
DEMO_ACME := arn:aws:iam::000000000000:user/acme-analyst
DEMO_GLOBEX := arn:aws:iam::000000000000:user/globex-analyst
API := http://127.0.0.1:$(PORT)/api/v1/mitre

dev: local-up build
	source .local/env && ./target/debug/mitre import --domain enterprise-attack $(if $(ATTACK_SOURCE),--url "$(ATTACK_SOURCE)")
	source .local/env && ./target/debug/mitre status
	source .local/env && ./target/debug/mitre principal put $(DEMO_ACME) --tenant acme --role analyst
	source .local/env && ./target/debug/mitre principal put $(DEMO_GLOBEX) --tenant globex --role analyst
	source .local/env && ./target/debug/mitre demo --tenant acme && ./target/debug/mitre demo --tenant globex
	source .local/env && ./target/debug/mitre infer --rebuild
	source .local/env && ./target/debug/mitre matrix --tenant acme --case CASE-1001 --format html --out .local/CASE-1001-matrix.html
	source .local/env && ./target/debug/mitre report --tenant acme --case CASE-1001 --format html --out .local/CASE-1001-report.html
	@echo
	@echo "Case CASE-1001 of tenant acme, as an analyst sees it: open .local/CASE-1001-matrix.html and .local/CASE-1001-report.html"
	@echo "  (or: ./target/debug/mitre matrix|report|layer|mitigations --tenant acme --case CASE-1001 [--format ...], after 'source .local/env')"
	@echo
	@echo "Serving the API on http://127.0.0.1:$(PORT) (Ctrl-C stops it; make local-down stops the stack)."
	@echo "Demo callers: superuser $(DEMO_SUPERUSER); analysts of tenants acme ($(DEMO_ACME)) and globex ($(DEMO_GLOBEX)). Try:"
	@echo "  curl -s -H 'x-dev-principal-arn: $(DEMO_ACME)' '$(API)/techniques?q=powershell&limit=3'"
	@echo "  curl -s -H 'x-dev-principal-arn: $(DEMO_ACME)' -X POST '$(API)/alert-mappings' -d '{\"alert_id\": \"A-1\", \"technique\": \"T1059.001\", \"confidence_score\": 80}'"
	@echo "  curl -s -H 'x-dev-principal-arn: $(DEMO_GLOBEX)' '$(API)/alert-mappings'   # globex sees none of acme's"
	@echo "  curl -s -H 'x-dev-principal-arn: $(DEMO_SUPERUSER)' '$(API)/audit'"
	@echo "  curl -s -H 'x-dev-principal-arn: $(DEMO_ACME)' '$(API)/cases/CASE-1001/navigator-layer'   # open it in the ATT&CK Navigator"
	@echo "  curl -s -H 'x-dev-principal-arn: $(DEMO_ACME)' '$(API)/cases/CASE-1001/matrix?format=svg' > case.svg"
	@echo "  curl -s -H 'x-dev-principal-arn: $(DEMO_ACME)' '$(API)/cases/CASE-1001/inferences?limit=5'   # where to look next, with evidence"
	source .local/env && MITRE_SUPERUSERS=$(DEMO_SUPERUSER) ./target/debug/mitre serve --port $(PORT)

serve:
	source .local/env && MITRE_SUPERUSERS=$(DEMO_SUPERUSER) ./target/debug/mitre serve --port $(PORT)

validate:
	infra/sam-validate.sh
	infra/checkov.sh

# template.yaml is generated: the base (infra/template.base.yaml) plus one function per route,
# with the IAM statements of the route's access class (shared/api/src/access.rs).
template:
	$(CARGO) run --quiet -p mitre-cli --bin mitre -- template

template-check:
	$(CARGO) run --quiet -p mitre-cli --bin mitre -- template --check

# CloudFormation resources of template.yaml after the SAM transform (the stack limit is 500).
template-resources:
	infra/template-resources.sh

test:
	infra/test.sh

test-unit:
	infra/tools.sh peer
	infra/browser.sh install
	$(CARGO) test --workspace --exclude mitre-tests

test-integration:
	infra/test.sh integration

bench-sync:
	bench/sync.sh

bench-api:
	bench/api.sh

# The cargo-fuzz targets (STIX parser, router, suggestion engine), FUZZ_SECONDS (60) each.
fuzz:
	infra/fuzz.sh

# 32 concurrent writers in two tenants through the router (not part of make test: minutes long).
test-load:
	infra/test.sh load

# The API against its OpenAPI document with schemathesis (not part of make test: minutes long).
test-schema:
	infra/schemathesis.sh

# Statistics read cost and DynamoDB calls at 10,000 and 100,000 mappings, beside a recount.
bench-stats:
	bench/stats.sh

# p50/p99 and DynamoDB calls of every view of a restricted case with 200 mappings, and of list pages.
bench-views:
	bench/views.sh

# Every Lambda bootstrap for arm64 with cargo-lambda (installed into .tools/lambda), each once.
build-lambdas:
	infra/build-lambdas.sh

sam-build:
	infra/sam-build.sh

# The bootstraps' sizes, unzipped and zipped (builds them first).
bench-build:
	infra/build-lambdas.sh

# Suggestion quality and speed, beside a plain BM25 ranking (no local stack needed).
bench-suggest:
	bench/suggest.sh

# Technique inference quality (leave-one-out over ATT&CK's campaigns, beside popularity and
# co-occurrence) and speed (no local stack needed).
bench-infer:
	bench/infer.sh

bench-events:
	bench/events.sh

# Every benchmark (bootstraps, sync, API, statistics at BENCH_STATS_SIZES=10000, views, suggestions,
# cold starts), then one report: target/bench/report.md and report.png (BENCH_ONLY=sync,api: a subset).
bench:
	bench/all.sh
