//! Generating a kustomization for a directory that has none, as Flux's kustomize-controller
//! does: every Kubernetes manifest (`.yaml`, `.yml`, `.json` with `apiVersion` and `kind`) in
//! the directory tree becomes a resource, and sub-directories that have their own
//! kustomization are included as a whole.

use crate::build::parse_resources;
use crate::error::{Error, Result};
use crate::kustomization::KUSTOMIZATION_FILE_NAMES;
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
        source: e,
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

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
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
            if has_kustomization(&p) {
                out.push(rel);
            } else {
                walk(root, &p, out)?;
            }
            continue;
        }
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "yaml" | "yml" | "json") && is_manifest(&p)? {
            out.push(rel);
        }
    }
    Ok(())
}

/// The resources a generated kustomization for `dir` lists.
pub fn generated_resources(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
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
    std::fs::write(&p, text).map_err(|e| Error::Io { path: p, source: e })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
