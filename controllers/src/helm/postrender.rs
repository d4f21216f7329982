//! What Flux's helm-controller does to rendered manifests before they are applied: the
//! kustomize post-renderers (the manifests become the one resource of a kustomization with
//! the HelmRelease's `patches` and `images`, built by the kustomize engine, in order), then
//! `commonMetadata` labels and annotations, then the origin labels
//! (`helm.toolkit.fluxcd.io/name` and `…/namespace`) on every object.

use gitops_api::helm::PostRenderer as Spec;
use gitops_api::meta::CommonMetadata;
use gitops_helm::release::PostRenderer;
use serde_json::Value;
use std::collections::BTreeMap;

/// The post-rendering of one HelmRelease.
pub(crate) struct PostRender {
    /// `spec.postRenderers`.
    pub renderers: Vec<Spec>,
    /// Labels and annotations for every object: `commonMetadata`, then the origin labels.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl PostRender {
    /// The post-rendering of a HelmRelease named `name` in `namespace`.
    pub fn new(
        renderers: Vec<Spec>,
        common: Option<&CommonMetadata>,
        name: &str,
        namespace: &str,
    ) -> Self {
        let mut labels = common.and_then(|c| c.labels.clone()).unwrap_or_default();
        labels.insert(gitops_api::annotations::HELM_NAME_LABEL.into(), name.into());
        labels.insert(
            gitops_api::annotations::HELM_NAMESPACE_LABEL.into(),
            namespace.into(),
        );
        PostRender {
            renderers,
            labels,
            annotations: common
                .and_then(|c| c.annotations.clone())
                .unwrap_or_default(),
        }
    }

    fn kustomize(&self, manifests: &str) -> Result<String, String> {
        let mut out = manifests.to_owned();
        for r in &self.renderers {
            let Some(k) = &r.kustomize else { continue };
            let dir = tempfile::Builder::new()
                .prefix("helm-postrender-")
                .tempdir()
                .map_err(|e| format!("tmp dir error: {e}"))?;
            std::fs::write(dir.path().join("helm-output.yaml"), &out)
                .map_err(|e| format!("writing manifests: {e}"))?;
            let kustomization = serde_json::json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": ["helm-output.yaml"],
                "patches": k.patches,
                "images": k.images,
            });
            std::fs::write(
                dir.path().join("kustomization.yaml"),
                serde_json::to_vec(&kustomization).unwrap_or_default(),
            )
            .map_err(|e| format!("writing kustomization: {e}"))?;
            let opts = gitops_kustomize::BuildOptions {
                load_restrictor: gitops_kustomize::LoadRestrictor::RootOnly,
                sandbox: Some(dir.path().to_path_buf()),
                chart_renderer: None,
            };
            let built = gitops_kustomize::build(dir.path(), &opts).map_err(|e| e.to_string())?;
            out = gitops_kustomize::to_yaml_stream(&built).map_err(|e| e.to_string())?;
        }
        Ok(out)
    }

    /// Adds the labels and annotations to each document, keeping its `# Source:` line.
    fn metadata(&self, manifests: &str) -> Result<String, String> {
        let mut out = String::new();
        for doc in gitops_helm::render::split_manifests(manifests) {
            let source = doc.lines().find(|l| l.starts_with("# Source: "));
            let objects = gitops_helm::yaml::parse_all(&doc).map_err(|e| e.to_string())?;
            for mut obj in objects {
                let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
                    continue;
                };
                for (field, add) in [("labels", &self.labels), ("annotations", &self.annotations)] {
                    if add.is_empty() {
                        continue;
                    }
                    let m = meta
                        .entry(field)
                        .or_insert_with(|| Value::Object(Default::default()));
                    if !m.is_object() {
                        *m = Value::Object(Default::default());
                    }
                    for (k, v) in add {
                        m[k] = Value::String(v.clone());
                    }
                }
                let yaml = gitops_helm::yaml::to_yaml(&gitops_helm::value::Value::from_json(&obj))?;
                out.push_str("---\n");
                if let Some(s) = source {
                    out.push_str(s);
                    out.push('\n');
                }
                out.push_str(&yaml);
            }
        }
        Ok(out)
    }
}

impl PostRenderer for PostRender {
    fn run(&self, manifests: &str) -> Result<String, String> {
        let out = self.kustomize(manifests)?;
        self.metadata(&out)
    }
}

/// `sha256:` of JSON of a value (Flux's post-renderers and common metadata digests).
pub(crate) fn digest<T: serde::Serialize + ?Sized>(v: &T) -> String {
    use sha2::Digest;
    let json = serde_json::to_vec(v).unwrap_or_default();
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(&json)))
}
