//! The repositories' contract (mitre_domain::contract), kept by the DynamoDB implementations
//! against DynamoDB Local; `cargo test -p mitre-domain` runs the same suite in memory.
use mitre_domain::contract;
use mitre_tests::spawn_app;

#[tokio::test(flavor = "multi_thread")]
async fn the_dynamodb_repositories_keep_the_contract() {
    let app = spawn_app().await;
    let store = &app.store;
    contract::mappings_keep_their_rules(store).await;
    contract::tenants_never_meet(store).await;
    contract::lists_filter_and_page(store).await;
    contract::principals_are_registered_and_removed(store).await;
    contract::the_audit_log_reads_newest_first(store).await;
    contract::statistics_equal_a_recount(store).await;
    contract::access_follows_the_entity(store).await;
    contract::a_large_entity_changes_access(store).await;
    contract::lists_filter_on_review_fields(store).await;
    contract::insights_are_kept_by_release_and_tenant(store).await;
    contract::reviews_teach_their_tenant_alone(store).await;
}
