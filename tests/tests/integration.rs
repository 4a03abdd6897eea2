//! The integration tests: one binary, against the local stack.
mod integration {
    pub mod access;
    pub mod api;
    pub mod contract;
    pub mod events;
    pub mod faults;
    pub mod fidelity;
    pub mod iam;
    pub mod insight;
    pub mod integrity;
    pub mod lambda_runtime;
    pub mod load;
    pub mod mappings;
    pub mod release_changes;
    pub mod statistics;
    pub mod suggest;
    pub mod sync;
    pub mod taxii;
    pub mod template;
}
