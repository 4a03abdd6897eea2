//! The STIX parser and the catalog built from what it parsed: any bytes, as a bundle of each
//! domain, must be parsed or refused with an error, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mitre_attack::catalog::DomainCatalog;
use mitre_attack::{Domain, decode_source_bytes, parse_bundle};

fuzz_target!(|data: &[u8]| {
    for domain in Domain::ALL {
        if let Ok(bundle) = parse_bundle(data, domain) {
            let catalog = DomainCatalog::build(&bundle.objects, domain, "fuzz", "fuzz");
            for t in &catalog.techniques {
                let _ = catalog.technique_by_attack_id(&t.attack_id);
            }
        }
    }
    // gzip or plain, as sources deliver them
    let _ = decode_source_bytes(data.to_vec());
});
