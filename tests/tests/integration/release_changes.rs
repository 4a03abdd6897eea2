//! Fidelity with MITRE's changelog tool: for every technique of enterprise 17.1 → 18.0 and
//! 18.0 → 18.1 (and 16.1 → 17.1, which revokes a technique), the class `ReleaseChanges::between` gives is the section mitreattack-python's
//! `diff_stix` puts it in (tests/oracle/release_changes.py, installed by `infra/tools.sh peer`),
//! the replacement of a revoked technique is the tool's, and so are the mitigations, detection
//! strategies and data components added and removed. Every technique, not only some tenant's
//! mapped ones: a tenant's impact is a subset. Needs no local stack.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use mitre_attack::catalog::DomainCatalog;
use mitre_attack::changes::{ChangeClass, LIST_CAP, ReleaseChanges, SetChange};
use mitre_attack::{Domain, decode_source_bytes, parse_bundle};
use mitre_tests::attack_data;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fnv(bytes: &[u8]) -> u64 {
    // FNV-1a: a cache key, nothing more.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// The tool's sections for `old` → `new` (cached under .local/oracle by bundles and script).
fn oracle(old: &str, new: &str, domain: Domain) -> BTreeMap<String, Value> {
    let python = root().join(".tools/peer/bin/python");
    assert!(python.exists(), "mitreattack-python is not installed: run `infra/tools.sh peer` (make test does)");
    let script = root().join("tests/oracle/release_changes.py");
    let key = format!("{:016x}", fnv(&std::fs::read(&script).unwrap()));
    let dir = root().join(".local/oracle");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("changes-{old}-{new}.{key}.json"));
    if !out.exists() {
        let tmp = dir.join(format!("changes-{old}-{new}.{}.tmp", ulid::Ulid::new()));
        let started = std::time::Instant::now();
        let status =
            std::process::Command::new(&python).arg(&script).arg(attack_data(old)).arg(attack_data(new)).arg(domain.as_str()).arg(&tmp).status().unwrap();
        assert!(status.success(), "the oracle failed on {old} → {new}");
        println!("oracle {old} → {new}: {:.1} s", started.elapsed().as_secs_f64());
        std::fs::rename(&tmp, &out).unwrap();
    }
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

fn catalog(file: &str, version: &str, domain: Domain) -> DomainCatalog {
    let bytes = decode_source_bytes(std::fs::read(attack_data(file)).unwrap()).unwrap();
    let b = parse_bundle(&bytes, domain).unwrap();
    DomainCatalog::build(&b.objects, domain, version, "release")
}

/// The tool's full list as ours keeps it: sorted, the first LIST_CAP, the rest counted.
fn as_kept(v: &Value) -> (Vec<String>, u32) {
    let mut all: Vec<String> = v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    all.sort();
    let more = all.len().saturating_sub(LIST_CAP) as u32;
    all.truncate(LIST_CAP);
    (all, more)
}

fn same_set(ours: &SetChange, theirs: &Value) -> bool {
    (ours.added.clone(), ours.more_added) == as_kept(&theirs["new"]) && (ours.removed.clone(), ours.more_removed) == as_kept(&theirs["dropped"])
}

/// Compares every technique of the two releases; returns (techniques, agreeing, field lists compared).
fn cross_check(old: (&str, &str), new: (&str, &str), domain: Domain) -> (usize, usize, usize) {
    let expected = oracle(old.0, new.0, domain);
    let (a, b) = (catalog(old.0, old.1, domain), catalog(new.0, new.1, domain));
    let changes = ReleaseChanges::between(&a, &b);
    let ours: BTreeMap<&str, _> = changes.techniques.iter().map(|c| (c.stix_id.as_str(), c)).collect();
    let every: BTreeSet<&str> = a.techniques.iter().chain(&b.techniques).map(|t| t.stix_id.as_str()).collect();
    for id in expected.keys() {
        assert!(every.contains(id.as_str()), "{id}: listed by the tool, not a technique of our catalogs (no ATT&CK ID?)");
    }

    let mut agree = 0;
    let mut sections: BTreeMap<&str, usize> = BTreeMap::new();
    let mut fields_compared = 0;
    let mut differences = Vec::new();
    for id in &every {
        let our = ours.get(id).map(|c| c.class).filter(|c| *c != ChangeClass::Unchanged);
        let their = expected.get(*id);
        let our_section = our.map_or("none", |c| c.section());
        let their_section = their.map_or("none", |e| e["section"].as_str().unwrap());
        if our_section != their_section {
            differences.push(format!("{id} ({:?}): ours {our_section}, the tool's {their_section}", ours.get(id).map(|c| &c.attack_id)));
            continue;
        }
        let none = || match (a.technique_by_stix_id(id), b.technique_by_stix_id(id)) {
            (Some(o), Some(n)) if o.revoked && n.revoked => "revoked in both",
            (Some(o), Some(n)) if o.deprecated && n.deprecated => "deprecated in both",
            _ => "unchanged",
        };
        *sections.entry(if our_section == "none" { none() } else { our_section }).or_default() += 1;
        let (Some(c), Some(e)) = (ours.get(id), their) else {
            agree += 1;
            continue;
        };
        let mut same = e["attack_id"].as_str() == Some(c.attack_id.as_str());
        if c.class == ChangeClass::Revocation {
            same &= e["revoked_by"].as_str() == c.revoked_by.as_ref().map(|r| r.attack_id.as_str());
        }
        if !same {
            differences.push(format!("{} ({id}): ours {:?} revoked by {:?}, the tool's {e}", c.attack_id, c.class, c.revoked_by));
        }
        if e.get("mitigations").is_some() {
            fields_compared += 1;
            let f = &c.fields;
            for (what, ours, theirs) in [
                ("mitigations", &f.mitigations, &e["mitigations"]),
                ("detection strategies", &f.detection_strategies, &e["detection_strategies"]),
                ("data components", &f.data_components, &e["data_components"]),
            ] {
                if !same_set(ours, theirs) {
                    same = false;
                    differences.push(format!("{} {what}: ours {ours:?}, the tool's {theirs}", c.attack_id));
                }
            }
        }
        if same {
            agree += 1;
        }
    }
    let figures: Vec<String> = sections.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!(
        "{} → {} ({domain}): {} techniques classified, {agree} agree: {}; field lists of {fields_compared} compared",
        old.1,
        new.1,
        every.len(),
        figures.join(", ")
    );
    differences.truncate(20);
    assert!(differences.is_empty(), "{} of {} techniques differ from diff_stix:\n{}", every.len() - agree, every.len(), differences.join("\n"));
    (every.len(), agree, fields_compared)
}

#[test]
fn release_changes_agree_with_mitres_changelog() {
    let d = Domain::EnterpriseAttack;
    let (n, agree, fields) = cross_check(("enterprise-attack-17.1.json.gz", "17.1"), ("enterprise-attack-18.0.json.gz", "18.0"), d);
    assert_eq!(agree, n);
    assert!(fields > 500, "the field lists of every changed technique: {fields}");
    let (n, agree, _) = cross_check(("enterprise-attack-18.0.json.gz", "18.0"), ("enterprise-attack-18.1.json.gz", "18.1"), d);
    assert_eq!(agree, n);
    // and a release with a revocation (T1574.002 by T1574.001)
    let (n, agree, _) = cross_check(("enterprise-attack-16.1.json.gz", "16.1"), ("enterprise-attack-17.1.json.gz", "17.1"), d);
    assert_eq!(agree, n);
}
