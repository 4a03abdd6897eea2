//! The S3 side of the store: raw bundle archives (content-addressed), manifests and snapshots.
use aws_sdk_s3::primitives::ByteStream;
use mitre_attack::Domain;

use crate::{Store, error::StoreError};

/// `bundles/{domain}/{version}/{sha256}.json.gz`: the raw bundle, gzip-compressed.
pub fn bundle_key(domain: Domain, version: &str, sha256: &str) -> String {
    format!("bundles/{domain}/{}/{sha256}.json.gz", sanitize(version))
}

/// `manifests/{domain}/{sha256}.txt.gz`: the per-object content hashes of that bundle.
pub fn manifest_key(domain: Domain, sha256: &str) -> String {
    format!("manifests/{domain}/{sha256}.txt.gz")
}

/// `snapshots/{domain}/{sha256}-s{schema}.json.gz`: the API's catalog snapshot of that bundle.
pub fn snapshot_key(domain: Domain, sha256: &str) -> String {
    format!("snapshots/{domain}/{sha256}-s{}.json.gz", mitre_attack::catalog::SNAPSHOT_SCHEMA)
}

fn sanitize(version: &str) -> String {
    version.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

impl Store {
    pub async fn object_exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.s3.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(false),
            Err(e) => Err(StoreError::s3("HeadObject", e)),
        }
    }

    pub async fn put_object(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| StoreError::s3("PutObject", e))?;
        Ok(())
    }

    /// Stores `bytes` under `key` unless an object is already there (keys are content-addressed).
    pub async fn put_object_once(&self, key: &str, bytes: impl FnOnce() -> Result<Vec<u8>, StoreError>, content_type: &str) -> Result<bool, StoreError> {
        if self.object_exists(key).await? {
            return Ok(false);
        }
        self.put_object(key, bytes()?, content_type).await?;
        Ok(true)
    }

    pub async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.s3.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let data = out.body.collect().await.map_err(|e| StoreError::Unavailable {
                    service: "S3",
                    op: "GetObject",
                    detail: "reading the body".into(),
                    source: Some(Box::new(e)),
                })?;
                Ok(Some(data.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => Ok(None),
            Err(e) => Err(StoreError::s3("GetObject", e)),
        }
    }
}
