//! Inflating `helmCharts` in-process. The engine does not render charts itself: the caller
//! plugs in a [`ChartRenderer`] (the `gitops-helm` crate provides one).

use crate::yaml::Value;
use std::path::PathBuf;

/// What the engine asks a renderer to render (one `helmCharts` entry, resolved).
#[derive(Clone, Debug)]
pub struct ChartRequest {
    /// Local chart directory (`<chartHome>/<name>`).
    pub chart_dir: PathBuf,
    /// Chart name.
    pub name: String,
    /// Requested chart version (empty: any).
    pub version: String,
    /// Release name (`releaseName`, defaulting to `release-name` as in kustomize).
    pub release_name: String,
    /// Release namespace.
    pub namespace: String,
    /// Values after merging `valuesFile`, `additionalValuesFiles` and `valuesInline`.
    pub values: Value,
    /// Render the chart's CRDs too.
    pub include_crds: bool,
    /// Skip test hooks.
    pub skip_tests: bool,
    /// Skip hooks.
    pub skip_hooks: bool,
    /// API versions for `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
    /// Kubernetes version for `.Capabilities.KubeVersion`.
    pub kube_version: String,
}

/// Renders a chart to a multi-document YAML stream (like `helm template`).
pub trait ChartRenderer: Send + Sync {
    /// Renders the chart; the error text is reported with the chart's name.
    fn render(&self, req: &ChartRequest) -> Result<String, String>;
}
