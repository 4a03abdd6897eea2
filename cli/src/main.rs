//! `mitre`: import ATT&CK, report status, and run the local tooling.
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mitre_attack::Domain;
use mitre_store::items::DomainState;
use mitre_store::{Config, Store};
use mitre_sync::{Progress, SourceSpec, SyncOptions, Syncer};
use serde_json::json;

mod bench;
mod bench_events;
mod bench_report;
mod events;
mod serve;
mod template;
mod views;

#[derive(Parser)]
#[command(name = "mitre", version, about = "MITRE ATT&CK module of sentineliq: sync, status and local tooling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum SourceKind {
    Json,
    Taxii,
}

#[derive(Subcommand)]
enum Command {
    /// Sync one ATT&CK domain from a STIX bundle into the table and the archive bucket.
    Import {
        /// Where the data comes from.
        #[arg(long, value_enum, default_value = "json")]
        source: SourceKind,
        /// A bundle URL (http, https, file) or a local path, gzip or plain. Default: the domain's official bundle.
        /// With --source taxii: the TAXII 2.1 API root. Default: the MITRE ATT&CK TAXII server.
        #[arg(long, env = "ATTACK_SOURCE")]
        url: Option<String>,
        /// With --source taxii: the TAXII collection id. Default: the domain's ATT&CK collection.
        #[arg(long)]
        collection: Option<String>,
        #[arg(long, default_value = "enterprise-attack")]
        domain: Domain,
        /// Rewrite every object, whatever the manifest says.
        #[arg(long)]
        force: bool,
        /// Leave relationship objects out of this run.
        #[arg(long)]
        no_relationships: bool,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
        /// BatchWriteItem calls in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Per domain: ATT&CK version, last run and counts.
    Status {
        /// Add per-tactic technique counts, sub-techniques, revoked and deprecated.
        #[arg(long)]
        detailed: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check the stored catalog and every tenant's mappings against the synced releases.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the tactic index and move or flag mappings of revoked and deprecated techniques.
    /// Without --apply, reports what it would change.
    Repair {
        #[arg(long)]
        apply: bool,
        #[arg(long)]
        json: bool,
    },
    /// Give mappings written before tactic identities were stored their tactic's identity, and
    /// count mappings stored before statistics were kept, and re-key mappings stored before every
    /// kind shared an entity's index partition (once per deployment after an upgrade; idempotent
    /// and resumable). Without --apply, reports what it would change.
    Migrate {
        #[arg(long)]
        apply: bool,
        #[arg(long)]
        json: bool,
    },
    /// The principal registry: who belongs to which tenant with which role.
    Principal {
        #[command(subcommand)]
        command: PrincipalCommand,
    },
    /// Render template.yaml from infra/template.base.yaml and the route table, and the OpenAPI
    /// document the API serves into shared/api/openapi.json (run it from the repository root;
    /// `make template` does).
    Template {
        /// Write nothing; exit with status 1 when either file differs from its rendering.
        #[arg(long)]
        check: bool,
        /// Write the nested-stack plan into DIR instead: DIR/template.yaml, the parent stack, and
        /// one child stack DIR/api-<tag>.yaml per route tag (see docs/operations.md).
        #[arg(long, value_name = "DIR", conflicts_with = "check")]
        nested: Option<std::path::PathBuf>,
        /// With --nested: add N made-up routes (copies of the route table's, each with its own
        /// path and function) to see the plan at a larger route table.
        #[arg(long, value_name = "N", default_value_t = 0, requires = "nested")]
        extra_routes: usize,
    },
    /// The ATT&CK Navigator layer of an entity, or the tenant's heatmap layer.
    Layer(views::ViewArgs),
    /// The ATT&CK matrix of an entity (--format json, svg, html), or the tenant's heatmap.
    Matrix(views::ViewArgs),
    /// ATT&CK mitigations ranked by how much of an entity they cover.
    Mitigations(views::ViewArgs),
    /// The ATT&CK section of a case's or incident's report (--format markdown, json, html).
    Report(views::ViewArgs),
    /// The tenant's statistics: techniques by distinct entities, tactics, kill-chain phases.
    Stats(views::StatsArgs),
    /// What an ATT&CK release change changed in a tenant's mappings (--format json, markdown);
    /// with --old-bundle and --new-bundle, compute and keep a release change.
    Impact(views::ImpactArgs),
    /// Techniques an entity (or --techniques) does not have yet, ranked, with their evidence;
    /// --rebuild rebuilds the inference histories from the mappings now.
    Infer(views::InferArgs),
    /// Map a few demo cases in a tenant (used by `make dev`; a repeat merges).
    #[command(hide = true)]
    Demo {
        #[arg(long)]
        tenant: String,
    },
    /// Serve the whole API on 127.0.0.1 (identity from the x-dev-principal-arn header); on the
    /// local stack, also consume the platform's events and publish the module's.
    Serve {
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Serve the API only: no event consumer and publisher.
        #[arg(long)]
        no_events: bool,
    },
    /// The module's events: put a platform event, read what was published or refused, republish.
    Events {
        #[command(subcommand)]
        command: events::EventsCommand,
    },
    /// Enrichment through the events queue beside POST enrich one by one, and the publisher's
    /// lag (used by `make bench-events`; the local stack).
    #[command(hide = true)]
    BenchEvents {
        /// Labelled alerts (JSON lines with text and observables).
        #[arg(long, default_value = "tests/data/suggest/labelled.jsonl")]
        alerts: std::path::PathBuf,
        /// Concurrent pollers of the queue.
        #[arg(long, default_value_t = 5)]
        pollers: usize,
    },
    /// Measure in-process API latency on the synced store (used by `make bench-api`).
    #[command(hide = true)]
    BenchApi {
        #[arg(long, default_value_t = 200)]
        iterations: usize,
    },
    /// Statistics read cost beside a recount, at each size with a fresh tenant (used by
    /// `make bench-stats`; writes those mappings into the configured table).
    #[command(hide = true)]
    BenchStats {
        /// Sizes to measure at (mappings; one entity per 10 mappings).
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        sizes: Vec<usize>,
        #[arg(long, default_value_t = 50)]
        iterations: usize,
        /// Timed recounts per route and size.
        #[arg(long, default_value_t = 3)]
        recounts: usize,
    },
    /// View latency for one case with many mappings (used by `make bench-views`; writes them
    /// into a fresh tenant of the configured table).
    #[command(hide = true)]
    BenchViews {
        #[arg(long, default_value_t = 200)]
        mappings: usize,
        #[arg(long, default_value_t = 100)]
        iterations: usize,
    },
    /// Measure parse and diff throughput of bundles (used by `make bench-sync`).
    #[command(hide = true)]
    BenchParse {
        bundle: std::path::PathBuf,
        /// A previous release to diff against.
        #[arg(long)]
        previous: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 5)]
        rounds: u32,
    },
    /// Write report.md and report.png from the benchmarks' JSON lines in DIR (used by `make bench`).
    BenchReport {
        /// Where `make bench` left <step>.json, <step>.status and <step>.log.
        #[arg(default_value = "target/bench")]
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum PrincipalCommand {
    /// Register (or change) a principal: an IAM ARN in a tenant with a role.
    Put {
        arn: String,
        #[arg(long)]
        tenant: String,
        /// superuser, admin, analyst, viewer or integration
        #[arg(long)]
        role: String,
        /// The platform groups the principal holds, comma-separated: it sees the restricted
        /// entities of its tenant that name one of them.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// Remove a principal.
    Delete { arn: String },
    /// List the registry.
    List {
        #[arg(long)]
        json: bool,
    },
}

/// Who the operator is in audit entries and sync runs: `cli:<login>`.
pub(crate) fn operator_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mitre: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Import { source, url, collection, domain, force, no_relationships, json, concurrency } => {
            let spec = match source {
                SourceKind::Json => {
                    if collection.is_some() {
                        bail!("--collection goes with --source taxii");
                    }
                    SourceSpec::parse(url.as_deref(), domain)
                }
                SourceKind::Taxii => SourceSpec::taxii(url.as_deref(), collection.as_deref(), domain),
            }
            .map_err(|e| anyhow::anyhow!(e.0))?;
            let store = store().await?;
            let source = spec.into_source();
            let mut opts = SyncOptions::new(domain);
            opts.force = force;
            opts.relationships = !no_relationships;
            opts.concurrency = concurrency;
            opts.actor = operator_actor();
            import(&store, source.as_ref(), &opts, json).await
        }
        Command::Status { detailed, json } => {
            let store = store().await?;
            let (states, verify, flagged) = store.catalog_status().await.context("reading the domain states")?;
            let mut doc = mitre_store::status::status_document(&states, detailed);
            if detailed {
                doc["verify"] = serde_json::json!(verify);
                doc["flagged_for_review"] = serde_json::json!(flagged);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                print_status(&states, detailed);
                if detailed {
                    match &verify {
                        Some(v) => println!(
                            "last verify {}: {} ({} problem kinds); {flagged} mappings flagged for review",
                            v.checked_at,
                            if v.ok { "OK" } else { "problems" },
                            v.problems.len()
                        ),
                        None => println!("never verified; {flagged} mappings flagged for review"),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { json } => {
            let report = store().await?.verify().await.context("verifying")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "verify {}: {} mappings checked, {} flagged for review",
                    if report.ok { "OK" } else { "found problems" },
                    report.mappings_checked,
                    report.flagged_for_review
                );
                for p in &report.problems {
                    println!("  {:<36} {:>6}", p.kind, p.count);
                    for e in &p.examples {
                        println!("      {e}");
                    }
                }
            }
            Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        Command::Repair { apply, json } => {
            let actor = operator_actor();
            let report = store().await?.repair(!apply, &actor, "cli").await.context("repairing")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{}: tactic index items {} added, {} removed; {} mappings",
                    if apply { "repaired" } else { "dry run (use --apply to change)" },
                    report.index_items_added,
                    report.index_items_removed,
                    report.mappings.len()
                );
                for m in &report.mappings {
                    println!(
                        "  {} {} {}/{}: {} {} -> {} ({})",
                        m.action,
                        m.tenant,
                        m.kind,
                        m.id,
                        m.technique,
                        m.tactic,
                        m.to_technique.as_deref().unwrap_or("-"),
                        m.reason
                    );
                }
                for f in &report.failed {
                    println!("  failed: {f}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { apply, json } => {
            let actor = operator_actor();
            let store = store().await?;
            let report = store.migrate(!apply, &actor, "cli").await.context("migrating")?;
            let legacy = mitre_store::legacy::still_needed(&store, &report).await.context("reading what older data remains")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&json!({ "report": report, "legacy": legacy }))?);
            } else {
                println!(
                    "{}: {} mappings without a tactic identity, {} {}, {} unresolved; {} older mappings {} in the statistics; {} {} to the shared entity index; {} failed",
                    if apply { "migrated" } else { "dry run (use --apply to change)" },
                    report.checked,
                    report.migrated,
                    if apply { "given one" } else { "would be given one" },
                    report.unresolved.len(),
                    report.counted,
                    if apply { "counted" } else { "to count" },
                    report.reindexed,
                    if apply { "re-keyed" } else { "to re-key" },
                    report.failed.len()
                );
                for u in &report.unresolved {
                    println!("  unresolved: {u}");
                }
                for f in &report.failed {
                    println!("  failed: {f}");
                }
                for p in &legacy {
                    match p.needed() {
                        true => println!("  legacy path still needed: {} ({} remaining; deletable when {}): {}", p.name, p.remaining, p.deletable_when, p.code),
                        false => println!("  legacy path no longer needed by this deployment: {} ({})", p.name, p.code),
                    }
                }
            }
            Ok(if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Principal { command } => principal(store().await?, command).await,
        Command::Events { command } => events::run(store().await?, command).await,
        Command::Template { check, nested, extra_routes } => template::command(check, nested.as_deref(), extra_routes),
        Command::Layer(a) => views::run(store().await?, views::View::Layer, a).await,
        Command::Matrix(a) => views::run(store().await?, views::View::Matrix, a).await,
        Command::Mitigations(a) => views::run(store().await?, views::View::Mitigations, a).await,
        Command::Report(a) => views::run(store().await?, views::View::Report, a).await,
        Command::Stats(a) => views::stats(store().await?, a).await,
        Command::Impact(a) => views::impact(store().await?, a).await,
        Command::Infer(a) => views::infer(store().await?, a).await,
        Command::Demo { tenant } => views::demo(store().await?, &tenant).await,
        Command::Serve { port, no_events } => {
            let store = store().await?;
            if !no_events && std::env::var_os("AWS_ENDPOINT_URL_SQS").is_some() {
                match events::spawn_pumps(&store, mitre_api::Settings::from_env()).await {
                    Ok(e) => eprintln!("mitre serve: consuming platform events from {} and publishing to the bus {}", e.platform_bus, e.out_bus),
                    Err(e) => eprintln!("mitre serve: events off: {e:#}"),
                }
            }
            let app = mitre_api::App::new(store.clone(), mitre_api::Settings::from_env()).with_sync(std::sync::Arc::new(serve::LocalSync { store }));
            serve::serve(app, port).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchEvents { alerts, pollers } => bench_events::events(store().await?, &alerts, pollers).await,
        Command::BenchApi { iterations } => bench::api(store().await?, iterations).await,
        Command::BenchStats { sizes, iterations, recounts } => bench::stats(store().await?, &sizes, iterations, recounts).await,
        Command::BenchViews { mappings, iterations } => bench::views(store().await?, mappings, iterations).await,
        Command::BenchParse { bundle, previous, rounds } => bench::parse(&bundle, previous.as_deref(), rounds),
        Command::BenchReport { dir } => {
            let (md, png, goals) = bench_report::run(&dir)?;
            let met = goals.iter().filter(|g| g.met).count();
            println!("bench-report: {met} of {} measured goals met", goals.len());
            println!("bench-report: wrote {} and {}", md.display(), png.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn store() -> Result<Store> {
    let config = Config::from_env().context("reading the configuration (source .local/env for the local stack)")?;
    Ok(Store::from_config(&config).await)
}

async fn import(store: &Store, source: &dyn mitre_sync::BundleSource, opts: &SyncOptions, json: bool) -> Result<ExitCode> {
    let bar = if json { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} items").expect("template").progress_chars("=> "));
    bar.set_message(format!("{}: starting", opts.domain));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let started = Instant::now();
    let domain = opts.domain;
    let progress = |p: Progress| match p {
        Progress::Phase(name) => bar.set_message(format!("{domain}: {name}")),
        Progress::WriteTotal(n) => bar.set_length(n),
        Progress::Written(n) => bar.inc(n),
    };
    let result = Syncer::new(store).run(source, opts, &progress).await;
    bar.finish_and_clear();
    match result {
        Ok(rec) => {
            if json {
                let out = json!({
                    "domain": rec.domain,
                    "version": rec.version,
                    "objects": rec.objects,
                    "written": rec.written,
                    "unchanged": rec.unchanged,
                    "deleted": rec.deleted,
                    "write_units": rec.write_units,
                    "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
                    "outcome": rec.outcome,
                    "run_id": rec.run_id,
                });
                println!("{out}");
            } else {
                println!(
                    "{}: ATT&CK {} from {}\n  outcome {:?}: {} objects, {} written, {} unchanged, {} deleted in {:.1}s, {} write units (run {})",
                    rec.domain,
                    rec.version.as_deref().unwrap_or("unknown"),
                    rec.source,
                    rec.outcome,
                    rec.objects,
                    rec.written,
                    rec.unchanged,
                    rec.deleted,
                    started.elapsed().as_secs_f64(),
                    rec.write_units,
                    rec.run_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                println!("{}", json!({"domain": domain, "error": {"code": "sync_failed", "message": e.to_string()}}));
            }
            Err(anyhow::Error::new(e).context(format!("import of {domain} failed; the previously synced data is unchanged")))
        }
    }
}

fn print_status(states: &[(Domain, DomainState)], detailed: bool) {
    if states.is_empty() {
        println!("No ATT&CK domain has been synced yet. Run `mitre import`.");
        return;
    }
    for (domain, st) in states {
        println!("{domain}: ATT&CK {}", st.version.as_deref().unwrap_or("(never synced successfully)"));
        if let Some(at) = &st.synced_at {
            println!("  synced at     {at} from {}", st.source.as_deref().unwrap_or("?"));
        }
        if let Some(r) = &st.last_run {
            println!(
                "  last run      {} {:?}: {} written, {} deleted{}",
                r.finished_at.map(|t| t.to_string()).unwrap_or_else(|| "(running)".into()),
                r.outcome,
                r.written,
                r.deleted,
                r.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
            );
        }
        if let Some(s) = &st.summary {
            println!("  objects       {}", s.objects);
            for (t, n) in &s.counts {
                println!("    {t:<28} {n:>6}");
            }
            if detailed {
                for line in mitre_store::status::technique_lines(s) {
                    println!("  {line}");
                }
                println!("  tactics (matrix order)           techniques  sub-techniques");
                for t in &s.tactics {
                    println!("    {:<7} {:<24} {:>10} {:>15}", t.attack_id, t.shortname, t.techniques, t.subtechniques);
                }
            }
        }
    }
}

/// The registry, with the same rules as the API's registry routes (`Principal::register`).
async fn principal(store: Store, command: PrincipalCommand) -> Result<ExitCode> {
    use mitre_domain::{AuditEntry, Principal, PrincipalRepo, TenantId};
    let actor = operator_actor();
    let audit = |tenant: &TenantId, action: &str, arn: &str, before: Option<&Principal>, after: Option<&Principal>| {
        AuditEntry::of(tenant, &actor, action, format!("principals/{arn}"), before, after, "cli")
    };
    match command {
        PrincipalCommand::Put { arn, tenant, role, groups } => {
            let arn = mitre_domain::role::principal_arn(&arn)?;
            let before = store.principal(&arn).await?;
            let p = Principal::register(&arn, &tenant, &role, &groups, &actor, before.as_ref())?;
            store.put_principal(&p, audit(&p.tenant, "principal.put", &arn, before.as_ref(), Some(&p))).await?;
            println!("{arn}: {} in tenant {}", p.role, p.tenant);
        }
        PrincipalCommand::Delete { arn } => {
            let arn = mitre_domain::normalize_principal(&arn);
            let p = store.principal(&arn).await?.ok_or_else(|| anyhow::anyhow!("no principal {arn}"))?;
            store
                .delete_principal(&p, audit(&p.tenant, "principal.delete", &arn, Some(&p), None))
                .await
                .map_err(|_| anyhow::anyhow!("{arn} changed meanwhile; try again"))?;
            println!("{arn}: removed");
        }
        PrincipalCommand::List { json } => {
            let all = store.principals().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for p in all {
                    println!("{:<10} {:<20} {}", p.role.as_str(), p.tenant, p.principal);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
