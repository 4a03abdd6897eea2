//! Request parsing through the whole router (paths, query parameters, bodies, cursors,
//! If-Match), against in-memory repositories and the small fixture catalog, as an analyst:
//! every input is answered, never with a panic and never with a 500.
//!
//! Input: the first byte picks the method; then lines: the path and query after the API
//! prefix, the If-Match value (empty: none), the body (the rest).
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use mitre_api::{App, Settings, local, serve};
use mitre_attack::catalog::DomainCatalog;
use mitre_attack::{Domain, fixtures, parse_bundle};
use mitre_domain::{AuditEntry, MemoryRepos, Principal, PrincipalRepo};

const ANALYST: &str = "arn:aws:iam::1:user/fuzz-analyst";
const METHODS: [&str; 6] = ["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"];

fn world() -> &'static (tokio::runtime::Runtime, App) {
    static WORLD: OnceLock<(tokio::runtime::Runtime, App)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let text = fixtures::small_bundle("2.1");
        let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).expect("the fixture parses");
        let catalog = DomainCatalog::build(&bundle.objects, Domain::EnterpriseAttack, "1.0", "fixture");
        let repos = Arc::new(MemoryRepos::new());
        let p = Principal::register(ANALYST, "acme", "analyst", &[], "fuzz", None).expect("a principal");
        let audit = AuditEntry::of(&p.tenant, "fuzz", "principal.put", format!("principals/{ANALYST}"), None, Some(&p), "fuzz");
        rt.block_on(repos.put_principal(&p, audit)).expect("registered");
        let app = App::in_memory(&[catalog], repos, Settings { metric_lines: false, ..Settings::default() }).expect("an app");
        (rt, app)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let method = METHODS[*first as usize % METHODS.len()];
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.splitn(3, '\n');
    let path = format!("{}/{}", mitre_api::routes::PREFIX, lines.next().unwrap_or_default());
    let if_match = lines.next().unwrap_or_default();
    let body = lines.next().unwrap_or_default();
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if !if_match.is_empty() {
        headers.push(("if-match".to_string(), if_match.to_string()));
    }
    // what no HTTP client can send (an invalid URI or header) never reaches the function
    let Ok(req) = local::apigw_request(method, &path, &headers, body.as_bytes(), Some(ANALYST)) else { return };
    let (rt, app) = world();
    let served = rt.block_on(serve(app, req));
    assert_ne!(served.response.status().as_u16(), 500, "{method} {path} answered 500");
});
