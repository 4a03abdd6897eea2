//! The DynamoDB single-table store and the S3 archive: every key (`keys`), the catalog items the
//! sync writes (`items`), the tenant repositories (`tenancy`), the domain states and run
//! records (`status`), and the integrity checks across releases (`integrity`).
//!
//! Everything here is configured from the environment ([`Config::from_env`]) and talks to
//! AWS through the official SDK, so the same code runs in Lambda, in the CLI and against
//! the local stack (DynamoDB Local and an S3-compatible server).

pub mod archive;
pub mod config;
pub mod ddb;
pub mod error;
pub mod integrity;
pub mod items;
pub mod keys;
pub mod legacy;
pub mod metrics;
pub mod schema;
pub mod status;
pub mod telemetry;
pub mod tenancy;

pub use config::{Config, aws_clients};
pub use error::{Chain, StoreError};

/// The store: one DynamoDB table and one S3 bucket.
#[derive(Clone, Debug)]
pub struct Store {
    pub ddb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub table: String,
    pub bucket: String,
}

impl Store {
    /// The store over these clients; every DynamoDB call it makes is counted in the current
    /// request's [`metrics`] (an interceptor on the client).
    pub fn new(ddb: aws_sdk_dynamodb::Client, s3: aws_sdk_s3::Client, table: impl Into<String>, bucket: impl Into<String>) -> Self {
        use aws_smithy_runtime_api::client::interceptors::Intercept;
        let counted = ddb.config().interceptors().any(|i| i.name() == metrics::CountCalls.name());
        let ddb = if counted { ddb } else { aws_sdk_dynamodb::Client::from_conf(ddb.config().to_builder().interceptor(metrics::CountCalls).build()) };
        Store { ddb, s3, table: table.into(), bucket: bucket.into() }
    }

    /// Builds the SDK clients once from the environment.
    pub async fn from_config(config: &Config) -> Self {
        let (ddb, s3) = aws_clients().await;
        Store::new(ddb, s3, &config.table_name, &config.bucket_name)
    }

    /// The same store with every call made once, the SDK retrying nothing: for a caller that
    /// retries whole operations under one [`mitre_domain::RetryPolicy`] (the API retries each
    /// request), so that no retry nests in another.
    pub fn single_attempt(&self) -> Store {
        let ddb = self.ddb.config().to_builder().retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()).build();
        let s3 = self.s3.config().to_builder().retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()).build();
        Store { ddb: aws_sdk_dynamodb::Client::from_conf(ddb), s3: aws_sdk_s3::Client::from_conf(s3), ..self.clone() }
    }
}
