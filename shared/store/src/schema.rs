//! The table's key schema and indexes. `infra/table.json` is the one source: the local stack
//! and the tests create tables from it, and a test checks template.yaml against it.
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use serde::Deserialize;

use crate::error::StoreError;

/// `infra/table.json`, compiled in.
pub const TABLE_JSON: &str = include_str!("../../../infra/table.json");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableSpec {
    pub attribute_definitions: Vec<AttrDef>,
    pub key_schema: Vec<KeyDef>,
    pub global_secondary_indexes: Vec<IndexDef>,
    pub billing_mode: String,
    /// The stream of new audit entries the events publisher reads (NEW_IMAGE).
    pub stream_specification: StreamDef,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDef {
    pub stream_view_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttrDef {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyDef {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDef {
    pub index_name: String,
    pub key_schema: Vec<KeyDef>,
    pub projection: ProjectionDef,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionDef {
    pub projection_type: String,
}

pub fn table_spec() -> TableSpec {
    serde_json::from_str(TABLE_JSON).expect("infra/table.json is valid")
}

fn keys(defs: &[KeyDef]) -> Vec<KeySchemaElement> {
    defs.iter()
        .map(|k| {
            KeySchemaElement::builder().attribute_name(&k.attribute_name).key_type(KeyType::from(k.key_type.as_str())).build().expect("complete key element")
        })
        .collect()
}

/// Turns the table's stream on (as the spec has it), unless it is on, and answers its ARN.
/// Tables are created without it: DynamoDB Local slows down with every stream record it keeps,
/// so the local stack turns it on only where the events publisher reads it.
pub async fn enable_stream(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<String, StoreError> {
    let describe = || async {
        let d = ddb.describe_table().table_name(name).send().await.map_err(|e| StoreError::dynamo("DescribeTable", e))?;
        Ok::<_, StoreError>(
            d.table().and_then(|t| t.latest_stream_arn().filter(|_| t.stream_specification().map(|s| s.stream_enabled()) == Some(true))).map(str::to_string),
        )
    };
    if let Some(arn) = describe().await? {
        return Ok(arn);
    }
    let spec = table_spec();
    ddb.update_table()
        .table_name(name)
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::from(spec.stream_specification.stream_view_type.as_str()))
                .build()
                .expect("complete stream specification"),
        )
        .send()
        .await
        .map_err(|e| StoreError::dynamo("UpdateTable", e))?;
    for _ in 0..100 {
        if let Some(arn) = describe().await? {
            return Ok(arn);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(StoreError::Config(format!("the stream of table {name} did not come up")))
}

/// Creates the table `name` from the spec (without its stream: [`enable_stream`]) and waits
/// until it is active.
pub async fn create_table(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), StoreError> {
    let spec = table_spec();
    let mut req = ddb.create_table().table_name(name).billing_mode(BillingMode::from(spec.billing_mode.as_str())).set_key_schema(Some(keys(&spec.key_schema)));
    for a in &spec.attribute_definitions {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&a.attribute_name)
                .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()
                .expect("complete attribute definition"),
        );
    }
    for i in &spec.global_secondary_indexes {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&i.index_name)
                .set_key_schema(Some(keys(&i.key_schema)))
                .projection(Projection::builder().projection_type(ProjectionType::from(i.projection.projection_type.as_str())).build())
                .build()
                .expect("complete index"),
        );
    }
    req.send().await.map_err(|e| StoreError::dynamo("CreateTable", e))?;
    for _ in 0..100 {
        let d = ddb.describe_table().table_name(name).send().await.map_err(|e| StoreError::dynamo("DescribeTable", e))?;
        if d.table().and_then(|t| t.table_status()).map(|s| s.as_str() == "ACTIVE").unwrap_or(false) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(StoreError::Config(format!("table {name} did not become active")))
}
