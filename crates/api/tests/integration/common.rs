//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// `../shared/<rel>` next to the workspace, if present. Tests that need it skip with a
/// message when it is absent (a clone without the shared reference material).
pub fn shared(rel: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = root.join("../shared").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} not found", p.display());
        None
    }
}

/// Parses a YAML stream into JSON values, one per non-empty document.
pub fn yaml_docs(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}
