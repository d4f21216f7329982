//! Kubernetes label selectors (`k8s.io/apimachinery/pkg/labels.Parse`): `a=b`, `a==b`,
//! `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, with the parser's corner
//! cases (`a notin ()` means `a notin ("")`, `a=` means `a=""`) and its error texts
//! (`found ',', expected: identifier after ','`).
//!
//! The API server and kustomize use the same grammar and checks but word some errors
//! differently (kustomize v5 vendors an older apimachinery): [`Dialect`] names which.

use crate::fmt::quote;

/// Whose error texts a parse gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// The Kubernetes API server's (`values[0]: Invalid value: "x": …`).
    #[default]
    ApiServer,
    /// kustomize v5's (`invalid label value: "x": at key: "k": …`).
    Kustomize,
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    /// `k=v`, `k==v`
    Eq(String, String),
    /// `k!=v`
    Ne(String, String),
    /// `k in (…)`
    In(String, Vec<String>),
    /// `k notin (…)`
    NotIn(String, Vec<String>),
    /// `k`
    Exists(String),
    /// `!k`
    NotExists(String),
    /// `k>n`
    Gt(String, i64),
    /// `k<n`
    Lt(String, i64),
}

use Requirement as Req;

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector(Vec<Requirement>);

/// Why a label selector does not parse, in the dialect's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(String);

impl Selector {
    /// Parses a selector as the API server does.
    pub fn parse(s: &str) -> Result<Selector, SelectorError> {
        Selector::parse_with(s, Dialect::ApiServer)
    }

    /// Parses a selector, with `dialect`'s error texts.
    pub fn parse_with(s: &str, dialect: Dialect) -> Result<Selector, SelectorError> {
        Parser::new(s, dialect).parse().map(Selector)
    }

    /// The selector of a structured `metav1.LabelSelector` (`matchLabels` pairs, then
    /// `matchExpressions` as key, operator and values), as
    /// `metav1.LabelSelectorAsSelector` builds it; errors name the wrong requirement.
    pub fn from_structured<'a>(
        match_labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        match_expressions: impl IntoIterator<Item = (&'a str, &'a str, Vec<String>)>,
    ) -> Result<Selector, SelectorError> {
        let mut reqs: Vec<Requirement> = match_labels
            .into_iter()
            .map(|(k, v)| Req::Eq(k.to_owned(), v.to_owned()))
            .collect();
        for (key, op, values) in match_expressions {
            let key = key.to_owned();
            reqs.push(match op {
                "In" | "NotIn" if values.is_empty() => {
                    return Err(SelectorError(format!(
                        "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty (key {})",
                        quote(&key)
                    )));
                }
                "In" => Req::In(key, values),
                "NotIn" => Req::NotIn(key, values),
                "Exists" | "DoesNotExist" if !values.is_empty() => {
                    return Err(SelectorError(format!(
                        "values: Invalid value: {values:?}: values set must be empty for exists and does not exist (key {})",
                        quote(&key)
                    )));
                }
                "Exists" => Req::Exists(key),
                "DoesNotExist" => Req::NotExists(key),
                other => {
                    return Err(SelectorError(format!(
                        "{} is not a valid label selector operator",
                        quote(other)
                    )));
                }
            });
        }
        Ok(Selector(reqs))
    }

    /// The requirements, all of which must hold.
    pub fn requirements(&self) -> &[Requirement] {
        &self.0
    }

    /// Whether it selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether labels looked up with `get` match.
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
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
    dialect: Dialect,
}

fn err(message: impl Into<String>) -> SelectorError {
    SelectorError(message.into())
}

impl Parser {
    fn new(s: &str, dialect: Dialect) -> Parser {
        Parser {
            items: tokens(s),
            pos: 0,
            dialect,
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
        if let Some(why) = label_key_error(&key, self.dialect) {
            return Err(err(match self.dialect {
                Dialect::ApiServer => format!("<nil>: Invalid value: {}: {why}", quote(&key)),
                Dialect::Kustomize => format!("invalid label key {}: {why}", quote(&key)),
            }));
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
                problems.push(match self.dialect {
                    Dialect::ApiServer => {
                        format!("values[{i}]: Invalid value: {}: {why}", quote(v))
                    }
                    Dialect::Kustomize => format!(
                        "invalid label value: {}: at key: {}: {why}",
                        quote(v),
                        quote(&key)
                    ),
                });
                if self.dialect == Dialect::Kustomize {
                    break;
                }
            }
        }
        let dialect = self.dialect;
        let int = |v: &str, problems: &mut Vec<String>| -> i64 {
            v.parse::<i64>().unwrap_or_else(|_| {
                let why = "for 'Gt', 'Lt' operators, the value must be an integer";
                problems.push(match dialect {
                    Dialect::ApiServer => format!("values[0]: Invalid value: {}: {why}", quote(v)),
                    Dialect::Kustomize => why.to_owned(),
                });
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

/// Why a label key is invalid, joined as apimachinery joins them.
fn label_key_error(key: &str, dialect: Dialect) -> Option<String> {
    let errs = label_key_errors(key, dialect);
    (!errs.is_empty()).then(|| errs.join("; "))
}

/// Kubernetes' `IsQualifiedName` (label keys): what is wrong with `key`, worded as the
/// dialect's apimachinery words it; empty when it is valid.
pub fn label_key_errors(key: &str, dialect: Dialect) -> Vec<String> {
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
                let what = match dialect {
                    Dialect::ApiServer => "a lowercase RFC 1123 subdomain",
                    Dialect::Kustomize => "a DNS-1123 subdomain",
                };
                errs.push(format!("prefix part {what} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
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
    errs
}

/// Why a label value is invalid, joined as apimachinery joins them.
fn label_value_error(v: &str) -> Option<String> {
    let errs = label_value_errors(v);
    (!errs.is_empty()).then(|| errs.join("; "))
}

/// Kubernetes' `IsValidLabelValue`: what is wrong with `v`; empty when it is valid.
pub fn label_value_errors(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !v.is_empty() && !is_qualified_name_part(v) {
        errs.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_owned());
    }
    errs
}
