//! Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`,
//! `a<1`) and field selectors (`metadata.name=x`, `metadata.namespace!=y`, and the fields
//! each kind supports).
//!
//! Label selectors follow the grammar of the real server's parser, including its corner
//! cases (`a notin ()` means `a notin ("")`, `a=` means `a=""`) and its error messages
//! (`found ',', expected: identifier after ','`).

use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceType;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
    Gt(String, i64),
    Lt(String, i64),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Req>);

/// Why a label selector does not parse. The text is the real server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(String);

impl From<SelectorError> for ApiError {
    fn from(e: SelectorError) -> Self {
        ApiError::bad_request(e.0)
    }
}

impl LabelSelector {
    /// Parses the `labelSelector` query parameter (400 when it does not parse).
    pub fn parse(s: &str) -> ApiResult<LabelSelector> {
        Ok(LabelSelector::parse_str(s)?)
    }

    /// Parses a label selector.
    pub fn parse_str(s: &str) -> Result<LabelSelector, SelectorError> {
        Parser::new(s).parse().map(LabelSelector)
    }

    /// Whether an object's labels match.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        let int = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::Ne(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
            Req::Gt(k, n) => int(k).is_some_and(|x| x > *n),
            Req::Lt(k, n) => int(k).is_some_and(|x| x < *n),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    OpenPar,
    ClosedPar,
    Comma,
    Not,
    DoubleEquals,
    Equals,
    NotEquals,
    Greater,
    Less,
    In,
    NotIn,
    Ident,
    Error,
}

/// Whether `in`/`notin` are keywords (after a key) or plain values (inside lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits a selector into tokens and their text.
fn tokens(s: &str) -> Vec<(Tok, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(is_space);
        let Some(c) = rest.chars().next() else {
            out.push((Tok::End, String::new()));
            return out;
        };
        if is_special(c) {
            let (tok, len) = match rest.as_bytes() {
                [b'!', b'=', ..] => (Tok::NotEquals, 2),
                [b'=', b'=', ..] => (Tok::DoubleEquals, 2),
                [b'=', ..] => (Tok::Equals, 1),
                [b'!', ..] => (Tok::Not, 1),
                [b'(', ..] => (Tok::OpenPar, 1),
                [b')', ..] => (Tok::ClosedPar, 1),
                [b',', ..] => (Tok::Comma, 1),
                [b'>', ..] => (Tok::Greater, 1),
                [b'<', ..] => (Tok::Less, 1),
                _ => (Tok::Error, c.len_utf8()),
            };
            out.push((tok, rest[..len].to_owned()));
            rest = &rest[len..];
            continue;
        }
        let end = rest
            .find(|c: char| is_space(c) || is_special(c))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        let tok = match word {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Ident,
        };
        out.push((tok, word.to_owned()));
        rest = &rest[end..];
    }
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

fn err(message: impl Into<String>) -> SelectorError {
    SelectorError(message.into())
}

impl Parser {
    fn new(s: &str) -> Parser {
        Parser {
            items: tokens(s),
            pos: 0,
        }
    }

    fn item(&self, ctx: Context) -> (Tok, String) {
        let (tok, lit) = self
            .items
            .get(self.pos)
            .cloned()
            .unwrap_or((Tok::End, String::new()));
        match tok {
            Tok::In | Tok::NotIn if ctx == Context::Values => (Tok::Ident, lit),
            _ => (tok, lit),
        }
    }

    fn lookahead(&self, ctx: Context) -> (Tok, String) {
        self.item(ctx)
    }

    fn consume(&mut self, ctx: Context) -> (Tok, String) {
        let out = self.item(ctx);
        if self.pos < self.items.len() {
            self.pos += 1;
        }
        out
    }

    fn parse(&mut self) -> Result<Vec<Req>, SelectorError> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Tok::Ident | Tok::Not => {
                    let r = self
                        .requirement()
                        .map_err(|e| err(format!("unable to parse requirement: {e}")))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Tok::Ident && t2 != Tok::Not {
                                return Err(err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(err(format!(
                                "found '{l}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return Err(err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Req, SelectorError> {
        let (mut tok, mut key) = self.consume(Context::Values);
        let negated = tok == Tok::Not;
        if negated {
            (tok, key) = self.consume(Context::Values);
        }
        if tok != Tok::Ident {
            return Err(err(format!("found '{key}', expected: identifier")));
        }
        if let Some(why) = label_key_error(&key) {
            return Err(err(format!("<nil>: Invalid value: {key:?}: {why}")));
        }
        if negated {
            return Ok(Req::NotExists(key));
        }
        let (next, _) = self.lookahead(Context::Values);
        if next == Tok::End || next == Tok::Comma {
            return Ok(Req::Exists(key));
        }
        let (op, lit) = self.consume(Context::KeyAndOperator);
        let values = match op {
            Tok::In | Tok::NotIn => self.values()?,
            Tok::Equals | Tok::DoubleEquals | Tok::NotEquals | Tok::Greater | Tok::Less => {
                vec![self.exact_value()?]
            }
            _ => {
                return Err(err(format!(
                    "found '{lit}', expected: '=', '!=', '==', 'in', notin'"
                )));
            }
        };
        let mut problems = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if let Some(why) = label_value_error(v) {
                problems.push(format!("values[{i}]: Invalid value: {v:?}: {why}"));
            }
        }
        let int = |v: &str, problems: &mut Vec<String>| -> i64 {
            v.parse::<i64>().unwrap_or_else(|_| {
                problems.push(format!(
                    "values[0]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"
                ));
                0
            })
        };
        let first = values.first().cloned().unwrap_or_default();
        let req = match op {
            Tok::In => Req::In(key, values),
            Tok::NotIn => Req::NotIn(key, values),
            Tok::Equals | Tok::DoubleEquals => Req::Eq(key, first),
            Tok::NotEquals => Req::Ne(key, first),
            Tok::Greater => Req::Gt(key, int(&first, &mut problems)),
            _ => Req::Lt(key, int(&first, &mut problems)),
        };
        match problems.len() {
            0 => Ok(req),
            1 => Err(err(problems.remove(0))),
            _ => Err(err(format!("[{}]", problems.join(", ")))),
        }
    }

    /// `(x, y)`; `()` is the empty value, and empty items count as it too.
    fn values(&mut self) -> Result<Vec<String>, SelectorError> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Tok::OpenPar {
            return Err(err(format!("found '{lit}' expected: '('")));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        let mut out: Vec<String> = Vec::new();
        let add = |v: String, out: &mut Vec<String>| {
            if !out.contains(&v) {
                out.push(v);
            }
        };
        match tok {
            Tok::ClosedPar => {
                self.consume(Context::Values);
                return Ok(vec![String::new()]);
            }
            Tok::Ident | Tok::Comma => {}
            _ => {
                return Err(err(format!(
                    "found '{lit}', expected: ',', ')' or identifier"
                )));
            }
        }
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Tok::Ident => {
                    add(lit, &mut out);
                    let (t2, l2) = self.lookahead(Context::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => {
                            self.consume(Context::Values);
                            return Ok(out);
                        }
                        _ => return Err(err(format!("found '{l2}', expected: ',' or ')'"))),
                    }
                }
                Tok::Comma => {
                    if out.is_empty() {
                        add(String::new(), &mut out);
                    }
                    let (t2, _) = self.lookahead(Context::Values);
                    if t2 == Tok::ClosedPar {
                        add(String::new(), &mut out);
                        self.consume(Context::Values);
                        return Ok(out);
                    }
                    if t2 == Tok::Comma {
                        self.consume(Context::Values);
                        add(String::new(), &mut out);
                    }
                }
                _ => return Err(err(format!("found '{lit}', expected: ',', or identifier"))),
            }
        }
    }

    /// The value after `=`, `==`, `!=`, `>`, `<`; none is the empty value.
    fn exact_value(&mut self) -> Result<String, SelectorError> {
        let (tok, _) = self.lookahead(Context::Values);
        if tok == Tok::End || tok == Tok::Comma {
            return Ok(String::new());
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Tok::Ident {
            return Ok(lit);
        }
        Err(err(format!("found '{lit}', expected: identifier")))
    }
}

const QUALIFIED_NAME_MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A lowercase RFC 1123 subdomain.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// Why a label key is invalid (the real server's `IsQualifiedName` messages).
fn label_key_error(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let mut errs = Vec::new();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else if prefix.len() > 253 {
                errs.push("prefix part must be no more than 253 characters".to_owned());
            } else if !is_dns_subdomain(prefix) {
                errs.push("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_owned());
            }
            *name
        }
        _ => {
            return Some(format!(
                "a qualified name {QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_owned());
    }
    if !is_qualified_name_part(name) {
        errs.push(format!("name part {QUALIFIED_NAME_MESSAGE}"));
    }
    (!errs.is_empty()).then(|| errs.join("; "))
}

/// Why a label value is invalid (the real server's `IsValidLabelValue` messages).
fn label_value_error(v: &str) -> Option<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !v.is_empty() && !is_qualified_name_part(v) {
        errs.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_owned());
    }
    (!errs.is_empty()).then(|| errs.join("; "))
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
