//! Every key of the single table, every index name and every key prefix is built here, and
//! nowhere else.
//!
//! | item | pk | sk | gsi1 (pk / sk) | gsi2 (pk / sk) | gsi3 (pk / sk) |
//! | --- | --- | --- | --- | --- | --- |
//! | catalog object (every type but relationships) | `C#{domain}#{stix_id}` | `#OBJ` | techniques, tactics, matrices: `C#{domain}#TYPE#{type}` / `{sort}#{stix_id}` | | |
//! | relationship pack (every relationship whose id hashes to the bucket) | `C#{domain}#RELS#{bucket}` | `#RELS` | | | |
//! | technique in tactic | `C#{domain}#{technique stix_id}` | `TACTIC#{shortname}` | `C#{domain}#TACTIC#{shortname}` / `{attack_id}#{stix_id}` | | |
//! | domain state | `CATALOG` | `DOMAIN#{domain}` | | | |
//! | verify report, flagged counter | `CATALOG` | `VERIFY`, `REVIEW` | | | |
//! | sync lease | `SYNC#{domain}` | `LEASE` | | | |
//! | sync run | `SYNC#{domain}` | `RUN#{run_id}` | `RUNS` / `{started_at}#{domain}` | | |
//! | audit entry | `T#{tenant}#AUDIT` | `{entry_id}` | `AUDIT` / `{entry_id}` | | |
//! | principal | `P#{arn}` | `P` | `PRINCIPALS` / `{arn}` | | |
//! | mapping | `T#{tenant}#M#{kind}` | `M#{id}` | `T#{tenant}#M#{field}#{v}` / `{kind}#{id}` for `case_id`, `incident_id`, `observable_id` | `T#{tenant}#M#alert_id#{v}` / `{kind}#{id}` | `MT#{technique}` / `T#{tenant}#{kind}#{id}` |
//! | entity access record | `T#{tenant}#M#{kind}` | `E#{id}` | | | |
//! | mapping uniqueness guard | `T#{tenant}#M#{kind}` | `U#{entities}#{technique}#{tactic}` | | | |
//! | technique use counter | `MAPSTATS` | `T#{technique}#{tactic}` | | | |
//! | statistics presence record | `T#{tenant}#M#{kind}` | `S#{domain}#{T\|A}#{technique or tactic}#{field}#{entity}` | | | |
//! | statistics counters | `T#{tenant}#STATS#{domain}` | `ALL#{shard}`, `M#{YYYY-MM}#{shard}` | | | |
//! | release changes of a domain | `CHANGES#{domain}` | `R#{to}#{from}` (releases as sortable keys) | | | |
//! | inference history of a tenant | `T#{tenant}#INFER` | `H#{domain}` | | | |
//! | review verdicts of a tenant, per technique | `T#{tenant}#FEEDBACK` | `F#{technique}` | | | |
use mitre_attack::Domain;

pub const OBJECT_SK: &str = "#OBJ";
pub const RELATIONSHIPS_SK: &str = "#RELS";
pub const TACTIC_SK_PREFIX: &str = "TACTIC#";
pub const CATALOG_PK: &str = "CATALOG";
pub const LEASE_SK: &str = "LEASE";
pub const RUNS_GSI: &str = "RUNS";
pub const AUDIT_GSI: &str = "AUDIT";
/// The secondary indexes (infra/table.json).
pub const GSI1: &str = "gsi1";
pub const GSI2: &str = "gsi2";
pub const GSI3: &str = "gsi3";
pub const DOMAIN_SK_PREFIX: &str = "DOMAIN#";
pub const RUN_SK_PREFIX: &str = "RUN#";
pub const VERIFY_SK: &str = "VERIFY";
/// The number of mappings flagged for an analyst; beside the domain states, so `status`
/// reads both in one Query.
pub const REVIEW_SK: &str = "REVIEW";
pub const PRINCIPAL_SK: &str = "P";
pub const PRINCIPALS_GSI: &str = "PRINCIPALS";
pub const MAPPING_SK_PREFIX: &str = "M#";
/// The partition of mapping counters: one item per (technique, tactic) in use across all
/// tenants. Verification reads these instead of every mapping.
pub const STATS_PK: &str = "MAPSTATS";
pub const USE_COUNTER_SK_PREFIX: &str = "T#";
/// The tenant under which system actions (sync runs, repairs) are audited.
pub const SYSTEM_TENANT: &str = "_system";

pub fn object_pk(domain: Domain, stix_id: &str) -> String {
    format!("C#{domain}#{stix_id}")
}

/// The partition of a relationship pack: `bucket` is [`crate::items::relationship_bucket`].
pub fn relationship_pack_pk(domain: Domain, bucket: u16) -> String {
    format!("C#{domain}#RELS#{bucket:04}")
}

pub fn tactic_sk(shortname: &str) -> String {
    format!("{TACTIC_SK_PREFIX}{shortname}")
}

pub fn type_gsi(domain: Domain, object_type: &str) -> String {
    format!("C#{domain}#TYPE#{object_type}")
}

pub fn tactic_gsi(domain: Domain, shortname: &str) -> String {
    format!("C#{domain}#TACTIC#{shortname}")
}

pub fn domain_sk(domain: Domain) -> String {
    format!("{DOMAIN_SK_PREFIX}{domain}")
}

pub fn sync_pk(domain: Domain) -> String {
    format!("SYNC#{domain}")
}

pub fn run_sk(run_id: &str) -> String {
    format!("{RUN_SK_PREFIX}{run_id}")
}

pub fn audit_pk(tenant: &str) -> String {
    format!("T#{tenant}#AUDIT")
}

/// Sort key of catalog objects in type listings: ATT&CK ID when there is one, so that
/// listings come in ID order, then the STIX id to keep keys unique.
pub fn listing_sort(attack_id: Option<&str>, stix_id: &str) -> String {
    format!("{}#{stix_id}", attack_id.unwrap_or("~"))
}

pub fn principal_pk(arn: &str) -> String {
    format!("P#{arn}")
}

/// The partition of a tenant's mappings of one kind (`alert`, `incident`, `case`, `observable`).
pub fn mapping_pk(tenant: &str, kind: &str) -> String {
    format!("T#{tenant}#M#{kind}")
}

pub fn mapping_sk(id: &str) -> String {
    format!("{MAPPING_SK_PREFIX}{id}")
}

/// The access record of an entity, beside the mappings of its kind.
pub fn access_sk(id: &str) -> String {
    format!("E#{id}")
}

/// The uniqueness guard of an observation (entities, technique and tactic), beside its mappings.
pub fn guard_sk(sameness: &str) -> String {
    format!("U#{sameness}")
}

/// The index that lists mappings by `field`: `alert_id` on gsi2, every other entity field
/// (`case_id`, `incident_id`, `observable_id`) on gsi1, so that no kind has two fields on one
/// index and the mappings of every kind that name an entity share one index partition.
pub fn mapping_entity_index(field: &str) -> &'static str {
    if field == "alert_id" { GSI2 } else { GSI1 }
}

/// The index partition of a tenant's mappings, of every kind, whose `field` is `value`
/// (`T#{tenant}#M#{field}#{value}`: entity fields end in `_id`, kinds do not).
pub fn mapping_entity_gsi(tenant: &str, field: &str, value: &str) -> String {
    format!("T#{tenant}#M#{field}#{value}")
}

/// A mapping's sort key in its entity partitions: by kind, then id, so one kind's mappings
/// of an entity are one key range.
pub fn mapping_entity_sk(kind: &str, id: &str) -> String {
    format!("{}{id}", mapping_entity_kind_prefix(kind))
}

pub fn mapping_entity_kind_prefix(kind: &str) -> String {
    format!("{kind}#")
}

/// Every mapping of a technique, across tenants (verify and repair), on gsi3.
pub fn technique_gsi(technique: &str) -> String {
    format!("MT#{technique}")
}

/// A mapping's gsi3 sort key: by tenant and kind, so one tenant's mappings of a technique are
/// one key range.
pub fn technique_gsi_sk(tenant: &str, kind: &str, id: &str) -> String {
    format!("{}{id}", technique_gsi_tenant_prefix(tenant, kind))
}

pub fn technique_gsi_tenant_prefix(tenant: &str, kind: &str) -> String {
    format!("T#{tenant}#{kind}#")
}

/// The use counter of a (technique, tactic identity).
pub fn use_counter_sk(technique: &str, tactic_key: &str) -> String {
    format!("{USE_COUNTER_SK_PREFIX}{technique}#{tactic_key}")
}

/// The partition of a tenant's statistics counters in one domain: one item per bucket shard.
pub fn stats_pk(tenant: &str, domain: Domain) -> String {
    format!("T#{tenant}#STATS#{domain}")
}

/// The all-time counters of one shard.
pub fn stats_all_sk(shard: u32) -> String {
    format!("{STATS_ALL_PREFIX}{shard:02}")
}

pub const STATS_ALL_PREFIX: &str = "ALL#";

/// One month's counters of one shard.
pub fn stats_month_sk(month: &str, shard: u32) -> String {
    format!("M#{month}#{shard:02}")
}

/// The sort key range of the months `from` to `to` (unbounded ends: every month).
pub fn stats_month_range(from: Option<&str>, to: Option<&str>) -> (String, String) {
    (format!("M#{}", from.unwrap_or("0000-00")), format!("M#{}#~", to.unwrap_or("9999-99")))
}

/// A statistics presence record: an entity with a technique (`T`) or a tactic (`A`), beside
/// the tenant's mappings of the entity's kind.
pub fn presence_sk(domain: Domain, dim: char, key: &str, field: &str, entity: &str) -> String {
    format!("S#{domain}#{dim}#{key}#{field}#{entity}")
}

pub fn changes_pk(domain: Domain) -> String {
    format!("CHANGES#{domain}")
}

/// `R#{to}#{from}`, each a [`mitre_domain::insight::release_key`]: the latest change sorts last.
pub fn changes_sk(from_key: &str, to_key: &str) -> String {
    format!("R#{to_key}#{from_key}")
}

pub const FEEDBACK_SK_PREFIX: &str = "F#";

/// The item of a tenant's review verdicts on one technique.
pub fn feedback_sk(technique: &str) -> String {
    format!("{FEEDBACK_SK_PREFIX}{technique}")
}

pub fn feedback_pk(tenant: &str) -> String {
    format!("T#{tenant}#FEEDBACK")
}

pub fn history_pk(tenant: &str) -> String {
    format!("T#{tenant}#INFER")
}

pub fn history_sk(domain: Domain) -> String {
    format!("H#{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mitre_domain::MappingKind;

    #[test]
    fn each_entity_field_of_a_kind_has_its_own_index_and_kinds_share_an_entitys_partition() {
        for kind in MappingKind::ALL {
            let indexes: Vec<&str> = kind.entity_fields().iter().map(|f| mapping_entity_index(f)).collect();
            let mut distinct = indexes.clone();
            distinct.dedup();
            assert_eq!(indexes.len(), distinct.len(), "{kind}: two entity fields on one index");
        }
        // a case's case mappings and the alert mappings naming it: one index, one partition
        assert_eq!(mapping_entity_index("case_id"), GSI1);
        assert_eq!(mapping_entity_index("alert_id"), GSI2);
        assert_eq!(mapping_entity_gsi("acme", "case_id", "C-1"), "T#acme#M#case_id#C-1");
        // one kind's mappings of the entity are a key range of it
        assert!(mapping_entity_sk("alert", "01J").starts_with(&mapping_entity_kind_prefix("alert")));
        assert!(!mapping_entity_sk("alert", "01J").starts_with(&mapping_entity_kind_prefix("case")));
    }
}
