#!/usr/bin/env python3
"""What changed in the techniques between two ATT&CK releases, as MITRE's own changelog tool states it.

Usage: release_changes.py OLD_BUNDLE NEW_BUNDLE DOMAIN [OUT_JSON]

  OLD_BUNDLE, NEW_BUNDLE  STIX bundles, .json or .json.gz
  DOMAIN                  enterprise-attack | mobile-attack | ics-attack
  OUT_JSON                where to write the result (standard output when left out)

Run it with the interpreter of .tools/peer (`infra/tools.sh peer` installs the pinned
mitreattack-python there), e.g.

  .tools/peer/bin/python tests/oracle/release_changes.py \
      ../shared/attack-data/enterprise-attack-17.1.json.gz \
      ../shared/attack-data/enterprise-attack-18.0.json.gz enterprise-attack /tmp/changes.json

Each bundle is written, decompressed, to a temporary directory as {DOMAIN}.json (the layout the
tool reads) and the tool runs on the two directories:

  DiffStix(domains=[DOMAIN], old=OLD_DIR, new=NEW_DIR, unchanged=False, verbose=False)

(mitreattack-python 6.3.1, mitreattack/diffStix/changelog_helper.py; the classification is its
load_data). The result is one JSON object keyed by the STIX id of every attack-pattern of the
tool's technique sections:

  "attack-pattern--...": {
    "section":   "major_version_changes",   one of additions, deletions, revocations,
                                            deprecations, major_version_changes,
                                            minor_version_changes, other_version_changes,
                                            patches
    "attack_id": "T1059.001" | null,        the tool's get_attack_id
    "revoked_by": "T1059" | null,           revocations: the ATT&CK ID of the revoking object
    "mitigations": {"new": [...], "dropped": [...]},
                                            the tool's changelog_mitigations ("M1042: Name"),
                                            only for objects present in both releases and
                                            neither newly revoked nor deprecated
    "detection_strategies": {"new": [...], "dropped": [...]}
                                            its changelog_detectionstrategy_detections
                                            ("DET0001: Name"), likewise
    "data_components": {"new": [...], "dropped": [...]}
                                            its changelog_datacomponent_detections, likewise
  }

An attack-pattern in none of the sections is unchanged, or was revoked (or deprecated) in both
releases, which the tool does not report.

The tool's progress and log lines go to standard error; at the end one line there states the
domain, the number of techniques listed and the seconds taken (loading included).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import sys
import tempfile
import time

DOMAINS = ("enterprise-attack", "mobile-attack", "ics-attack")
SECTIONS = (
    "additions",
    "deletions",
    "revocations",
    "deprecations",
    "major_version_changes",
    "minor_version_changes",
    "other_version_changes",
    "patches",
)


def die(msg: str) -> None:
    print(f"release_changes: error: {msg}", file=sys.stderr)
    sys.exit(1)


def place(bundle: str, directory: str, domain: str) -> None:
    target = os.path.join(directory, f"{domain}.json")
    opener = gzip.open if bundle.endswith(".gz") else open
    with opener(bundle, "rb") as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out)


def changes(old_bundle: str, new_bundle: str, domain: str) -> dict:
    from loguru import logger
    from mitreattack.diffStix.changelog_helper import DiffStix, get_attack_id

    # Warnings name every unexpected version step: errors only (a revoked object without its
    # revoked-by relationship, which the tool then leaves out of every section).
    logger.remove()
    logger.add(sys.stderr, level="ERROR")

    with tempfile.TemporaryDirectory(prefix="release-changes-") as tmp:
        old_dir = os.path.join(tmp, "old")
        new_dir = os.path.join(tmp, "new")
        os.mkdir(old_dir)
        os.mkdir(new_dir)
        place(old_bundle, old_dir, domain)
        place(new_bundle, new_dir, domain)
        # the tool's progress bars write to standard output
        with contextlib.redirect_stdout(sys.stderr):
            diff = DiffStix(domains=[domain], old=old_dir, new=new_dir, unchanged=False, verbose=False)

    def pair(obj: dict, key: str) -> dict:
        found = obj.get(key) or {}
        return {"new": list(found.get("new", [])), "dropped": list(found.get("dropped", []))}

    out = {}
    sections = diff.data["changes"]["techniques"][domain]
    for section in SECTIONS:
        for obj in sections.get(section, []):
            if obj.get("type") != "attack-pattern":
                continue
            stix_id = obj["id"]
            if stix_id in out:
                die(f"{stix_id} is in both {out[stix_id]['section']} and {section}")
            entry = {"section": section, "attack_id": get_attack_id(obj)}
            if section == "revocations":
                entry["revoked_by"] = get_attack_id(obj["revoked_by"])
            if "changelog_mitigations" in obj:
                entry["mitigations"] = pair(obj, "changelog_mitigations")
                entry["detection_strategies"] = pair(obj, "changelog_detectionstrategy_detections")
                entry["data_components"] = pair(obj, "changelog_datacomponent_detections")
            out[stix_id] = entry
    return out


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    if len(argv) not in (4, 5):
        print("usage: release_changes.py OLD_BUNDLE NEW_BUNDLE DOMAIN [OUT_JSON]   (DOMAIN: " + " | ".join(DOMAINS) + ")",
              file=sys.stderr)
        sys.exit(2)
    old_bundle, new_bundle, domain = argv[1:4]
    if domain not in DOMAINS:
        die(f"DOMAIN must be one of {', '.join(DOMAINS)}, not '{domain}'")
    for bundle in (old_bundle, new_bundle):
        if not os.path.isfile(bundle):
            die(f"{bundle} not found")

    start = time.perf_counter()
    result = changes(old_bundle, new_bundle, domain)
    text = json.dumps(result, indent=1, sort_keys=True) + "\n"
    if len(argv) == 5:
        with open(argv[4], "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    seconds = time.perf_counter() - start
    print(f"release_changes: {domain} {len(result)} techniques {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
