//! Shared by the integration tests: the enterprise ATT&CK 18.1 catalog, read in place from
//! $ATTACK_DATA_DIR (default: ../shared/attack-data next to the repository), and the engine
//! built from it with the shipped rule table, each built once per test binary.
#![allow(dead_code)]
use std::path::PathBuf;
use std::sync::OnceLock;

use mitre_attack::catalog::DomainCatalog;
use mitre_attack::{Domain, decode_source_bytes, parse_bundle};
use mitre_suggest::eval::{LabelledAlert, parse_labelled};
use mitre_suggest::{DEFAULT_RULES, Engine, Observable, Request, Suggestion};

pub fn data_dir() -> PathBuf {
    std::env::var_os("ATTACK_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/attack-data"))
}

pub fn catalog() -> &'static DomainCatalog {
    static CATALOG: OnceLock<DomainCatalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let path = data_dir().join("enterprise-attack-18.1.json.gz");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (set ATTACK_DATA_DIR)", path.display()));
        let data = decode_source_bytes(bytes).expect("readable bundle");
        let b = parse_bundle(&data, Domain::EnterpriseAttack).expect("a STIX bundle");
        DomainCatalog::build(&b.objects, Domain::EnterpriseAttack, "18.1", "")
    })
}

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(catalog(), DEFAULT_RULES).expect("the engine builds"))
}

pub fn labelled() -> &'static [LabelledAlert] {
    static SET: OnceLock<Vec<LabelledAlert>> = OnceLock::new();
    SET.get_or_init(|| parse_labelled(include_str!("../../../../tests/data/suggest/labelled.jsonl")).expect("labelled set"))
}

pub fn req(text: &str, observables: &[(&str, &str)]) -> Request {
    Request { text: text.to_string(), observables: observables.iter().map(|(k, v)| Observable::new(k, v)).collect(), limit: 20 }
}

pub fn ids(s: &[Suggestion]) -> Vec<&str> {
    s.iter().map(|x| x.technique.as_str()).collect()
}

pub fn find<'a>(s: &'a [Suggestion], id: &str) -> Option<&'a Suggestion> {
    s.iter().find(|x| x.technique == id)
}
