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

/// The AWS SDK's configuration from its own chain (region, endpoints, credentials), with
/// [`https_client`] as every client's HTTP client.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client()).retry_config(sdk_retries()).load().await
}

/// The retries of a single SDK call, where the caller does not retry the operation itself (the
/// sync's and the CLI's reads and single writes): the SDK's standard mode, 3 attempts in all,
/// with its client-side rate limiting. The API makes each call once instead
/// ([`crate::Store::single_attempt`]) and retries whole requests.
pub fn sdk_retries() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(3)
}

/// The HTTP client of the AWS SDK clients: hyper with rustls over ring and the system's roots.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring)).build_https()
}

/// DynamoDB and S3 clients from the SDK's own configuration chain (AWS_REGION,
/// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3, credentials, ...). An S3 endpoint
/// override is addressed path-style, as S3-compatible servers expect.
pub async fn aws_clients() -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client) {
    let shared = sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&shared);
    let custom_s3 = env::var_os("AWS_ENDPOINT_URL_S3").is_some() || env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3_conf = aws_sdk_s3::config::Builder::from(&shared).force_path_style(custom_s3).build();
    (ddb, aws_sdk_s3::Client::from_conf(s3_conf))
}
