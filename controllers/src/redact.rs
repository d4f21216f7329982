//! Messages about what was read from a Secret that never repeat its content.

/// Where YAML read from a Secret is invalid: line and column only. The parser's message
/// can quote the text it failed on (and renders a snippet of it), which may be a
/// credential.
pub(crate) fn yaml_error(e: &serde_saphyr::Error) -> String {
    match e.location() {
        Some(l) => format!("invalid YAML at line {}, column {}", l.line(), l.column()),
        None => "invalid YAML".to_owned(),
    }
}

/// Why a kubeconfig from a Secret could not be read, without its content.
pub(crate) fn kubeconfig_error(e: &kube::config::KubeconfigError) -> String {
    match e {
        kube::config::KubeconfigError::Parse(e) => {
            format!("failed to parse kubeconfig: {}", yaml_error(e))
        }
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_errors_name_the_place_not_the_text() {
        for text in [
            "hunter2\n",
            "users:\n- user:\n    token: hunter2\n    - [\n",
        ] {
            let e = kube::config::Kubeconfig::from_yaml(text).unwrap_err();
            assert!(e.to_string().contains("hunter2"), "the parser quotes: {e}");
            let m = super::kubeconfig_error(&e);
            assert!(!m.contains("hunter2"), "{m}");
            assert!(m.contains("line "), "{m}");
        }
    }
}
