//! Integration tests of the embedded API server with real clients (kubectl, helm, kube-rs).

mod clients;
mod kube_rs;
mod rbac;
mod semantics;
