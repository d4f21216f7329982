//! One module per subcommand.

pub mod controller;
pub mod helm;
pub mod install;
pub mod kustomize;
