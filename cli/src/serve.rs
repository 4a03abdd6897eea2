//! `mitre serve`: the whole API on 127.0.0.1, each request turned into the API Gateway
//! request Lambda would receive (identity from the x-dev-principal-arn header).
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use mitre_api::local::{DEV_PRINCIPAL_HEADER, apigw_request};
use mitre_api::{App, MAX_BODY_BYTES, handle};
use tokio::net::TcpListener;

pub async fn serve(app: App, port: u16) -> Result<()> {
    let app = Arc::new(app);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    eprintln!("mitre serve: listening on http://{addr}/api/v1/mitre/ (caller from the {DEV_PRINCIPAL_HEADER} header)");
    loop {
        let (stream, _) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(respond(&app, req).await) }
            });
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
}

async fn respond(app: &App, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // Read at most one byte over the limit: enough for the handler to answer 413.
    let body = match Limited::new(body, MAX_BODY_BYTES + 1).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::from(vec![b' '; MAX_BODY_BYTES + 1]),
    };
    let headers: Vec<(String, String)> = parts.headers.iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string()))).collect();
    let principal = parts.headers.get(DEV_PRINCIPAL_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let resp = match apigw_request(parts.method.as_str(), path, &headers, &body, principal.as_deref()) {
        Ok(lreq) => handle(app, lreq).await,
        Err(e) => {
            let mut r = lambda_http::Response::new(lambda_http::Body::Text(e.body().to_string()));
            *r.status_mut() = e.status();
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
            r
        }
    };
    let (rparts, rbody) = resp.into_parts();
    let bytes = match rbody {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let mut out = hyper::Response::new(Full::new(bytes));
    *out.status_mut() = rparts.status;
    *out.headers_mut() = rparts.headers;
    out
}

/// `POST sync` of the local server: the sync runs in this process, in the background, from the
/// configured source of its domain (as the deployed sync function would).
pub struct LocalSync {
    pub store: mitre_store::Store,
}

#[async_trait::async_trait]
impl mitre_api::sync_trigger::SyncTrigger for LocalSync {
    async fn start(&self, request: mitre_api::sync_trigger::SyncRequest) -> Result<(), mitre_api::ApiError> {
        let spec = mitre_sync::config::source_for(request.domain).map_err(mitre_api::ApiError::Unavailable)?;
        let mut opts = mitre_sync::SyncOptions::new(request.domain);
        opts.actor = request.requested_by;
        opts.force = request.force;
        opts.relationships = !request.no_relationships;
        opts.run_id = Some(request.run_id);
        let store = self.store.clone();
        tokio::spawn(async move {
            let source = spec.into_source();
            fn quiet(_: mitre_sync::Progress) {}
            match mitre_sync::Syncer::new(&store).run(source.as_ref(), &opts, &quiet).await {
                Ok(rec) => {
                    eprintln!("mitre serve: sync {} of {}: {:?}", rec.run_id, rec.domain, rec.outcome);
                    if rec.outcome == mitre_store::items::Outcome::Succeeded
                        && let Err(e) = store.verify().await
                    {
                        eprintln!("mitre serve: verification after the sync failed: {e}");
                    }
                }
                Err(e) => eprintln!("mitre serve: sync of {} failed: {e}", opts.domain),
            }
        });
        Ok(())
    }
}
