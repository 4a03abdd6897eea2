//! Fidelity with MITRE's own library: for every live technique of enterprise 18.1, mobile 18.0
//! and ICS 18.1, the API's technique detail states the tactics, parent, sub-techniques,
//! mitigations, groups (and how each is credited), software and campaigns that mitreattack-python
//! states on the same bundle (tests/oracle/attack_facts.py, installed by `infra/tools.sh peer`).
//! Also the mobile domain beside the others: tactic order from the live matrix, detail, search
//! and mappings.
use std::collections::BTreeMap;
use std::path::PathBuf;

use mitre_api::{App, Settings};
use mitre_attack::Domain;
use mitre_tests::{attack_data, get, synced_store_all_domains};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The oracle's facts for `file` (cached under .local/oracle by bundle and script).
fn oracle(file: &str, domain: Domain) -> BTreeMap<String, Value> {
    let python = root().join(".tools/peer/bin/python");
    assert!(python.exists(), "mitreattack-python is not installed: run `infra/tools.sh peer` (make test does)");
    let script = root().join("tests/oracle/attack_facts.py");
    let script_text = std::fs::read(&script).unwrap();
    let key = format!("{:016x}", xxhash(&script_text));
    let dir = root().join(".local/oracle");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("{file}.{key}.json"));
    if !out.exists() {
        let tmp = dir.join(format!("{file}.{}.tmp", ulid::Ulid::new()));
        let status = std::process::Command::new(&python).arg(&script).arg(attack_data(file)).arg(domain.as_str()).arg(&tmp).status().unwrap();
        assert!(status.success(), "the oracle failed on {file}");
        std::fs::rename(&tmp, &out).unwrap();
    }
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

fn xxhash(bytes: &[u8]) -> u64 {
    // FNV-1a: a cache key, nothing more.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn sorted_ids(v: &Value) -> Value {
    let mut ids: Vec<String> = v.as_array().unwrap().iter().map(|x| x["attack_id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    json!(ids)
}

/// The API's answer in the oracle's shape.
fn facts_of(detail: &Value) -> BTreeMap<&'static str, Value> {
    let mut tactics: Vec<String> = detail["tactics"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
    tactics.sort();
    let mut credits = serde_json::Map::new();
    for g in detail["groups"].as_array().unwrap() {
        let mut how: Vec<String> = g["credited"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| if c["via"] == "direct" { "direct".to_string() } else { c["campaign"].as_str().unwrap().to_string() })
            .collect();
        how.sort();
        credits.insert(g["attack_id"].as_str().unwrap().to_string(), json!(how));
    }
    BTreeMap::from([
        ("tactics", json!(tactics)),
        ("parent", detail["parent"].clone()),
        ("subtechniques", sorted_ids(&detail["subtechniques"])),
        ("mitigations", sorted_ids(&detail["mitigations"])),
        ("groups", sorted_ids(&detail["groups"])),
        ("group_credits", Value::Object(credits)),
        ("software", sorted_ids(&detail["software"])),
        ("campaigns", sorted_ids(&detail["campaigns"])),
    ])
}

async fn cross_check(app: &App, file: &str, domain: Domain) -> (usize, usize, usize) {
    let expected = oracle(file, domain);
    let mut compared = 0;
    let mut equal = 0;
    let mut differences = Vec::new();
    for (id, facts) in &expected {
        let r = get(app, &format!("{P}/techniques/{id}?domain={domain}")).await;
        assert_eq!(r.status, 200, "{domain} {id}: {}", r.body);
        assert_eq!(r.body["domain"], domain.as_str());
        for (name, ours) in facts_of(&r.body) {
            compared += 1;
            if facts[name] == ours {
                equal += 1;
            } else if differences.len() < 20 {
                differences.push(format!("{domain} {id} {name}: ours {ours}, library {}", facts[name]));
            }
        }
    }
    // every live technique the API lists is one the library states, and no other
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = get(app, &format!("{P}/techniques?domain={domain}&limit=500{cursor}")).await;
        listed.extend(r.body["items"].as_array().unwrap().iter().map(|t| t["attack_id"].as_str().unwrap().to_string()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    listed.sort();
    assert_eq!(listed, expected.keys().cloned().collect::<Vec<_>>(), "{domain}: the live techniques");
    println!("fidelity {domain} ({file}): {} techniques, {compared} facts compared, {equal} equal", expected.len());
    assert!(differences.is_empty(), "{} of {compared} facts differ from mitreattack-python:\n{}", compared - equal, differences.join("\n"));
    (expected.len(), compared, equal)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_live_technique_agrees_with_mitreattack_python() {
    let app = App::new(synced_store_all_domains().await, Settings::default());
    let (n, compared, equal) = cross_check(&app, "enterprise-attack-18.1.json.gz", Domain::EnterpriseAttack).await;
    assert_eq!((n, compared, equal), (691, 691 * 8, 691 * 8));
    cross_check(&app, "mobile-attack-18.0.json.gz", Domain::MobileAttack).await;
    cross_check(&app, "ics-attack-18.1.json.gz", Domain::IcsAttack).await;

    // The group MITRE's library credits only through campaigns is listed, and says so.
    let d = get(&app, &format!("{P}/techniques/T1059.001")).await;
    let groups = d.body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 84);
    assert_eq!(groups.iter().filter(|g| g["credited"].as_array().unwrap().iter().any(|c| c["via"] == "direct")).count(), 83);
    let g0088 = groups.iter().find(|g| g["attack_id"] == "G0088").unwrap();
    let via: Vec<_> = g0088["credited"].as_array().unwrap().iter().map(|c| (c["via"].as_str().unwrap(), c["campaign"].as_str().unwrap())).collect();
    assert_eq!(via, [("campaign", "C0030"), ("campaign", "C0032")]);
    assert!(g0088["credited"][0]["campaign_name"].is_string());

    // Group detail: techniques and software through the group's campaigns, credited.
    let g = get(&app, &format!("{P}/groups/G0088")).await;
    let t = g.body["techniques"].as_array().unwrap().iter().find(|t| t["attack_id"] == "T1059.001").unwrap();
    assert_eq!(t["credited"].as_array().unwrap().len(), 2);
    assert!(g.body["software"].as_array().unwrap().iter().all(|s| s["credited"].is_array()));
}

#[tokio::test(flavor = "multi_thread")]
async fn mobile_is_synced_beside_enterprise_and_ics_and_never_mixes() {
    let app = App::new(synced_store_all_domains().await, Settings::default());
    let r = get(&app, &format!("{P}/tactics?domain=mobile-attack")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|t| t["shortname"].as_str().unwrap()).collect();
    // the live "Mobile ATT&CK" matrix's order; the deprecated Network-Based Effects matrix and
    // its deprecated tactics play no part
    assert_eq!(
        names,
        [
            "initial-access",
            "execution",
            "persistence",
            "privilege-escalation",
            "defense-evasion",
            "credential-access",
            "discovery",
            "lateral-movement",
            "collection",
            "command-and-control",
            "exfiltration",
            "impact"
        ]
    );
    assert!(r.body["items"].as_array().unwrap().iter().all(|t| t["domain"] == "mobile-attack"));

    // a mobile technique, found without naming the domain, with its mobile tactics
    let t = get(&app, &format!("{P}/techniques/T1404")).await;
    assert_eq!((t.status, t.body["domain"].as_str()), (200, Some("mobile-attack")), "{}", t.body);
    assert_eq!(t.body["tactics"], json!(["privilege-escalation"]));
    // search stays in its domain
    let s = get(&app, &format!("{P}/techniques?domain=mobile-attack&q=sms&limit=50")).await;
    let found: Vec<&str> = s.body["items"].as_array().unwrap().iter().map(|t| t["attack_id"].as_str().unwrap()).collect();
    assert!(!found.is_empty());
    assert!(s.body["items"].as_array().unwrap().iter().all(|t| t["domain"] == "mobile-attack"));
    let enterprise = get(&app, &format!("{P}/techniques?q=sms&limit=50")).await;
    assert!(enterprise.body["items"].as_array().unwrap().iter().all(|t| t["domain"] == "enterprise-attack"));
    // mobile tactics do not leak into enterprise and the reverse
    let phases = get(&app, &format!("{P}/kill-chain-phases?domain=mobile-attack")).await;
    let items = phases.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 12);
    assert!(items.iter().all(|p| p["kill_chain_name"] == "mitre-mobile-attack"));
    // a mapping of a mobile technique records its mobile tactic
    let analyst = "arn:aws:iam::555555555555:user/mobile-analyst";
    mitre_tests::register(&synced_store_all_domains().await, analyst, "tenant-mobile", mitre_store::tenancy::Role::Analyst).await;
    let body = json!({"alert_id": "MOB-1", "technique": "T1404", "confidence_score": 75}).to_string();
    let m = mitre_tests::call(&app, "POST", &format!("{P}/alert-mappings"), Some(analyst), body.as_bytes()).await;
    assert_eq!(m.status, 201, "{}", m.body);
    assert_eq!((m.body["domain"].as_str(), m.body["tactic"].as_str()), (Some("mobile-attack"), Some("privilege-escalation")));
    let mobile_tactic = r.body["items"].as_array().unwrap().iter().find(|t| t["shortname"] == "privilege-escalation").unwrap();
    assert_eq!(m.body["tactic_id"], mobile_tactic["stix_id"], "the mobile tactic, not enterprise's");
    let listed = mitre_tests::call(&app, "GET", &format!("{P}/alert-mappings?technique=T1404"), Some(analyst), b"").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    let status = get(&app, &format!("{P}/status")).await;
    assert_eq!(status.body["domains"]["mobile-attack"]["version"], "18.0");
    assert_eq!(status.body["domains"]["mobile-attack"]["counts"]["attack-pattern"], 189);
}
