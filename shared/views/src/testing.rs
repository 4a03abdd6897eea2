//! Test catalogs and mappings: the small fixture bundle with extra objects, the real
//! Enterprise release, and a sample case on it.
use std::path::PathBuf;
use std::sync::OnceLock;

use mitre_attack::catalog::DomainCatalog;
use mitre_attack::{Domain, TechniqueId, decode_source_bytes, fixtures, parse_bundle};
use mitre_domain::mapping::resolve;
use mitre_domain::{Mapping, MappingInput, MappingKind, TenantId, Timestamp};

pub fn catalog_of(text: &str, version: &str) -> DomainCatalog {
    let b = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).expect("a bundle");
    DomainCatalog::build(&b.objects, Domain::EnterpriseAttack, version, "test")
}

/// The small fixture: tactics execution and persistence; T1059 and T1059.001; revoked T1000,
/// deprecated T1001; M1038 mitigates T1059.001.
pub fn small() -> DomainCatalog {
    catalog_of(&fixtures::small_bundle("2.1"), "1.0")
}

pub fn sid(kind: &str, n: u32) -> String {
    format!("{kind}--00000000-0000-4000-8000-0000000003{n:02}")
}

/// An attack-pattern of the extra objects.
pub fn technique(n: u32, attack_id: &str, name: &str, phases: &[&str], extra: &str) -> String {
    let phases: Vec<String> = phases.iter().map(|p| format!(r#"{{"kill_chain_name": "mitre-attack", "phase_name": "{p}"}}"#)).collect();
    let sub = attack_id.contains('.');
    let url = attack_id.replace('.', "/");
    format!(
        r#"{{"type": "attack-pattern", "id": "{}", "spec_version": "2.1", "name": "{name}", "description": "d", "kill_chain_phases": [{}], "external_references": [{{"source_name": "mitre-attack", "external_id": "{attack_id}", "url": "https://attack.mitre.org/techniques/{url}"}}], "x_mitre_platforms": ["Windows"], "x_mitre_domains": ["enterprise-attack"], "x_mitre_is_subtechnique": {sub}{extra}}}"#,
        sid("attack-pattern", n),
        phases.join(", ")
    )
}

pub fn mitigation(n: u32, attack_id: &str, name: &str, extra: &str) -> String {
    format!(
        r#"{{"type": "course-of-action", "id": "{}", "spec_version": "2.1", "name": "{name}", "description": "d", "external_references": [{{"source_name": "mitre-attack", "external_id": "{attack_id}", "url": "https://attack.mitre.org/mitigations/{attack_id}"}}], "x_mitre_domains": ["enterprise-attack"]{extra}}}"#,
        sid("course-of-action", n)
    )
}

pub fn relationship(n: u32, kind: &str, from: &str, to: &str, description: &str, extra: &str) -> String {
    format!(
        r#"{{"type": "relationship", "id": "{}", "spec_version": "2.1", "relationship_type": "{kind}", "source_ref": "{from}", "target_ref": "{to}", "description": "{description}"{extra}}}"#,
        sid("relationship", n)
    )
}

/// A mapping of `kind` naming `entities` (field, id) on `technique`; `edit` sets the rest of
/// the body (tactic, confidence, ...) before the technique is resolved against `catalog`.
pub fn mapping(catalog: &DomainCatalog, kind: MappingKind, entities: &[(&str, &str)], technique: &str, edit: impl FnOnce(&mut MappingInput)) -> Mapping {
    let mut input = MappingInput::default();
    for (field, id) in entities {
        let slot = match *field {
            "alert_id" => &mut input.alert_id,
            "case_id" => &mut input.case_id,
            "incident_id" => &mut input.incident_id,
            _ => &mut input.observable_id,
        };
        *slot = Some(id.to_string());
    }
    input.first_observed = Some("2026-03-01T08:00:00Z".into());
    input.last_observed = Some("2026-03-01T09:30:00Z".into());
    edit(&mut input);
    let resolved = resolve([catalog], technique, input.tactic.as_deref()).expect("a technique of the catalog");
    Mapping::create(kind, &TenantId::parse("acme").unwrap(), &input, resolved, "analyst@acme").expect("a valid mapping")
}

/// A case mapping of `case`.
pub fn case_mapping(catalog: &DomainCatalog, case: &str, technique: &str, edit: impl FnOnce(&mut MappingInput)) -> Mapping {
    mapping(catalog, MappingKind::Case, &[("case_id", case)], technique, edit)
}

/// The same mapping after ATT&CK moved its technique to `id` (revoked or deprecated since).
pub fn on_technique(mut m: Mapping, id: &str, name: &str) -> Mapping {
    m.technique = TechniqueId::parse(id).unwrap();
    m.technique_name = name.to_string();
    m
}

pub fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub fn attack_data_dir() -> PathBuf {
    std::env::var_os("ATTACK_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/attack-data"))
}

fn release(file: &str, domain: Domain) -> DomainCatalog {
    let path = attack_data_dir().join(file);
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (set ATTACK_DATA_DIR)", path.display()));
    let bytes = decode_source_bytes(raw).expect("a readable bundle");
    let b = parse_bundle(&bytes, domain).expect("a bundle");
    DomainCatalog::build(&b.objects, domain, "18.1", "release")
}

/// The real Enterprise ATT&CK 18.1 release, read in place once.
pub fn enterprise() -> &'static DomainCatalog {
    static CATALOG: OnceLock<DomainCatalog> = OnceLock::new();
    CATALOG.get_or_init(|| release("enterprise-attack-18.1.json.gz", Domain::EnterpriseAttack))
}

/// The real ICS ATT&CK 18.1 release.
pub fn ics() -> &'static DomainCatalog {
    static CATALOG: OnceLock<DomainCatalog> = OnceLock::new();
    CATALOG.get_or_init(|| release("ics-attack-18.1.json.gz", Domain::IcsAttack))
}

pub const HOSTILE: &str = "</td></tr><script>alert('x')</script> \"><img src=x onerror=alert(1)> ]]> & | pipe `tick` *star* _under_ [link](javascript:alert(1))\n# heading\r\n<!-- c -->";

/// technique, tactic, confidence, impact, mitigation status, detection method, first observed, artifacts
type SampleRow = (&'static str, Option<&'static str>, i64, &'static str, &'static str, &'static str, &'static str, &'static str);

/// A ransomware case on the real release: 15 mappings (one an alert mapping that names the
/// case), sub-techniques, a technique in several tactics, completed responses, a revoked
/// technique and hostile artifacts.
pub fn sample_case(c: &DomainCatalog, case: &str) -> Vec<Mapping> {
    let rows: &[SampleRow] = &[
        // technique, tactic, confidence, impact, status, detection, first, artifacts
        (
            "T1566.001",
            None,
            95,
            "high",
            "completed",
            "edr",
            "2026-03-01T07:58:00Z",
            "Invoice_0301.docm from billing@examp1e.com, macro spawned winword.exe -> cmd.exe",
        ),
        ("T1204.002", None, 90, "high", "completed", "edr", "2026-03-01T08:01:00Z", "user opened Invoice_0301.docm"),
        (
            "T1059.001",
            None,
            92,
            "high",
            "in_progress",
            "edr",
            "2026-03-01T08:02:00Z",
            "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
        ),
        ("T1059.003", None, 70, "medium", "not_started", "siem", "2026-03-01T08:02:30Z", "cmd.exe /c whoami & net group \"domain admins\" /domain"),
        (
            "T1053.005",
            Some("persistence"),
            80,
            "medium",
            "in_progress",
            "edr",
            "2026-03-01T08:10:00Z",
            "schtasks /create /tn \"OneDrive Update\" /tr C:\\Users\\Public\\upd.exe /sc onlogon",
        ),
        (
            "T1547.001",
            Some("persistence"),
            60,
            "medium",
            "not_started",
            "edr",
            "2026-03-01T08:11:00Z",
            "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\upd",
        ),
        (
            "T1003.001",
            None,
            85,
            "high",
            "not_started",
            "edr",
            "2026-03-01T08:40:00Z",
            "rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump 624 lsass.dmp full",
        ),
        ("T1087.002", None, 50, "low", "completed", "siem", "2026-03-01T08:30:00Z", "net user /domain; net group /domain"),
        ("T1021.002", None, 75, "high", "not_started", "ids", "2026-03-01T09:05:00Z", "SMB ADMIN$ writes from 10.0.4.17 to 10.0.4.0/24"),
        ("T1078.002", Some("privilege-escalation"), 65, "high", "in_progress", "manual_analysis", "2026-03-01T09:00:00Z", HOSTILE),
        ("T1486", None, 98, "high", "in_progress", "edr", "2026-03-01T10:15:00Z", "files renamed *.lockd; README_RESTORE.txt dropped in every share"),
        ("T1490", None, 90, "high", "not_started", "edr", "2026-03-01T10:12:00Z", "vssadmin.exe delete shadows /all /quiet"),
        (
            "T1071.001",
            None,
            55,
            "medium",
            "not_started",
            "ids",
            "2026-03-01T08:05:00Z",
            "HTTPS beacon to 185.220.101.4 every 60s, JA3 a0e9f5d64349fb13191bc781f81f42e1",
        ),
        ("T1562.001", None, 40, "medium", "not_started", "threat_intel", "2026-03-01T08:20:00Z", "Set-MpPreference -DisableRealtimeMonitoring $true"),
    ];
    let mut out: Vec<Mapping> = rows
        .iter()
        .map(|(t, tactic, conf, impact, status, method, first, artifacts)| {
            case_mapping(c, case, t, |i| {
                i.tactic = tactic.map(str::to_string);
                i.confidence_score = Some(*conf);
                i.impact_level = Some(impact.to_string());
                i.mitigation_status = Some(status.to_string());
                i.detection_method = Some(method.to_string());
                i.first_observed = Some(first.to_string());
                i.last_observed = Some("2026-03-01T10:30:00Z".into());
                i.artifacts = Some(artifacts.to_string());
                i.notes = Some("<b>analyst</b> note & more".into());
            })
        })
        .collect();
    // an alert of the case, mapped to PowerShell by its old ID, since revoked
    let old = mapping(c, MappingKind::Alert, &[("alert_id", "ALRT-7"), ("case_id", case)], "T1059.001", |i| {
        i.confidence_score = Some(60);
        i.detection_method = Some("siem".into());
        i.artifacts = Some("Sysmon EID 1: powershell.exe spawned by winword.exe".into());
    });
    out.push(on_technique(old, "T1086", "PowerShell"));
    out
}

/// Every table of a Markdown document as rows of cell texts (the header row first).
pub fn tables(md: &str) -> Vec<Vec<Vec<String>>> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let mut out: Vec<Vec<Vec<String>>> = Vec::new();
    let mut cell: Option<String> = None;
    for e in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match e {
            Event::Start(Tag::Table(_)) => out.push(Vec::new()),
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => out.last_mut().unwrap().push(Vec::new()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => out.last_mut().unwrap().last_mut().unwrap().push(cell.take().unwrap()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            _ => {}
        }
    }
    out
}

/// Panics when a Markdown document holds raw HTML, a link or an image.
pub fn assert_no_markup(md: &str) {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    for e in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match e {
            Event::Html(h) | Event::InlineHtml(h) => panic!("raw HTML in the Markdown: {h}"),
            Event::Start(Tag::Link { .. }) | Event::Start(Tag::Image { .. }) => panic!("a link or an image in the Markdown"),
            _ => {}
        }
    }
}
