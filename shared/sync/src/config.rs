//! Where each domain syncs from, as the deployment configures it (the environment), for the
//! scheduled sync, a sync started through the API and `mitre serve` alike.
//!
//! SYNC_DOMAINS (default enterprise-attack) lists the scheduled domains. Each domain's source is
//! ATTACK_SOURCE_URL_<DOMAIN> (for example ATTACK_SOURCE_URL_ICS_ATTACK), else ATTACK_SOURCE_URL
//! for enterprise-attack, else the domain's official bundle. With ATTACK_SOURCE_KIND=taxii
//! (default: json) each domain syncs from a TAXII 2.1 collection instead: the API root
//! TAXII_API_ROOT (default: the MITRE ATT&CK TAXII server) and the collection
//! TAXII_COLLECTION_<DOMAIN> (default: the domain's ATT&CK collection).
//! ATTACK_SOURCE_TIMEOUT_SECONDS (default 300) bounds each HTTP request of a source, its body
//! included.
use std::time::Duration;

use mitre_attack::Domain;

use crate::source::SourceSpec;

fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The longest an HTTP request of a source may take when ATTACK_SOURCE_TIMEOUT_SECONDS is not set.
pub const DEFAULT_SOURCE_TIMEOUT: Duration = Duration::from_secs(300);

/// The longest an HTTP request of a source may take, its body included
/// (ATTACK_SOURCE_TIMEOUT_SECONDS, in seconds; default 300).
pub fn source_timeout() -> Duration {
    env("ATTACK_SOURCE_TIMEOUT_SECONDS")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_SOURCE_TIMEOUT)
}

/// The configured source of `domain`.
pub fn source_for(domain: Domain) -> Result<SourceSpec, String> {
    let kind = env("ATTACK_SOURCE_KIND").unwrap_or_default().trim().to_ascii_lowercase();
    let suffix = domain.as_str().to_ascii_uppercase().replace('-', "_");
    match kind.as_str() {
        "" | "json" => {
            let url = env(&format!("ATTACK_SOURCE_URL_{suffix}")).or_else(|| (domain == Domain::EnterpriseAttack).then(|| env("ATTACK_SOURCE_URL")).flatten());
            SourceSpec::parse(url.as_deref(), domain).map_err(|e| e.0)
        }
        "taxii" => SourceSpec::taxii(env("TAXII_API_ROOT").as_deref(), env(&format!("TAXII_COLLECTION_{suffix}")).as_deref(), domain).map_err(|e| e.0),
        other => Err(format!("ATTACK_SOURCE_KIND is {other:?}: expected json or taxii")),
    }
}

/// The scheduled domains (SYNC_DOMAINS) with their sources.
pub fn scheduled() -> Result<Vec<(Domain, SourceSpec)>, String> {
    let list = env("SYNC_DOMAINS").unwrap_or_else(|| "enterprise-attack".into());
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let domain: Domain = name.parse().map_err(|e| format!("SYNC_DOMAINS: {e}"))?;
        out.push((domain, source_for(domain)?));
    }
    Ok(out)
}
