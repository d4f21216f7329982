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

use std::borrow::Cow;

use gitops_go::num::format_float_g;
use gitops_go::yaml::Node as Out;

use crate::value::Value;

mod fast;

/// A YAML error, with its position when go-yaml gives one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("yaml: {}{msg}", if *.line > 0 { format!("line {line}: ") } else { String::new() })]
pub struct YamlError {
    /// 1-based line; 0 for errors go-yaml reports without one (unknown anchors, map keys).
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// A scalar as go-yaml v2 decodes it into an `interface{}`.
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
}

/// Resolves a plain scalar like go-yaml v2 ([`gitops_go::yaml::resolve_v2`]).
fn resolve(s: &str) -> Scalar {
    use gitops_go::yaml::Scalar as G;
    match gitops_go::yaml::resolve_v2(s) {
        G::Null => Scalar::Null,
        G::Bool(b) => Scalar::Bool(b),
        G::Int(i) => Scalar::Int(i),
        G::Uint(u) => Scalar::Uint(u),
        G::Float(f) => Scalar::Float(f),
        G::Timestamp(_) | G::Str => Scalar::Str(s.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Reading

#[derive(Debug, Clone, PartialEq)]
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
    // (the quick reader takes a single document or none, which `first_only` does not change)
    if let Some(read) = fast::parse(text, keep_all) {
        return Ok(read);
    }
    full_parse(text, keep_all, first_only)
}

/// [`parse_docs`] by the full parser.
fn full_parse(
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
        Jv::Sc(Scalar::Str(_)) => "string",
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
// Writing: `sigs.k8s.io/yaml.Marshal`, through the shared go-yaml v2 emitter

/// A template value as the shared emitter's node (what `json.Marshal` sees of it).
pub fn to_node(v: &Value) -> Result<Out<'static>, String> {
    Ok(match v {
        Value::Nil => Out::Null,
        Value::Bool(b) => Out::Bool(*b),
        Value::Int(i) => Out::Int(*i),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!("json: unsupported value: {}", format_float_g(*f)));
            }
            Out::Float(*f)
        }
        Value::Str(s) => Out::Str(Cow::Owned(s.to_string())),
        Value::Bytes(b) => Out::Str(Cow::Owned(crate::funcs::b64(b))),
        Value::List(l) => Out::Seq(l.iter().map(to_node).collect::<Result<_, _>>()?),
        Value::Map(m) => Out::Map(
            m.borrow()
                .iter()
                .map(|(k, v)| Ok((Cow::Owned(k.clone()), to_node(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Object(o) => to_node(&o.to_data())?,
    })
}

/// `toYaml`: `sigs.k8s.io/yaml.Marshal` of the value (with the trailing newline).
pub fn to_yaml(v: &Value) -> Result<String, String> {
    gitops_go::yaml::marshal(&to_node(v)?).map_err(|e| e.to_string())
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
