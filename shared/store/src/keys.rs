//! Every key of the single table is built here, and nowhere else.
//!
//! | item | pk | sk | gsi1 | gsi2 |
//! | --- | --- | --- | --- | --- |
//! | catalog object | `C#{domain}#{stix_id}` | `#OBJ` | techniques, tactics, matrices: `C#{domain}#TYPE#{type}` / `{sort}#{stix_id}` | techniques, tactics, mitigations, groups, software, campaigns: `C#{domain}#AID#{attack_id}` / `{type}#{stix_id}` |
//! | technique in tactic | `C#{domain}#{technique stix_id}` | `TACTIC#{shortname}` | `C#{domain}#TACTIC#{shortname}` / `{attack_id}#{stix_id}` | |
//! | domain state | `CATALOG` | `DOMAIN#{domain}` | | |
//! | sync lease | `SYNC#{domain}` | `LEASE` | | |
//! | sync run | `SYNC#{domain}` | `RUN#{run_id}` | `RUNS` / `{started_at}#{domain}` | |
//! | audit entry | `T#{tenant}#AUDIT` | `{entry_id}` | `AUDIT` / `{entry_id}` | |
use mitre_attack::Domain;

pub const OBJECT_SK: &str = "#OBJ";
pub const TACTIC_SK_PREFIX: &str = "TACTIC#";
pub const CATALOG_PK: &str = "CATALOG";
pub const LEASE_SK: &str = "LEASE";
pub const RUNS_GSI: &str = "RUNS";
pub const AUDIT_GSI: &str = "AUDIT";
/// The tenant under which system actions (sync runs, repairs) are audited.
pub const SYSTEM_TENANT: &str = "_system";

pub fn object_pk(domain: Domain, stix_id: &str) -> String {
    format!("C#{domain}#{stix_id}")
}

pub fn tactic_sk(shortname: &str) -> String {
    format!("{TACTIC_SK_PREFIX}{shortname}")
}

pub fn type_gsi(domain: Domain, object_type: &str) -> String {
    format!("C#{domain}#TYPE#{object_type}")
}

pub fn attack_id_gsi(domain: Domain, attack_id: &str) -> String {
    format!("C#{domain}#AID#{attack_id}")
}

pub fn tactic_gsi(domain: Domain, shortname: &str) -> String {
    format!("C#{domain}#TACTIC#{shortname}")
}

pub fn domain_sk(domain: Domain) -> String {
    format!("DOMAIN#{domain}")
}

pub fn sync_pk(domain: Domain) -> String {
    format!("SYNC#{domain}")
}

pub fn run_sk(run_id: &str) -> String {
    format!("RUN#{run_id}")
}

pub fn audit_pk(tenant: &str) -> String {
    format!("T#{tenant}#AUDIT")
}

/// Sort key of catalog objects in type listings: ATT&CK ID when there is one, so that
/// listings come in ID order, then the STIX id to keep keys unique.
pub fn listing_sort(attack_id: Option<&str>, stix_id: &str) -> String {
    format!("{}#{stix_id}", attack_id.unwrap_or("~"))
}
