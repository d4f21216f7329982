//! Integration tests of the kustomize engine: our cases, the conformance corpus, Helm charts.

mod cases_test;
mod corpus;
mod helm_test;
