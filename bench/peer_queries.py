#!/usr/bin/env python3
"""Query latency of the peer, MITRE's own library mitreattack-python, for `make bench-api`.

Loads BUNDLE with mitreattack.stix20.MitreAttackData (load seconds and peak RSS), then runs
the three queries that `mitre bench-api` measures against our API, through the library:

  technique_detail      T1059.001: get_object_by_attack_id + get_subtechniques_of_technique +
                        get_mitigations_mitigating_technique + get_groups_using_technique +
                        get_software_using_technique + get_campaigns_using_technique +
                        get_detection_strategies_detecting_technique (the same six lists as our
                        GET techniques/T1059.001)
  techniques_by_tactic  get_techniques_by_tactic("credential-access", "enterprise-attack",
                        remove_revoked_deprecated=True)
  search_powershell     get_objects_by_content("powershell", "attack-pattern",
                        remove_revoked_deprecated=True): the library's only text search
                        (case-insensitive substring of the description; get_objects_by_name
                        is an exact, case-sensitive name match, not a search)

The library builds its relationship maps on the first relationship query and caches them, so
the first call of each query is reported separately (first_call_ms) from the p50/p99 of the
N timed iterations that follow it.

Prints one JSON line: version, load seconds, peak RSS, per-query first_call_ms/p50_ms/p99_ms,
and result counts for cross-checking against the API.

Usage: peer_queries.py BUNDLE(.json or .json.gz) [--iterations N]
Needs: mitreattack-python (the peer venv .tools/peer)."""
import argparse
import gzip
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from importlib import metadata

TECHNIQUE = "T1059.001"
TACTIC = "credential-access"
DOMAIN = "enterprise-attack"
SEARCH = "powershell"


def percentile(sorted_ms, p):
    return sorted_ms[round((len(sorted_ms) - 1) * p)]


def timed(fn, iterations):
    """First call in ms, then p50/p99 ms over `iterations` further calls; returns (stats, result)."""
    t = time.perf_counter()
    result = fn()
    first = (time.perf_counter() - t) * 1e3
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    stats = {
        "first_call_ms": round(first, 3),
        "p50_ms": round(percentile(times, 0.5), 3),
        "p99_ms": round(percentile(times, 0.99), 3),
    }
    return stats, result


def is_active(obj):
    return not obj.get("revoked", False) and not obj.get("x_mitre_deprecated", False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--iterations", type=int, default=200)
    args = ap.parse_args()
    if args.iterations < 1:
        ap.error("--iterations must be at least 1")

    path = args.bundle
    tmp_path = None
    if path.endswith(".gz"):  # the library reads plain JSON files only
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp, gzip.open(path, "rb") as src:
            shutil.copyfileobj(src, tmp, 1 << 20)
        path = tmp_path = tmp.name
    try:
        from mitreattack.stix20 import MitreAttackData

        t0 = time.perf_counter()
        data = MitreAttackData(path)
        load_seconds = time.perf_counter() - t0
        load_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        if tmp_path:
            os.unlink(tmp_path)

    def detail():
        t = data.get_object_by_attack_id(TECHNIQUE, "attack-pattern")
        return {
            "technique": t,
            "subtechniques": data.get_subtechniques_of_technique(t.id),
            "mitigations": data.get_mitigations_mitigating_technique(t.id),
            "groups": data.get_groups_using_technique(t.id),
            "software": data.get_software_using_technique(t.id),
            "campaigns": data.get_campaigns_using_technique(t.id),
            "detection_strategies": data.get_detection_strategies_detecting_technique(t.id),
        }

    def by_tactic():
        return data.get_techniques_by_tactic(TACTIC, DOMAIN, remove_revoked_deprecated=True)

    def search():
        return data.get_objects_by_content(SEARCH, "attack-pattern", remove_revoked_deprecated=True)

    detail_stats, d = timed(detail, args.iterations)
    tactic_stats, techniques = timed(by_tactic, args.iterations)
    search_stats, hits = timed(search, args.iterations)
    if d["technique"] is None:
        sys.exit(f"peer_queries: {TECHNIQUE} not found in {args.bundle}")

    counts = {}
    for key in ("subtechniques", "mitigations", "groups", "software", "campaigns", "detection_strategies"):
        entries = d[key]
        # As the library returns them (groups include those inherited through attributed campaigns).
        counts[f"t1059_001_{key}"] = len({e["object"]["id"] for e in entries})
        # Comparable with the API: active objects related by a direct, active relationship.
        counts[f"t1059_001_{key}_direct_active"] = len({
            e["object"]["id"]
            for e in entries
            if is_active(e["object"])
            and any(
                is_active(r) and r.get("source_ref") == e["object"]["id"] and r.get("target_ref") == d["technique"].id
                for r in e["relationships"]
            )
        })
    counts["credential_access"] = len(techniques)
    counts["search_powershell_description"] = len(hits)
    # Name or description, as the API's q matches: for cross-checking only (not timed).
    name_hits = {
        t.id for t in data.get_techniques(remove_revoked_deprecated=True) if SEARCH in t.get("name", "").lower()
    }
    counts["search_powershell_name_or_description"] = len(name_hits | {h.id for h in hits})

    print(json.dumps({
        "library": "mitreattack-python",
        "version": metadata.version("mitreattack-python"),
        "iterations": args.iterations,
        "load_seconds": round(load_seconds, 3),
        "load_rss_mb": round(load_rss_mb, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "technique_detail": detail_stats,
        "techniques_by_tactic": tactic_stats,
        "search_powershell": search_stats,
        "search_function": "get_objects_by_content",
        "counts": counts,
    }))


if __name__ == "__main__":
    main()
