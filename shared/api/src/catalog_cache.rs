//! The catalog each container serves from memory: loaded once from the snapshot the sync
//! wrote to S3, and re-checked against the domain states at most every `ttl` (one Query).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mitre_attack::Domain;
use mitre_attack::catalog::DomainCatalog;
use tokio::sync::RwLock;

use crate::backend::CatalogBackend;
use crate::error::ApiError;

#[derive(Default)]
struct State {
    checked_at: Option<Instant>,
    /// The snapshot key each synced domain's state names.
    keys: HashMap<Domain, String>,
    loaded: HashMap<Domain, (String, Arc<DomainCatalog>)>,
}

pub struct CatalogCache {
    backend: Arc<dyn CatalogBackend>,
    ttl: Duration,
    state: RwLock<State>,
}

impl CatalogCache {
    pub fn new(backend: Arc<dyn CatalogBackend>, ttl: Duration) -> Self {
        CatalogCache { backend, ttl, state: RwLock::new(State::default()) }
    }

    /// The catalog of `domain`; 503 when the domain has never been synced.
    pub async fn domain(&self, domain: Domain) -> Result<Arc<DomainCatalog>, ApiError> {
        self.refresh_if_due().await?;
        {
            let st = self.state.read().await;
            match (st.keys.get(&domain), st.loaded.get(&domain)) {
                (Some(k), Some((lk, c))) if k == lk => return Ok(c.clone()),
                (None, _) => return Err(ApiError::Unavailable(format!("{domain} has not been synced yet"))),
                _ => {}
            }
        }
        let mut st = self.state.write().await;
        let key = st.keys.get(&domain).cloned().ok_or_else(|| ApiError::Unavailable(format!("{domain} has not been synced yet")))?;
        if let Some((lk, c)) = st.loaded.get(&domain)
            && *lk == key
        {
            return Ok(c.clone());
        }
        let started = Instant::now();
        let bytes = self.backend.snapshot(&key).await?.ok_or_else(|| ApiError::internal(format!("snapshot {key} is missing")))?;
        let catalog = Arc::new(DomainCatalog::decode(&bytes).map_err(ApiError::internal)?);
        tracing::info!(%domain, %key, ms = started.elapsed().as_millis() as u64, "catalog snapshot loaded");
        st.loaded.insert(domain, (key, catalog.clone()));
        Ok(catalog)
    }

    /// Domains that have a catalog, in enterprise, mobile, ics order.
    pub async fn domains(&self) -> Result<Vec<Domain>, ApiError> {
        self.refresh_if_due().await?;
        let st = self.state.read().await;
        Ok(Domain::ALL.into_iter().filter(|d| st.keys.contains_key(d)).collect())
    }

    async fn refresh_if_due(&self) -> Result<(), ApiError> {
        let due = |st: &State| st.checked_at.is_none_or(|t| t.elapsed() >= self.ttl);
        if !due(&*self.state.read().await) {
            return Ok(());
        }
        let mut st = self.state.write().await;
        if !due(&st) {
            return Ok(());
        }
        match self.backend.snapshot_keys().await {
            Ok(keys) => {
                st.keys = keys;
                st.checked_at = Some(Instant::now());
                Ok(())
            }
            // Keep serving the last good catalog when the check fails.
            Err(e) if !st.loaded.is_empty() => {
                tracing::warn!(error = %e, "catalog version check failed; serving the loaded catalog");
                st.checked_at = Some(Instant::now());
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// What a container builds once per synced release of a domain (a suggestion engine, the
/// procedure sets inference ranks with) and rebuilds when the domain's release changes.
pub struct PerRelease<T>(tokio::sync::Mutex<HashMap<Domain, (String, Arc<T>)>>);

impl<T> Default for PerRelease<T> {
    fn default() -> Self {
        PerRelease(tokio::sync::Mutex::new(HashMap::new()))
    }
}

impl<T> PerRelease<T> {
    /// The value of `catalog`'s release, built with `build` (timed and logged as `what`) the
    /// first time.
    pub async fn of<E>(&self, catalog: &DomainCatalog, what: &str, build: impl FnOnce(&DomainCatalog) -> Result<T, E>) -> Result<Arc<T>, E> {
        let mut built = self.0.lock().await;
        if let Some((sha, v)) = built.get(&catalog.domain)
            && *sha == catalog.bundle_sha256
        {
            return Ok(v.clone());
        }
        let started = std::time::Instant::now();
        let v = Arc::new(build(catalog)?);
        tracing::info!(domain = %catalog.domain, ms = started.elapsed().as_millis() as u64, "{what} built");
        built.insert(catalog.domain, (catalog.bundle_sha256.clone(), v.clone()));
        Ok(v)
    }
}
