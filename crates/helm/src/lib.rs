//! # gitops-helm
//!
//! Helm charts in Rust, rendering byte-identical to `helm template` (Helm v4.1.4) without
//! a helm binary.
//!
//! - [`chart`]: load charts from directories or `.tgz` archives (`.helmignore`, `Chart.yaml`
//!   v1/v2, `requirements.yaml`, subcharts in `charts/`, `crds/`), within Helm's size
//!   limits ([`chart::MAX_CHART_SIZE`], [`chart::MAX_FILE_SIZE`], [`chart::Limits`]).
//! - [`values`]: Helm's values coalescing, dependency conditions/tags/aliases/import-values,
//!   `--set` parsing.
//! - [`template`]: a Go `text/template` engine with Go's semantics; [`funcs`] has Sprig's and
//!   Helm's functions.
//! - [`yaml`]: YAML reading (`sigs.k8s.io/yaml` semantics on `granit-parser`) and a go-yaml
//!   v2 compatible emitter for `toYaml`.
//! - [`render`]: renders a chart to ordered manifests, hooks and notes.
//! - [`action`]: `helm template` as a function ([`helm_template`]).
//! - [`release`]: releases — Helm's record and Secret storage, and the install, upgrade,
//!   rollback, uninstall and test actions with hooks, over a cluster the caller provides.
//!
//! ```no_run
//! use gitops_helm::{Chart, RenderOptions, render_chart, values::Values};
//! let chart = Chart::load(std::path::Path::new("./mychart")).unwrap();
//! let opts = RenderOptions { name: "demo".into(), namespace: "default".into(), ..Default::default() };
//! let out = render_chart(&chart, &Values::new(), &opts).unwrap();
//! print!("{}", out.to_template_output(&opts));
//! ```

pub mod action;
mod ahead;
pub mod chart;
mod error;
pub mod funcs;
pub mod release;
pub mod render;
mod scan;
mod schema;
pub mod template;
pub mod value;
pub mod values;
pub mod yaml;

pub use action::{TemplateOutput, TemplateRequest, helm_template};
pub use chart::Chart;
pub use error::Error;
pub use render::{Hook, Manifest, RenderOptions, Rendered, render_chart};
