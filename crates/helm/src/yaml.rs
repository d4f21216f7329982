//! YAML as Helm reads and writes it.
//!
//! Reading follows `sigs.k8s.io/yaml` (go-yaml v2 parsing, YAML 1.1 scalar resolution, then
//! JSON: every number becomes a float64, keys become strings), built on `granit-parser`'s
//! event parser. Writing follows go-yaml v2's emitter exactly (sorted keys, indentless
//! sequences, quoting rules, 80-column folding of long scalars).
//!
//! Every reading (values files, `Chart.yaml`, `requirements.yaml`, `fromYaml`,
//! `fromYamlArray`, the heads of rendered manifests) applies go-yaml's guard against alias
//! bombs: a document whose aliases expand beyond go-yaml's ratio fails with `document
//! contains excessive aliasing` before anything is expanded (see `AliasBudget`).

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle};

use crate::value::{Value, format_float_g};

/// A YAML error, with its position when go-yaml gives one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("yaml: {}{msg}", if *.line > 0 { format!("line {line}: ") } else { String::new() })]
pub struct YamlError {
    /// 1-based line; 0 for errors go-yaml reports without one (unknown anchors, map keys).
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// A scalar as go-yaml v2 resolves a plain scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null`, `~`, empty.
    Null,
    /// YAML 1.1 booleans (`yes`, `on`, `true` ...).
    Bool(bool),
    /// An integer fitting int64.
    Int(i64),
    /// An integer fitting only uint64.
    Uint(u64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// The `<<` merge key.
    Merge,
}

fn is_yaml_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseInt(s, 0, 64)` for template number literals.
pub fn resolve_go_int(s: &str) -> Option<i64> {
    match go_parse_int(s) {
        Some(Ok(i)) => Some(i),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint` (base prefixes, sign).
fn go_parse_int(s: &str) -> Option<Result<i64, u64>> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, r)
        } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, r)
        } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, r)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let u = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if u <= (i64::MAX as u64) + 1 {
            Some(Ok((u as i128).wrapping_neg() as i64))
        } else {
            None
        }
    } else if u <= i64::MAX as u64 {
        Some(Ok(u as i64))
    } else {
        Some(Err(u))
    }
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let i = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if i != 4 || i == b.len() || b[i] != b'-' {
        return false;
    }
    // 2006-1-2, 2006-1-2T15:4:5.999999999Z07:00, "2006-1-2 15:4:5.999999999"
    let rest = &s[5..];
    let (date, time) = match rest.find(['T', 't', ' ']) {
        Some(p) => (&rest[..p], Some(&rest[p + 1..])),
        None => (rest, None),
    };
    let mut parts = date.split('-');
    let (Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let num = |x: &str, lo: u32, hi: u32| {
        !x.is_empty() && x.len() <= 2 && x.chars().all(|c| c.is_ascii_digit()) && {
            let v: u32 = x.parse().unwrap_or(99);
            v >= lo && v <= hi
        }
    };
    if !num(m, 1, 12) || !num(d, 1, 31) {
        return false;
    }
    match time {
        None => true,
        Some(t) => {
            let sep_space = rest.as_bytes()[date.len()] == b' ';
            let (clock, zone) = if sep_space {
                (t, "")
            } else if let Some(c) = t.strip_suffix('Z') {
                (c, "Z")
            } else if let Some(p) = t.rfind(['+', '-']) {
                (&t[..p], &t[p..])
            } else {
                return false;
            };
            if !sep_space && zone.is_empty() {
                return false;
            }
            if zone.len() > 1 {
                let z = &zone[1..];
                let ok =
                    z.len() == 5 && &z[2..3] == ":" && num(&z[..2], 0, 99) && num(&z[3..], 0, 99);
                if !ok {
                    return false;
                }
            }
            let (hms, frac) = match clock.split_once('.') {
                Some((a, f)) => (a, Some(f)),
                None => (clock, None),
            };
            if let Some(f) = frac
                && (f.is_empty() || !f.chars().all(|c| c.is_ascii_digit()))
            {
                return false;
            }
            let p: Vec<&str> = hms.split(':').collect();
            p.len() == 3 && num(p[0], 0, 23) && num(p[1], 0, 59) && num(p[2], 0, 59)
        }
    }
}

/// Resolves a plain scalar like go-yaml v2 (`resolve("", s)`); timestamps stay strings.
pub fn resolve(s: &str) -> Scalar {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        "<<" => return Scalar::Merge,
        _ => {}
    }
    let c = s.as_bytes()[0];
    match c {
        b'.' => {
            if let Some(f) = go_parse_float(s) {
                return Scalar::Float(f);
            }
        }
        b'+' | b'-' | b'0'..=b'9' => {
            let plain = s.replace('_', "");
            match go_parse_int(&plain) {
                Some(Ok(i)) => return Scalar::Int(i),
                Some(Err(u)) => return Scalar::Uint(u),
                None => {}
            }
            if is_yaml_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Scalar::Float(f);
            }
        }
        _ => {}
    }
    Scalar::Str(s.to_string())
}

/// Whether go-yaml v2 would read the plain scalar `s` as something other than a string
/// (including timestamps, which it quotes when writing).
pub fn needs_quotes(s: &str) -> bool {
    if !matches!(resolve(s), Scalar::Str(_)) {
        return true;
    }
    let c = s.as_bytes()[0];
    (c.is_ascii_digit() || c == b'+' || c == b'-') && is_timestamp(s) || is_base60_float(s)
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() && i - st < 2 {
            i += 1;
        }
        let g = &s[st..i];
        if g.is_empty() || (g.len() == 2 && g.as_bytes()[0] > b'5') {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal forms.
pub fn go_parse_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    if t.is_empty() {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    let body = lower.strip_prefix('-').unwrap_or(&lower);
    if matches!(body, "inf" | "infinity") {
        return Some(if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if body == "nan" {
        return Some(f64::NAN);
    }
    if !body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'-' | b'+' | b'_'))
    {
        return None;
    }
    t.replace('_', "").parse::<f64>().ok()
}

// ---------------------------------------------------------------------------------------
// Reading

#[derive(Debug, Clone)]
enum Node {
    Scalar(String, bool, Option<String>), // text, plain, tag suffix
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// go-yaml's guard against alias bombs ("billion laughs"), as its decoder (v2.2.8+, v3)
/// applies it to every document: `decoded` counts the nodes it decodes (the document node,
/// every scalar, sequence, mapping and alias, and again every node of an alias's expansion;
/// not a merge key, nor a sequence given as a merge value), `aliased` those decoded inside
/// an alias expansion. Decoding fails with `document contains excessive aliasing` as soon as
/// `aliased > 100 && decoded > 1000 && aliased / decoded > allowed_alias_ratio(decoded)`.
///
/// The reader builds an alias by cloning its anchor's node; every anchor keeps its expanded
/// size beside it, so an alias is counted in O(1), before the clone.
#[derive(Debug, Default, Clone, Copy)]
struct AliasBudget {
    decoded: u64,
    aliased: u64,
    /// go-yaml would have stopped decoding here (excessive aliasing or an invalid map key):
    /// nothing more is counted, and aliases are no longer expanded.
    stopped: bool,
    /// The document fails with `document contains excessive aliasing`.
    excessive: bool,
}

/// go-yaml's `allowedAliasRatio`: 99 % of the decoded nodes may come from alias expansion
/// up to 400,000 nodes, 10 % from 4,000,000, linearly in between.
fn allowed_alias_ratio(decoded: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

/// go-yaml's excessive-aliasing condition.
fn excessive_aliasing(aliased: u64, decoded: u64) -> bool {
    aliased > 100
        && decoded > 1000
        && aliased as f64 / decoded as f64 > allowed_alias_ratio(decoded)
}

impl AliasBudget {
    /// A new document: go-yaml counts the document node itself.
    fn document() -> AliasBudget {
        AliasBudget {
            decoded: 1,
            ..AliasBudget::default()
        }
    }

    /// Counts one node decoded outside any alias (once decoding has stopped the count no
    /// longer matters: the document fails).
    #[inline]
    fn node(&mut self) {
        self.decoded += 1;
        self.check();
    }

    /// Counts an alias: its own node, then the `size` nodes of its expansion. go-yaml checks
    /// after every node; within the expansion both counters grow by one per node, and then the
    /// condition, once true, stays true, so checking after the last node is the same.
    #[inline]
    fn alias(&mut self, size: u64) {
        if !self.stopped {
            self.decoded += 1;
            self.check();
        }
        if !self.stopped {
            self.decoded = self.decoded.saturating_add(size);
            self.aliased = self.aliased.saturating_add(size);
            self.check();
        }
    }

    #[inline]
    fn check(&mut self) {
        if self.aliased > 100 && !self.stopped && excessive_aliasing(self.aliased, self.decoded) {
            self.excessive = true;
            self.stopped = true;
        }
    }
}

/// Whether an event is a merge key as the reader treats one (`<<`, plain, untagged).
fn is_merge_key(ev: &Event<'_>) -> bool {
    matches!(ev, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<")
}

const EXCESSIVE_ALIASING: &str = "document contains excessive aliasing";

struct Builder<'a> {
    parser: Parser<'a, granit_parser::StrInput<'a>>,
    /// The source (for the positions go-yaml gives end-of-stream errors).
    text: &'a str,
    /// Anchored nodes of the current document, with their expanded sizes (see
    /// [`AliasBudget`]).
    anchors: HashMap<usize, (Node, u64)>,
    /// go-yaml's alias counters for the current document.
    budget: AliasBudget,
    /// The next node is not counted: a merge key, or a sequence given as a merge value
    /// (go-yaml's decoder walks that sequence's items without decoding the sequence).
    uncounted: bool,
    /// Build every node; when false, only what [`manifest_head`] reads (see [`Builder::head_map`]).
    keep_all: bool,
    /// Stop after the first document (as go-yaml's `Unmarshal` does).
    first_only: bool,
    /// Seen a non-finite float or a collection used as a map key: something only a full
    /// conversion can judge.
    odd: bool,
    /// go-yaml's `invalid map key` for the first collection used as a key.
    bad_key: Option<String>,
}

/// A syntax error in go-yaml's words and at the line it names. go-yaml (a port of libyaml)
/// prints only the problem, not its context (`while parsing a block mapping, ...`), and the
/// line as it keeps it: for scanner errors the problem's line, for parser errors the line
/// before it (libyaml's 0-based mark), no line at all when that number is 0.
fn go_yaml_error(e: &granit_parser::ScanError, text: &str) -> YamlError {
    use granit_parser::ErrorKind as K;
    let line = e.marker().line();
    let scanner = if line > 1 { line } else { 0 };
    let parser = line.saturating_sub(1);
    let newlines = text.bytes().filter(|&b| b == b'\n').count();
    let close = |open: char| if open == '{' { '}' } else { ']' };
    match e.kind() {
        K::UnexpectedCharacter { .. }
        | K::TabInBlockIndentation
        | K::TabNotAllowed
        | K::TabInIndentation => err_at(scanner, "found character that cannot start any token"),
        // libyaml's stream end moves to a new line when the last one has content
        K::UnclosedFlowCollection { open } => err_at(
            newlines + usize::from(!text.is_empty() && !text.ends_with('\n')),
            format!("did not find expected ',' or '{}'", close(*open)),
        ),
        K::MismatchedFlowCollectionEnd { open, .. } => err_at(
            parser,
            format!("did not find expected ',' or '{}'", close(*open)),
        ),
        K::MappingValueNotAllowed => err_at(scanner, e.info()),
        K::MisplacedFlowCollectionEnd => err_at(parser, "did not find expected key"),
        K::UnclosedQuotedScalar => err_at(
            if newlines > 0 { newlines + 1 } else { 0 },
            "found unexpected end of stream",
        ),
        _ => {
            let info = e.info();
            match info.split_once(", ") {
                Some((context, problem)) if context.starts_with("while scanning") => {
                    err_at(scanner, problem)
                }
                Some((context, problem)) if context.starts_with("while ") => {
                    err_at(parser, problem)
                }
                _ => err_at(line, info),
            }
        }
    }
}

/// Whether a scalar reads as an infinite or NaN float (which JSON cannot hold). Only
/// untagged and `!!int`/`!!float` scalars starting with `.`, `+` or `-` can.
fn non_finite(text: &str, plain: bool, tag: Option<&str>) -> bool {
    matches!(text.as_bytes().first(), Some(b'.' | b'+' | b'-'))
        && matches!(tag, None | Some("float") | Some("int"))
        && matches!(scalar_of(text, plain, tag), Scalar::Float(f) if !f.is_finite())
}

/// A node's tag as [`Node::Scalar`] keeps it: the suffix of a core-schema tag (`str`,
/// `int` ...), `!name` for another.
fn tag_name(t: &Option<std::borrow::Cow<'_, granit_parser::Tag>>) -> Option<String> {
    t.as_ref().map(|t| {
        if t.is_yaml_core_schema() {
            t.suffix().to_string()
        } else {
            format!("!{}", t.suffix())
        }
    })
}

/// Whether an event starts a node (rather than ending a collection, a document ...).
fn is_node_event(ev: &Event<'_>) -> bool {
    matches!(
        ev,
        Event::Scalar(..)
            | Event::SequenceStart(..)
            | Event::MappingStart(..)
            | Event::Alias(_)
            | Event::UnresolvedAlias(_)
    )
}

/// Go's `%#v` of a decoded YAML value (for `invalid map key` errors).
fn go_sharp(n: &Node) -> String {
    match n {
        Node::Scalar(t, plain, tag) => match scalar_json(t, *plain, tag.as_deref()) {
            serde_json::Value::Null => "interface {}(nil)".into(),
            serde_json::Value::String(s) => format!("{s:?}"),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(x) => format_float_g(x.as_f64().unwrap_or(0.0)),
            other => other.to_string(),
        },
        Node::Seq(items) => format!(
            "[]interface {{}}{{{}}}",
            items.iter().map(go_sharp).collect::<Vec<_>>().join(", ")
        ),
        Node::Map(items) => format!(
            "map[interface {{}}]interface {{}}{{{}}}",
            items
                .iter()
                .map(|(k, v)| format!("{}:{}", go_sharp(k), go_sharp(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn err_at(line: usize, msg: impl Into<String>) -> YamlError {
    YamlError {
        line,
        msg: msg.into(),
    }
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<Option<(Event<'a>, usize)>, YamlError> {
        match self.parser.next_event() {
            None => Ok(None),
            Some(Ok((ev, span))) => Ok(Some((ev, span.start.line()))),
            Some(Err(e)) => Err(go_yaml_error(&e, self.text)),
        }
    }

    /// Takes the [`Builder::uncounted`] mark for the node starting now, counting the node
    /// unless it was set; returns whether it was.
    #[inline]
    fn count_node(&mut self) -> bool {
        if self.uncounted {
            self.uncounted = false;
            return true;
        }
        self.budget.node();
        false
    }

    /// Keeps an anchored node with its expanded size: the nodes counted since `start`, plus
    /// the node itself when it went uncounted here (an alias elsewhere decodes it in full).
    #[inline]
    fn keep_anchor(&mut self, anchor: usize, n: &Node, start: u64, uncounted: bool) {
        if anchor > 0 {
            let size = self.budget.decoded - start + u64::from(uncounted);
            self.anchors.insert(anchor, (n.clone(), size));
        }
    }

    /// Counts an alias; the anchor's expanded size if it is known.
    fn count_alias(&mut self, id: usize) -> Option<u64> {
        self.uncounted = false;
        let size = self.anchors.get(&id).map(|(_, size)| *size)?;
        self.budget.alias(size);
        Some(size)
    }

    /// Notes a collection used as a map key (go-yaml's `invalid map key`, where its decoder
    /// stops).
    fn collection_key(&mut self, k: &Node) {
        self.odd = true;
        if self.bad_key.is_none() && !self.budget.stopped {
            self.bad_key = Some(go_sharp(k));
            self.budget.stopped = true;
        }
    }

    /// A collection used as a key where only the head is read: the full conversion that
    /// `odd` calls for judges it; go-yaml's decoder stops there, so the head reading stops
    /// counting (it must not report excessive aliasing that comes after).
    fn odd_key(&mut self) {
        self.odd = true;
        self.budget.stopped = true;
    }

    fn node(&mut self, ev: Event<'a>, line: usize) -> Result<Node, YamlError> {
        let start = self.budget.decoded;
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let uncounted = self.count_node();
                let plain = style == ScalarStyle::Plain;
                let tag = tag_name(&tag);
                if non_finite(&text, plain, tag.as_deref()) {
                    self.odd = true;
                }
                let n = Node::Scalar(text.into_owned(), plain, tag);
                self.keep_anchor(anchor, &n, start, uncounted);
                Ok(n)
            }
            Event::SequenceStart(_, anchor, _) => {
                let uncounted = self.count_node();
                let mut items = Vec::new();
                loop {
                    let Some((ev, l)) = self.next()? else {
                        return Err(err_at(line, "unexpected end of stream"));
                    };
                    if let Event::SequenceEnd = ev {
                        break;
                    }
                    if let Some(n) = self.item(ev, l)? {
                        items.push(n);
                    }
                }
                let n = Node::Seq(items);
                self.keep_anchor(anchor, &n, start, uncounted);
                Ok(n)
            }
            Event::MappingStart(_, anchor, _) => {
                let uncounted = self.count_node();
                let mut items = Vec::new();
                loop {
                    let Some((ev, l)) = self.next()? else {
                        return Err(err_at(line, "unexpected end of stream"));
                    };
                    if let Event::MappingEnd = ev {
                        break;
                    }
                    let merge = is_merge_key(&ev);
                    self.uncounted = merge;
                    let Some(k) = self.item(ev, l)? else {
                        self.uncounted = false;
                        continue;
                    };
                    if let Node::Seq(_) | Node::Map(_) = k {
                        self.collection_key(&k);
                    }
                    let v = loop {
                        let Some((ev, l)) = self.next()? else {
                            return Err(err_at(line, "unexpected end of stream"));
                        };
                        self.uncounted = merge && matches!(ev, Event::SequenceStart(..));
                        if let Some(v) = self.item(ev, l)? {
                            break v;
                        }
                    };
                    items.push((k, v));
                }
                let n = Node::Map(items);
                self.keep_anchor(anchor, &n, start, uncounted);
                Ok(n)
            }
            Event::Alias(id) => {
                if self.count_alias(id).is_none() {
                    return Err(err_at(line, "unknown anchor referenced"));
                }
                if self.budget.stopped {
                    // the document fails: expanding would only cost memory
                    return Ok(Node::Scalar(String::new(), false, None));
                }
                self.anchors
                    .get(&id)
                    .map(|(n, _)| n.clone())
                    .ok_or_else(|| err_at(line, "unknown anchor referenced"))
            }
            _ => Err(err_at(line, "unexpected event")),
        }
    }

    fn item(&mut self, ev: Event<'a>, line: usize) -> Result<Option<Node>, YamlError> {
        match ev {
            Event::UnresolvedAlias(name) => {
                Err(err_at(0, format!("unknown anchor '{name}' referenced")))
            }
            ev @ (Event::Scalar(..)
            | Event::SequenceStart(..)
            | Event::MappingStart(..)
            | Event::Alias(_)) => self.node(ev, line).map(Some),
            _ => Ok(None),
        }
    }

    /// The next node event, read past anything else; an error at the end of the stream.
    fn next_node(&mut self, line: usize) -> Result<(Event<'a>, usize), YamlError> {
        loop {
            let Some((ev, l)) = self.next()? else {
                return Err(err_at(line, "unexpected end of stream"));
            };
            if is_node_event(&ev) {
                return Ok((ev, l));
            }
        }
    }

    /// Reads past the node `ev` starts without building it, checking it as [`Builder::node`]
    /// would: anchored nodes are still built (an alias elsewhere may need them), unknown
    /// anchors fail, non-finite floats and collection keys set `odd`, and every node is
    /// counted as go-yaml's decoder counts it. Events that are not nodes are ignored.
    fn skip(&mut self, ev: Event<'a>, line: usize) -> Result<(), YamlError> {
        match ev {
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(_, anchor, _)
            | Event::MappingStart(_, anchor, _)
                if anchor > 0 =>
            {
                self.node(ev, line).map(drop)
            }
            Event::Scalar(text, style, _, tag) => {
                self.count_node();
                if non_finite(
                    &text,
                    style == ScalarStyle::Plain,
                    tag_name(&tag).as_deref(),
                ) {
                    self.odd = true;
                }
                Ok(())
            }
            Event::SequenceStart(..) => {
                self.count_node();
                loop {
                    let Some((ev, l)) = self.next()? else {
                        return Err(err_at(line, "unexpected end of stream"));
                    };
                    if let Event::SequenceEnd = ev {
                        return Ok(());
                    }
                    self.skip(ev, l)?;
                }
            }
            Event::MappingStart(..) => {
                self.count_node();
                loop {
                    let Some((ev, l)) = self.next()? else {
                        return Err(err_at(line, "unexpected end of stream"));
                    };
                    match ev {
                        Event::MappingEnd => return Ok(()),
                        Event::SequenceStart(..) | Event::MappingStart(..) => self.odd_key(),
                        Event::Alias(id)
                            if matches!(
                                self.anchors.get(&id),
                                Some((Node::Seq(_) | Node::Map(_), _))
                            ) =>
                        {
                            self.odd_key()
                        }
                        _ => {}
                    }
                    let is_node = is_node_event(&ev);
                    let merge = is_merge_key(&ev);
                    self.uncounted = merge;
                    self.skip(ev, l)?;
                    self.uncounted = false;
                    if is_node {
                        let (ev, l) = self.next_node(l)?;
                        self.uncounted = merge && matches!(ev, Event::SequenceStart(..));
                        self.skip(ev, l)?;
                    }
                }
            }
            Event::Alias(id) => {
                // an anchor still being read (`&a [*a]`) is not known yet: nothing to count
                let _ = self.count_alias(id);
                Ok(())
            }
            Event::UnresolvedAlias(_) => self.item(ev, line).map(drop),
            _ => Ok(()),
        }
    }

    /// The root mapping of a manifest with only the entries `SimpleHead` can read (`kind`,
    /// `apiVersion`, `metadata`, matched as Go's JSON decoder matches field names, and merge
    /// keys); the other values are skipped.
    fn head_map(&mut self, line: usize) -> Result<Node, YamlError> {
        self.count_node();
        let mut items = Vec::new();
        loop {
            let Some((ev, l)) = self.next()? else {
                return Err(err_at(line, "unexpected end of stream"));
            };
            if let Event::MappingEnd = ev {
                return Ok(Node::Map(items));
            }
            let merge = is_merge_key(&ev);
            self.uncounted = merge;
            let Some(k) = self.item(ev, l)? else {
                self.uncounted = false;
                continue;
            };
            let wanted = match &k {
                Node::Scalar(t, plain, tag) => {
                    (*plain && tag.is_none() && t == "<<")
                        || ["kind", "apiversion", "metadata"]
                            .contains(&key_string(&k).to_lowercase().as_str())
                }
                _ => {
                    self.odd_key();
                    false
                }
            };
            let (ev, l) = self.next_node(l)?;
            self.uncounted = merge && matches!(ev, Event::SequenceStart(..));
            if wanted {
                let v = self.node(ev, l)?;
                items.push((k, v));
            } else {
                self.skip(ev, l)?;
            }
        }
    }

    /// The root of a document when only its head is wanted: a mapping as
    /// [`Builder::head_map`] reads it; of anything else only its type.
    fn head_root(&mut self, ev: Event<'a>, line: usize) -> Result<Option<Node>, YamlError> {
        Ok(Some(match ev {
            Event::MappingStart(_, 0, _) => self.head_map(line)?,
            Event::SequenceStart(_, 0, _) => {
                self.skip(ev, line)?;
                Node::Seq(Vec::new())
            }
            ev => return self.item(ev, line),
        }))
    }

    /// Reads all documents of the stream (only the first with `first_only`). Like go-yaml,
    /// which parses a whole document before decoding it, a syntax error anywhere in a
    /// document wins over its decoding errors (excessive aliasing, invalid map keys); those
    /// end the stream at the end of their document.
    fn documents(&mut self) -> Result<Vec<Option<Node>>, YamlError> {
        let mut docs = Vec::new();
        while let Some((ev, _)) = self.next()? {
            let Event::DocumentStart(..) = ev else {
                continue;
            };
            self.budget = AliasBudget::document();
            let mut root = None;
            while let Some((ev, l)) = self.next()? {
                if let Event::DocumentEnd = ev {
                    break;
                }
                if self.keep_all {
                    if let Some(n) = self.item(ev, l)? {
                        root = Some(n);
                    }
                } else if root.is_none() {
                    root = self.head_root(ev, l)?;
                } else {
                    self.skip(ev, l)?;
                }
            }
            self.anchors.clear();
            if self.budget.excessive {
                return Err(err_at(0, EXCESSIVE_ALIASING));
            }
            docs.push(root);
            if self.first_only || self.bad_key.is_some() {
                break;
            }
        }
        Ok(docs)
    }
}

/// The documents of a YAML stream as nodes, and whether something odd was seen (see
/// [`Builder::odd`]); with `keep_all` false, only the first document, as
/// [`Builder::head_root`] reads it.
fn parse_nodes(text: &str, keep_all: bool) -> Result<(Vec<Option<Node>>, bool), YamlError> {
    parse_docs(text, keep_all, !keep_all)
}

fn parse_docs(
    text: &str,
    keep_all: bool,
    first_only: bool,
) -> Result<(Vec<Option<Node>>, bool), YamlError> {
    let options = granit_parser::options! { emit_unresolved_aliases: true, emit_comments: false };
    let mut b = Builder {
        parser: Parser::new_from_str_with_options(text, options),
        text,
        anchors: HashMap::new(),
        budget: AliasBudget::document(),
        uncounted: false,
        keep_all,
        first_only,
        odd: false,
        bad_key: None,
    };
    let docs = b.documents()?;
    if let Some(k) = b.bad_key {
        return Err(err_at(0, format!("invalid map key: {k}")));
    }
    Ok((docs, b.odd))
}

/// A scalar as go-yaml v2 decodes it into an `interface{}`: by its core-schema tag, else
/// resolved when plain, else a string (`!!binary` decoded).
fn scalar_of(text: &str, plain: bool, tag: Option<&str>) -> Scalar {
    match tag {
        Some("str") => Scalar::Str(text.to_string()),
        Some("int") | Some("float") => match resolve(text) {
            s @ (Scalar::Int(_) | Scalar::Uint(_) | Scalar::Float(_)) => s,
            _ => Scalar::Str(text.to_string()),
        },
        Some("bool") | Some("null") => resolve(text),
        Some("binary") => {
            use base64::Engine;
            let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(clean) {
                Ok(b) => Scalar::Str(String::from_utf8_lossy(&b).into_owned()),
                Err(_) => Scalar::Str(text.to_string()),
            }
        }
        _ if plain => resolve(text),
        _ => Scalar::Str(text.to_string()),
    }
}

fn scalar_json(text: &str, plain: bool, tag: Option<&str>) -> serde_json::Value {
    use serde_json::Value as J;
    match scalar_of(text, plain, tag) {
        Scalar::Null => J::Null,
        Scalar::Bool(b) => J::Bool(b),
        Scalar::Int(i) => J::from(i as f64),
        Scalar::Uint(u) => J::from(u as f64),
        Scalar::Float(f) => serde_json::Number::from_f64(f)
            .map(J::Number)
            .unwrap_or(J::Null),
        Scalar::Str(s) => J::String(s),
        Scalar::Merge => J::String("<<".into()),
    }
}

fn key_string(n: &Node) -> String {
    match n {
        Node::Scalar(t, plain, tag) => match scalar_json(t, *plain, tag.as_deref()) {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => "null".into(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    format!("{}", f as i64)
                } else {
                    format_float_g(f)
                }
            }
            other => other.to_string(),
        },
        Node::Seq(_) | Node::Map(_) => format!("{:?}", node_json(n)),
    }
}

fn merge_into(out: &mut serde_json::Map<String, serde_json::Value>, v: &Node) {
    match v {
        Node::Map(items) => {
            for (k, v) in items {
                let ks = key_string(k);
                if !out.contains_key(&ks) {
                    out.insert(ks, node_json(v));
                }
            }
        }
        Node::Seq(items) => {
            for it in items {
                merge_into(out, it);
            }
        }
        _ => {}
    }
}

fn node_json(n: &Node) -> serde_json::Value {
    match n {
        Node::Scalar(t, plain, tag) => scalar_json(t, *plain, tag.as_deref()),
        Node::Seq(items) => serde_json::Value::Array(items.iter().map(node_json).collect()),
        Node::Map(items) => {
            let mut m = serde_json::Map::new();
            let mut merges = Vec::new();
            for (k, v) in items {
                if let Node::Scalar(t, true, None) = k
                    && t == "<<"
                {
                    merges.push(v);
                    continue;
                }
                m.insert(key_string(k), node_json(v));
            }
            for v in merges {
                merge_into(&mut m, v);
            }
            serde_json::Value::Object(m)
        }
    }
}

/// Parses a YAML stream as Helm reads values files and returns its first document
/// (`sigs.k8s.io/yaml` semantics: numbers are float64, keys strings; an empty document gives
/// `null`). Every document is read and checked, each decoded on its own (its own alias
/// budget), as Helm v4 decodes each document of a values file; see [`parse_first`] for
/// what Helm reads with a single `Unmarshal`.
pub fn parse(text: &str) -> Result<serde_json::Value, YamlError> {
    let (docs, _) = parse_nodes(text, true)?;
    Ok(first_json(docs))
}

/// The first document as JSON (`null` when there is none or it is empty).
fn first_json(docs: Vec<Option<Node>>) -> serde_json::Value {
    docs.into_iter()
        .next()
        .flatten()
        .map(|n| node_json(&n))
        .unwrap_or(serde_json::Value::Null)
}

/// Parses the first YAML document only, as `sigs.k8s.io/yaml.Unmarshal` reads `Chart.yaml`,
/// `requirements.yaml` and `fromYaml`'s argument: later documents are not read at all. An
/// empty document gives `null`.
pub fn parse_first(text: &str) -> Result<serde_json::Value, YamlError> {
    let (docs, _) = parse_docs(text, true, true)?;
    Ok(first_json(docs))
}

/// Parses every document of a YAML stream.
pub fn parse_all(text: &str) -> Result<Vec<serde_json::Value>, YamlError> {
    Ok(parse_nodes(text, true)?
        .0
        .into_iter()
        .map(|d| d.map(|n| node_json(&n)).unwrap_or(serde_json::Value::Null))
        .collect())
}

// ---------------------------------------------------------------------------------------
// Manifest heads

/// What Helm reads of a rendered manifest to sort it (`SimpleHead`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Head {
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.annotations`.
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A decoded YAML value on its way to JSON: maps keyed and ordered as `json.Marshal`
/// writes them (bytewise), scalars still typed as YAML resolved them.
enum Jv {
    Sc(Scalar),
    Arr(Vec<Jv>),
    Obj(std::collections::BTreeMap<String, Jv>),
}

fn jv_of(n: &Node) -> Jv {
    match n {
        Node::Scalar(t, plain, tag) => Jv::Sc(scalar_of(t, *plain, tag.as_deref())),
        Node::Seq(items) => Jv::Arr(items.iter().map(jv_of).collect()),
        Node::Map(items) => {
            let mut m = std::collections::BTreeMap::new();
            let mut merges = Vec::new();
            for (k, v) in items {
                if let Node::Scalar(t, true, None) = k
                    && t == "<<"
                {
                    merges.push(v);
                    continue;
                }
                m.insert(key_string(k), jv_of(v));
            }
            fn merge(m: &mut std::collections::BTreeMap<String, Jv>, v: &Node) {
                match v {
                    Node::Map(items) => {
                        for (k, v) in items {
                            m.entry(key_string(k)).or_insert_with(|| jv_of(v));
                        }
                    }
                    Node::Seq(items) => items.iter().for_each(|it| merge(m, it)),
                    Node::Scalar(..) => {}
                }
            }
            for v in merges {
                merge(&mut m, v);
            }
            Jv::Obj(m)
        }
    }
}

/// The JSON type name Go's decoder reports for a value (`object`, `array`, `string` ...).
pub fn json_type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// The JSON type name Go's decoder reports for a value.
fn json_type(v: &Jv) -> &'static str {
    match v {
        Jv::Sc(Scalar::Null) => "null",
        Jv::Sc(Scalar::Bool(_)) => "bool",
        Jv::Sc(Scalar::Int(_) | Scalar::Uint(_) | Scalar::Float(_)) => "number",
        Jv::Sc(Scalar::Str(_) | Scalar::Merge) => "string",
        Jv::Arr(_) => "array",
        Jv::Obj(_) => "object",
    }
}

/// A value bound for a Go `string`: `sigs.k8s.io/yaml` turns scalars into strings; `None`
/// for null (the field is left alone); the JSON type for a collection.
fn string_target(v: &Jv) -> Result<Option<String>, &'static str> {
    Ok(Some(match v {
        Jv::Sc(Scalar::Null) => return Ok(None),
        Jv::Sc(Scalar::Bool(b)) => b.to_string(),
        Jv::Sc(Scalar::Int(i)) => i.to_string(),
        Jv::Sc(Scalar::Uint(u)) => u.to_string(),
        Jv::Sc(Scalar::Float(f)) if f.is_nan() => ".nan".into(),
        Jv::Sc(Scalar::Float(f)) if f.is_infinite() => {
            if *f > 0.0 { ".inf" } else { "-.inf" }.into()
        }
        Jv::Sc(Scalar::Float(f)) => format_float_g(*f),
        Jv::Sc(Scalar::Str(s)) => s.clone(),
        Jv::Sc(Scalar::Merge) => "<<".into(),
        other => return Err(json_type(other)),
    }))
}

/// Go's JSON field matching: exact or case-insensitive.
fn field_is(key: &str, field: &str) -> bool {
    key == field || key.to_lowercase() == field.to_lowercase()
}

/// The first value `json.Marshal` cannot write (an infinite or NaN float), in the order it
/// writes, leaving out the scalars bound for a `SimpleHead` string (already strings).
fn first_non_finite(root: &Jv) -> Option<f64> {
    fn any(v: &Jv) -> Option<f64> {
        match v {
            Jv::Sc(Scalar::Float(f)) if !f.is_finite() => Some(*f),
            Jv::Sc(_) => None,
            Jv::Arr(items) => items.iter().find_map(any),
            Jv::Obj(m) => m.values().find_map(any),
        }
    }
    let skip_scalar = |v: &Jv| matches!(v, Jv::Sc(_));
    let Jv::Obj(m) = root else { return any(root) };
    m.iter().find_map(|(k, v)| {
        if field_is(k, "kind") || field_is(k, "apiVersion") {
            return if skip_scalar(v) { None } else { any(v) };
        }
        if !field_is(k, "metadata") {
            return any(v);
        }
        let Jv::Obj(md) = v else { return any(v) };
        md.iter().find_map(|(k, v)| {
            if field_is(k, "name") {
                return if skip_scalar(v) { None } else { any(v) };
            }
            match v {
                Jv::Obj(a) if field_is(k, "annotations") => a
                    .values()
                    .find_map(|v| if skip_scalar(v) { None } else { any(v) }),
                _ => any(v),
            }
        })
    })
}

/// Go's `json.Unmarshal` of the converted document into `SimpleHead`: fields matched
/// case-insensitively, keys in sorted order, the first type error reported after decoding
/// everything else.
fn decode_head(root: &Jv) -> Result<Head, String> {
    const META: &str = "struct { Name string \"json:\\\"name\\\"\"; Annotations map[string]string \"json:\\\"annotations\\\"\" }";
    let mut head = Head::default();
    let mut err: Option<String> = None;
    let mut fail = |e: String| {
        err.get_or_insert(e);
    };
    let field_err = |got: &str, field: &str, of: &str| {
        format!("json: cannot unmarshal {got} into Go struct field {field} of type {of}")
    };
    match root {
        Jv::Sc(Scalar::Null) => {}
        Jv::Obj(m) => {
            for (k, v) in m {
                if field_is(k, "kind") || field_is(k, "apiVersion") {
                    let field = if field_is(k, "kind") {
                        "kind"
                    } else {
                        "apiVersion"
                    };
                    match string_target(v) {
                        Ok(Some(s)) if field == "kind" => head.kind = s,
                        Ok(_) => {}
                        Err(t) => fail(field_err(t, &format!("SimpleHead.{field}"), "string")),
                    }
                    continue;
                }
                if !field_is(k, "metadata") {
                    continue;
                }
                let md = match v {
                    Jv::Sc(Scalar::Null) => continue,
                    Jv::Obj(md) => md,
                    other => {
                        fail(field_err(json_type(other), "SimpleHead.metadata", META));
                        continue;
                    }
                };
                for (k, v) in md {
                    if field_is(k, "name") {
                        match string_target(v) {
                            Ok(Some(s)) => head.name = s,
                            Ok(None) => {}
                            Err(t) => fail(field_err(t, ".metadata.name", "string")),
                        }
                    } else if field_is(k, "annotations") {
                        match v {
                            Jv::Sc(Scalar::Null) => head.annotations.clear(),
                            Jv::Obj(a) => {
                                for (k, v) in a {
                                    match string_target(v) {
                                        Ok(s) => {
                                            head.annotations
                                                .insert(k.clone(), s.unwrap_or_default());
                                        }
                                        Err(t) => {
                                            fail(field_err(t, ".metadata.annotations", "string"))
                                        }
                                    }
                                }
                            }
                            other => fail(field_err(
                                json_type(other),
                                ".metadata.annotations",
                                "map[string]string",
                            )),
                        }
                    }
                }
            }
        }
        other => fail(format!(
            "json: cannot unmarshal {} into Go value of type util.SimpleHead",
            json_type(other)
        )),
    }
    match err {
        Some(e) => Err(e),
        None => Ok(head),
    }
}

/// Reads the head of one rendered manifest as Helm does (`sigs.k8s.io/yaml.Unmarshal` into
/// `SimpleHead`), failing with Helm's words. The whole stream is parsed and checked, but only
/// the entries the head is made of are built, unless the document holds something only a
/// full conversion can judge (a non-finite float, a collection as a key).
pub fn manifest_head(text: &str) -> Result<Head, String> {
    let converting = |e: String| format!("error converting YAML to JSON: {e}");
    let first = |(docs, odd): (Vec<Option<Node>>, bool)| (docs.into_iter().next().flatten(), odd);
    let (mut root, odd) = parse_nodes(text, false)
        .map(first)
        .map_err(|e| converting(e.to_string()))?;
    if odd {
        root = parse_docs(text, true, true)
            .map(first)
            .map_err(|e| converting(e.to_string()))?
            .0;
    }
    let jv = root.as_ref().map(jv_of).unwrap_or(Jv::Sc(Scalar::Null));
    if odd && let Some(f) = first_non_finite(&jv) {
        return Err(converting(format!(
            "json: unsupported value: {}",
            format_float_g(f)
        )));
    }
    decode_head(&jv).map_err(|e| format!("error unmarshaling JSON: while decoding JSON: {e}"))
}

// ---------------------------------------------------------------------------------------
// Writing (go-yaml v2 emitter)

/// A node ready for emitting.
#[derive(Debug, Clone)]
pub enum YNode {
    /// `null`
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A large unsigned integer.
    Uint(u64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<YNode>),
    /// A mapping (already in emitting order).
    Map(Vec<(String, YNode)>),
}

/// go-yaml v2's map key order (`keyList.Less`): digit runs compare numerically.
pub fn yaml_key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i as isize - 1;
            while j >= 0 && ar[j as usize].is_ascii_digit() {
                if ar[j as usize] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
                j -= 1;
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Go's `encoding/json` float formatting.
pub fn json_float(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        // 'e' format, then strip "e-07" -> "e-7"
        let (neg, digits, exp) = crate::value::shortest_digits(f);
        let nd = digits.len() as i32;
        let x = exp + nd - 1;
        let mut s = String::new();
        if neg {
            s.push('-');
        }
        s.push_str(&digits[..1]);
        if nd > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if x < 0 { '-' } else { '+' });
        s.push_str(&x.abs().to_string());
        s
    } else {
        // shortest 'f'
        let (neg, digits, exp) = crate::value::shortest_digits(f);
        if f == 0.0 {
            return if f.is_sign_negative() {
                "-0".into()
            } else {
                "0".into()
            };
        }
        let nd = digits.len() as i32;
        let dp = exp + nd;
        let mut s = String::new();
        if neg {
            s.push('-');
        }
        if dp <= 0 {
            s.push_str("0.");
            for _ in 0..-dp {
                s.push('0');
            }
            s.push_str(&digits);
        } else if dp >= nd {
            s.push_str(&digits);
            for _ in 0..dp - nd {
                s.push('0');
            }
        } else {
            s.push_str(&digits[..dp as usize]);
            s.push('.');
            s.push_str(&digits[dp as usize..]);
        }
        s
    }
}

/// Converts a template value the way `sigs.k8s.io/yaml.Marshal` sees it (through JSON).
pub fn to_ynode(v: &Value) -> Result<YNode, String> {
    Ok(match v {
        Value::Nil => YNode::Null,
        Value::Bool(b) => YNode::Bool(*b),
        Value::Int(i) => YNode::Int(*i),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!("json: unsupported value: {}", format_float_g(*f)));
            }
            match resolve(&json_float(*f)) {
                Scalar::Int(i) => YNode::Int(i),
                Scalar::Uint(u) => YNode::Uint(u),
                _ => YNode::Float(*f),
            }
        }
        Value::Str(s) => YNode::Str(s.to_string()),
        Value::Bytes(b) => YNode::Str(crate::funcs::b64(b)),
        Value::List(l) => YNode::Seq(l.iter().map(to_ynode).collect::<Result<_, _>>()?),
        Value::Map(m) => {
            let mut items: Vec<(String, YNode)> = Vec::new();
            for (k, v) in m.borrow().iter() {
                items.push((k.clone(), to_ynode(v)?));
            }
            items.sort_by(|a, b| {
                if yaml_key_less(&a.0, &b.0) {
                    std::cmp::Ordering::Less
                } else if yaml_key_less(&b.0, &a.0) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            YNode::Map(items)
        }
        Value::Object(o) => to_ynode(&o.to_data())?,
    })
}

/// `toYaml`: go-yaml v2 output of the value (with the trailing newline).
pub fn to_yaml(v: &Value) -> Result<String, String> {
    let n = to_ynode(v)?;
    let mut e = Emitter::default();
    e.document(&n);
    Ok(e.out)
}

/// Emits a node as a YAML document (go-yaml v2 layout).
pub fn emit(n: &YNode) -> String {
    let mut e = Emitter::default();
    e.document(n);
    e.out
}

const BEST_WIDTH: usize = 80;

#[derive(Default)]
struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    indent: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn is_printable(c: char) -> bool {
    let c = c as u32;
    c == 0x0A
        || (0x20..=0x7E).contains(&c)
        || c == 0x85
        || (0xA0..=0xD7FF).contains(&c)
        || ((0xE000..=0xFFFD).contains(&c) && c != 0xFEFF)
        || (0x10000..=0x10FFFF).contains(&c)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c) || c == '\0',
    }
}

struct Analysis {
    multiline: bool,
    flow_plain: bool,
    block_plain: bool,
    single: bool,
    block: bool,
}

fn analyze(v: &str) -> Analysis {
    if v.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain: false,
            block_plain: true,
            single: true,
            block: false,
        };
    }
    let chars: Vec<char> = v.chars().collect();
    let (mut block_ind, mut flow_ind, mut line_breaks, mut special) = (false, false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut prev_space, mut prev_break) =
        (false, false, false, false);
    if v.starts_with("---") || v.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let mut preceded_ws = true;
    let n = chars.len();
    for i in 0..n {
        let c = chars[i];
        let followed_ws = is_blankz(chars.get(i + 1).copied());
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_ind = true;
                    block_ind = true;
                }
                '?' | ':' => {
                    flow_ind = true;
                    if followed_ws {
                        block_ind = true;
                    }
                }
                '-' if followed_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_ind = true,
                ':' => {
                    flow_ind = true;
                    if followed_ws {
                        block_ind = true;
                    }
                }
                '#' if preceded_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) || c == '\u{FEFF}' {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == n - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == n - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_break = true;
            prev_space = false;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = is_blankz(Some(c));
    }
    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain: true,
        block_plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.flow_plain = false;
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.flow_plain = false;
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if flow_ind {
        a.flow_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }
    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }
    fn write_indent(&mut self) {
        let indent = self.indent;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }
    fn indicator(&mut self, s: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in s.chars() {
            self.put(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn document(&mut self, n: &YNode) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        match n {
            YNode::Map(m) if !m.is_empty() => self.map(m, 0),
            YNode::Seq(s) if !s.is_empty() => self.seq(s, 0),
            _ => {
                self.indent = 2;
                self.scalar_node(n, false);
            }
        }
        if !self.indention || self.column > 0 || !self.whitespace {
            self.put_break();
        }
    }

    fn map(&mut self, m: &[(String, YNode)], indent: usize) {
        for (k, v) in m {
            self.indent = indent;
            self.write_indent();
            self.indent = indent + 2;
            self.scalar_str(k, true);
            self.indicator(":", false, false, false);
            match v {
                YNode::Map(mm) if !mm.is_empty() => self.map(mm, indent + 2),
                YNode::Seq(s) if !s.is_empty() => self.seq(s, indent),
                _ => {
                    self.indent = indent + 2;
                    self.scalar_node(v, false);
                }
            }
        }
    }

    fn seq(&mut self, s: &[YNode], indent: usize) {
        for v in s {
            self.indent = indent;
            self.write_indent();
            self.indicator("-", true, false, true);
            match v {
                YNode::Map(mm) if !mm.is_empty() => self.map(mm, indent + 2),
                YNode::Seq(ss) if !ss.is_empty() => self.seq(ss, indent + 2),
                _ => {
                    self.indent = indent + 2;
                    self.scalar_node(v, false);
                }
            }
        }
    }

    fn scalar_node(&mut self, n: &YNode, key: bool) {
        let plain = |e: &mut Self, s: &str| e.write_plain(s, !key);
        match n {
            YNode::Null => plain(self, "null"),
            YNode::Bool(b) => plain(self, if *b { "true" } else { "false" }),
            YNode::Int(i) => plain(self, &i.to_string()),
            YNode::Uint(u) => plain(self, &u.to_string()),
            YNode::Float(f) => {
                let s = match format_float_g(*f).as_str() {
                    "+Inf" => ".inf".to_string(),
                    "-Inf" => "-.inf".to_string(),
                    "NaN" => ".nan".to_string(),
                    s => s.to_string(),
                };
                plain(self, &s)
            }
            YNode::Str(s) => self.scalar_str(s, key),
            YNode::Map(_) => {
                self.indicator("{}", true, false, false);
            }
            YNode::Seq(_) => {
                self.indicator("[]", true, false, false);
            }
        }
    }

    fn scalar_str(&mut self, s: &str, key: bool) {
        let mut style = if s.contains('\n') {
            Style::Literal
        } else if !needs_quotes(s) {
            Style::Plain
        } else {
            Style::Double
        };
        let a = analyze(s);
        if key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if !a.block_plain {
                style = Style::Single;
            }
            if s.is_empty() && key {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block || key) {
            style = Style::Double;
        }
        let allow_breaks = !key;
        match style {
            Style::Plain => self.write_plain(s, allow_breaks),
            Style::Single => self.write_single(s, allow_breaks),
            Style::Double => self.write_double(s, allow_breaks),
            Style::Literal => self.write_literal(s),
        }
    }

    fn write_plain(&mut self, s: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for i in 0..chars.len() {
            let c = chars[i];
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, s: &str, allow_breaks: bool) {
        self.indicator("'", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        let (mut spaces, mut breaks) = (false, false);
        for i in 0..n {
            let c = chars[i];
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != n - 1
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                if c == '\'' {
                    self.put('\'');
                }
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.indicator("'", false, false, false);
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_double(&mut self, s: &str, allow_breaks: bool) {
        self.indicator("\"", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        let mut spaces = false;
        for i in 0..n {
            let c = chars[i];
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\x07' => self.put('a'),
                    '\x08' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\x0b' => self.put('v'),
                    '\x0c' => self.put('f'),
                    '\r' => self.put('r'),
                    '\x1b' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{A0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    c => {
                        let v = c as u32;
                        let s = if v <= 0xFF {
                            format!("x{v:02X}")
                        } else if v <= 0xFFFF {
                            format!("u{v:04X}")
                        } else {
                            format!("U{v:08X}")
                        };
                        for ch in s.chars() {
                            self.put(ch);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != n - 1 {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.indicator("\"", false, false, false);
    }

    fn write_literal(&mut self, s: &str) {
        self.indicator("|", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.indicator("2", false, false, false);
        }
        let n = chars.len();
        let chomp = if !is_break(chars[n - 1]) {
            Some("-")
        } else if n == 1 || is_break(chars[n - 2]) {
            Some("+")
        } else {
            None
        };
        if let Some(c) = chomp {
            self.indicator(c, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                    breaks = false;
                }
                self.put(c);
                self.indention = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every expectation below is what helm v4.1.4 prints after
    // `YAML parse error on <file>: ` for the same document.
    const CONV: &str = "error converting YAML to JSON: ";
    const DEC: &str = "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ";

    fn list(n: usize, item: &str) -> String {
        format!("[{}]", vec![item; n].join(", "))
    }

    /// `a: &a [1 × n]`, `b: [*a × k]`.
    fn seq_doc(n: usize, k: usize) -> String {
        format!("a: &a {}\nb: {}\n", list(n, "1"), list(k, "*a"))
    }

    /// `a: &a {n keys}`, `b: [{<<: *a} × k]` (or `{<<: [*a, *a]}` with `twice`).
    fn merge_doc(n: usize, k: usize, twice: bool) -> String {
        let keys: Vec<String> = (0..n).map(|i| format!("k{i}: 1")).collect();
        let item = if twice { "{<<: [*a, *a]}" } else { "{<<: *a}" };
        format!("a: &a {{{}}}\nb: {}\n", keys.join(", "), list(k, item))
    }

    fn nested_doc(levels: usize) -> String {
        let mut d = format!("a0: &a0 {}\n", list(9, "x"));
        for i in 1..levels {
            d += &format!("a{i}: &a{i} {}\n", list(9, &format!("*a{}", i - 1)));
        }
        d
    }

    const EXCESSIVE: &str = "yaml: document contains excessive aliasing";

    fn verdict(doc: &str) -> Result<(), String> {
        parse(doc).map(drop).map_err(|e| e.to_string())
    }

    #[test]
    fn alias_limit_matches_go_yaml_at_its_edges() {
        // each pair is the last document helm v4.1.4 reads (`fromYaml`) and the first it
        // refuses; one node more or less in the count would move these edges
        let cases = [
            (seq_doc(200, 199), seq_doc(200, 200)),
            // merge keys are not decoded nodes
            (merge_doc(1000, 110, false), merge_doc(1000, 111, false)),
            // nor is a sequence given as a merge value
            (merge_doc(1000, 53, true), merge_doc(1000, 54, true)),
            (nested_doc(3), nested_doc(4)),
        ];
        for (ok, bad) in &cases {
            assert_eq!(verdict(ok), Ok(()), "{ok}");
            assert_eq!(verdict(bad), Err(EXCESSIVE.to_string()), "{bad}");
            // a manifest head counts what it skips as the full reading does
            let head = |d: &str| manifest_head(d).map(drop);
            assert_eq!(head(ok), Ok(()));
            assert_eq!(
                head(bad),
                Err(format!("error converting YAML to JSON: {EXCESSIVE}"))
            );
        }
    }

    #[test]
    fn alias_bomb_fails_before_expanding() {
        let bomb = nested_doc(9);
        assert_eq!(verdict(&bomb), Err(EXCESSIVE.to_string()));
        assert_eq!(
            parse_first(&bomb).map_err(|e| e.to_string()),
            Err(EXCESSIVE.to_string())
        );
        assert_eq!(
            manifest_head(&bomb),
            Err(format!("error converting YAML to JSON: {EXCESSIVE}"))
        );
        // as a key, inside a merge, behind another document
        let keyed = format!("{bomb}? *a8\n: 1\n");
        assert_eq!(verdict(&keyed), Err(EXCESSIVE.to_string()));
        let merged = format!("{bomb}m:\n  <<: *a8\n");
        assert_eq!(verdict(&merged), Err(EXCESSIVE.to_string()));
        // values files: every document is decoded on its own; Unmarshal reads the first
        let second = format!("a: 1\n---\n{bomb}");
        assert_eq!(verdict(&second), Err(EXCESSIVE.to_string()));
        assert_eq!(parse_first(&second).unwrap()["a"], serde_json::json!(1.0));
        // each document has its own budget
        let ok = nested_doc(3);
        assert_eq!(verdict(&format!("{ok}---\n{ok}---\n{ok}")), Ok(()));
    }

    #[test]
    fn alias_limit_loses_to_earlier_failures() {
        let bomb = nested_doc(9);
        // go-yaml parses the whole document before decoding it: a syntax error wins
        let syntax = format!("{bomb}z: [1, 2\n");
        assert_eq!(
            verdict(&syntax),
            Err("yaml: line 10: did not find expected ',' or ']'".to_string())
        );
        let unknown = format!("{bomb}z: *nope\n");
        assert_eq!(
            verdict(&unknown),
            Err("yaml: unknown anchor 'nope' referenced".to_string())
        );
        // the decoder stops at the first failure: an invalid key before the bomb wins,
        // excessive aliasing before an invalid key wins
        let key_first = format!("? [k]\n: 1\n{bomb}");
        assert_eq!(
            verdict(&key_first),
            Err("yaml: invalid map key: []interface {}{\"k\"}".to_string())
        );
        assert_eq!(
            manifest_head(&key_first),
            Err(
                "error converting YAML to JSON: yaml: invalid map key: []interface {}{\"k\"}"
                    .to_string()
            )
        );
        let bomb_first = format!("{bomb}? [k]\n: 1\n");
        assert_eq!(verdict(&bomb_first), Err(EXCESSIVE.to_string()));
        assert_eq!(
            manifest_head(&bomb_first),
            Err(format!("error converting YAML to JSON: {EXCESSIVE}"))
        );
        // and a failed document ends the stream
        let then_syntax = format!("{bomb}---\nz: [1, 2\n");
        assert_eq!(verdict(&then_syntax), Err(EXCESSIVE.to_string()));
    }

    #[test]
    fn alias_ratio_is_go_yamls() {
        assert_eq!(allowed_alias_ratio(1), 0.99);
        assert_eq!(allowed_alias_ratio(400_000), 0.99);
        assert_eq!(allowed_alias_ratio(4_000_000), 0.10);
        assert_eq!(allowed_alias_ratio(40_000_000), 0.10);
        assert!((allowed_alias_ratio(2_200_000) - 0.545).abs() < 1e-12);
        // both floors hold regardless of the ratio
        assert!(!excessive_aliasing(100, 100_000));
        assert!(!excessive_aliasing(1000, 1000));
        assert!(excessive_aliasing(1000, 1001));
        assert!(!excessive_aliasing(396_000, 400_000));
        assert!(excessive_aliasing(396_001, 400_000));
    }

    #[test]
    fn plain_nodes_after_aliases_can_exceed_the_ratio() {
        // between 2.2 and 4 million nodes the allowed share of alias-driven nodes falls
        // faster than their share does, so go-yaml can fail on a plain node: every node is
        // checked, not only aliases
        let mut b = AliasBudget {
            decoded: 2_500_000,
            aliased: 500_000,
            ..AliasBudget::default()
        };
        b.check();
        assert!(!b.excessive);
        let mut plain = 0u64;
        while !b.stopped && plain < 2_000_000 {
            b.node();
            plain += 1;
        }
        assert!(b.excessive);
        assert!(
            b.decoded > 3_800_000 && b.decoded < 4_000_000,
            "{}",
            b.decoded
        );
        assert_eq!(b.aliased, 500_000);
    }

    #[test]
    fn manifest_head_type_errors_are_helms() {
        let meta = "struct { Name string \"json:\\\"name\\\"\"; Annotations map[string]string \"json:\\\"annotations\\\"\" }";
        let cases: &[(&str, String)] = &[
            (
                "- a",
                format!("{DEC}array into Go value of type util.SimpleHead"),
            ),
            (
                "12",
                format!("{DEC}number into Go value of type util.SimpleHead"),
            ),
            (
                "true",
                format!("{DEC}bool into Go value of type util.SimpleHead"),
            ),
            (
                "kind: [1]",
                format!("{DEC}array into Go struct field SimpleHead.kind of type string"),
            ),
            (
                "kind: {a: 1}",
                format!("{DEC}object into Go struct field SimpleHead.kind of type string"),
            ),
            (
                "apiVersion: {}",
                format!("{DEC}object into Go struct field SimpleHead.apiVersion of type string"),
            ),
            (
                "metadata: 3",
                format!("{DEC}number into Go struct field SimpleHead.metadata of type {meta}"),
            ),
            (
                "metadata: [1]",
                format!("{DEC}array into Go struct field SimpleHead.metadata of type {meta}"),
            ),
            (
                "metadata: {name: [1]}",
                format!("{DEC}array into Go struct field .metadata.name of type string"),
            ),
            (
                "metadata: {annotations: [1]}",
                format!(
                    "{DEC}array into Go struct field .metadata.annotations of type map[string]string"
                ),
            ),
            (
                "metadata: {annotations: 5}",
                format!(
                    "{DEC}number into Go struct field .metadata.annotations of type map[string]string"
                ),
            ),
            (
                "metadata: {annotations: {a: [1]}}",
                format!("{DEC}array into Go struct field .metadata.annotations of type string"),
            ),
            // the first error in JSON key order wins: apiVersion before kind
            (
                "kind: [1]\napiVersion: {}",
                format!("{DEC}object into Go struct field SimpleHead.apiVersion of type string"),
            ),
        ];
        for (doc, want) in cases {
            assert_eq!(manifest_head(doc).unwrap_err(), *want, "{doc}");
        }
    }

    #[test]
    fn manifest_head_conversion_errors_are_helms() {
        let cases: &[(&str, String)] = &[
            (
                "kind: A\nspec: {x: .inf}",
                format!("{CONV}json: unsupported value: +Inf"),
            ),
            (
                "kind: A\nspec: {x: .nan}",
                format!("{CONV}json: unsupported value: NaN"),
            ),
            (
                "kind: A\nspec:\n  - {x: -.inf}",
                format!("{CONV}json: unsupported value: -Inf"),
            ),
            ("[.nan]", format!("{CONV}json: unsupported value: NaN")),
            (
                "a: !!float .inf",
                format!("{CONV}json: unsupported value: +Inf"),
            ),
            (
                "kind: A\nspec: {? [a]: 1}",
                format!("{CONV}yaml: invalid map key: []interface {{}}{{\"a\"}}"),
            ),
            (
                "kind: A\nspec: *zz",
                format!("{CONV}yaml: unknown anchor 'zz' referenced"),
            ),
            (
                "a: &x 1\nb: *x\nc: *y",
                format!("{CONV}yaml: unknown anchor 'y' referenced"),
            ),
            (
                "kind: A\nb: c: d",
                format!("{CONV}yaml: line 2: mapping values are not allowed in this context"),
            ),
            (
                "a: b: c",
                format!("{CONV}yaml: mapping values are not allowed in this context"),
            ),
            (
                "a:\n  b: 1\n c: 2",
                format!("{CONV}yaml: line 2: did not find expected key"),
            ),
            (
                "x: 1\na:\n  - b\n  c: d",
                format!("{CONV}yaml: line 3: did not find expected '-' indicator"),
            ),
            (
                "a: {b: c}}",
                format!("{CONV}yaml: did not find expected key"),
            ),
            (
                "x: 1\ny: [a}",
                format!("{CONV}yaml: line 1: did not find expected ',' or ']'"),
            ),
            (
                "x: 1\ny: 2\na: [b, c",
                format!("{CONV}yaml: line 3: did not find expected ',' or ']'"),
            ),
            (
                "a: {b: c",
                format!("{CONV}yaml: line 1: did not find expected ',' or '}}'"),
            ),
            (
                "a: \"b",
                format!("{CONV}yaml: found unexpected end of stream"),
            ),
            (
                "x: 1\ny: 2\na: \"b\nc: d\ne: f",
                format!("{CONV}yaml: line 5: found unexpected end of stream"),
            ),
            (
                "a: @b",
                format!("{CONV}yaml: found character that cannot start any token"),
            ),
            (
                "x: 1\ny:\n\tb: 1",
                format!("{CONV}yaml: line 3: found character that cannot start any token"),
            ),
            (
                "x: 1\ny: 2\na: *",
                format!(
                    "{CONV}yaml: line 3: did not find expected alphabetic or numeric character"
                ),
            ),
            (
                "a: !<x",
                format!("{CONV}yaml: did not find the expected '>'"),
            ),
        ];
        for (doc, want) in cases {
            assert_eq!(manifest_head(doc).unwrap_err(), *want, "{doc}");
        }
    }

    #[test]
    fn manifest_head_reads_fields_as_go_json_does() {
        // quoted infinities and strings are fine; kind numbers become strings
        assert!(manifest_head("a: \".inf\"").is_ok());
        assert_eq!(manifest_head("kind: 12").unwrap().kind, "12");
        assert_eq!(manifest_head("kind: true").unwrap().kind, "true");
        // field names match case-insensitively; null leaves the field alone
        let h = manifest_head("Kind: ServiceAccount\nkind: null\nMetadata:\n  Name: c").unwrap();
        assert_eq!((h.kind.as_str(), h.name.as_str()), ("ServiceAccount", "c"));
        assert_eq!(manifest_head("KIND: Namespace").unwrap().kind, "Namespace");
        // merge keys and aliases feed the head; skipped parts keep their anchors
        let h = manifest_head("x: &base\n  kind: Secret\n<<: *base\nmetadata: {name: d}").unwrap();
        assert_eq!((h.kind.as_str(), h.name.as_str()), ("Secret", "d"));
        let h = manifest_head("spec: {m: &m {name: nm}}\nkind: A\nmetadata: *m").unwrap();
        assert_eq!(h.name, "nm");
        // annotation values become strings, null ones empty
        let h = manifest_head(
            "metadata:\n  annotations:\n    helm.sh/hook-weight: 5\n    b: ~\n    c: yes",
        )
        .unwrap();
        assert_eq!(h.annotations["helm.sh/hook-weight"], "5");
        assert_eq!(h.annotations["b"], "");
        assert_eq!(h.annotations["c"], "true");
        // an empty document is an empty head; only the first document is read
        assert_eq!(manifest_head("").unwrap(), Head::default());
        assert_eq!(manifest_head("kind: A\n...\nb: c: d").unwrap().kind, "A");
    }
}
