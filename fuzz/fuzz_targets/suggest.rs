//! The suggestion engine on any text and observables: an answer (or a refused request),
//! never a panic, and scores between 0 and 1.
//!
//! Input: lines; the first is the text, each further `type=value` line an observable.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mitre_attack::catalog::DomainCatalog;
use mitre_attack::{Domain, fixtures, parse_bundle};
use mitre_suggest::{DEFAULT_RULES, Engine, Observable, Request};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let text = fixtures::small_bundle("2.1");
        let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).expect("the fixture parses");
        let catalog = DomainCatalog::build(&bundle.objects, Domain::EnterpriseAttack, "1.0", "fixture");
        Engine::new(&catalog, DEFAULT_RULES).expect("the engine builds")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().to_string();
    let observables = lines.filter_map(|l| l.split_once('=')).map(|(k, v)| Observable::new(k, v)).collect();
    let req = Request { text: first, observables, limit: 5 };
    if req.validate().is_err() {
        return;
    }
    for s in engine().suggest(&req) {
        assert!((0.0..=1.0).contains(&s.score), "score {} out of range", s.score);
        assert!(!s.evidence.is_empty(), "{} suggested without evidence", s.technique);
    }
});
