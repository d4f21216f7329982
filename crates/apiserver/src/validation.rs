//! Validation of object metadata: names, namespaces, labels and annotations, with the
//! messages of the real API server.

use crate::error::Cause;
use crate::registry::ResourceType;
use serde_json::Value;

pub(crate) const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// Whether `s` is a DNS-1123 label (at most 63 characters).
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a DNS-1123 subdomain (at most 253 characters).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_qualified_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

/// Validates a name for a kind: namespaces and services need DNS labels, RBAC objects
/// path segments, everything else DNS subdomains.
pub fn name_problem(rt: &ResourceType, name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("name or generateName is required".into());
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") | ("", "services") => {
            if !is_dns_label(name) {
                return Some(LABEL_MSG.into());
            }
        }
        ("rbac.authorization.k8s.io", _) => {
            if let Some(msg) = path_segment_problems(name).into_iter().next() {
                return Some(msg);
            }
        }
        _ => {
            if !is_dns_subdomain(name) {
                return Some(SUBDOMAIN_MSG.into());
            }
        }
    }
    None
}

/// Kubernetes' `IsValidPathSegmentName` (RBAC names): not `.` or `..`, no `/` or `%`.
pub fn path_segment_problems(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .into_iter()
        .filter(|bad| name.contains(bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// Validates `metadata.name`, `metadata.namespace`, labels and annotations.
pub fn validate_metadata(rt: &ResourceType, obj: &Value, out: &mut Vec<Cause>) {
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        out.push(Cause::required("metadata.name"));
    } else if let Some(problem) = name_problem(rt, name) {
        out.push(Cause::invalid("metadata.name", &meta["name"], problem));
    }
    if rt.namespaced {
        match meta["namespace"].as_str() {
            Some(ns) if is_dns_label(ns) => {}
            Some(ns) => out.push(Cause::invalid(
                "metadata.namespace",
                &Value::from(ns),
                LABEL_MSG,
            )),
            None => out.push(Cause::required("metadata.namespace")),
        }
    }
    if let Some(labels) = meta.get("labels") {
        match labels {
            Value::Object(m) => {
                for (k, v) in m {
                    validate_key("metadata.labels", k, out);
                    match v.as_str() {
                        Some(s) if s.is_empty() || is_qualified_part(s) => {}
                        _ => out.push(Cause::invalid("metadata.labels", v, LABEL_VALUE_MSG)),
                    }
                }
            }
            Value::Null => {}
            other => out.push(Cause::invalid(
                "metadata.labels",
                other,
                "must be a map of strings",
            )),
        }
    }
    if let Some(annotations) = meta.get("annotations") {
        match annotations {
            Value::Object(m) => {
                let mut total = 0usize;
                for (k, v) in m {
                    validate_key("metadata.annotations", k, out);
                    match v.as_str() {
                        Some(s) => total += k.len() + s.len(),
                        None => out.push(Cause::invalid(
                            "metadata.annotations",
                            v,
                            "must be a string",
                        )),
                    }
                }
                if total > 256 * 1024 {
                    out.push(Cause {
                        reason: "FieldValueTooLong",
                        field: "metadata.annotations".into(),
                        message: "Too long: must have at most 262144 bytes".into(),
                    });
                }
            }
            Value::Null => {}
            other => out.push(Cause::invalid(
                "metadata.annotations",
                other,
                "must be a map of strings",
            )),
        }
    }
    if let Some(f) = meta.get("finalizers") {
        match f {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) if is_finalizer_name(s) => {}
                        _ => out.push(Cause::invalid(
                            format!("metadata.finalizers[{i}]"),
                            item,
                            "a finalizer name must be fully qualified (e.g. example.com/name)",
                        )),
                    }
                }
            }
            Value::Null => {}
            other => out.push(Cause::invalid(
                "metadata.finalizers",
                other,
                "must be a list of strings",
            )),
        }
    }
}

/// Finalizer names: qualified names, where the built-in ones may be unprefixed.
fn is_finalizer_name(s: &str) -> bool {
    const STANDARD: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];
    if STANDARD.contains(&s) {
        return true;
    }
    match s.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_qualified_part(name),
        None => is_qualified_part(s),
    }
}

fn validate_key(field: &str, key: &str, out: &mut Vec<Cause>) {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !is_dns_subdomain(p)
    {
        out.push(Cause::invalid(
            field,
            &Value::from(key),
            format!("prefix part {SUBDOMAIN_MSG}"),
        ));
        return;
    }
    if !is_qualified_part(name) {
        out.push(Cause::invalid(field, &Value::from(key), QUALIFIED_MSG));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    #[test]
    fn names() {
        let r = Registry::new();
        let cm = r.lookup("", "v1", "configmaps").unwrap();
        let ns = r.lookup("", "v1", "namespaces").unwrap();
        let role = r
            .lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
            .unwrap();
        assert!(name_problem(&cm, "a.b-c").is_none());
        assert!(name_problem(&cm, "Bad").is_some());
        assert!(name_problem(&ns, "a.b").is_some());
        assert!(name_problem(&role, "system:controller:x").is_none());
        assert!(name_problem(&role, "a/b").is_some());
        assert!(name_problem(&cm, &"a".repeat(254)).is_some());
    }

    #[test]
    fn metadata() {
        let r = Registry::new();
        let cm = r.lookup("", "v1", "configmaps").unwrap();
        let mut out = Vec::new();
        validate_metadata(
            &cm,
            &json!({"metadata": {"name": "ok", "namespace": "default",
                "labels": {"app.kubernetes.io/name": "x", "bad key": "v", "k": "bad value"},
                "annotations": {"a": "b"}, "finalizers": ["example.com/f", "bad finalizer"]}}),
            &mut out,
        );
        let fields: Vec<&str> = out.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "metadata.labels",
                "metadata.labels",
                "metadata.finalizers[1]"
            ],
            "{out:?}"
        );
    }
}
