//! The Lambda functions' logs: JSON lines to stdout (CloudWatch adds the time), filtered by
//! RUST_LOG in `target=level` form (`info`, `mitre_store=debug,warn`; without it, errors only).
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// The filter of a RUST_LOG value: its directives, else errors only (an unreadable value is
/// reported on stderr and ignored).
pub fn log_filter(rust_log: Option<&str>) -> Targets {
    let errors_only = || Targets::new().with_default(LevelFilter::ERROR);
    match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        None => errors_only(),
        Some(v) => v.parse().unwrap_or_else(|e| {
            eprintln!("RUST_LOG {v:?} is not a list of target=level directives ({e}): logging errors only");
            errors_only()
        }),
    }
}

/// Installs the JSON log subscriber, once per process.
pub fn init_lambda_logs() {
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    tracing_subscriber::fmt().json().without_time().finish().with(filter).init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_directives_filter_by_target_and_level() {
        let f = log_filter(Some("info"));
        assert!(f.would_enable("mitre_api", &Level::INFO) && !f.would_enable("mitre_api", &Level::DEBUG));
        let f = log_filter(Some("mitre_store=debug,warn"));
        assert!(f.would_enable("mitre_store::ddb", &Level::DEBUG) && !f.would_enable("hyper", &Level::INFO) && f.would_enable("hyper", &Level::WARN));
        for none in [None, Some(""), Some("mitre[span{x=1}]=debug")] {
            let f = log_filter(none);
            assert!(f.would_enable("mitre_api", &Level::ERROR) && !f.would_enable("mitre_api", &Level::WARN), "{none:?}");
        }
    }
}
