//! Helm releases: the record Helm stores ([`model`]), its Secret storage, byte-compatible
//! with Helm's `secrets` driver ([`storage`]), and the install / upgrade / rollback /
//! uninstall / test actions with hooks ([`actions`]) over a [`Cluster`] the caller
//! implements ([`cluster`]).

pub mod actions;
pub mod cluster;
pub mod model;
pub mod storage;

pub use actions::{
    ActionError, Actions, CrdPolicy, InstallOptions, PostRenderer, RollbackOptions, TestOptions,
    UninstallOptions, UpgradeOptions, Wait,
};
pub use cluster::{ApplyParams, Cluster, ClusterError, ObjectKey, Propagation};
pub use model::{ChartRecord, Hook, HookExecution, Info, Release, Status};
pub use storage::{Storage, StorageError};
