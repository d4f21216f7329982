//! A HelmRelease's values: `valuesFrom` (ConfigMaps and Secrets, in order, whole documents
//! deep-merged or single values put at a `targetPath`), then `spec.values` over them, as
//! Flux's `ChartValuesFromReferences`.

use gitops_api::HelmRelease;
use gitops_api::kustomize::ValuesKind;
use gitops_helm::values::{self, Values};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;

/// The composed values, or Flux's message for what is wrong (what the controller renders
/// with, and what `gitops debug helmrelease --show-values` prints).
pub async fn compose(client: &kube::Client, hr: &HelmRelease) -> Result<Values, String> {
    let ns = hr.namespace().unwrap_or_default();
    let mut result = Values::new();
    for r in &hr.spec.values_from {
        let kind = match r.kind {
            ValuesKind::ConfigMap => "ConfigMap",
            ValuesKind::Secret => "Secret",
        };
        let key = r
            .values_key
            .clone()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "values.yaml".into());
        let data: Option<Option<String>> = match r.kind {
            ValuesKind::ConfigMap => match Api::<ConfigMap>::namespaced(client.clone(), &ns)
                .get_opt(&r.name)
                .await
            {
                Ok(Some(cm)) => Some(cm.data.and_then(|d| d.get(&key).cloned()).or_else(|| {
                    cm.binary_data.and_then(|d| {
                        d.get(&key)
                            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                    })
                })),
                Ok(None) => None,
                Err(e) => return Err(format!("could not get {kind} '{ns}/{}': {e}", r.name)),
            },
            ValuesKind::Secret => match Api::<Secret>::namespaced(client.clone(), &ns)
                .get_opt(&r.name)
                .await
            {
                Ok(Some(s)) => Some(
                    s.data
                        .and_then(|d| {
                            d.get(&key)
                                .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                        })
                        .or_else(|| s.string_data.and_then(|d| d.get(&key).cloned())),
                ),
                Ok(None) => None,
                // never the Secret's content in messages
                Err(e) => return Err(format!("could not get {kind} '{ns}/{}': {e}", r.name)),
            },
        };
        let text = match data {
            None if r.optional => continue,
            None => return Err(format!("could not find {kind} '{ns}/{}'", r.name)),
            Some(None) if r.optional => continue,
            Some(None) => return Err(format!("missing key '{key}' in {kind} '{ns}/{}'", r.name)),
            Some(Some(t)) => t,
        };
        match r.target_path.as_deref().filter(|p| !p.is_empty()) {
            Some(path) => {
                let res = if r.literal == Some(true) {
                    // the whole value as one string, whatever it contains
                    let quoted = serde_json::to_string(&text).unwrap_or_default();
                    values::parse_set_json(&format!("{path}={quoted}"), &mut result)
                } else {
                    values::parse_set(
                        &format!("{path}={}", text.trim_end_matches('\n')),
                        &mut result,
                    )
                };
                res.map_err(|e| {
                    let e = e.to_string();
                    // the parser quotes the expression, a Secret's value included
                    let e = if r.kind == ValuesKind::Secret {
                        "invalid value".to_owned()
                    } else {
                        e
                    };
                    format!(
                        "unable to replace value at path '{path}' with value from key '{key}' in {kind} '{ns}/{}': {e}",
                        r.name
                    )
                })?;
            }
            None => {
                let v = values::read_values(&text).map_err(|e| {
                    let e = e.to_string();
                    // a Secret's text could be echoed by a YAML error: name the place only
                    let e = if r.kind == ValuesKind::Secret {
                        "invalid YAML".to_owned()
                    } else {
                        e
                    };
                    format!(
                        "unable to read values from key '{key}' in {kind} '{ns}/{}': {e}",
                        r.name
                    )
                })?;
                result = values::merge_maps(&result, &v);
            }
        }
    }
    if let Some(v) = &hr.spec.values {
        match v {
            serde_json::Value::Object(m) => result = values::merge_maps(&result, m),
            serde_json::Value::Null => {}
            _ => return Err("spec.values must be an object".into()),
        }
    }
    Ok(result)
}

/// Flux's config digest: `sha256:` of the values as YAML (empty for no values).
pub(crate) fn digest(values: &Values) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    if !values.is_empty() {
        let v = gitops_helm::value::Value::from_json(&serde_json::Value::Object(values.clone()));
        h.update(gitops_helm::yaml::to_yaml(&v).unwrap_or_default());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}
