//! # gitops-image-updater
//!
//! Image automation building blocks, with no controller code: list an image repository's
//! tags from an OCI registry, pick one by an `ImagePolicy`'s rules, and rewrite the YAML
//! values marked with setter comments (`# {"$imagepolicy": "ns:name[:tag|:name|:digest]"}`)
//! in place, keeping every other byte.
//!
//! | module | what |
//! |---|---|
//! | [`registry`] | image names as the registry sees them, tag scans (pagination, exclusion list, latest tags), digests, pull-secret credentials |
//! | [`store`] | the tag database (redb) that keeps scans across restarts, with Flux's revisions |
//! | [`policy`] | Flux's policies: `semver` (Masterminds ranges), `alphabetical`, `numerical`, and `filterTags` (pattern + extract) |
//! | [`message`] | commit messages from `messageTemplate` (Go templates over Flux's data) |
//! | [`setters`] | find setter markers in YAML files and rewrite only the marked scalars; a report of what changed |

#![warn(missing_docs)]

pub mod message;
pub mod policy;
pub mod registry;
pub mod setters;
pub mod store;
