#!/usr/bin/env python3
"""Creates the local sentineliq-mitre DynamoDB table and S3 bucket (idempotent).

The table definition is read from infra/table.json, the single source of the
table's key schema. Endpoints and names come from the command line or from the
environment (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3, TABLE_NAME,
BUCKET_NAME, AWS_REGION).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

TABLE_JSON = Path(__file__).resolve().parent / "table.json"
TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode", "StreamSpecification")


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dynamodb-endpoint", default=env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"))
    p.add_argument("--s3-endpoint", default=env("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4566"))
    p.add_argument("--region", default=env("AWS_REGION", "us-east-1"))
    p.add_argument("--table-name", default=env("TABLE_NAME", "sentineliq-mitre"))
    p.add_argument("--bucket-name", default=env("BUCKET_NAME", "sentineliq-mitre-local"))
    p.add_argument("--table-json", type=Path, default=TABLE_JSON)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the table to be ACTIVE")
    return p.parse_args()


def client(service: str, endpoint: str, region: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"}),
    )


def table_definition(path: Path) -> dict:
    with path.open() as f:
        spec = json.load(f)
    missing = [k for k in TABLE_KEYS if k not in spec]
    if missing:
        raise SystemExit(f"local_init: {path} lacks {', '.join(missing)}")
    return {k: spec[k] for k in TABLE_KEYS}


def ensure_table(ddb, name: str, definition: dict, timeout: float) -> str:
    created = False
    try:
        ddb.create_table(TableName=name, **definition)
        created = True
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceInUseException":
            raise
    deadline = time.monotonic() + timeout
    while True:
        table = ddb.describe_table(TableName=name)["Table"]
        statuses = [table["TableStatus"]] + [g["IndexStatus"] for g in table.get("GlobalSecondaryIndexes", [])]
        if all(s == "ACTIVE" for s in statuses):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"local_init: table {name} not ACTIVE after {timeout:.0f}s ({statuses})")
        time.sleep(0.5)
    wanted = {g["IndexName"] for g in definition.get("GlobalSecondaryIndexes", [])}
    have = {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])}
    if wanted != have:
        raise SystemExit(
            f"local_init: table {name} exists with indexes {sorted(have)}, expected {sorted(wanted)}; "
            "restart the local stack (infra/local-down.sh && infra/local-up.sh)"
        )
    if not table.get("StreamSpecification", {}).get("StreamEnabled"):
        # a table made before the events publisher: its stream turned on
        ddb.update_table(TableName=name, StreamSpecification=definition["StreamSpecification"])
    return "created" if created else "exists"


def ensure_bucket(s3, name: str, region: str) -> str:
    try:
        s3.head_bucket(Bucket=name)
        return "exists"
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as e:
        if e.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
        return "exists"
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return "created"


def main() -> int:
    args = parse_args()
    definition = table_definition(args.table_json)
    ddb = client("dynamodb", args.dynamodb_endpoint, args.region)
    s3 = client("s3", args.s3_endpoint, args.region)
    t = ensure_table(ddb, args.table_name, definition, args.timeout)
    print(f"table  {args.table_name}: {t} ({args.dynamodb_endpoint})")
    b = ensure_bucket(s3, args.bucket_name, args.region)
    print(f"bucket {args.bucket_name}: {b} ({args.s3_endpoint})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
