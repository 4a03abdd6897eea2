//! `mitre layer|matrix|mitigations|report|stats|impact|infer`: the analyst views of an entity
//! (or a tenant's heatmap), the tenant's statistics, upgrade impact and technique inference as
//! the API answers them, for an operator acting in a tenant.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use mitre_api::{App, ReplyBody, Settings, identity::Identity};
use mitre_domain::{Role, TenantId};
use mitre_store::Store;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("entity").multiple(false)))]
pub struct ViewArgs {
    /// The tenant whose mappings the view reads.
    #[arg(long)]
    tenant: String,
    /// A case (its case mappings and the alert mappings that name it).
    #[arg(long, group = "entity")]
    case: Option<String>,
    /// An alert (its alert mappings and the case mappings that name it).
    #[arg(long, group = "entity")]
    alert: Option<String>,
    #[arg(long, group = "entity")]
    incident: Option<String>,
    #[arg(long, group = "entity")]
    observable: Option<String>,
    /// The document's format (matrix: json, svg, html; report: markdown, json, html).
    #[arg(long)]
    format: Option<String>,
    /// The ATT&CK domain, when the mappings span several.
    #[arg(long)]
    domain: Option<String>,
    /// Without an entity (tenant heatmaps): mappings observed from, to (RFC 3339).
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    /// Write the document here instead of to standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy)]
pub enum View {
    Layer,
    Matrix,
    Mitigations,
    Report,
}

impl View {
    fn path(self) -> &'static str {
        match self {
            View::Layer => "navigator-layer",
            View::Matrix => "matrix",
            View::Mitigations => "mitigations",
            View::Report => "report",
        }
    }
}

/// The API path of the view: `cases/C-1/matrix?format=svg`, or the tenant's `matrix?...`.
fn path_of(view: View, a: &ViewArgs) -> String {
    let entity = [("cases", &a.case), ("alerts", &a.alert), ("incidents", &a.incident), ("observables", &a.observable)]
        .into_iter()
        .find_map(|(plural, id)| id.as_ref().map(|id| format!("{plural}/{}/", url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>())));
    let q = query_string(&[("format", &a.format), ("domain", &a.domain), ("from", &a.from), ("to", &a.to)]);
    format!("{}/{}{}{q}", mitre_api::routes::PREFIX, entity.unwrap_or_default(), view.path())
}

/// `?name=value&...` of the parameters given (percent-encoded), or nothing.
fn query_string(params: &[(&str, &Option<String>)]) -> String {
    let given: Vec<String> = params
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={}", url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>())))
        .collect();
    if given.is_empty() { String::new() } else { format!("?{}", given.join("&")) }
}

pub async fn run(store: Store, view: View, a: ViewArgs) -> Result<ExitCode> {
    let path = path_of(view, &a);
    answer_to(store, &a.tenant, &path, a.out.as_deref()).await
}

/// `mitre stats`: the tenant's statistics as `GET statistics/...` answers them.
#[derive(clap::Args)]
pub struct StatsArgs {
    /// The tenant whose statistics to read.
    #[arg(long)]
    tenant: String,
    /// techniques (ranked by distinct entities), tactics or kill-chain (matrix order).
    #[arg(long, value_parser = ["techniques", "tactics", "kill-chain"], default_value = "techniques")]
    by: String,
    /// techniques: how many (1 to 1000).
    #[arg(long)]
    top: Option<String>,
    /// alert, incident, case or observable.
    #[arg(long)]
    entity_type: Option<String>,
    #[arg(long)]
    domain: Option<String>,
    /// First and last month counted: YYYY-MM or RFC 3339.
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn stats(store: Store, a: StatsArgs) -> Result<ExitCode> {
    let q = query_string(&[("top", &a.top), ("entity_type", &a.entity_type), ("domain", &a.domain), ("from", &a.from), ("to", &a.to)]);
    let path = format!("{}/statistics/{}{q}", mitre_api::routes::PREFIX, a.by);
    answer_to(store, &a.tenant, &path, a.out.as_deref()).await
}

/// `mitre impact`: what an ATT&CK release change changed in a tenant's mappings, as
/// `GET attack-updates` answers it; or, with --old-bundle and --new-bundle, compute and keep the
/// changes between two releases (what a sync does when it moves a domain to a newer release).
#[derive(clap::Args)]
pub struct ImpactArgs {
    /// The tenant whose mappings to weigh the changes against.
    #[arg(long, required_unless_present = "old_bundle")]
    tenant: Option<String>,
    #[arg(long)]
    domain: Option<String>,
    /// The release change from one release to another (both, or neither for the latest).
    #[arg(long, requires = "to")]
    from: Option<String>,
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// json or markdown.
    #[arg(long)]
    format: Option<String>,
    /// Compute and keep the changes from this bundle (gzip or plain STIX) ...
    #[arg(long, requires = "new_bundle", conflicts_with = "tenant")]
    old_bundle: Option<PathBuf>,
    /// ... to this one.
    #[arg(long, requires = "old_bundle")]
    new_bundle: Option<PathBuf>,
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn impact(store: Store, a: ImpactArgs) -> Result<ExitCode> {
    if let (Some(old), Some(new)) = (&a.old_bundle, &a.new_bundle) {
        let domain: mitre_attack::Domain = a.domain.as_deref().unwrap_or("enterprise-attack").parse().map_err(|e| anyhow!("{e}"))?;
        let load = |p: &std::path::Path| -> Result<mitre_attack::catalog::DomainCatalog> {
            let raw = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let data = if raw.starts_with(&[0x1f, 0x8b]) {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)?;
                out
            } else {
                raw
            };
            let bundle = mitre_attack::parse_bundle(&data, domain).map_err(|e| anyhow!("{}: {e}", p.display()))?;
            let version = bundle
                .collection_version
                .clone()
                .or_else(|| p.file_name().and_then(|n| n.to_str()).and_then(mitre_sync::source::version_from_name))
                .ok_or_else(|| anyhow!("{}: no release version in the bundle or its name", p.display()))?;
            Ok(mitre_attack::catalog::DomainCatalog::build(&bundle.objects, domain, &version, ""))
        };
        let (old, new) = (load(old)?, load(new)?);
        let changes = mitre_attack::changes::ReleaseChanges::between(&old, &new);
        let record = mitre_domain::ReleaseChangeRecord {
            domain,
            from: old.version.clone(),
            to: new.version.clone(),
            computed_at: mitre_domain::Timestamp::now(),
            changes: changes.encode()?,
        };
        use mitre_domain::InsightRepo;
        store.put_release_changes(&record).await.map_err(|e| anyhow!("{e}"))?;
        println!("{domain} {} -> {}: {} techniques changed, kept ({} bytes)", old.version, new.version, changes.techniques.len(), record.changes.len());
        return Ok(ExitCode::SUCCESS);
    }
    let q = query_string(&[("domain", &a.domain), ("from", &a.from), ("to", &a.to), ("format", &a.format)]);
    let path = format!("{}/attack-updates{q}", mitre_api::routes::PREFIX);
    answer_to(store, a.tenant.as_deref().unwrap_or_default(), &path, a.out.as_deref()).await
}

/// `mitre infer`: techniques an entity (or a set of techniques) does not have yet, ranked by how
/// likely they are part of the same intrusion, as the API answers; or, with --rebuild, rebuild
/// the inference histories now (a tenant's, or every tenant's).
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("subject").multiple(false)))]
pub struct InferArgs {
    #[arg(long, required_unless_present = "rebuild")]
    tenant: Option<String>,
    #[arg(long, group = "subject")]
    case: Option<String>,
    #[arg(long, group = "subject")]
    alert: Option<String>,
    #[arg(long, group = "subject")]
    incident: Option<String>,
    #[arg(long, group = "subject")]
    observable: Option<String>,
    /// Observed techniques, comma-separated (T1059.001,T1105).
    #[arg(long, group = "subject", value_delimiter = ',')]
    techniques: Option<Vec<String>>,
    #[arg(long)]
    domain: Option<String>,
    /// How many suggestions (1 to 50, default 20).
    #[arg(long)]
    limit: Option<String>,
    /// Rebuild the inference histories from the mappings now (--tenant: that tenant's only).
    #[arg(long, group = "subject")]
    rebuild: bool,
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn infer(store: Store, a: InferArgs) -> Result<ExitCode> {
    if a.rebuild {
        let (states, _, _) = store.catalog_status().await.context("reading the domain states")?;
        let domains: Vec<mitre_attack::Domain> = states.into_iter().filter(|(_, s)| s.version.is_some()).map(|(d, _)| d).collect();
        let rebuilt = match &a.tenant {
            Some(t) => {
                let tenant = TenantId::parse(t).map_err(|e| anyhow!("{e}"))?;
                mitre_sync::insight::rebuild_history(&store, &tenant, &domains).await?
            }
            None => mitre_sync::insight::rebuild_histories(&store, &domains, std::time::Duration::ZERO).await?,
        };
        for r in &rebuilt {
            println!("{} {}: {} entities from {} mappings", r.tenant, r.domain, r.entities, r.mappings);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let tenant = a.tenant.as_deref().unwrap_or_default();
    if let Some(techniques) = &a.techniques {
        let mut body = serde_json::json!({ "techniques": techniques });
        if let Some(d) = &a.domain {
            body["domain"] = serde_json::json!(d);
        }
        if let Some(l) = &a.limit {
            body["limit"] = serde_json::json!(l.parse::<i64>().map_err(|_| anyhow!("--limit must be an integer"))?);
        }
        let path = format!("{}/inferences", mitre_api::routes::PREFIX);
        return answer_with(store, tenant, "POST", &path, &serde_json::to_vec(&body)?, a.out.as_deref()).await;
    }
    let entity = [("cases", &a.case), ("alerts", &a.alert), ("incidents", &a.incident), ("observables", &a.observable)]
        .into_iter()
        .find_map(|(plural, id)| id.as_ref().map(|id| format!("{plural}/{}", url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>())))
        .ok_or_else(|| anyhow!("name an entity (--case, --alert, --incident, --observable), --techniques, or --rebuild"))?;
    let q = query_string(&[("domain", &a.domain), ("limit", &a.limit)]);
    let path = format!("{}/{entity}/inferences{q}", mitre_api::routes::PREFIX);
    answer_to(store, tenant, &path, a.out.as_deref()).await
}

/// Answers `GET path` for an operator acting as a viewer of `tenant`, to `out` or standard output.
async fn answer_to(store: Store, tenant: &str, path: &str, out: Option<&std::path::Path>) -> Result<ExitCode> {
    answer_with(store, tenant, "GET", path, b"", out).await
}

/// Answers `method path` with `body` for an operator acting in `tenant`.
async fn answer_with(store: Store, tenant: &str, method: &str, path: &str, body: &[u8], out: Option<&std::path::Path>) -> Result<ExitCode> {
    let tenant = TenantId::parse(tenant).map_err(|e| anyhow!("{e}"))?;
    // the operator reads as a tenant admin: every entity of the tenant
    let who = Identity::operator(&crate::operator_actor(), Role::Admin, Some(tenant), "cli");
    let app = App::new(store, Settings { metric_lines: false, ..Settings::default() });
    let reply = mitre_api::answer_for(&app, &who, method, path, body).await.map_err(|e| anyhow!("{e}"))?;
    let bytes = match reply.body {
        ReplyBody::Json(v) => serde_json::to_vec_pretty(&v)?,
        ReplyBody::Html(t) | ReplyBody::Svg(t) | ReplyBody::Markdown(t) => t.into_bytes(),
        ReplyBody::Binary { bytes, .. } => bytes,
        ReplyBody::Empty => Vec::new(),
    };
    match out {
        Some(f) => std::fs::write(f, &bytes).with_context(|| format!("writing {}", f.display()))?,
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `mitre demo --tenant T`: maps a few demo cases of tenant T (idempotent: a repeat merges), as
/// an analyst of T would through the API.
pub async fn demo(store: Store, tenant: &str) -> Result<ExitCode> {
    let tenant = TenantId::parse(tenant).map_err(|e| anyhow!("{e}"))?;
    let who = Identity::operator("cli:demo", Role::Analyst, Some(tenant.clone()), "demo");
    let app = App::new(store, Settings { metric_lines: false, ..Settings::default() });
    // (kind, entity ids, technique, tactic, confidence, impact, status, detection, first, last, artifacts)
    type Row<'a> = (&'a str, serde_json::Value, &'a str, Option<&'a str>, u8, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str);
    let rows: Vec<Row<'_>> = vec![
        (
            "case",
            serde_json::json!({"case_id": "CASE-1001"}),
            "T1566.001",
            None,
            95,
            "high",
            "completed",
            "threat_intel",
            "2026-03-01T08:12:00Z",
            "2026-03-01T08:40:00Z",
            "Invoice_March.xlsm from billing@examp1e-corp.com",
        ),
        (
            "alert",
            serde_json::json!({"alert_id": "ALRT-7", "case_id": "CASE-1001"}),
            "T1059.001",
            None,
            92,
            "high",
            "in_progress",
            "edr",
            "2026-03-01T08:41:00Z",
            "2026-03-01T09:05:00Z",
            "powershell.exe -nop -w hidden -enc SQBFAFgA...",
        ),
        (
            "alert",
            serde_json::json!({"alert_id": "ALRT-8", "case_id": "CASE-1001"}),
            "T1547.001",
            Some("persistence"),
            60,
            "medium",
            "not_started",
            "edr",
            "2026-03-01T09:06:00Z",
            "2026-03-01T09:06:00Z",
            "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\OneDriveSync",
        ),
        (
            "case",
            serde_json::json!({"case_id": "CASE-1001"}),
            "T1003.001",
            None,
            85,
            "high",
            "in_progress",
            "edr",
            "2026-03-01T10:02:00Z",
            "2026-03-01T10:03:00Z",
            "rundll32 comsvcs.dll MiniDump 648 C:\\Windows\\Temp\\l.dmp full",
        ),
        (
            "case",
            serde_json::json!({"case_id": "CASE-1001"}),
            "T1021.002",
            None,
            75,
            "high",
            "not_started",
            "siem",
            "2026-03-01T11:30:00Z",
            "2026-03-01T12:10:00Z",
            "ADMIN$ writes from WS-114 to SRV-FILE-02",
        ),
        (
            "case",
            serde_json::json!({"case_id": "CASE-1001"}),
            "T1486",
            None,
            98,
            "high",
            "in_progress",
            "edr",
            "2026-03-01T13:00:00Z",
            "2026-03-01T13:20:00Z",
            ".locked extension on 14,211 files; README_RESTORE.txt",
        ),
        (
            "case",
            serde_json::json!({"case_id": "CASE-1002"}),
            "T1078.004",
            Some("initial-access"),
            70,
            "medium",
            "in_progress",
            "siem",
            "2026-03-04T02:00:00Z",
            "2026-03-04T02:30:00Z",
            "console login from an unfamiliar ASN, no MFA",
        ),
        (
            "case",
            serde_json::json!({"case_id": "CASE-1002"}),
            "T1530",
            None,
            65,
            "high",
            "not_started",
            "siem",
            "2026-03-04T02:31:00Z",
            "2026-03-04T03:10:00Z",
            "GetObject x 18,400 on s3://finance-archive",
        ),
        (
            "incident",
            serde_json::json!({"incident_id": "INC-42"}),
            "T1190",
            None,
            80,
            "high",
            "completed",
            "ids",
            "2026-02-20T17:00:00Z",
            "2026-02-20T17:05:00Z",
            "POST /vpn/../vpns/portal/scripts/newbm.pl",
        ),
    ];
    let mut made = 0;
    for (kind, entities, technique, tactic, confidence, impact, status, detection, first, last, artifacts) in rows {
        let mut body = entities;
        let extra = serde_json::json!({
            "technique": technique, "tactic": tactic, "confidence_score": confidence, "impact_level": impact,
            "mitigation_status": status, "detection_method": detection, "first_observed": first, "last_observed": last, "artifacts": artifacts,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())));
        }
        let path = format!("{}/{kind}-mappings", mitre_api::routes::PREFIX);
        mitre_api::answer_for(&app, &who, "POST", &path, body.to_string().as_bytes()).await.map_err(|e| anyhow!("{technique}: {e}"))?;
        made += 1;
    }
    println!("{tenant}: {made} demo mappings (cases CASE-1001 and CASE-1002, incident INC-42)");
    Ok(ExitCode::SUCCESS)
}
