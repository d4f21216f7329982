//! Generating a kustomization for a directory that has none, as Flux's kustomize-controller
//! does: every Kubernetes manifest (`.yaml`, `.yml`, `.json` with `apiVersion` and `kind`) in
//! the directory tree becomes a resource, and sub-directories that have their own
//! kustomization are included as a whole.

use crate::build::parse_resources;
use crate::error::{Error, Result};
use crate::kustomization::KUSTOMIZATION_FILE_NAMES;
use crate::yaml::{Mapping, Value};
use std::path::Path;

fn has_kustomization(dir: &Path) -> bool {
    KUSTOMIZATION_FILE_NAMES
        .iter()
        .any(|n| dir.join(n).is_file())
}

/// Whether a file holds Kubernetes objects. A file that does not parse is an error (with
/// its file and line), as in Flux: leaving it out would prune its objects.
fn is_manifest(path: &Path) -> Result<bool> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        error: e,
    })?;
    crate::yaml::parse_documents_with(&text, crate::yaml::ParseOptions::RESOURCES).map_err(
        |e| Error::Yaml {
            path: path.to_path_buf(),
            line: e.line,
            column: e.column,
            message: e.message,
        },
    )?;
    // Valid YAML that is not objects (a list, values for something else) is no manifest.
    Ok(match parse_resources(&text, path) {
        Ok(rs) => !rs.is_empty() && rs.iter().all(|r| !r.api_version().is_empty()),
        Err(_) => false,
    })
}

/// Whether a path (relative to the directory being generated for, `/`-separated) is
/// excluded; the flag tells whether it is a directory.
pub type Exclude<'a> = &'a dyn Fn(&str, bool) -> bool;

fn walk(root: &Path, dir: &Path, exclude: Exclude<'_>, out: &mut Vec<String>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            error: e,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        let rel = p
            .strip_prefix(root)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if p.is_dir() {
            if exclude(&rel, true) {
                continue;
            }
            if has_kustomization(&p) {
                out.push(rel);
            } else {
                walk(root, &p, exclude, out)?;
            }
            continue;
        }
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "yaml" | "yml" | "json") && !exclude(&rel, false) && is_manifest(&p)? {
            out.push(rel);
        }
    }
    Ok(())
}

/// The resources a generated kustomization for `dir` lists.
pub fn generated_resources(dir: &Path) -> Result<Vec<String>> {
    generated_resources_excluding(dir, &|_, _| false)
}

/// The resources a generated kustomization for `dir` lists, leaving out the files and
/// directories `exclude` names (Flux's CLI applies `.sourceignore` files and
/// `--ignore-paths` so): an excluded directory is not descended into.
pub fn generated_resources_excluding(dir: &Path, exclude: Exclude<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(dir, dir, exclude, &mut out)?;
    Ok(out)
}

/// The text of the kustomization Flux would generate for `dir`.
pub fn generated_kustomization(dir: &Path) -> Result<String> {
    let mut s = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    let res = generated_resources(dir)?;
    if res.is_empty() {
        return Ok(s.replace("resources:\n", "resources: []\n"));
    }
    for r in res {
        s.push_str(&format!("- {}\n", crate::build::yaml_inline(&r)));
    }
    Ok(s)
}

/// Writes a generated `kustomization.yaml` into `dir` when it has no kustomization.
/// Returns whether one was written.
pub fn ensure_kustomization(dir: &Path) -> Result<bool> {
    if has_kustomization(dir) {
        return Ok(false);
    }
    let text = generated_kustomization(dir)?;
    let p = dir.join("kustomization.yaml");
    std::fs::write(&p, text).map_err(|e| Error::Io { path: p, error: e })?;
    Ok(true)
}

/// What a Flux Kustomization's `spec` adds to the kustomization it builds, as Flux's
/// generator (fluxcd/pkg/kustomize `GenerateManifest`) merges it in.
#[derive(Clone, Debug, Default)]
pub struct Overlays {
    /// `targetNamespace`: replaces the kustomization's `namespace`.
    pub target_namespace: Option<String>,
    /// `namePrefix`: replaces the kustomization's.
    pub name_prefix: Option<String>,
    /// `nameSuffix`: replaces the kustomization's.
    pub name_suffix: Option<String>,
    /// `patches` (`{patch, target}` mappings): appended.
    pub patches: Vec<Value>,
    /// `images` (`{name, newName, newTag, digest}`): merged by name.
    pub images: Vec<Value>,
    /// `components`: appended (missing ones skipped with `ignore_missing_components`).
    pub components: Vec<String>,
    /// `ignoreMissingComponents`.
    pub ignore_missing_components: bool,
    /// `buildMetadata`: replaces the kustomization's when not empty.
    pub build_metadata: Vec<String>,
}

/// The kustomization Flux builds for a directory (see [`flux_manifest`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The file name it has (or would have) in the directory.
    pub file_name: String,
    /// Its text.
    pub text: String,
    /// Whether it was generated (the directory has no kustomization).
    pub generated: bool,
}

/// Whether a kustomization entry is a URL (Go's `url.ParseRequestURI` with a scheme).
fn is_url(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Whether a component path is local and relative (Flux's `IsLocalRelativePath`).
fn is_local_relative(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    for p in [
        "git::",
        "gh:",
        "ssh://",
        "https://",
        "http://",
        "git@",
        "github.com:",
        "github.com/",
    ] {
        if p.len() < path.len() && lower.starts_with(p) {
            return false;
        }
    }
    !(path.starts_with('/') || lower.trim_start_matches("file://").starts_with('/'))
}

/// Drops the entries of `resources`, `components` and `crds` that `exclude` names, as
/// Flux's CLI filters an existing kustomization; an entry that does not exist is an error
/// (`lstat`), URLs are kept.
fn filter_entries(dir: &Path, k: &mut Mapping, exclude: Exclude<'_>) -> Result<()> {
    for field in ["resources", "components", "crds"] {
        let Some(Value::Seq(entries)) = k.get_mut(field) else {
            continue;
        };
        let mut kept = Vec::with_capacity(entries.len());
        for e in entries.drain(..) {
            let Some(s) = e.as_str() else {
                kept.push(e);
                continue;
            };
            if field != "crds" && is_url(s) {
                kept.push(e);
                continue;
            }
            let path = crate::loader::clean_join(dir, s);
            let meta = std::fs::symlink_metadata(&path).map_err(|err| {
                let why = if err.kind() == std::io::ErrorKind::NotFound {
                    "no such file or directory".to_owned()
                } else {
                    err.to_string()
                };
                Error::msg(format!("lstat {}: {why}", path.display()))
            })?;
            let rel = path
                .strip_prefix(dir)
                .ok()
                .map(|r| r.to_string_lossy().replace('\\', "/"));
            match rel {
                Some(r) if !r.is_empty() && exclude(&r, meta.is_dir()) => {}
                _ => kept.push(e),
            }
        }
        *entries = kept;
    }
    Ok(())
}

/// Flux's kustomization for `dir` (what its CLI builds, fluxcd/pkg/kustomize
/// `GenerateManifest`): the directory's kustomization file, or one generated from the
/// manifests it holds, with the entries `exclude` names dropped and `overlays` merged in.
/// An existing kustomization without resources gets `buildMetadata: [originAnnotations]`,
/// as Flux does. Nothing is written.
pub fn flux_manifest(dir: &Path, overlays: &Overlays, exclude: Exclude<'_>) -> Result<Manifest> {
    let existing = KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| (n, dir.join(n)))
        .find(|(_, p)| p.is_file());
    let (file_name, mut k, generated) = match existing {
        Some((name, path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::Io {
                path: path.clone(),
                error: e,
            })?;
            let v = crate::yaml::parse_one(&text).map_err(|e| Error::Yaml {
                path: path.clone(),
                line: e.line,
                column: e.column,
                message: e.message,
            })?;
            let k = match v {
                Value::Null => Mapping::new(),
                Value::Map(m) => m,
                _ => {
                    return Err(Error::Kustomization {
                        path,
                        field: String::new(),
                        message: "not a kustomization (a YAML mapping)".into(),
                    });
                }
            };
            ((*name).to_owned(), k, false)
        }
        None => {
            let mut k = Mapping::new();
            let resources: Vec<Value> = generated_resources_excluding(dir, exclude)?
                .into_iter()
                .map(|r| Value::String(format!("./{r}")))
                .collect();
            if resources.is_empty() {
                k.insert("namespace".into(), Value::String("_placeholder".into()));
            } else {
                k.insert("resources".into(), Value::Seq(resources));
            }
            ("kustomization.yaml".to_owned(), k, true)
        }
    };
    for (key, default) in [
        ("kind", "Kustomization"),
        ("apiVersion", "kustomize.config.k8s.io/v1beta1"),
    ] {
        if k.get(key).and_then(Value::as_str).is_none_or(str::is_empty) {
            k.shift_insert(0, key.into(), Value::String(default.into()));
        }
    }
    let no_resources = k
        .get("resources")
        .and_then(Value::as_seq)
        .is_none_or(|r| r.is_empty());
    if !generated && no_resources {
        k.insert(
            "buildMetadata".into(),
            Value::Seq(vec![Value::String("originAnnotations".into())]),
        );
    }
    filter_entries(dir, &mut k, exclude)?;
    if let Some(ns) = &overlays.target_namespace {
        k.insert("namespace".into(), Value::String(ns.clone()));
    }
    if let Some(p) = &overlays.name_prefix {
        k.insert("namePrefix".into(), Value::String(p.clone()));
    }
    if let Some(p) = &overlays.name_suffix {
        k.insert("nameSuffix".into(), Value::String(p.clone()));
    }
    fn take_list(k: &Mapping, key: &str) -> Vec<Value> {
        match k.get(key) {
            Some(Value::Seq(s)) => s.clone(),
            _ => Vec::new(),
        }
    }
    if !overlays.patches.is_empty() {
        let mut patches = take_list(&k, "patches");
        patches.extend(overlays.patches.iter().cloned());
        k.insert("patches".into(), Value::Seq(patches));
    }
    if !overlays.components.is_empty() {
        let mut components = take_list(&k, "components");
        for c in &overlays.components {
            if !is_local_relative(c) {
                return Err(Error::msg(format!(
                    "component path '{c}' must be local and relative"
                )));
            }
            if overlays.ignore_missing_components && !crate::loader::clean_join(dir, c).exists() {
                continue;
            }
            components.push(Value::String(c.clone()));
        }
        k.insert("components".into(), Value::Seq(components));
    }
    if !overlays.images.is_empty() {
        let mut images = take_list(&k, "images");
        for image in &overlays.images {
            let name = image.get_str(&["name"]).unwrap_or_default();
            let existing = images
                .iter_mut()
                .find(|i| i.get_str(&["name"]).unwrap_or_default() == name);
            match existing {
                Some(Value::Map(e)) => {
                    let field = |f: &str| image.get_str(&[f]).unwrap_or_default().to_owned();
                    let (new_name, new_tag, digest) =
                        (field("newName"), field("newTag"), field("digest"));
                    if !new_name.is_empty() {
                        e.insert("newName".into(), Value::String(new_name));
                    }
                    // newTag and digest select the version together: setting one clears
                    // the other
                    if !new_tag.is_empty() || !digest.is_empty() {
                        for (f, v) in [("newTag", new_tag), ("digest", digest)] {
                            if v.is_empty() {
                                e.shift_remove(f);
                            } else {
                                e.insert(f.into(), Value::String(v));
                            }
                        }
                    }
                }
                _ => images.push(image.clone()),
            }
        }
        k.insert("images".into(), Value::Seq(images));
    }
    if !overlays.build_metadata.is_empty() {
        k.insert(
            "buildMetadata".into(),
            Value::Seq(
                overlays
                    .build_metadata
                    .iter()
                    .map(|b| Value::String(b.clone()))
                    .collect(),
            ),
        );
    }
    Ok(Manifest {
        file_name,
        text: {
            let k = Value::Map(k);
            crate::yaml::to_yaml(&k).map_err(|e| crate::build::marshal_error(&k, e))?
        },
        generated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(dir: &Path, overlays: &Overlays) -> Mapping {
        let m = flux_manifest(dir, overlays, &|rel, _| rel.starts_with("skip")).unwrap();
        match crate::yaml::parse_one(&m.text).unwrap() {
            Value::Map(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flux_manifest_generates_amends_and_filters() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::write(
            root.join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("skip.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\n",
        )
        .unwrap();
        let overlays = Overlays {
            target_namespace: Some("apps".into()),
            name_prefix: Some("p-".into()),
            images: vec![crate::yaml::parse_one("{name: nginx, newTag: '2'}").unwrap()],
            ..Overlays::default()
        };
        let m = flux_manifest(root, &overlays, &|rel, _| rel.starts_with("skip")).unwrap();
        assert!(m.generated);
        assert_eq!(m.file_name, "kustomization.yaml");
        let k = manifest(root, &overlays);
        assert_eq!(
            k.get("resources"),
            Some(&Value::Seq(vec![Value::String("./a.yaml".into())]))
        );
        assert_eq!(k.get("namespace"), Some(&Value::String("apps".into())));
        assert_eq!(k.get("namePrefix"), Some(&Value::String("p-".into())));
        assert!(!root.join("kustomization.yaml").exists(), "nothing written");

        // an existing kustomization: excluded entries dropped, images merged by name
        std::fs::write(
            root.join("kustomization.yaml"),
            "resources: [a.yaml, skip.yaml]\nimages:\n- {name: nginx, newName: reg/nginx, digest: 'sha256:1'}\n",
        )
        .unwrap();
        let k = manifest(root, &overlays);
        assert_eq!(
            k.get("resources"),
            Some(&Value::Seq(vec![Value::String("a.yaml".into())]))
        );
        let image =
            crate::yaml::parse_one("{name: nginx, newName: reg/nginx, newTag: '2'}").unwrap();
        assert_eq!(k.get("images"), Some(&Value::Seq(vec![image])));
        assert_eq!(
            k.get("apiVersion"),
            Some(&Value::String("kustomize.config.k8s.io/v1beta1".into()))
        );

        // no resources: origin annotations, as Flux sets them
        std::fs::write(root.join("kustomization.yaml"), "configMapGenerator: []\n").unwrap();
        let k = manifest(root, &Overlays::default());
        assert_eq!(
            k.get("buildMetadata"),
            Some(&Value::Seq(vec![Value::String("originAnnotations".into())]))
        );

        // a missing entry is an error naming it; remote components are refused
        std::fs::write(root.join("kustomization.yaml"), "resources: [gone.yaml]\n").unwrap();
        let e = flux_manifest(root, &Overlays::default(), &|_, _| false).unwrap_err();
        assert!(
            e.to_string().starts_with("lstat ") && e.to_string().contains("gone.yaml"),
            "{e}"
        );
        let remote = Overlays {
            components: vec!["https://example.com/c".into()],
            ..Overlays::default()
        };
        std::fs::write(root.join("kustomization.yaml"), "resources: [a.yaml]\n").unwrap();
        let e = flux_manifest(root, &remote, &|_, _| false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "component path 'https://example.com/c' must be local and relative"
        );
    }

    #[test]
    fn build_with_an_in_memory_kustomization() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("kustomization.yaml"),
            "resources: [missing.yaml]\n",
        )
        .unwrap();
        let out = crate::build_with_kustomization(
            d.path(),
            "kustomization.yaml",
            "resources: [a.yaml]\nnamespace: x\n",
            &crate::BuildOptions::default(),
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].namespace(), "x");
        // the file on disk is left alone
        assert_eq!(
            std::fs::read_to_string(d.path().join("kustomization.yaml")).unwrap(),
            "resources: [missing.yaml]\n"
        );
    }

    #[test]
    fn lists_manifests_and_kustomized_subdirs() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::write(
            root.join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )
        .unwrap();
        std::fs::write(root.join("notes.yaml"), "just: data\n").unwrap();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::write(
            root.join("sub/deeper/b.yml"),
            "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("app")).unwrap();
        std::fs::write(root.join("app/kustomization.yaml"), "resources: [c.yaml]\n").unwrap();
        std::fs::write(
            root.join("app/c.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata: {name: c}\n",
        )
        .unwrap();
        assert_eq!(
            generated_resources(root).unwrap(),
            vec!["a.yaml", "app", "sub/deeper/b.yml"]
        );
        assert!(ensure_kustomization(root).unwrap());
        assert!(!ensure_kustomization(root).unwrap());
        let out = crate::build_to_string(root, &Default::default()).unwrap();
        assert!(out.contains("name: a") && out.contains("name: b") && out.contains("name: c"));
    }

    #[test]
    fn broken_yaml_fails_with_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("deploy")).unwrap();
        std::fs::write(
            root.join("deploy/ok.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )
        .unwrap();
        std::fs::write(root.join("deploy/list.yaml"), "- just\n- a list\n").unwrap();
        std::fs::write(
            root.join("deploy/broken.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [b\n",
        )
        .unwrap();
        let err = generated_resources(root).unwrap_err().to_string();
        assert!(err.contains("broken.yaml"), "{err}");
        assert!(err.contains("line"), "{err}");
        std::fs::remove_file(root.join("deploy/broken.yaml")).unwrap();
        assert_eq!(generated_resources(root).unwrap(), vec!["deploy/ok.yaml"]);
    }
}
