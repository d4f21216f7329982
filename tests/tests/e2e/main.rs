//! End-to-end tests of the controllers against real servers and the embedded API server.
//!
//! One test binary (each file a module) so the workspace links one executable here, not one per file.

mod git_provider;
mod helm_controller;
mod image_automation;
mod kustomize_controller;
mod notification;
mod secret_canary;
mod source_bucket;
mod source_git;
mod source_git_ssh;
mod source_helm;
mod source_oci;
mod source_watcher;
mod tenancy;
