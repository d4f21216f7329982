//! End-to-end tests of the `gitops` command: its golden outputs (Flux's CLI tests), install, bootstrap, uninstall, `gitops dev` and its web view.
//!
//! One test binary (each file a module) so the workspace links one executable here, not one per file.

mod apiserver;
mod bootstrap_git;
mod bootstrap_provider;
mod cli_build_diff;
mod cli_create;
mod cli_create_secret;
mod cli_create_source;
mod cli_debug;
mod cli_e2e;
mod cli_export;
mod cli_get;
mod cli_inspect;
mod cli_misc;
mod common;
mod dev;
mod fault;
mod install;
mod kustomize_helm;
mod ui;
mod uninstall;
