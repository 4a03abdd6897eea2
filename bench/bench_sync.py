#!/usr/bin/env python3
"""Sync benchmark of sentineliq-mitre on enterprise ATT&CK 18.1 (run by bench/sync.sh).

Expects a running local stack (the environment of `source $LOCAL_STATE_DIR/env`:
AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3, AWS_REGION, credentials). Measures:

- parse: `mitre bench-parse` of 18.1 against 18.0 (parse + diff throughput, MB/s);
- incremental: into a fresh table and bucket, import 18.0, then 18.1 (written + deleted);
- no-op: import 18.1 once more into the same table (written);
- full sync: `mitre import` of 18.1 into a fresh table and bucket, alternating with the
  naive boto3 loader on the same DynamoDB Local, ROUNDS rounds each; best and median of
  each, ratio ours/naive of the medians, peak RSS of our import; write units of each (ours
  as DynamoDB's ConsumedCapacity reports them, indexes included; the loader's by its items).

The incremental and no-op imports run before the full-sync rounds, so the DynamoDB Local
JVM is warm for both contenders. Every command runs in a child of its own, reaped with
os.wait4 so that its peak RSS (ru_maxrss) is its own. Tables and buckets made here are
deleted afterwards to keep DynamoDB Local's memory low.

Prints one line per measurement, one verdict line per goal (PASS/MISS) and a final JSON
line with every figure. Exit status 0 even when a goal is missed; 1 when a command failed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "infra"))
sys.dont_write_bytecode = True  # no __pycache__ left in infra/
import local_init  # noqa: E402  (table.json and the table/bucket creation of the local stack)

DOMAIN = "enterprise-attack"

# Goals.
PARSE_MB_S_MIN = 150.0
PEAK_RSS_MB_MAX = 160.0
RATIO_MAX = 1.0
WRITE_UNITS_RATIO_MAX = 0.5
INCREMENTAL_EXPECTED = 406  # 18.0 -> 18.1: 404 changed + 2 removed
NOOP_WRITTEN_MAX = 0


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(msg, flush=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mitre", type=Path, default=ROOT / "target" / "perf" / "mitre")
    p.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "attack-data")
    p.add_argument("--naive", type=Path, default=ROOT.parent / "shared" / "bench" / "naive_loader.py")
    p.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "2")))
    p.add_argument("--naive-threads", type=int, default=8)
    p.add_argument("--parse-rounds", type=int, default=5)
    a = p.parse_args()
    if a.rounds < 1:
        p.error("--rounds must be at least 1")
    return a


# --- children ---------------------------------------------------------------------------

def run_child(label: str, cmd: list, env: dict | None = None) -> dict:
    """Runs CMD in a child of its own; returns its last stdout line parsed as JSON, plus
    wall seconds and the child's peak RSS (MiB). Raises BenchError when it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=env if env is not None else os.environ.copy())
        # wait4 on this pid: the rusage is this child's alone (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if proc.returncode != 0:
        tail = "\n".join((stderr.strip() or stdout.strip()).splitlines()[-15:])
        raise BenchError(f"{label}: exit status {proc.returncode}: {' '.join(map(str, cmd))}\n{tail}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        doc = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise BenchError(f"{label}: no JSON line on stdout: {stdout.strip()[-500:]!r}") from None
    if not isinstance(doc, dict):
        raise BenchError(f"{label}: unexpected output {lines[-1]!r}")
    return {"out": doc, "wall": wall, "rss_mb": usage.ru_maxrss / 1024.0}


class Stack:
    """Fresh tables and buckets on the local stack, made as infra/local_init.py makes them."""

    def __init__(self) -> None:
        env = os.environ
        for var in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"):
            if not env.get(var):
                raise BenchError(f"{var} is not set (source the local stack's env file)")
        self.ddb_endpoint = env["AWS_ENDPOINT_URL_DYNAMODB"]
        self.region = env.get("AWS_REGION", "us-east-1")
        self.definition = local_init.table_definition(local_init.TABLE_JSON)
        self.ddb = local_init.client("dynamodb", self.ddb_endpoint, self.region)
        self.s3 = local_init.client("s3", env["AWS_ENDPOINT_URL_S3"], self.region)
        self.tables: list = []
        self.buckets: list = []

    def fresh(self, tag: str) -> dict:
        """Creates a table and a bucket with unique names; returns the child environment."""
        name = f"bench-{tag}-{uuid.uuid4().hex[:8]}"
        local_init.ensure_table(self.ddb, name, self.definition, 60.0)
        self.tables.append(name)
        local_init.ensure_bucket(self.s3, name, self.region)
        self.buckets.append(name)
        env = os.environ.copy()
        env["TABLE_NAME"] = name
        env["BUCKET_NAME"] = name
        return env

    def drop(self, env: dict) -> None:
        self._drop_table(env["TABLE_NAME"])
        self._drop_bucket(env["BUCKET_NAME"])

    def _drop_table(self, name: str) -> None:
        if name in self.tables:
            self.tables.remove(name)
        self.ddb.delete_table(TableName=name)

    def _drop_bucket(self, name: str) -> None:
        if name in self.buckets:
            self.buckets.remove(name)
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=name):
            keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for i in range(0, len(keys), 1000):
                self.s3.delete_objects(Bucket=name, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
        self.s3.delete_bucket(Bucket=name)

    def cleanup(self) -> None:
        """Best effort, for whatever a failed measurement left behind."""
        for name in list(self.tables):
            try:
                self._drop_table(name)
            except Exception as e:  # noqa: BLE001
                print(f"bench-sync: warning: could not delete table {name}: {e}", file=sys.stderr)
        for name in list(self.buckets):
            try:
                self._drop_bucket(name)
            except Exception as e:  # noqa: BLE001
                print(f"bench-sync: warning: could not delete bucket {name}: {e}", file=sys.stderr)


def import_bundle(mitre: Path, bundle: Path, env: dict, label: str) -> dict:
    r = run_child(label, [mitre, "import", "--url", bundle, "--domain", DOMAIN, "--json"], env)
    out = r["out"]
    if "error" in out:
        raise BenchError(f"{label}: {out['error']}")
    missing = [k for k in ("objects", "written", "unchanged", "deleted", "seconds", "outcome") if k not in out]
    if missing:
        raise BenchError(f"{label}: output lacks {', '.join(missing)}: {out}")
    if str(out["outcome"]).lower() not in ("succeeded", "unchanged"):
        raise BenchError(f"{label}: outcome {out['outcome']}: {out}")
    return r


# --- measurements -----------------------------------------------------------------------

def measure_parse(a, new: Path, old: Path) -> dict:
    r = run_child("bench-parse", [a.mitre, "bench-parse", new, "--previous", old, "--rounds", a.parse_rounds])
    out = r["out"]
    if "mb_per_s" not in out:
        raise BenchError(f"bench-parse: output lacks mb_per_s: {out}")
    log(f"parse+diff 18.1 vs 18.0: {out['mb_per_s']:.1f} MB/s ({out['bytes'] / 1e6:.1f} MB, "
        f"{out['objects']} objects, {out['to_write']} to write, {out['removed']} removed, "
        f"best of {a.parse_rounds}: {out['best_seconds']:.4f}s)")
    return {"mb_per_s": out["mb_per_s"], "bytes": out["bytes"], "objects": out["objects"],
            "to_write": out["to_write"], "removed": out["removed"], "best_seconds": out["best_seconds"]}


def measure_incremental(a, stack: Stack, new: Path, old: Path) -> dict:
    env = stack.fresh("incr")
    base = import_bundle(a.mitre, old, env, "import 18.0")
    log(f"incremental: 18.0 into a fresh table: {base['out']['written']} written in {base['wall']:.2f}s")
    inc = import_bundle(a.mitre, new, env, "import 18.1 over 18.0")
    o = inc["out"]
    log(f"incremental: 18.1 over 18.0: {o['written']} written + {o['deleted']} deleted = "
        f"{o['written'] + o['deleted']} ({o['unchanged']} unchanged) in {inc['wall']:.2f}s, "
        f"peak RSS {inc['rss_mb']:.0f} MiB")
    noop = import_bundle(a.mitre, new, env, "import 18.1 again")
    n = noop["out"]
    log(f"no-op: 18.1 again: {n['written']} written, {n['deleted']} deleted, outcome {n['outcome']} "
        f"in {noop['wall']:.2f}s")
    stack.drop(env)
    return {
        "incremental_written": o["written"], "incremental_deleted": o["deleted"],
        "incremental_changes": o["written"] + o["deleted"], "incremental_seconds": round(inc["wall"], 3),
        "noop_written": n["written"], "noop_deleted": n["deleted"], "noop_outcome": n["outcome"],
        "noop_seconds": round(noop["wall"], 3),
    }


def measure_full(a, stack: Stack, new: Path) -> dict:
    ours, naive = [], []
    for rnd in range(1, a.rounds + 1):
        env = stack.fresh(f"full{rnd}")
        r = import_bundle(a.mitre, new, env, f"full sync round {rnd}")
        stack.drop(env)
        o = r["out"]
        if o["written"] == 0 or o["objects"] == 0:
            raise BenchError(f"full sync round {rnd}: nothing written into a fresh table: {o}")
        ours.append({"wall": r["wall"], "tool_seconds": float(o["seconds"]), "rss_mb": r["rss_mb"],
                     "objects": o["objects"], "written": o["written"], "write_units": float(o.get("write_units", 0))})
        log(f"round {rnd}: ours  {r['wall']:.2f}s wall (tool says {float(o['seconds']):.2f}s), "
            f"{o['objects']} objects, {o['written']} written, peak RSS {r['rss_mb']:.0f} MiB")

        n = run_child(f"naive loader round {rnd}",
                      [sys.executable, a.naive, new, "--endpoint", stack.ddb_endpoint,
                       "--threads", a.naive_threads])
        no = n["out"]
        if "seconds" not in no:
            raise BenchError(f"naive loader round {rnd}: output lacks seconds: {no}")
        naive.append({"wall": n["wall"], "seconds": float(no["seconds"]), "objects": no.get("objects"),
                      "write_units": float(no.get("write_units", 0))})
        log(f"round {rnd}: naive {float(no['seconds']):.2f}s (parse {no.get('parse_seconds')}s, "
            f"write {no.get('write_seconds')}s; {n['wall']:.2f}s wall with interpreter start), "
            f"{no.get('objects')} objects")

    ours_wall = [x["wall"] for x in ours]
    ours_tool = [x["tool_seconds"] for x in ours]
    naive_s = [x["seconds"] for x in naive]
    res = {
        "rounds": a.rounds,
        "ours_wall_best": round(min(ours_wall), 3), "ours_wall_median": round(statistics.median(ours_wall), 3),
        "ours_tool_best": round(min(ours_tool), 3), "ours_tool_median": round(statistics.median(ours_tool), 3),
        "ours_peak_rss_mb": round(max(x["rss_mb"] for x in ours), 1),
        "naive_best": round(min(naive_s), 3), "naive_median": round(statistics.median(naive_s), 3),
        "ours_wall": [round(x, 3) for x in ours_wall], "ours_tool": [round(x, 3) for x in ours_tool],
        "naive": [round(x, 3) for x in naive_s],
        "objects": ours[-1]["objects"],
    }
    # Ours by the wall time the script measured (process start to exit), against the
    # seconds the naive loader reports (parse + write, without interpreter start-up).
    res["ours_write_units"] = statistics.median(x["write_units"] for x in ours)
    res["naive_write_units"] = statistics.median(x["write_units"] for x in naive)
    res["write_units_ratio"] = round(res["ours_write_units"] / res["naive_write_units"], 3) if res["naive_write_units"] else None
    log(f"full sync 18.1 write units (DynamoDB's ConsumedCapacity, indexes included): ours {res['ours_write_units']:.0f}, "
        f"naive loader {res['naive_write_units']:.0f} (by its item sizes), ratio {res['write_units_ratio']}")
    res["ratio"] = round(res["ours_wall_median"] / res["naive_median"], 3)
    res["ratio_tool"] = round(res["ours_tool_median"] / res["naive_median"], 3)
    log(f"full sync 18.1: ours best {res['ours_wall_best']:.2f}s / median {res['ours_wall_median']:.2f}s wall "
        f"(tool: best {res['ours_tool_best']:.2f}s / median {res['ours_tool_median']:.2f}s); "
        f"naive best {res['naive_best']:.2f}s / median {res['naive_median']:.2f}s; "
        f"ratio ours/naive (medians) {res['ratio']:.2f}; peak RSS {res['ours_peak_rss_mb']:.0f} MiB")
    return res


def verdicts(parse: dict, inc: dict, full: dict) -> list:
    def v(ok: bool, text: str) -> str:
        return f"{'PASS' if ok else 'MISS'}  {text}"
    return [
        v(parse["mb_per_s"] >= PARSE_MB_S_MIN,
          f"parse+diff throughput {parse['mb_per_s']:.1f} MB/s (goal >= {PARSE_MB_S_MIN:.0f})"),
        v(full["ours_peak_rss_mb"] <= PEAK_RSS_MB_MAX,
          f"full sync peak RSS {full['ours_peak_rss_mb']:.1f} MiB (goal <= {PEAK_RSS_MB_MAX:.0f})"),
        v(full["ratio"] <= RATIO_MAX,
          f"full sync ours/naive {full['ratio']:.2f} ({full['ours_wall_median']:.2f}s / "
          f"{full['naive_median']:.2f}s, medians of {full['rounds']}) (goal <= {RATIO_MAX:.1f})"),
        v(full["write_units_ratio"] is not None and full["write_units_ratio"] <= WRITE_UNITS_RATIO_MAX,
          f"full sync write units ours/naive {full['write_units_ratio']} ({full['ours_write_units']:.0f} / "
          f"{full['naive_write_units']:.0f}) (goal <= {WRITE_UNITS_RATIO_MAX})"),
        v(inc["incremental_changes"] == INCREMENTAL_EXPECTED,
          f"incremental 18.0 -> 18.1 written+deleted {inc['incremental_changes']} "
          f"(expected {INCREMENTAL_EXPECTED})"),
        v(inc["noop_written"] <= NOOP_WRITTEN_MAX,
          f"no-op re-import written {inc['noop_written']} (goal {NOOP_WRITTEN_MAX})"),
    ]


def main() -> int:
    a = parse_args()
    new = a.data_dir / f"{DOMAIN}-18.1.json.gz"
    old = a.data_dir / f"{DOMAIN}-18.0.json.gz"
    for f in (a.mitre, new, old, a.naive):
        if not f.exists():
            print(f"bench-sync: error: {f} not found", file=sys.stderr)
            return 1
    stack = None
    try:
        stack = Stack()
        parse = measure_parse(a, new, old)
        inc = measure_incremental(a, stack, new, old)
        full = measure_full(a, stack, new)
    except BenchError as e:
        print(f"bench-sync: error: {e}", file=sys.stderr)
        return 1
    finally:
        if stack is not None:
            stack.cleanup()
    lines = verdicts(parse, inc, full)
    log("")
    for line in lines:
        log(line)
    result = {
        "bundle": new.name, "previous": old.name,
        "parse_mb_per_s": parse["mb_per_s"], "parse_best_seconds": parse["best_seconds"],
        "parse_bytes": parse["bytes"],
        "full_rounds": full["rounds"], "full_objects": full["objects"],
        "full_wall_best": full["ours_wall_best"], "full_wall_median": full["ours_wall_median"],
        "full_tool_seconds_best": full["ours_tool_best"], "full_tool_seconds_median": full["ours_tool_median"],
        "full_wall": full["ours_wall"], "full_tool_seconds": full["ours_tool"],
        "peak_rss_mb": full["ours_peak_rss_mb"],
        "naive_best": full["naive_best"], "naive_median": full["naive_median"], "naive": full["naive"],
        "ratio": full["ratio"], "ratio_tool_seconds": full["ratio_tool"],
        "write_units": full["ours_write_units"], "naive_write_units": full["naive_write_units"],
        "write_units_ratio": full["write_units_ratio"],
        **inc,
        "pass": {
            "parse": parse["mb_per_s"] >= PARSE_MB_S_MIN,
            "rss": full["ours_peak_rss_mb"] <= PEAK_RSS_MB_MAX,
            "ratio": full["ratio"] <= RATIO_MAX,
            "write_units": full["write_units_ratio"] is not None and full["write_units_ratio"] <= WRITE_UNITS_RATIO_MAX,
            "incremental": inc["incremental_changes"] == INCREMENTAL_EXPECTED,
            "noop": inc["noop_written"] <= NOOP_WRITTEN_MAX,
        },
    }
    log(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
