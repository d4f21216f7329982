//! # gitops-apply
//!
//! The apply engine shared by the controllers: server-side apply of object sets in
//! stages, Flux-format inventory, prune, kstatus health assessment and drift detection,
//! with the semantics of Flux's `fluxcd/pkg/ssa`.
//!
//! - [`Applier::apply`] applies a set of manifests with one field manager, in stages
//!   (CRDs and Namespaces; then `*Class` kinds; then the rest), waiting for
//!   new CRDs to be `Established` and refreshing discovery in between. Every object is
//!   dry-run first (`dryRun=All`) and compared with the live object, so unchanged objects
//!   are not written; the [`ChangeSet`] says `created`, `configured`, `unchanged` or
//!   `skipped` for each. The annotations `kustomize.toolkit.fluxcd.io/ssa`
//!   (`Override`, `Merge`, `IfNotPresent`, `Ignore`) and
//!   `kustomize.toolkit.fluxcd.io/force: enabled` are honoured; immutable field changes
//!   recreate the object only when forced.
//! - [`Inventory`] is Flux's `status.inventory` (`{id: "<ns>_<name>_<group>_<Kind>", v}`);
//!   [`Inventory::stale`] gives what to [`Applier::prune`].
//! - [`kstatus::compute`] tells whether a live object is ready; [`Applier::wait`] polls
//!   objects until they all are.
//!
//! ```no_run
//! # async fn demo(client: kube::Client, objects: Vec<serde_json::Value>, old: gitops_apply::Inventory)
//! # -> Result<(), gitops_apply::ApplyError> {
//! use gitops_apply::{Applier, ApplyOptions, Inventory, PruneOptions, WaitOptions};
//! let applier = Applier::new(client, "kustomize-controller");
//! let changes = applier.apply(objects, &ApplyOptions::default()).await?;
//! println!("{}", changes.event_text());
//! let inventory = Inventory::from_change_set(&changes);
//! applier.prune(&old.stale(&inventory), &PruneOptions::default()).await?;
//! applier.wait(&inventory.refs()?, &WaitOptions::default()).await?;
//! # Ok(()) }
//! ```
//!
//! Secret values never appear in errors or logs: server messages about Secrets have
//! their `Invalid value:` parts redacted, and drift reports ([`Applier::diff`]) name
//! fields, not values.
//!
//! ## Cost
//!
//! Per object and apply: one GET and one dry-run PATCH, issued together, plus one PATCH
//! only when something changed. API resources come from a discovery cache shared by all
//! clones of an [`Applier`], fetched per group version and refreshed when a kind is
//! unknown or a CRD of the set changed. `examples/bench.rs` applies 1,000 sets of 4
//! objects against the embedded API server (in another process): about 2.4 s to create,
//! 1 s to find all unchanged, 14 MiB peak RSS for the applier process (release build,
//! 2 cores, 8 sets at a time).

mod applier;
mod changeset;
pub mod discovery;
mod error;
pub mod inventory;
pub mod kstatus;
pub mod object;
pub mod ssa;

pub use applier::{
    Applier, ApplyOptions, DiffError, DiffOptions, Drift, ObjectDiff, PruneOptions, WaitOptions,
};
pub use changeset::{Action, ChangeSet, ChangeSetEntry};
pub use error::{ApplyError, NotReady};
pub use inventory::{Inventory, InventoryEntry};
pub use object::ObjectRef;
