//! Configuration, from the environment only.
use std::env;

use crate::error::StoreError;

#[derive(Debug, Clone)]
pub struct Config {
    /// TABLE_NAME: the single DynamoDB table.
    pub table_name: String,
    /// BUCKET_NAME: the S3 bucket for bundle archives, manifests and snapshots.
    pub bucket_name: String,
}

impl Config {
    pub fn from_env() -> Result<Self, StoreError> {
        Ok(Config { table_name: required("TABLE_NAME")?, bucket_name: required("BUCKET_NAME")? })
    }
}

fn required(name: &'static str) -> Result<String, StoreError> {
    match env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(StoreError::Config(format!("{name} is not set"))),
    }
}

/// DynamoDB and S3 clients from the SDK's own configuration chain (AWS_REGION,
/// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3, credentials, ...). An S3 endpoint
/// override is addressed path-style, as S3-compatible servers expect.
pub async fn aws_clients() -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client) {
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ddb = aws_sdk_dynamodb::Client::new(&shared);
    let custom_s3 = env::var_os("AWS_ENDPOINT_URL_S3").is_some() || env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3_conf = aws_sdk_s3::config::Builder::from(&shared).force_path_style(custom_s3).build();
    (ddb, aws_sdk_s3::Client::from_conf(s3_conf))
}
