#!/usr/bin/env python3
"""Facts of every live ATT&CK technique, as stated by mitreattack-python (MITRE's own library).

Usage: attack_facts.py BUNDLE DOMAIN OUT_JSON

  BUNDLE    a STIX bundle, .json or .json.gz (gunzipped to a temporary file: the library
            reads plain JSON only)
  DOMAIN    enterprise-attack | mobile-attack | ics-attack
  OUT_JSON  where to write the facts

Run it with the interpreter of .tools/peer (`infra/tools.sh peer` installs the pinned
mitreattack-python there), e.g.

  .tools/peer/bin/python tests/oracle/attack_facts.py \
      ../shared/attack-data/enterprise-attack-18.1.json.gz enterprise-attack /tmp/oracle-enterprise-attack.json

OUT_JSON is one JSON object keyed by the ATT&CK ID of every live technique and
sub-technique (attack-pattern, neither revoked nor x_mitre_deprecated):

  "T1059.001": {
    "tactics":       ["execution"],             sorted phase_name of the technique's
                                                kill_chain_phases of the domain's kill chain
    "parent":        "T1059" | null,            parent technique of a sub-technique
    "subtechniques": ["T1234.001", ...],        live sub-techniques, sorted
    "mitigations":   ["M1042", ...],            sorted
    "groups":        ["G0007", ...],            sorted; direct and through campaigns
    "group_credits": {"G0007": ["C0022", "direct"], ...},
                                                how each group is credited: "direct" for a
                                                group-uses-technique relationship, a campaign's
                                                ID for each campaign attributed to the group
                                                that uses the technique; sorted
    "software":      ["S0002", ...],            sorted; direct uses only (see below)
    "campaigns":     ["C0001", ...]             sorted
  }

Every fact comes from the library (mitreattack-python 6.3.1, mitreattack/stix20/MitreAttackData.py):

  techniques     get_techniques(remove_revoked_deprecated=True). get_techniques (and every
                 get_<type>s listing) returns revoked and deprecated objects by default: this is
                 the one call that needs the filter, and the library's own flag applies it.
  tactics        the technique's kill_chain_phases as the library returns the object, kept when
                 kill_chain_name is the domain's; cross-checked against the library's
                 get_techniques_by_tactic(shortname, domain, remove_revoked_deprecated=True).
                 (get_tactics_by_technique is not used: it ignores kill_chain_name and maps phase
                 names onto every tactic object of the bundle, deprecated ones included.)
  parent         get_all_parent_techniques_of_all_subtechniques (what
                 get_parent_technique_of_subtechnique reads).
  subtechniques  get_all_subtechniques_of_all_techniques.
  mitigations    get_all_mitigations_mitigating_all_techniques.
  groups         get_all_groups_using_all_techniques: groups with a direct "uses" relationship to
                 the technique, plus, for each campaign using the technique, the groups that
                 campaign is "attributed-to" (add_inherited_campaign_relationships), de-duplicated
                 per group (remove_duplicates concatenates the relationships of the duplicates).
  group_credits  derived from the relationships the library returns with each group entry:
                   "uses" relationship whose source_ref is the group -> "direct";
                   "attributed-to" relationship (campaign -> group)   -> the campaign's ATT&CK ID,
                 an inherited entry carrying [campaign attributed-to group, campaign uses
                 technique]; the campaign-uses-technique half is checked to be there.
  software       get_all_software_using_all_techniques: merge() of the tool and malware "uses"
                 maps. It credits software only through its own direct "uses" relationships, not
                 through the campaigns or groups that use the software and the technique.
  campaigns      get_all_campaigns_using_all_techniques.

The all-maps are used rather than the per-technique get_*_using_technique accessors: those read
the same maps but re-build them on every call when a map is empty (its cache test is `if
self.all_...:`), e.g. a domain without campaigns.

Revoked and deprecated related objects and relationships: all the functions above build their map
with get_related(), which (1) queries relationships with revoked == False and then drops those
with x_mitre_deprecated (remove_revoked_deprecated), and (2) keeps only related objects that are
neither revoked nor deprecated (a relationship to any other object is skipped). So the library
already returns only live related objects through live relationships, also for the groups
credited through campaigns: the group-uses, campaign-uses and attributed-to relationships are
live, the campaign and the group are live. ATT&CK IDs are the library's get_attack_id. The
related objects are filtered once more here (live_related) as a guard: with mitreattack-python
6.3.1 it drops nothing; a library version that returned revoked or deprecated related objects
would have them dropped, since a live API lists only live related objects.

Prints to stderr one line: domain, number of techniques, seconds (load included).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import tempfile
import time

KILL_CHAINS = {
    "enterprise-attack": "mitre-attack",
    "mobile-attack": "mitre-mobile-attack",
    "ics-attack": "mitre-ics-attack",
}


def die(msg: str) -> None:
    print(f"attack_facts: error: {msg}", file=sys.stderr)
    sys.exit(1)


def is_live(obj) -> bool:
    # The library's own test (MitreAttackData.remove_revoked_deprecated): a missing property is False.
    return obj.get("x_mitre_deprecated", False) is False and obj.get("revoked", False) is False


def load(bundle: str):
    from mitreattack.stix20 import MitreAttackData

    if not bundle.endswith(".gz"):
        return MitreAttackData(stix_filepath=bundle)
    fd, plain = tempfile.mkstemp(prefix="attack-facts-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as out, gzip.open(bundle, "rb") as src:
            shutil.copyfileobj(src, out)
        return MitreAttackData(stix_filepath=plain)
    finally:
        os.unlink(plain)


def facts(data, domain: str) -> dict:
    kill_chain = KILL_CHAINS[domain]
    techniques = data.get_techniques(include_subtechniques=True, remove_revoked_deprecated=True)

    ids = {}  # STIX ID -> ATT&CK ID, memoised get_attack_id
    def attack_id(stix_id: str) -> str:
        if stix_id not in ids:
            aid = data.get_attack_id(stix_id)
            if not aid:
                die(f"{stix_id} has no ATT&CK ID")
            ids[stix_id] = aid
        return ids[stix_id]

    def live_related(entries) -> list:
        # Guard only: get_related() already leaves out revoked/deprecated objects (see the docstring).
        return [e for e in entries if is_live(e["object"])]

    parents = data.get_all_parent_techniques_of_all_subtechniques()
    subtechniques = data.get_all_subtechniques_of_all_techniques()
    mitigations = data.get_all_mitigations_mitigating_all_techniques()
    groups = data.get_all_groups_using_all_techniques()
    software = data.get_all_software_using_all_techniques()
    campaigns = data.get_all_campaigns_using_all_techniques()

    out = {}
    for tech in techniques:
        tid = tech["id"]
        aid = attack_id(tid)
        if aid in out:
            die(f"two live techniques have the ATT&CK ID {aid}")

        tactics = sorted({
            phase["phase_name"]
            for phase in tech.get("kill_chain_phases", [])
            if phase.get("kill_chain_name") == kill_chain
        })

        parent_entries = live_related(parents.get(tid, []))
        if len(parent_entries) > 1:
            die(f"{aid} has {len(parent_entries)} live parent techniques")
        parent = attack_id(parent_entries[0]["object"]["id"]) if parent_entries else None

        credits = {}
        for entry in live_related(groups.get(tid, [])):
            gid = entry["object"]["id"]
            rels = entry["relationships"]
            how = credits.setdefault(attack_id(gid), set())
            campaign_uses = {r["source_ref"] for r in rels
                             if r["relationship_type"] == "uses" and r["source_ref"] != gid}
            for rel in rels:
                kind = rel["relationship_type"]
                if kind == "uses" and rel["source_ref"] == gid and rel["target_ref"] == tid:
                    how.add("direct")
                elif kind == "attributed-to" and rel["target_ref"] == gid:
                    if rel["source_ref"] not in campaign_uses:
                        die(f"{aid}: {attack_id(gid)} credited through {attack_id(rel['source_ref'])} "
                            "without that campaign's uses relationship")
                    how.add(attack_id(rel["source_ref"]))
                elif not (kind == "uses" and rel["source_ref"] in campaign_uses and rel["target_ref"] == tid):
                    die(f"{aid}: unexpected {kind} relationship {rel['id']} crediting {attack_id(gid)}")
            if not how:
                die(f"{aid}: {attack_id(gid)} is credited by no relationship")

        campaign_ids = sorted({attack_id(e["object"]["id"]) for e in live_related(campaigns.get(tid, []))})
        for gid, how in credits.items():
            stray = {c for c in how if c != "direct"} - set(campaign_ids)
            if stray:
                die(f"{aid}: {gid} credited through campaigns {sorted(stray)} that do not use it")

        out[aid] = {
            "tactics": tactics,
            "parent": parent,
            "subtechniques": sorted({attack_id(e["object"]["id"]) for e in live_related(subtechniques.get(tid, []))}),
            "mitigations": sorted({attack_id(e["object"]["id"]) for e in live_related(mitigations.get(tid, []))}),
            "groups": sorted(credits),
            "group_credits": {g: sorted(how) for g, how in sorted(credits.items())},
            "software": sorted({attack_id(e["object"]["id"]) for e in live_related(software.get(tid, []))}),
            "campaigns": campaign_ids,
        }

    # Cross-check the tactics with the library's domain-aware get_techniques_by_tactic.
    by_tactic = {aid: set() for aid in out}
    for shortname in sorted({t for f in out.values() for t in f["tactics"]}):
        for tech in data.get_techniques_by_tactic(shortname, domain, remove_revoked_deprecated=True):
            by_tactic.setdefault(attack_id(tech["id"]), set()).add(shortname)
    for aid, f in out.items():
        if set(f["tactics"]) != by_tactic.get(aid, set()):
            die(f"{aid}: tactics {f['tactics']} but get_techniques_by_tactic gives {sorted(by_tactic.get(aid, []))}")

    return out


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    if len(argv) != 4:
        print("usage: attack_facts.py BUNDLE DOMAIN OUT_JSON   (DOMAIN: " + " | ".join(KILL_CHAINS) + ")",
              file=sys.stderr)
        sys.exit(2)
    bundle, domain, out_path = argv[1:]
    if domain not in KILL_CHAINS:
        die(f"DOMAIN must be one of {', '.join(KILL_CHAINS)}, not '{domain}'")
    if not os.path.isfile(bundle):
        die(f"{bundle} not found")

    start = time.perf_counter()
    result = facts(load(bundle), domain)
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump(result, out, indent=1, sort_keys=True)
        out.write("\n")
    seconds = time.perf_counter() - start
    print(f"attack_facts: {domain} {len(result)} techniques {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
