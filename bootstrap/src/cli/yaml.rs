//! The YAML the `--export` flags and `gitops export` print: each object as Flux prints it
//! (Go's JSON encoding, then go-yaml v2 with sorted keys), after a `---` line.

use anyhow::Context;
use serde_json::Value;

/// One object as a YAML document, with the leading `---` line.
pub fn document(obj: &Value) -> anyhow::Result<String> {
    let json = serde_json::to_string(obj).context("encoding an object as JSON")?;
    let doc = gitops_kustomize::yaml::parse_one(&json)
        .map_err(|e| anyhow::anyhow!("converting an object to YAML: {e}"))?;
    let mut out = String::from("---\n");
    gitops_kustomize::yaml::emit_into(&mut out, &doc);
    Ok(out)
}

/// Prints an object as Flux's `--export` does.
pub fn print(obj: &Value) -> anyhow::Result<()> {
    use std::io::Write;
    let text = document(obj)?;
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing to stdout")
}
