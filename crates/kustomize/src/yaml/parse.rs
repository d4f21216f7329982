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

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        map: Mapping,
        key: Option<(String, bool)>,
        merges: Vec<Value>,
        anchor: usize,
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

/// Parses a YAML stream into its documents.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    let parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
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
        let mut completed: Option<(Value, bool)> = None; // (value, is_plain_merge_key)
        match event {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(..) => {
                in_doc = true;
                first_node = true;
                doc_value = None;
                doc_line = span.start.line();
                anchors.clear();
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
                Some(v) => completed = Some((v.clone(), false)),
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
                    anchors.insert(anchor, v.clone());
                }
                let merge_key = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
                completed = Some((v, merge_key));
            }
            Event::SequenceStart(_, anchor, _) => {
                if first_node {
                    doc_line = span.start.line();
                    first_node = false;
                }
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                });
            }
            Event::MappingStart(_, anchor, _) => {
                if first_node {
                    doc_line = span.start.line();
                    first_node = false;
                }
                stack.push(Frame::Map {
                    map: Mapping::new(),
                    key: None,
                    merges: Vec::new(),
                    anchor,
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, anchor }) = stack.pop() {
                    let v = Value::Seq(items);
                    if anchor != 0 {
                        anchors.insert(anchor, v.clone());
                    }
                    completed = Some((v, false));
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    mut map,
                    merges,
                    anchor,
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
                        anchors.insert(anchor, v.clone());
                    }
                    completed = Some((v, false));
                }
            }
            _ => {}
        }
        if let Some((v, merge_key)) = completed {
            match stack.last_mut() {
                None => doc_value = Some(v),
                Some(Frame::Seq { items, .. }) => items.push(v),
                Some(Frame::Map {
                    map, key, merges, ..
                }) => match key.take() {
                    None => *key = Some((key_string(&v), merge_key)),
                    Some((_, true)) => merges.push(v),
                    Some((k, false)) => {
                        // a repeated key replaces the earlier value (as Go's decoders do)
                        map.insert(k, v);
                    }
                },
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
