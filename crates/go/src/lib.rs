//! Go's behaviour, once.
//!
//! Flux, kustomize and Helm are Go programs, and their output and error texts are what Go's
//! libraries make of the input: go-yaml's scalar resolution and emitter, `strconv` and
//! `encoding/json` number formatting, `time.Duration`, Masterminds' semver constraints,
//! Kubernetes' label selectors. Our engines (kustomize, Helm), the API server and the
//! controllers must reproduce them byte for byte, so each lives here once and every user
//! calls it. Where Go programs deliberately differ (go-yaml v2 and v3 resolving the same
//! plain scalar differently, kustomize's lenient selectors), both behaviours are here side by
//! side, each under its own name.
//!
//! - [`num`]: `strconv` float/int formatting and parsing, `encoding/json` numbers.
//! - [`yaml`]: go-yaml v2 and v3 scalar resolution, go-yaml v2's emitter (as
//!   `sigs.k8s.io/yaml.Marshal` drives it), go-yaml's map key order.
//! - [`fmt`]: `strconv.Quote` and `%#v` as Go's error texts show values.
//! - [`duration`]: `time.ParseDuration` and `Duration.String`.
//! - [`date`]: the month lengths of Go's `time` calendar.
//! - [`patchmeta`]: the list merge keys and strategies of Kubernetes' built-in types.
//! - [`selector`]: Kubernetes label selectors, in the API server's and kustomize's words.
//! - [`semver`]: Masterminds semver v3 versions and constraints.
//! - [`jsonpatch`]: RFC 6902 as `evanphx/json-patch` applies it, over any document tree.
//! - [`regexp`]: Go's `regexp` (RE2) for chart and schema patterns.

pub mod date;
pub mod duration;
pub mod fmt;
pub mod jsonpatch;
pub mod num;
pub mod patchmeta;
pub mod regexp;
pub mod selector;
pub mod semver;
pub mod yaml;
