//! Builds [`Value`] documents from granit-parser's event stream, resolving plain scalars the
//! way go-yaml v3 (kustomize's parser) does, expanding anchors, aliases and `<<` merge keys.

use super::scalar::{resolve_plain, resolve_tagged};
use super::value::{Mapping, Value};
use granit_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// A YAML syntax error with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// One document of a YAML stream with the line it starts on.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document's value (`Null` for an empty document).
    pub value: Value,
    /// 1-based line of the document's first node.
    pub line: usize,
}

/// What a mapping key that appears twice means. Kustomize reads different files with
/// different YAML decoders, and they disagree: resources go through go-yaml v3 (kyaml),
/// which refuses the second key; the kustomization file goes through go-yaml v2, where the
/// last one wins; patches are kyaml nodes, where lookups find the first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateKeys {
    /// `mapping key "k" already defined at line N` (go-yaml v3).
    Reject,
    /// The later value replaces the earlier one (go-yaml v2, `encoding/json`).
    #[default]
    LastWins,
    /// The earlier value stays (kyaml's field lookup).
    FirstWins,
}

/// How [`parse_documents_with`] reads a stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions {
    /// What a repeated mapping key means.
    pub duplicate_keys: DuplicateKeys,
}

impl ParseOptions {
    /// go-yaml v3 as kyaml uses it for resources: duplicate keys are errors.
    pub const RESOURCES: ParseOptions = ParseOptions {
        duplicate_keys: DuplicateKeys::Reject,
    };
    /// kyaml nodes as patches are read: the first of duplicate keys counts.
    pub const PATCHES: ParseOptions = ParseOptions {
        duplicate_keys: DuplicateKeys::FirstWins,
    };
}

/// go-yaml v3's defence against alias bombs ("billion laughs"): once more than 100 nodes
/// came from alias expansion and more than 1,000 were decoded, the share of expanded nodes
/// may be at most 99% up to 400,000 decoded nodes, falling linearly to 10% at 4,000,000.
#[derive(Default)]
struct AliasBudget {
    decoded: usize,
    aliased: usize,
}

impl AliasBudget {
    const MESSAGE: &'static str = "document contains excessive aliasing";

    /// Counts `n` decoded nodes (`via_alias`: they come from an alias); false when the
    /// document now exceeds the allowed ratio.
    fn count(&mut self, n: usize, via_alias: bool) -> bool {
        self.decoded = self.decoded.saturating_add(n);
        if via_alias {
            self.aliased = self.aliased.saturating_add(n);
        }
        if self.aliased <= 100 || self.decoded <= 1000 {
            return true;
        }
        const LOW: f64 = 400_000.0;
        const HIGH: f64 = 4_000_000.0;
        let d = self.decoded as f64;
        let allowed = if d <= LOW {
            0.99
        } else if d >= HIGH {
            0.10
        } else {
            0.99 - 0.89 * ((d - LOW) / (HIGH - LOW))
        };
        (self.aliased as f64) / d <= allowed
    }
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        /// Nodes in this collection so far, itself included (for alias accounting).
        nodes: usize,
    },
    Map {
        map: Mapping,
        /// The pending key: its text, whether it is a plain `<<`, and its line and column.
        key: Option<(String, bool, (usize, usize))>,
        merges: Vec<Value>,
        anchor: usize,
        nodes: usize,
        /// The line of each key of `map` (by index), kept only to reject duplicates.
        key_lines: Vec<usize>,
    },
}

fn err_at(span: &Span, message: impl Into<String>) -> YamlError {
    YamlError {
        line: span.start.line(),
        column: span.start.col() + 1,
        message: message.into(),
    }
}

fn key_string(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.scalar_string().unwrap_or_else(|| {
            // collections as keys: use their flow text
            super::emit::to_flow_json(other)
        }),
    }
}

/// Parses a YAML stream into its documents (a repeated key: the last one wins).
pub fn parse_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    parse_documents_with(text, ParseOptions::default())
}

/// Parses a YAML stream into its documents, reading repeated keys as `options` says.
/// Aliases expand (bounded by go-yaml v3's ratio rule: a document that is mostly expanded
/// aliases fails with `document contains excessive aliasing`).
pub fn parse_documents_with(text: &str, options: ParseOptions) -> Result<Vec<Document>, YamlError> {
    let parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // anchored nodes with their node counts
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut budget = AliasBudget::default();
    let reject_duplicates = options.duplicate_keys == DuplicateKeys::Reject;
    let mut doc_line = 1usize;
    let mut doc_value: Option<Value> = None;
    let mut in_doc = false;
    let mut first_node = true;

    for ev in parser {
        let (event, span) = ev.map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info(),
        })?;
        // (value, is_plain_merge_key, nodes in it)
        let mut completed: Option<(Value, bool, usize)> = None;
        match event {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(..) => {
                in_doc = true;
                first_node = true;
                doc_value = None;
                doc_line = span.start.line();
                anchors.clear();
                budget = AliasBudget::default();
            }
            Event::DocumentEnd => {
                if in_doc {
                    docs.push(Document {
                        value: doc_value.take().unwrap_or(Value::Null),
                        line: doc_line,
                    });
                }
                in_doc = false;
            }
            Event::Comment(..) | Event::Anchor(..) => {}
            Event::UnresolvedAlias(name) => {
                return Err(err_at(&span, format!("unknown anchor '{name}' referenced")));
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((v, nodes)) => {
                    if !budget.count(*nodes, true) {
                        return Err(err_at(&span, AliasBudget::MESSAGE));
                    }
                    completed = Some((v.clone(), false, *nodes));
                }
                None => return Err(err_at(&span, "unknown anchor referenced")),
            },
            Event::Scalar(text, style, anchor, tag) => {
                if first_node {
                    doc_line = span.start.line();
                    first_node = false;
                }
                let v = match &tag {
                    Some(t) => resolve_tagged(&text, style, t.handle(), t.suffix())
                        .map_err(|m| err_at(&span, m))?,
                    None if style == ScalarStyle::Plain => resolve_plain(&text),
                    None => Value::String(text.to_string()),
                };
                if anchor != 0 {
                    anchors.insert(anchor, (v.clone(), 1));
                }
                if !budget.count(1, false) {
                    return Err(err_at(&span, AliasBudget::MESSAGE));
                }
                let merge_key = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
                completed = Some((v, merge_key, 1));
            }
            Event::SequenceStart(_, anchor, _) => {
                if first_node {
                    doc_line = span.start.line();
                    first_node = false;
                }
                if !budget.count(1, false) {
                    return Err(err_at(&span, AliasBudget::MESSAGE));
                }
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    nodes: 1,
                });
            }
            Event::MappingStart(_, anchor, _) => {
                if first_node {
                    doc_line = span.start.line();
                    first_node = false;
                }
                if !budget.count(1, false) {
                    return Err(err_at(&span, AliasBudget::MESSAGE));
                }
                stack.push(Frame::Map {
                    map: Mapping::new(),
                    key: None,
                    merges: Vec::new(),
                    anchor,
                    nodes: 1,
                    key_lines: Vec::new(),
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    items,
                    anchor,
                    nodes,
                }) = stack.pop()
                {
                    let v = Value::Seq(items);
                    if anchor != 0 {
                        anchors.insert(anchor, (v.clone(), nodes));
                    }
                    completed = Some((v, false, nodes));
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    mut map,
                    merges,
                    anchor,
                    nodes,
                    ..
                }) = stack.pop()
                {
                    for m in merges {
                        let sources: Vec<Value> = match m {
                            Value::Seq(items) => items,
                            other => vec![other],
                        };
                        for src in sources {
                            match src {
                                Value::Map(sm) => {
                                    for (k, v) in sm {
                                        map.entry(k).or_insert(v);
                                    }
                                }
                                _ => {
                                    return Err(err_at(
                                        &span,
                                        "map merge requires map or sequence of maps as the value",
                                    ));
                                }
                            }
                        }
                    }
                    let v = Value::Map(map);
                    if anchor != 0 {
                        anchors.insert(anchor, (v.clone(), nodes));
                    }
                    completed = Some((v, false, nodes));
                }
            }
            _ => {}
        }
        if let Some((v, merge_key, n)) = completed {
            match stack.last_mut() {
                None => doc_value = Some(v),
                Some(Frame::Seq { items, nodes, .. }) => {
                    *nodes = nodes.saturating_add(n);
                    items.push(v)
                }
                Some(Frame::Map {
                    map,
                    key,
                    merges,
                    nodes,
                    key_lines,
                    ..
                }) => {
                    *nodes = nodes.saturating_add(n);
                    match key.take() {
                        None => {
                            let at = (span.start.line(), span.start.col() + 1);
                            *key = Some((key_string(&v), merge_key, at))
                        }
                        Some((_, true, _)) => merges.push(v),
                        Some((k, false, (line, column))) => match map.get_index_of(&k) {
                            None => {
                                if reject_duplicates {
                                    key_lines.push(line);
                                }
                                map.insert(k, v);
                            }
                            Some(i) => match options.duplicate_keys {
                                DuplicateKeys::Reject => {
                                    let first = key_lines.get(i).copied().unwrap_or(line);
                                    return Err(YamlError {
                                        line,
                                        column,
                                        message: format!(
                                            "mapping key {k:?} already defined at line {first}"
                                        ),
                                    });
                                }
                                DuplicateKeys::LastWins => {
                                    map.insert(k, v);
                                }
                                DuplicateKeys::FirstWins => {}
                            },
                        },
                    }
                }
            }
        }
    }
    Ok(docs)
}

/// Parses a single-document YAML text; an empty text gives `Null`.
pub fn parse_one(text: &str) -> Result<Value, YamlError> {
    let docs = parse_documents(text)?;
    Ok(docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `levels` anchors, each a list of nine aliases of the one before.
    fn laughs(levels: usize) -> String {
        let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..levels {
            let items = vec![format!("*a{}", i - 1); 9].join(", ");
            s.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        s
    }

    #[test]
    fn alias_bombs_fail_with_go_yamls_message() {
        for levels in [5, 7, 9] {
            let e = parse_one(&laughs(levels)).unwrap_err();
            assert_eq!(
                e.message, "document contains excessive aliasing",
                "{levels}"
            );
            assert_eq!(e.line, 4, "the first alias past the ratio: {e:?}");
        }
    }

    #[test]
    fn ordinary_aliases_still_expand() {
        // a few anchors reused many times stay well within the ratio
        let v = parse_one(&laughs(3)).unwrap();
        assert_eq!(v.get("a2").and_then(Value::as_seq).map(Vec::len), Some(9));
        let mut s = String::from("base: &b {image: nginx, replicas: 2, port: 80}\nitems:\n");
        for i in 0..2000 {
            s.push_str(&format!("- {{<<: *b, name: n{i}}}\n"));
        }
        let v = parse_one(&s).unwrap();
        assert_eq!(
            v.get("items").and_then(Value::as_seq).map(Vec::len),
            Some(2000)
        );
    }

    #[test]
    fn duplicate_keys_as_each_decoder_reads_them() {
        let text = "metadata:\n  name: a\nkind: K\nmetadata:\n  name: b\n";
        let e = parse_documents_with(text, ParseOptions::RESOURCES).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (4, 1, "mapping key \"metadata\" already defined at line 1")
        );
        let name = |v: &Value| {
            v.get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let last = parse_one(text).unwrap();
        assert_eq!(name(&last).as_deref(), Some("b"));
        let first = &parse_documents_with(text, ParseOptions::PATCHES).unwrap()[0].value;
        assert_eq!(name(first).as_deref(), Some("a"));
        // flow mappings too, and merge keys are no duplicates
        let e = parse_documents_with("l: {a: 1, a: 2}\n", ParseOptions::RESOURCES).unwrap_err();
        assert_eq!(e.message, "mapping key \"a\" already defined at line 1");
        let ok = "b: &b {x: 1}\nm:\n  <<: *b\n  <<: *b\n  x: 2\n";
        assert!(parse_documents_with(ok, ParseOptions::RESOURCES).is_ok());
    }
}
