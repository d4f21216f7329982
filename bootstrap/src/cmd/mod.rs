//! One module per subcommand.

pub mod apiserver;
pub mod controller;
pub mod dev;
pub mod helm;
pub mod install;
pub mod kustomize;
