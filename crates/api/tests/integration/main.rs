//! Integration tests of the API types: generated CRDs against Flux's, install manifests.

mod common;
mod crd_schema;
mod manifests;
