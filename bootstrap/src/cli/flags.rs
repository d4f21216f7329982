//! Flux's typed flag values (its `internal/flags`): provider names, `<kind>/<name>.<ns>`
//! references, with Flux's error texts. Each parser is a clap `value_parser`.

/// A choice among `values`; `what` names it in errors (`source Git provider`), `desc` is
/// what an empty value asks for, `sep` joins the choices in the error.
fn one_of(s: &str, what: &str, desc: &str, values: &[&str], sep: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err(format!("no {what} given, please specify {desc}"));
    }
    if !values.contains(&s) {
        return Err(format!(
            "{what} '{s}' is not supported, must be one of: {}",
            values.join(sep)
        ));
    }
    Ok(s.to_owned())
}

/// `--provider` of `create source git`.
pub fn git_provider(s: &str) -> Result<String, String> {
    one_of(
        s,
        "source Git provider",
        "the Git provider name",
        &["generic", "github", "aws", "azure"],
        "|",
    )
}

/// `--provider` of `create source oci`.
pub fn oci_provider(s: &str) -> Result<String, String> {
    one_of(
        s,
        "source OCI provider",
        "the OCI provider name",
        &["generic", "aws", "azure", "gcp"],
        ", ",
    )
}

/// `--provider` of `create source bucket`.
pub fn bucket_provider(s: &str) -> Result<String, String> {
    one_of(
        s,
        "source bucket provider",
        "the S3 compatible storage provider name",
        &["generic", "aws", "azure", "gcp"],
        ", ",
    )
}

/// `--verify-provider` of `create source oci|chart`.
pub fn oci_verify_provider(s: &str) -> Result<String, String> {
    one_of(
        s,
        "source OCI verify provider",
        "the OCI verify provider name to use for signature verification, available options are: (cosign)",
        &["cosign"],
        ", ",
    )
}

/// One value of a pflag `StringSlice` flag: comma-separated values, CSV-quoted.
#[derive(Clone, Debug, Default)]
pub struct StringSlice(pub Vec<String>);

/// Parses a pflag `StringSlice` value (Go's `encoding/csv` on one line; empty: no values).
pub fn string_slice(s: &str) -> Result<StringSlice, String> {
    if s.is_empty() {
        return Ok(StringSlice::default());
    }
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_start && !quoted => {
                quoted = true;
                at_start = false;
            }
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                    if !matches!(chars.peek(), None | Some(',')) {
                        return Err(format!(
                            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                            s.len() - chars.clone().map(char::len_utf8).sum::<usize>() + 1
                        ));
                    }
                }
            }
            ',' if !quoted => {
                out.push(std::mem::take(&mut field));
                at_start = true;
            }
            '"' => {
                return Err(format!(
                    "parse error on line 1, column {}: bare \" in non-quoted-field",
                    s.len() - chars.clone().map(char::len_utf8).sum::<usize>()
                ));
            }
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err(format!(
            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
            s.len() + 1
        ));
    }
    out.push(field);
    Ok(StringSlice(out))
}

/// All values of a repeated `StringSlice` flag.
pub fn flatten(values: Vec<StringSlice>) -> Vec<String> {
    values.into_iter().flat_map(|v| v.0).collect()
}

/// The receiver types the CLI's `--type` accepts (Flux's `ReceiverType`, without
/// `generic-oidc`), in Flux's order.
pub const RECEIVER_TYPES: &[&str] = &[
    "generic",
    "generic-hmac",
    "github",
    "gitlab",
    "bitbucket",
    "harbor",
    "dockerhub",
    "quay",
    "gcr",
    "nexus",
    "acr",
    "cdevents",
];

/// `--type` of `create receiver` and `create secret receiver`.
pub fn receiver_type(s: &str) -> Result<String, String> {
    one_of(
        s,
        "receiver type",
        "the receiver type",
        RECEIVER_TYPES,
        ", ",
    )
}

/// A `<kind>/<name>.<namespace>` reference with the kind spelled as Flux spells it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceRef {
    /// Kind, e.g. `HelmRepository`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace (empty: the object's own).
    pub namespace: String,
}

/// Splits `<kind>/<name>.<namespace>` as Flux's `ParseObjectKindNameNamespace` does.
pub fn parse_kind_name_namespace(input: &str) -> (String, String, String) {
    let parts: Vec<&str> = input.split('/').collect();
    let (kind, mut name) = match parts[..] {
        [k, n] => (k.to_owned(), n.to_owned()),
        _ => (String::new(), input.to_owned()),
    };
    let mut namespace = String::new();
    if let Some((n, ns)) = name.rsplit_once('.') {
        namespace = ns.to_owned();
        name = n.to_owned();
    }
    (kind, name, namespace)
}

/// The kinds a HelmChart (and a HelmRelease chart template) can come from.
pub const HELM_CHART_SOURCE_KINDS: &[&str] = &["HelmRepository", "GitRepository", "Bucket"];

/// `--source` of `create source chart` and `create helmrelease`.
pub fn helm_chart_source(s: &str) -> Result<SourceRef, String> {
    if s.trim().is_empty() {
        return Err(format!(
            "no helm chart source given, please specify source that contains the chart in the format '<kind>/<name>.<namespace>', where kind must be one of: ({})",
            HELM_CHART_SOURCE_KINDS.join(", ")
        ));
    }
    let (kind, name, namespace) = parse_kind_name_namespace(s);
    if kind.is_empty() || name.is_empty() {
        return Err(format!(
            "invalid helm chart source '{s}', must be in format <kind>/<name>"
        ));
    }
    let Some(clean) = HELM_CHART_SOURCE_KINDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(&kind))
    else {
        return Err(format!(
            "source kind '{kind}' is not supported, must be one of: {}",
            HELM_CHART_SOURCE_KINDS.join(", ")
        ));
    };
    Ok(SourceRef {
        kind: (*clean).to_owned(),
        name,
        namespace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_name_namespace() {
        assert_eq!(
            parse_kind_name_namespace("HelmRepository/podinfo.flux-system"),
            (
                "HelmRepository".into(),
                "podinfo".into(),
                "flux-system".into()
            )
        );
        assert_eq!(
            parse_kind_name_namespace("a.b.c"),
            (String::new(), "a.b".into(), "c".into())
        );
        assert_eq!(
            helm_chart_source("helmrepository/podinfo").unwrap().kind,
            "HelmRepository"
        );
        assert_eq!(
            helm_chart_source("foobar/podinfo").unwrap_err(),
            "source kind 'foobar' is not supported, must be one of: HelmRepository, GitRepository, Bucket"
        );
    }

    #[test]
    fn string_slices_as_pflag_reads_them() {
        assert!(string_slice("").unwrap().0.is_empty());
        assert_eq!(string_slice("a,b").unwrap().0, ["a", "b"]);
        assert_eq!(string_slice("\"a,b\",c").unwrap().0, ["a,b", "c"]);
        assert_eq!(string_slice("a,,b").unwrap().0, ["a", "", "b"]);
    }

    #[test]
    fn providers() {
        assert_eq!(
            git_provider("dummy").unwrap_err(),
            "source Git provider 'dummy' is not supported, must be one of: generic|github|aws|azure"
        );
        assert_eq!(
            git_provider("").unwrap_err(),
            "no source Git provider given, please specify the Git provider name"
        );
    }
}
