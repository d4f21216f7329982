//! Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`,
//! `a<1`) and field selectors (`metadata.name=x`, `metadata.namespace!=y`, and the fields
//! each kind supports).
//!
//! Label selectors are [`gitops_go::selector`]'s, with the API server's error texts.

use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceType;
use gitops_go::selector::{Selector, SelectorError};
use serde_json::Value;

/// A parsed label selector ([`gitops_go::selector`]); empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Selector);

impl From<SelectorError> for ApiError {
    fn from(e: SelectorError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl LabelSelector {
    /// Parses the `labelSelector` query parameter (400 when it does not parse).
    pub fn parse(s: &str) -> ApiResult<LabelSelector> {
        Ok(LabelSelector::parse_str(s)?)
    }

    /// Parses a label selector.
    pub fn parse_str(s: &str) -> Result<LabelSelector, SelectorError> {
        Selector::parse(s).map(LabelSelector)
    }

    /// Whether an object's labels match.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        self.0.matches(|k| labels.get(k).and_then(Value::as_str))
    }
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

/// Fields every kind supports.
const COMMON_FIELDS: [&str; 2] = ["metadata.name", "metadata.namespace"];

fn kind_fields(rt: &ResourceType) -> &'static [&'static str] {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Event") | ("events.k8s.io", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "regarding.kind",
            "regarding.name",
            "regarding.namespace",
            "regarding.uid",
        ],
        ("", "Secret") => &["type"],
        ("", "Namespace") => &["status.phase"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "ReplicationController") | ("apps", "ReplicaSet") => &["status.replicas"],
        ("batch", "Job") => &["status.successful"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter for a kind; unsupported fields are a 400
    /// as on the real server.
    pub fn parse(s: &str, rt: &ResourceType) -> ApiResult<FieldSelector> {
        let mut reqs = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            let supported = COMMON_FIELDS.contains(&field)
                || kind_fields(rt).contains(&field)
                || rt
                    .selectable_fields
                    .iter()
                    .any(|f| f.trim_start_matches('.') == field);
            if !supported {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            reqs.push((field.to_owned(), eq, value.trim().to_owned()));
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether an object matches.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, eq, want)| {
            let mut cur = obj;
            for seg in field.split('.') {
                cur = &cur[seg];
            }
            let have = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (have == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    #[test]
    fn label_selectors() {
        let o = json!({"metadata": {"labels": {"app": "web", "tier": "front", "n": "5", "e": ""}}});
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&o);
        assert!(m(""));
        assert!(m("app=web"));
        assert!(m("app==web,tier"));
        assert!(!m("app!=web"));
        assert!(m("tier in (front, back)"));
        assert!(!m("tier notin (front)"));
        assert!(m("env notin (prod)"));
        assert!(m("!env"));
        assert!(!m("!app"));
        assert!(m("app in (web),tier=front"));
        assert!(m("  app = web , tier  "));
        assert!(m("n>4") && !m("n>5") && m("n<6") && !m("tier>1"));
        // `in` and `notin` are values inside a list.
        assert!(!m("app in (in, notin)"));
        // The real server reads `()` as the empty value, and `x=` as `x=""`.
        assert!(m("e in ()") && !m("app in ()"));
        assert!(!m("e notin ()") && m("app notin ()") && m("missing notin ()"));
        assert!(m("e=") && !m("app="));
        assert!(m("e in (,x)") && m("e in (x,)") && m("e in (x,,y)"));
    }

    #[test]
    fn label_selector_errors_are_the_real_servers() {
        let e = |s: &str| LabelSelector::parse_str(s).unwrap_err().to_string();
        assert_eq!(e("a,,b"), "found ',', expected: identifier after ','");
        assert_eq!(e("a,"), "found '', expected: identifier after ','");
        assert_eq!(
            e(",a"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            e("a b"),
            "unable to parse requirement: found 'b', expected: '=', '!=', '==', 'in', notin'"
        );
        assert_eq!(
            e("a in x"),
            "unable to parse requirement: found 'x' expected: '('"
        );
        assert_eq!(
            e("a in (x"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            e("a in (x y)"),
            "unable to parse requirement: found 'y', expected: ',' or ')'"
        );
        assert_eq!(
            e("in (x)"),
            "unable to parse requirement: found '(', expected: '=', '!=', '==', 'in', notin'"
        );
        assert_eq!(
            e("=x"),
            "found '=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(e("a=b=c"), "found '=', expected: ',' or 'end of string'");
        assert_eq!(e("!a=b"), "found '=', expected: ',' or 'end of string'");
        assert_eq!(
            e("a>x"),
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        assert!(
            e("app=we$b").starts_with("unable to parse requirement: values[0]: Invalid value: \"we$b\": a valid label must be an empty string or consist of"),
            "{}",
            e("app=we$b")
        );
        assert!(
            e("-a").starts_with("unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of"),
            "{}",
            e("-a")
        );
        assert!(e("a/b/c").contains("a qualified name must consist of"));
        assert!(e("Example.com/a").contains("prefix part a lowercase RFC 1123 subdomain"));
        assert!(e(&format!("a={}", "x".repeat(64))).contains("must be no more than 63 characters"));
        for ok in ["example.com/a=b", "a.b_c-d=x", "x in (a,b,c)", "!x,y"] {
            assert!(LabelSelector::parse_str(ok).is_ok(), "{ok}");
        }
        assert_eq!(LabelSelector::parse("a,,b").unwrap_err().code, 400);
    }

    #[test]
    fn field_selectors() {
        let r = Registry::new();
        let cm = r.lookup("", "v1", "configmaps").unwrap();
        let o = json!({"metadata": {"name": "a", "namespace": "ns"}});
        assert!(
            FieldSelector::parse("metadata.name=a", &cm)
                .unwrap()
                .matches(&o)
        );
        assert!(
            !FieldSelector::parse("metadata.name!=a", &cm)
                .unwrap()
                .matches(&o)
        );
        assert!(
            FieldSelector::parse("metadata.namespace==ns,metadata.name=a", &cm)
                .unwrap()
                .matches(&o)
        );
        assert_eq!(
            FieldSelector::parse("spec.foo=a", &cm).unwrap_err().code,
            400
        );
        let ev = r.lookup("", "v1", "events").unwrap();
        let e = json!({"involvedObject": {"name": "x"}});
        assert!(
            FieldSelector::parse("involvedObject.name=x", &ev)
                .unwrap()
                .matches(&e)
        );
    }
}
