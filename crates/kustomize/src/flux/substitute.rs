//! Flux's post-build variable substitution: `${var}`, `${var:=default}`, `${var:-default}`
//! (and the forms without a colon), `$${var}` escaping, strict mode. Objects annotated or
//! labelled `kustomize.toolkit.fluxcd.io/substitute: disabled` are left alone.
//!
//! Like Flux, substitution runs on each object's YAML text and the result is parsed again,
//! so a variable may expand to a number or a boolean. Bare `$var` is not expanded.

use crate::error::{Error, Result};
use crate::resource::Resource;
use crate::yaml;
use std::collections::BTreeMap;

/// The annotation (or label) that turns substitution off for one object.
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Substitutes variables in a text.
///
/// `strict`: a variable that is unset and has no default is an error (otherwise it expands
/// to the empty string).
pub fn substitute_str(text: &str, vars: &BTreeMap<String, String>, strict: bool) -> Result<String> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        // `$${` escapes to a literal `${`
        if i + 2 < b.len() && b[i + 1] == b'$' && b[i + 2] == b'{' {
            out.push_str(&text[last..i]);
            out.push('$');
            i += 2;
            last = i;
            // copy the rest of the expression unexpanded
            if let Some(end) = text[i..].find('}') {
                out.push_str(&text[i..i + end + 1]);
                i += end + 1;
                last = i;
            }
            continue;
        }
        if i + 1 < b.len() && b[i + 1] == b'{' {
            let Some(end) = text[i + 2..].find('}') else {
                i += 1;
                continue;
            };
            let expr = &text[i + 2..i + 2 + end];
            let (name, op, default) = split_expr(expr);
            if !valid_name(name) {
                i += 1;
                continue;
            }
            out.push_str(&text[last..i]);
            let value = match (vars.get(name), op) {
                (Some(v), ":-" | ":=") if v.is_empty() => default.to_string(),
                (Some(v), _) => v.clone(),
                (None, "-" | ":-" | "=" | ":=") => default.to_string(),
                (None, _) => {
                    if strict {
                        return Err(Error::msg(format!(
                            "variable not set (strict mode): {name}"
                        )));
                    }
                    String::new()
                }
            };
            out.push_str(&value);
            i += 2 + end + 1;
            last = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

fn split_expr(expr: &str) -> (&str, &str, &str) {
    for op in [":-", ":=", "-", "="] {
        if let Some(pos) = expr.find(op) {
            // the operator must directly follow the name
            let name = &expr[..pos];
            if valid_name(name) {
                return (name, op, &expr[pos + op.len()..]);
            }
        }
    }
    (expr, "", "")
}

fn disabled(r: &Resource) -> bool {
    r.annotation(SUBSTITUTE_ANNOTATION).as_deref() == Some("disabled")
        || r.string_map("labels")
            .iter()
            .any(|(k, v)| k == SUBSTITUTE_ANNOTATION && v == "disabled")
}

/// Substitutes variables in every object (except those with substitution disabled).
pub fn substitute(
    resources: &mut [Resource],
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<()> {
    for r in resources.iter_mut() {
        if disabled(r) {
            continue;
        }
        let text = yaml::to_yaml(&r.obj).map_err(|e| crate::build::marshal_error(&r.obj, e))?;
        if !text.contains("${") {
            continue;
        }
        let id = r.cur_id();
        let out = substitute_str(&text, vars, strict).map_err(|e| Error::Object {
            object: id.to_string(),
            message: format!("post-build substitution: {e}"),
        })?;
        r.obj = yaml::parse_one(&out).map_err(|e| Error::Object {
            object: id.to_string(),
            message: format!("post-build substitution produced invalid YAML: {e}"),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [("cluster", "prod"), ("replicas", "3"), ("empty", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn expands_defaults_and_escapes() {
        let v = vars();
        assert_eq!(
            substitute_str("a-${cluster}-b", &v, false).unwrap(),
            "a-prod-b"
        );
        assert_eq!(
            substitute_str("${missing:=dflt}", &v, false).unwrap(),
            "dflt"
        );
        assert_eq!(substitute_str("${missing:-x y}", &v, false).unwrap(), "x y");
        assert_eq!(
            substitute_str("${empty:-fallback}", &v, false).unwrap(),
            "fallback"
        );
        assert_eq!(substitute_str("${empty-kept}", &v, false).unwrap(), "");
        assert_eq!(
            substitute_str("$${cluster}", &v, false).unwrap(),
            "${cluster}"
        );
        assert_eq!(
            substitute_str("$cluster ${ not a var", &v, false).unwrap(),
            "$cluster ${ not a var"
        );
        assert_eq!(substitute_str("${missing}", &v, false).unwrap(), "");
        assert!(substitute_str("${missing}", &v, true).is_err());
        assert!(substitute_str("${missing:=ok}", &v, true).is_ok());
    }

    #[test]
    fn substitutes_objects_and_respects_disabled() {
        let v = vars();
        let mut rs = crate::build::parse_resources(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: 'app-${cluster}'}\nspec: {replicas: '${replicas}'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  annotations: {kustomize.toolkit.fluxcd.io/substitute: disabled}\ndata: {x: '${cluster}'}\n",
            std::path::Path::new("t.yaml"),
        )
        .unwrap();
        substitute(&mut rs, &v, false).unwrap();
        assert_eq!(rs[0].name(), "app-prod");
        // '${replicas}' prints as a plain scalar, so after expansion it reads back as an
        // integer, as in Flux
        assert_eq!(
            rs[0].obj.get_path(&["spec", "replicas"]),
            Some(&crate::yaml::Value::Int(3))
        );
        assert_eq!(rs[1].obj.get_str(&["data", "x"]), Some("${cluster}"));
    }
}
