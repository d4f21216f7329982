//! The build of one Kustomization, as Flux's kustomize-controller does it, on an extracted
//! artifact: generate a kustomization for plain directories, add the Kustomization's
//! overlays (`targetNamespace`, `namePrefix`, `nameSuffix`, `patches`, `images`,
//! `components`), build with the load restrictor rooted at the artifact, substitute
//! variables (`postBuild`), decrypt SOPS data, and label the objects with their owner and
//! `commonMetadata`. Blocking: run it on a blocking thread.

use gitops_api::annotations::{KUSTOMIZE_NAME_LABEL, KUSTOMIZE_NAMESPACE_LABEL};
use gitops_api::kustomize::KustomizationSpec;
use gitops_kustomize::{BuildOptions, LoadRestrictor, flux};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a build needs besides the artifact.
pub(crate) struct BuildInput {
    /// The extracted artifact.
    pub root: PathBuf,
    /// The Kustomization's spec.
    pub spec: KustomizationSpec,
    /// Its name and namespace (owner labels).
    pub name: String,
    /// Namespace of the Kustomization.
    pub namespace: String,
    /// Post-build variables, when `postBuild` is set.
    pub vars: Option<BTreeMap<String, String>>,
    /// Age identities (the text of the `*.agekey` entries), when `decryption` is set.
    pub age_keys: Option<String>,
}

/// A failed build: Flux's reason and a message naming the file (relative to the artifact
/// root) and line at fault.
#[derive(Debug)]
pub(crate) struct BuildError {
    pub reason: &'static str,
    pub message: String,
}

fn build_failed(root: &Path, message: String) -> BuildError {
    BuildError {
        reason: gitops_api::condition::reasons::BUILD_FAILED,
        message: relative_paths(root, &message),
    }
}

/// Replaces the temporary artifact directory in messages with paths relative to it.
pub(crate) fn relative_paths(root: &Path, message: &str) -> String {
    let r = root.display().to_string();
    message
        .replace(&format!("{r}/"), "")
        .replace(&format!("'{r}'"), "'.'")
        .replace(&r, ".")
}

/// Cleans `spec.path` into a relative path inside the artifact.
pub(crate) fn clean_path(path: Option<&str>) -> Result<PathBuf, String> {
    let p = path.unwrap_or("").trim();
    let p = p.trim_start_matches("./");
    if p.is_empty() || p == "." {
        return Ok(PathBuf::new());
    }
    gitops_source::archive::safe_relative_path(p.trim_start_matches('/'))
        .map_err(|_| format!("invalid path '{p}': it must stay inside the artifact"))
}

/// Writes the kustomization Flux builds in `dir` (see [`flux::flux_manifest`]): the
/// directory's own or a generated one, with the Kustomization's overlays (target namespace,
/// name prefix and suffix, patches, images merged by name, components, build metadata).
fn write_manifest(root: &Path, dir: &Path, spec: &KustomizationSpec) -> Result<(), BuildError> {
    let to_yaml = |v: Value| -> Result<gitops_kustomize::yaml::Value, BuildError> {
        gitops_kustomize::yaml::parse_one(&v.to_string())
            .map_err(|e| build_failed(root, format!("{e}")))
    };
    let json = |v: serde_json::Result<Value>| v.unwrap_or(Value::Null);
    let overlays = flux::Overlays {
        target_namespace: spec.target_namespace.clone(),
        name_prefix: spec.name_prefix.clone(),
        name_suffix: spec.name_suffix.clone(),
        patches: spec
            .patches
            .iter()
            .map(|p| to_yaml(json(serde_json::to_value(p))))
            .collect::<Result<_, _>>()?,
        images: spec
            .images
            .iter()
            .map(|i| to_yaml(json(serde_json::to_value(i))))
            .collect::<Result<_, _>>()?,
        components: spec.components.clone(),
        ignore_missing_components: spec.ignore_missing_components,
        build_metadata: spec
            .build_metadata
            .iter()
            .filter_map(|b| json(serde_json::to_value(b)).as_str().map(str::to_owned))
            .collect(),
    };
    // The artifact's files were already filtered by the source's ignore rules.
    let manifest = flux::flux_manifest(dir, &overlays, &|_, _| false)
        .map_err(|e| build_failed(root, format!("{e}")))?;
    let file = dir.join(&manifest.file_name);
    // replaced, not written through: the tree's files are links to a shared extraction
    crate::artifact::write_replacing(&file, &manifest.text)
        .map_err(|e| build_failed(root, format!("{}: {e}", file.display())))
}

/// Builds the Kustomization: the objects to apply, labelled, as JSON.
pub(crate) fn build(input: &BuildInput) -> Result<Vec<Value>, BuildError> {
    let root = &input.root;
    let rel = clean_path(input.spec.path.as_deref()).map_err(|m| BuildError {
        reason: gitops_api::condition::reasons::ARTIFACT_FAILED,
        message: m,
    })?;
    let dir = root.join(&rel);
    if !dir.is_dir() {
        return Err(BuildError {
            reason: gitops_api::condition::reasons::ARTIFACT_FAILED,
            message: format!(
                "kustomization path not found: '{}' does not exist in the artifact",
                input.spec.path.as_deref().unwrap_or("./")
            ),
        });
    }
    let fail = |e: gitops_kustomize::Error| build_failed(root, format!("{e}"));
    // Without a kustomization file one is generated; YAML that does not parse fails the
    // build with its file and line (leaving it out would prune its objects).
    write_manifest(root, &dir, &input.spec)?;
    let opts = BuildOptions {
        load_restrictor: LoadRestrictor::RootOnly,
        sandbox: Some(root.clone()),
        chart_renderer: None,
    };
    let mut resources = gitops_kustomize::build(&dir, &opts).map_err(fail)?;
    if let Some(vars) = &input.vars {
        let always = input
            .spec
            .post_build
            .as_ref()
            .and_then(|p| p.substitute_strategy)
            == Some(gitops_api::kustomize::SubstituteStrategy::Always);
        if !vars.is_empty() || always {
            flux::substitute(&mut resources, vars, false)
                .map_err(|e| build_failed(root, format!("post build failed: {e}")))?;
        }
    }
    if let Some(keys) = &input.age_keys {
        let keys = flux::AgeKeys::parse(keys).map_err(|e| BuildError {
            reason: gitops_api::condition::reasons::BUILD_FAILED,
            // never the key material: only that parsing failed
            message: format!(
                "decryption failed: invalid age identities in the decryption secret: {}",
                redact(&e.to_string())
            ),
        })?;
        flux::decrypt_resources(&mut resources, &keys).map_err(|e| {
            build_failed(
                root,
                format!("decryption failed: {}", redact(&e.to_string())),
            )
        })?;
    }
    let mut out = Vec::with_capacity(resources.len());
    for r in &resources {
        let mut v: Value = serde_json::from_str(&gitops_kustomize::yaml::to_go_json(&r.obj))
            .map_err(|e| build_failed(root, format!("{}: {e}", r.cur_id())))?;
        label(&mut v, input);
        out.push(v);
    }
    Ok(out)
}

/// The JSON pointers `spec.ignore` selects for each built object (Flux's drift ignore
/// rules: a rule without a target applies to every object).
pub(crate) fn ignored_paths(
    rules: &[gitops_api::meta::IgnoreRule],
    objects: &[Value],
) -> Result<Vec<Vec<String>>, BuildError> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let rules: Vec<flux::IgnoreRule> = rules
        .iter()
        .map(|rule| flux::IgnoreRule {
            paths: rule.paths.clone(),
            target: rule.target.as_ref().map(|t| gitops_kustomize::Selector {
                group: t.group.clone().unwrap_or_default(),
                version: t.version.clone().unwrap_or_default(),
                kind: t.kind.clone().unwrap_or_default(),
                name: t.name.clone().unwrap_or_default(),
                namespace: t.namespace.clone().unwrap_or_default(),
                label_selector: t.label_selector.clone().unwrap_or_default(),
                annotation_selector: t.annotation_selector.clone().unwrap_or_default(),
            }),
        })
        .collect();
    let compiled = flux::IgnoreRules::new(&rules).map_err(|e| BuildError {
        reason: gitops_api::condition::reasons::BUILD_FAILED,
        message: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(objects.len());
    for o in objects {
        // Rules match the objects as they are applied (with commonMetadata and the owner
        // labels), so the engine's selector reads the final object (JSON is YAML).
        let resource = gitops_kustomize::yaml::parse_one(&o.to_string())
            .ok()
            .map(gitops_kustomize::Resource::new);
        out.push(compiled.paths_for(resource.as_ref()));
    }
    Ok(out)
}

/// Drops anything that looks like key material from a message.
fn redact(m: &str) -> String {
    m.split_whitespace()
        .map(|w| {
            if w.starts_with("AGE-SECRET-KEY-") {
                "[redacted]"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn label(v: &mut Value, input: &BuildInput) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    let meta = obj.entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let mut set = |field: &str, pairs: Vec<(String, String)>| {
        if pairs.is_empty() {
            return;
        }
        let m = meta.entry(field).or_insert_with(|| json!({}));
        if !m.is_object() {
            *m = json!({});
        }
        if let Some(m) = m.as_object_mut() {
            for (k, val) in pairs {
                m.insert(k, Value::String(val));
            }
        }
    };
    if let Some(cm) = &input.spec.common_metadata {
        set(
            "annotations",
            cm.annotations
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        );
        set(
            "labels",
            cm.labels.clone().unwrap_or_default().into_iter().collect(),
        );
    }
    set(
        "labels",
        vec![
            (KUSTOMIZE_NAME_LABEL.to_owned(), input.name.clone()),
            (
                KUSTOMIZE_NAMESPACE_LABEL.to_owned(),
                input.namespace.clone(),
            ),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(root: &Path, spec: serde_json::Value) -> BuildInput {
        BuildInput {
            root: root.to_path_buf(),
            spec: serde_json::from_value(spec).unwrap(),
            name: "apps".into(),
            namespace: "flux-system".into(),
            vars: None,
            age_keys: None,
        }
    }

    #[test]
    fn plain_directory_with_overlays_and_labels() {
        let d = tempfile::tempdir().unwrap();
        let app = d.path().join("deploy/app");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(
            app.join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  cluster: ${cluster}\n",
        )
        .unwrap();
        let mut i = input(
            d.path(),
            json!({"interval": "1m", "prune": true, "path": "./deploy/app",
                   "sourceRef": {"kind": "GitRepository", "name": "repo"},
                   "targetNamespace": "team", "namePrefix": "p-",
                   "commonMetadata": {"labels": {"team": "a"}},
                   "postBuild": {"substitute": {"cluster": "prod"}}}),
        );
        i.vars = Some([("cluster".to_string(), "prod".to_string())].into());
        let objs = build(&i).unwrap();
        assert_eq!(objs.len(), 1);
        let o = &objs[0];
        assert_eq!(o["metadata"]["name"], "p-cfg");
        assert_eq!(o["metadata"]["namespace"], "team");
        assert_eq!(o["data"]["cluster"], "prod");
        assert_eq!(o["metadata"]["labels"]["team"], "a");
        assert_eq!(
            o["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"],
            "apps"
        );
        assert_eq!(
            o["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"],
            "flux-system"
        );
    }

    #[test]
    fn broken_yaml_names_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("good.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("bad.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [bad\n",
        )
        .unwrap();
        let e = build(&input(
            d.path(),
            json!({"interval": "1m", "prune": true,
                   "sourceRef": {"kind": "GitRepository", "name": "repo"}}),
        ))
        .unwrap_err();
        assert_eq!(e.reason, "BuildFailed");
        assert!(e.message.contains("bad.yaml"), "{}", e.message);
        assert!(e.message.contains("line"), "{}", e.message);
        assert!(
            !e.message.contains(&d.path().display().to_string()),
            "{}",
            e.message
        );
    }

    #[test]
    fn patches_images_and_build_metadata_are_added() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("kustomization.yaml"),
            "resources: [deploy.yaml]\nimages:\n- name: busybox\n  newTag: '1'\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("deploy.yaml"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers: [{name: web, image: nginx}]\n",
        )
        .unwrap();
        let objs = build(&input(
            d.path(),
            json!({"interval": "1m", "prune": true,
                   "sourceRef": {"kind": "GitRepository", "name": "repo"},
                   "buildMetadata": ["originAnnotations"],
                   "images": [{"name": "nginx", "newName": "registry/nginx", "newTag": "2"}],
                   "patches": [{"patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 5}\n"}]}),
        ))
        .unwrap();
        let o = &objs[0];
        assert_eq!(o["spec"]["replicas"], 5);
        assert_eq!(
            o["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry/nginx:2"
        );
        assert!(
            o["metadata"]["annotations"]["config.kubernetes.io/origin"]
                .as_str()
                .is_some_and(|a| a.contains("deploy.yaml")),
            "{o}"
        );
    }

    #[test]
    fn broken_kustomization_and_resource_name_file_and_line() {
        let spec = json!({"interval": "1m", "prune": true,
                          "sourceRef": {"kind": "GitRepository", "name": "repo"}});
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("kustomization.yaml"),
            "resources:\n- a.yaml\n- [b.yaml\n",
        )
        .unwrap();
        let e = build(&input(d.path(), spec.clone())).unwrap_err();
        assert!(e.message.contains("kustomization.yaml"), "{}", e.message);
        assert!(e.message.contains("line"), "{}", e.message);
        // with overlays the kustomization is read by the controller first
        let mut with_ns = spec.clone();
        with_ns["targetNamespace"] = json!("x");
        let e = build(&input(d.path(), with_ns)).unwrap_err();
        assert!(
            e.message.contains("kustomization.yaml") && e.message.contains("line"),
            "{}",
            e.message
        );
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("kustomization.yaml"), "resources: [a.yaml]\n").unwrap();
        std::fs::write(
            d.path().join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {x: [}\n",
        )
        .unwrap();
        let e = build(&input(d.path(), spec)).unwrap_err();
        assert!(
            e.message.contains("a.yaml") && e.message.contains("line"),
            "{}",
            e.message
        );
        assert!(!e.message.contains(&d.path().display().to_string()));
    }

    #[test]
    fn paths_stay_inside() {
        assert!(clean_path(Some("../etc")).is_err());
        assert_eq!(clean_path(Some("./")).unwrap(), PathBuf::new());
        assert_eq!(clean_path(Some("./a/b")).unwrap(), PathBuf::from("a/b"));
    }
}
