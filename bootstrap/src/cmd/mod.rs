//! One module per subcommand.

pub mod apiserver;
pub mod bootstrap;
pub mod build;
pub mod check;
pub mod completion;
pub mod controller;
pub mod create;
pub mod debug;
pub mod dev;
pub mod diff;
pub mod envsubst;
pub mod events;
pub mod export;
pub mod get;
pub mod helm;
pub mod install;
pub mod ksbuild;
pub mod kustomize;
pub mod logs;
pub mod ops;
pub mod stats;
pub mod trace;
pub mod tree;
pub mod ui;
pub mod uninstall;
pub mod version;
