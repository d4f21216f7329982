//! What every Flux-style command (`create`, `get`, `reconcile`, `suspend`, …) shares: the
//! global flags and the cluster client, Flux's progress lines, the table of Flux kinds, the
//! YAML that `--export` prints, waiting for readiness, and Flux's error texts for bad flags.

pub mod argv;
pub mod components;
pub mod errors;
pub mod flags;
pub mod global;
pub mod kinds;
pub mod log;
pub mod object;
pub mod prompt;
pub mod sourcesecret;
pub mod table;
pub mod target;
pub mod wait;
pub mod yaml;

pub use global::Global;
pub use kinds::FluxKind;
