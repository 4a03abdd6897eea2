//! `mitre layer|matrix|mitigations|report|stats`: the analyst views of an entity (or a
//! tenant's heatmap) and the tenant's statistics as the API answers them, for an operator
//! acting in a tenant.
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

/// Answers `GET path` for an operator acting as a viewer of `tenant`, to `out` or standard output.
async fn answer_to(store: Store, tenant: &str, path: &str, out: Option<&std::path::Path>) -> Result<ExitCode> {
    let tenant = TenantId::parse(tenant).map_err(|e| anyhow!("{e}"))?;
    // the operator reads as a tenant admin: every entity of the tenant
    let who = Identity::operator(&crate::operator_actor(), Role::Admin, Some(tenant), "cli");
    let app = App::new(store, Settings { metric_lines: false, ..Settings::default() });
    let reply = mitre_api::answer_for(&app, &who, "GET", path, b"").await.map_err(|e| anyhow!("{e}"))?;
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
