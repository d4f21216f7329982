//! The field-by-field report `flux diff` prints for a drifted object: homeport/dyff's
//! human report (v1.10, as Flux configures it: no header, no indent, Kubernetes entity
//! detection, order changes reported) of the live object against the dry-run result,
//! both as Flux writes them (JSON to YAML, keys sorted), without colours.
//!
//! What is implemented: map entries added and removed, value and type changes
//! (whitespace-only and multi-line text changes included), lists matched by `name`,
//! `key`, `id`, `manager`, a guessed identifier or Kubernetes object names, simple lists
//! by content, order changes, dyff's key order for printed maps (`RestructureObject`) and
//! its side-by-side blocks. What is not: certificate summaries (PEM certificates are shown
//! as text) and binary values (Kubernetes objects as JSON have none).

use super::gosort;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Str,
    Int,
    Float,
    Bool,
    Null,
}

/// A YAML node as yaml.v3 sees Flux's YAML.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Doc(Box<Node>),
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Scalar(Tag, String),
}

impl Node {
    fn from_json(v: &Value) -> Node {
        match v {
            Value::Null => Node::Scalar(Tag::Null, "null".into()),
            Value::Bool(b) => Node::Scalar(Tag::Bool, b.to_string()),
            Value::String(s) => Node::Scalar(Tag::Str, s.clone()),
            Value::Number(n) => {
                if n.is_i64() || n.is_u64() {
                    Node::Scalar(Tag::Int, n.to_string())
                } else {
                    let text = gitops_go::yaml::marshal_float(n.as_f64().unwrap_or_default());
                    let int = text
                        .strip_prefix('-')
                        .unwrap_or(&text)
                        .bytes()
                        .all(|b| b.is_ascii_digit());
                    Node::Scalar(if int { Tag::Int } else { Tag::Float }, text)
                }
            }
            Value::Array(a) => Node::Seq(a.iter().map(Node::from_json).collect()),
            Value::Object(m) => {
                let mut entries: Vec<(String, Node)> = m
                    .iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect();
                gitops_go::yaml::sort_keys(&mut entries, |e| &e.0);
                Node::Map(entries)
            }
        }
    }

    /// yaml.v3's `Value` of the node (empty for collections).
    fn value(&self) -> &str {
        match self {
            Node::Scalar(_, v) => v,
            _ => "",
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn kind_rank(&self) -> u8 {
        match self {
            Node::Doc(_) => 1,
            Node::Seq(_) => 2,
            Node::Map(_) => 4,
            Node::Scalar(..) => 8,
        }
    }

    fn tag(&self) -> &'static str {
        match self {
            Node::Doc(_) => "",
            Node::Map(_) => "!!map",
            Node::Seq(_) => "!!seq",
            Node::Scalar(t, _) => match t {
                Tag::Str => "!!str",
                Tag::Int => "!!int",
                Tag::Float => "!!float",
                Tag::Bool => "!!bool",
                Tag::Null => "!!null",
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum PathElement {
    Name(String),
    Named(String),
    Index(usize),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Addition,
    Removal,
    Modification,
    OrderChange,
}

#[derive(Clone, Debug)]
struct Detail {
    kind: Kind,
    from: Option<Node>,
    to: Option<Node>,
}

#[derive(Clone, Debug)]
struct Diff {
    path: Vec<PathElement>,
    details: Vec<Detail>,
}

/// How list entries are told apart.
enum Identifier {
    Field(String),
    Kubernetes,
}

/// `apiVersion/kind[/namespace]/name` of a Kubernetes object node.
fn k8s_name(node: &Node) -> Option<String> {
    if !matches!(node, Node::Map(_)) {
        return None;
    }
    let api_version = node.get("apiVersion")?.value().to_owned();
    let kind = node.get("kind")?.value().to_owned();
    let meta = node.get("metadata")?;
    let mut parts = vec![api_version, kind];
    if let Some(ns) = meta.get("namespace") {
        parts.push(ns.value().to_owned());
    }
    parts.push(meta.get("name")?.value().to_owned());
    Some(parts.join("/"))
}

impl Identifier {
    fn name(&self, entry: &Node) -> Option<String> {
        match self {
            Identifier::Field(f) => entry.get(f).map(|v| v.value().to_owned()),
            Identifier::Kubernetes => k8s_name(entry),
        }
    }

    fn find<'a>(&self, list: &'a [Node], name: &str) -> Option<&'a Node> {
        for e in list {
            // like dyff, an entry without the identifier ends the search
            let n = self.name(e)?;
            if n == name {
                return Some(e);
            }
        }
        None
    }
}

/// A value-only fingerprint of a node (dyff hashes scalars by their text only).
fn fingerprint(node: &Node) -> String {
    match node {
        Node::Doc(d) => fingerprint(d),
        Node::Scalar(_, v) => format!("s{}:{v}", v.len()),
        Node::Seq(s) => {
            let mut out = String::from("[");
            for e in s {
                out.push_str(&fingerprint(e));
                out.push(',');
            }
            out.push(']');
            out
        }
        Node::Map(m) => {
            let mut entries: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{k}={}", k.len(), fingerprint(v)))
                .collect();
            entries.sort();
            format!("{{{}}}", entries.join(","))
        }
    }
}

fn with(path: &[PathElement], e: PathElement) -> Vec<PathElement> {
    let mut p = path.to_vec();
    p.push(e);
    p
}

fn modification(path: &[PathElement], from: &Node, to: &Node) -> Vec<Diff> {
    vec![Diff {
        path: path.to_vec(),
        details: vec![Detail {
            kind: Kind::Modification,
            from: Some(from.clone()),
            to: Some(to.clone()),
        }],
    }]
}

fn compare(path: &[PathElement], from: &Node, to: &Node) -> Vec<Diff> {
    if from.kind_rank() != to.kind_rank() || from.tag() != to.tag() {
        return modification(path, from, to);
    }
    match (from, to) {
        (Node::Doc(a), Node::Doc(b)) => compare(path, a, b),
        (Node::Map(a), Node::Map(b)) => compare_maps(path, a, b),
        (Node::Seq(a), Node::Seq(b)) => compare_lists(path, a, b),
        (Node::Scalar(Tag::Null, _), _) => Vec::new(),
        (Node::Scalar(_, a), Node::Scalar(_, b)) if a != b => modification(path, from, to),
        _ => Vec::new(),
    }
}

fn compare_maps(path: &[PathElement], from: &[(String, Node)], to: &[(String, Node)]) -> Vec<Diff> {
    let mut result = Vec::new();
    let mut removals = Vec::new();
    let mut additions = Vec::new();
    for (k, fv) in from {
        match to.iter().find(|(tk, _)| tk == k) {
            Some((_, tv)) => {
                result.extend(compare(&with(path, PathElement::Name(k.clone())), fv, tv))
            }
            None => removals.push((k.clone(), fv.clone())),
        }
    }
    for (k, tv) in to {
        if !from.iter().any(|(fk, _)| fk == k) {
            additions.push((k.clone(), tv.clone()));
        }
    }
    let mut details = Vec::new();
    if !removals.is_empty() {
        details.push(Detail {
            kind: Kind::Removal,
            from: Some(Node::Map(removals)),
            to: None,
        });
    }
    if !additions.is_empty() {
        details.push(Detail {
            kind: Kind::Addition,
            from: None,
            to: Some(Node::Map(additions)),
        });
    }
    if !details.is_empty() {
        result.insert(
            0,
            Diff {
                path: path.to_vec(),
                details,
            },
        );
    }
    result
}

/// dyff's `getIdentifierFromNamedLists`: `name`, `key`, `id` or `manager` when every
/// entry of both lists has a distinct value for it.
fn named_identifier(a: &[Node], b: &[Node]) -> Option<Identifier> {
    const CANDIDATES: [&str; 4] = ["name", "key", "id", "manager"];
    let counts = |list: &[Node]| {
        let mut m: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for e in list {
            if let Node::Map(entries) = e {
                for (k, v) in entries {
                    if let Some(c) = CANDIDATES.iter().find(|c| **c == k) {
                        m.entry(c).or_default().insert(v.value().to_owned());
                    }
                }
            }
        }
        m
    };
    let (ca, cb) = (counts(a), counts(b));
    CANDIDATES
        .iter()
        .find(|c| {
            ca.get(*c).is_some_and(|s| s.len() == a.len())
                && cb.get(*c).is_some_and(|s| s.len() == b.len())
        })
        .map(|c| Identifier::Field((*c).to_owned()))
}

/// dyff's `getNonStandardIdentifierFromNamedLists`: a string field with distinct string
/// values in every entry of both lists, when they have more than three entries.
fn guessed_identifier(a: &[Node], b: &[Node]) -> Option<Identifier> {
    let counts = |list: &[Node]| -> BTreeMap<String, usize> {
        let mut tmp: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for e in list {
            let Node::Map(entries) = e else {
                return BTreeMap::new();
            };
            for (k, v) in entries {
                if let Node::Scalar(Tag::Str, s) = v {
                    tmp.entry(k.clone()).or_default().insert(s.clone());
                }
            }
        }
        tmp.into_iter().map(|(k, v)| (k, v.len())).collect()
    };
    let (ca, cb) = (counts(a), counts(b));
    ca.iter()
        .find(|(k, n)| **n == a.len() && cb.get(*k) == Some(&b.len()) && **n > 3)
        .map(|(k, _)| Identifier::Field(k.clone()))
}

fn compare_lists(path: &[PathElement], from: &[Node], to: &[Node]) -> Vec<Diff> {
    if from.is_empty() && to.is_empty() {
        return Vec::new();
    }
    if let Some(id) = named_identifier(from, to).or_else(|| guessed_identifier(from, to)) {
        return compare_named_lists(path, &id, from, to);
    }
    let all_k8s = |l: &[Node]| l.iter().all(|e| k8s_name(e).is_some());
    if all_k8s(from) && all_k8s(to) {
        return compare_named_lists(path, &Identifier::Kubernetes, from, to);
    }
    compare_simple_lists(path, from, to)
}

fn pack(
    mut list: Vec<Diff>,
    path: &[PathElement],
    order: Vec<Detail>,
    additions: Vec<Node>,
    removals: Vec<Node>,
) -> Vec<Diff> {
    let mut details = order;
    if !removals.is_empty() {
        details.push(Detail {
            kind: Kind::Removal,
            from: Some(Node::Seq(removals)),
            to: None,
        });
    }
    if !additions.is_empty() {
        details.push(Detail {
            kind: Kind::Addition,
            from: None,
            to: Some(Node::Seq(additions)),
        });
    }
    if !details.is_empty() {
        list.insert(
            0,
            Diff {
                path: path.to_vec(),
                details,
            },
        );
    }
    list
}

fn names_node(names: &[String]) -> Node {
    Node::Seq(
        names
            .iter()
            .map(|n| Node::Scalar(Tag::Str, n.clone()))
            .collect(),
    )
}

fn compare_named_lists(
    path: &[PathElement],
    id: &Identifier,
    from: &[Node],
    to: &[Node],
) -> Vec<Diff> {
    let mut result = Vec::new();
    let mut removals = Vec::new();
    let mut additions = Vec::new();
    let mut from_names = Vec::new();
    let mut to_names = Vec::new();
    for e in from {
        let name = id.name(e).unwrap_or_default();
        match id.find(to, &name) {
            Some(t) => {
                result.extend(compare(&with(path, PathElement::Named(name.clone())), e, t));
                from_names.push(name);
            }
            None => removals.push(e.clone()),
        }
    }
    for e in to {
        let name = id.name(e).unwrap_or_default();
        if id.find(from, &name).is_some() {
            to_names.push(name);
        } else {
            additions.push(e.clone());
        }
    }
    let mut order = Vec::new();
    let index: BTreeMap<&str, usize> = to_names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    if from_names
        .iter()
        .enumerate()
        .any(|(i, n)| index.get(n.as_str()).copied().unwrap_or(0) != i)
    {
        order.push(Detail {
            kind: Kind::OrderChange,
            from: Some(names_node(&from_names)),
            to: Some(names_node(&to_names)),
        });
    }
    pack(result, path, order, additions, removals)
}

fn compare_simple_lists(path: &[PathElement], from: &[Node], to: &[Node]) -> Vec<Diff> {
    if from.len() == 1 && to.len() == 1 {
        return compare(&with(path, PathElement::Index(0)), &from[0], &to[0]);
    }
    let count = |l: &[Node]| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for e in l {
            *m.entry(fingerprint(e)).or_default() += 1;
        }
        m
    };
    let (cf, ct) = (count(from), count(to));
    let has = |list: &[Node], e: &Node| {
        let f = fingerprint(e);
        list.iter().any(|x| fingerprint(x) == f)
    };
    let mut removals: Vec<Node> = Vec::new();
    let mut additions: Vec<Node> = Vec::new();
    let mut from_common = Vec::new();
    let mut to_common = Vec::new();
    for e in from {
        let h = fingerprint(e);
        match ct.get(&h) {
            None => removals.push(e.clone()),
            Some(&n) => {
                from_common.push(e.clone());
                let m = cf.get(&h).copied().unwrap_or(0);
                if m > n && !has(&removals, e) {
                    for _ in 0..m - n {
                        removals.push(e.clone());
                    }
                }
            }
        }
    }
    for e in to {
        let h = fingerprint(e);
        match cf.get(&h) {
            None => additions.push(e.clone()),
            Some(&m) => {
                to_common.push(e.clone());
                let n = ct.get(&h).copied().unwrap_or(0);
                if m < n && !has(&additions, e) {
                    for _ in 0..n - m {
                        additions.push(e.clone());
                    }
                }
            }
        }
    }
    let mut order = Vec::new();
    if from_common.len() == to_common.len()
        && from_common
            .iter()
            .zip(&to_common)
            .any(|(a, b)| fingerprint(a) != fingerprint(b))
    {
        order.push(Detail {
            kind: Kind::OrderChange,
            from: Some(Node::Seq(from_common)),
            to: Some(Node::Seq(to_common)),
        });
    }
    pack(Vec::new(), path, order, additions, removals)
}

/// Compares two documents (Kubernetes objects) as dyff does.
fn compare_documents(from: &Node, to: &Node) -> Vec<Diff> {
    match (k8s_name(from), k8s_name(to)) {
        (Some(a), Some(b)) if a != b => vec![
            Diff {
                path: Vec::new(),
                details: vec![Detail {
                    kind: Kind::Removal,
                    from: Some(Node::Doc(Box::new(from.clone()))),
                    to: None,
                }],
            },
            Diff {
                path: Vec::new(),
                details: vec![Detail {
                    kind: Kind::Addition,
                    from: None,
                    to: Some(Node::Doc(Box::new(to.clone()))),
                }],
            },
        ],
        _ => compare(&[], from, to),
    }
}

// --- output -------------------------------------------------------------------------

/// go-yaml's `needsQuotes` of neat for string scalars.
fn needs_quotes(tag: Tag, v: &str) -> bool {
    tag == Tag::Str
        && (["true", "false", "null"].contains(&v)
            || v.starts_with('-')
            || v.contains([' ', '*', '&', ':', ',']))
}

/// gonvenience/neat's YAML of a node (no colours, no indent lines).
fn neat(node: &Node) -> String {
    let mut out = String::new();
    neat_node(&mut out, "", false, node);
    out
}

fn neat_node(out: &mut String, prefix: &str, skip_first: bool, node: &Node) {
    match node {
        Node::Doc(d) => {
            out.push_str("---\n");
            neat_node(out, prefix, false, d);
        }
        Node::Seq(entries) => {
            for (i, e) in entries.iter().enumerate() {
                if i > 0 || !skip_first {
                    out.push_str(prefix);
                }
                out.push_str("- ");
                neat_node(out, &format!("{prefix}  "), true, e);
            }
        }
        Node::Map(entries) => {
            for (i, (k, v)) in entries.iter().enumerate() {
                if !skip_first || i > 0 {
                    out.push_str(prefix);
                }
                out.push_str(k);
                out.push(':');
                match v {
                    Node::Map(m) if m.is_empty() => out.push_str(" {}\n"),
                    Node::Map(_) => {
                        out.push('\n');
                        neat_node(out, &format!("{prefix}  "), false, v);
                    }
                    Node::Seq(s) if s.is_empty() => out.push_str(" []\n"),
                    Node::Seq(_) => {
                        out.push('\n');
                        neat_node(out, prefix, false, v);
                    }
                    _ => {
                        out.push(' ');
                        neat_node(out, &format!("{prefix}  "), false, v);
                    }
                }
            }
        }
        Node::Scalar(tag, v) => {
            let lines: Vec<&str> = v.split('\n').collect();
            if lines.len() == 1 {
                if needs_quotes(*tag, v) {
                    out.push_str(&gitops_go::fmt::quote(v));
                } else {
                    out.push_str(v);
                }
            } else {
                out.push_str("|\n");
                for (i, line) in lines.iter().enumerate() {
                    out.push_str(prefix);
                    out.push_str(line);
                    if i != lines.len() - 1 {
                        out.push('\n');
                    }
                }
            }
            out.push('\n');
        }
    }
}

/// dyff's `yamlString`: `<nil>` for nulls, neat YAML otherwise.
fn yaml_string(node: Option<&Node>) -> String {
    match node {
        None | Some(Node::Scalar(Tag::Null, _)) => "<nil>".into(),
        Some(n) => neat(n),
    }
}

/// The deepest leaf below a node, counting path elements as ytbx does.
fn max_depth(node: &Node) -> usize {
    fn walk(node: &Node, depth: usize, max: &mut usize) {
        match node {
            Node::Doc(d) => walk(d, depth, max),
            Node::Map(m) => {
                for (_, v) in m {
                    walk(v, depth + 1, max);
                }
            }
            Node::Seq(s) => {
                let id = named_list_identifier(s);
                for e in s {
                    match (&id, e) {
                        (Some(id), Node::Map(m)) => {
                            for (k, v) in m {
                                if k != id {
                                    walk(v, depth + 2, max);
                                }
                            }
                        }
                        _ => walk(e, depth + 1, max),
                    }
                }
            }
            Node::Scalar(..) => *max = (*max).max(depth),
        }
    }
    let mut max = 0;
    walk(node, 0, &mut max);
    max
}

/// ytbx's `GetIdentifierFromNamedList`: `name`, `key` or `id` when every entry has it.
fn named_list_identifier(list: &[Node]) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in list {
        if let Node::Map(m) = e {
            for (k, _) in m {
                *counts.entry(k.as_str()).or_default() += 1;
            }
        }
    }
    ["name", "key", "id"]
        .iter()
        .find(|c| counts.get(**c) == Some(&list.len()))
        .map(|c| (*c).to_owned())
}

const KNOWN_KEY_ORDERS: &[&[&str]] = &[
    &[
        "name",
        "director_uuid",
        "releases",
        "instance_groups",
        "networks",
        "resource_pools",
        "compilation",
    ],
    &["name", "url", "version", "sha1"],
    &["jobs", "resources", "resource_types"],
    &["name", "type", "source"],
    &["get"],
    &["put"],
    &["task"],
    &["releases", "instance_groups", "configuration", "variables"],
    &["auth", "templates"],
    &["name"],
    &["key"],
    &["id"],
];

/// ytbx's `RestructureObject`: well-known keys first (`name`, …), the other keys by the
/// depth of their values.
fn restructure(node: &mut Node) {
    match node {
        Node::Doc(d) => restructure(d),
        Node::Map(entries) => {
            let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
            let mut best: Option<(usize, usize)> = None;
            for (idx, candidate) in KNOWN_KEY_ORDERS.iter().enumerate() {
                let hits = candidate.iter().filter(|c| keys.contains(c)).count();
                if hits > 0 && best.is_none_or(|(_, h)| hits > h) {
                    best = Some((idx, hits));
                }
            }
            if let Some((idx, _)) = best {
                let first: Vec<String> = KNOWN_KEY_ORDERS[idx]
                    .iter()
                    .filter(|c| keys.contains(c))
                    .map(|c| (*c).to_owned())
                    .collect();
                let mut rest: Vec<(String, usize)> = entries
                    .iter()
                    .filter(|(k, _)| !first.contains(k))
                    .map(|(k, v)| (k.clone(), max_depth(v)))
                    .collect();
                gosort::slice(&mut rest, |a, b| a.1 < b.1);
                let mut old = std::mem::take(entries);
                for k in first.iter().chain(rest.iter().map(|(k, _)| k)) {
                    if let Some(pos) = old.iter().position(|(ok, _)| ok == k) {
                        entries.push(old.remove(pos));
                    }
                }
            }
            for (_, v) in entries.iter_mut() {
                restructure(v);
            }
        }
        Node::Seq(s) => {
            for e in s {
                restructure(e);
            }
        }
        Node::Scalar(..) => {}
    }
}

fn text_len(s: &str) -> usize {
    s.chars().count()
}

/// gonvenience/text's `Plural`.
fn plural(n: usize, singular: &str, plural: Option<&str>) -> String {
    const WORDS: [&str; 13] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    let number = WORDS
        .get(n)
        .map(|w| (*w).to_owned())
        .unwrap_or_else(|| n.to_string());
    match (n, plural) {
        (1, _) => format!("{number} {singular}"),
        (_, Some(p)) => format!("{number} {p}"),
        (_, None) => format!("{number} {singular}s"),
    }
}

/// dyff's `CreateTableStyleString`.
fn table(separator: &str, indent: usize, columns: &[String]) -> String {
    let split: Vec<Vec<&str>> = columns.iter().map(|c| c.split('\n').collect()).collect();
    let rows = split.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = split
        .iter()
        .map(|lines| lines.iter().map(|l| text_len(l)).max().unwrap_or(0))
        .collect();
    let mut out = Vec::with_capacity(rows);
    for r in 0..rows {
        let cells: Vec<String> = split
            .iter()
            .zip(&widths)
            .map(|(lines, w)| match lines.get(r) {
                Some(l) => format!(
                    "{}{l}{}",
                    " ".repeat(indent),
                    " ".repeat(w.saturating_sub(text_len(l)))
                ),
                None => " ".repeat(w + indent),
            })
            .collect();
        out.push(cells.join(separator).trim_end_matches(' ').to_owned());
    }
    out.join("\n")
}

struct Report {
    width: usize,
}

impl Report {
    /// dyff's `writeTextBlocks`: side by side when they fit the terminal, else one after
    /// the other.
    fn text_blocks(&self, indent: usize, blocks: &[String]) -> String {
        const SEPARATOR: &str = "   ";
        let mut max = indent + blocks.len().saturating_sub(1) * SEPARATOR.len();
        for b in blocks {
            max += b.split('\n').map(text_len).max().unwrap_or(0);
        }
        if max > self.width {
            let mut out = String::new();
            for b in blocks {
                for line in b.split('\n') {
                    out.push_str(&" ".repeat(indent));
                    out.push_str(line);
                    out.push('\n');
                }
            }
            out
        } else {
            table(SEPARATOR, indent, blocks)
        }
    }

    fn detail(&self, d: &Detail) -> String {
        match d.kind {
            Kind::Addition => {
                let mut node =
                    d.to.clone()
                        .unwrap_or(Node::Scalar(Tag::Null, "null".into()));
                let mut out = String::from("+ ");
                out.push_str(&count_header(&node));
                out.push_str(" added:\n");
                restructure(&mut node);
                out.push_str(&self.text_blocks(2, &[neat(&node)]));
                out
            }
            Kind::Removal => {
                let mut node = d
                    .from
                    .clone()
                    .unwrap_or(Node::Scalar(Tag::Null, "null".into()));
                let mut out = String::from("- ");
                out.push_str(&count_header(&node));
                out.push_str(" removed:\n");
                restructure(&mut node);
                out.push_str(&self.text_blocks(0, &[neat(&node)]));
                out
            }
            Kind::Modification => self.modification(d.from.as_ref(), d.to.as_ref()),
            Kind::OrderChange => self.order_change(d.from.as_ref(), d.to.as_ref()),
        }
    }

    fn modification(&self, from: Option<&Node>, to: Option<&Node>) -> String {
        let (ft, tt) = (human_type(from), human_type(to));
        if ft == "string" && tt == "string" {
            return self.string_diff(
                from.map(Node::value).unwrap_or_default(),
                to.map(Node::value).unwrap_or_default(),
            );
        }
        let mut out = if ft != tt {
            format!("± type change from {ft} to {tt}\n")
        } else {
            "± value change\n".to_owned()
        };
        out.push_str(&prefixed("- ", yaml_string(from).trim_end_matches('\n')));
        out.push_str(&prefixed("+ ", yaml_string(to).trim_end_matches('\n')));
        out
    }

    fn string_diff(&self, from: &str, to: &str) -> String {
        if from.trim_matches([' ', '\n']) == to.trim_matches([' ', '\n']) {
            let show = |s: &str| s.replace('\n', "↵\n").replace(' ', "·");
            let mut out = String::from("± whitespace only change\n");
            out.push_str(
                &self.text_blocks(0, &[prefixed("- ", &show(from)), prefixed("+ ", &show(to))]),
            );
            return out;
        }
        if from.contains('\n') || to.contains('\n') {
            let (mut ins, mut del) = (0, 0);
            let mut body = String::new();
            for (op, text) in line_diff(from, to) {
                match op {
                    Op::Insert => {
                        body.push_str(&continuous_prefixed("+ ", &text));
                        ins += 1;
                    }
                    Op::Delete => {
                        body.push_str(&continuous_prefixed("- ", &text));
                        del += 1;
                    }
                    Op::Equal => {}
                }
            }
            return format!(
                "± value change in multiline text ({}, {})\n{body}\n",
                plural(ins, "insert", None),
                plural(del, "deletion", None)
            );
        }
        let mut out = String::from("± value change\n");
        out.push_str(&prefixed("- ", from));
        out.push_str(&prefixed("+ ", to));
        out
    }

    fn order_change(&self, from: Option<&Node>, to: Option<&Node>) -> String {
        let mut out = String::from("⇆ order changed\n");
        let (Some(Node::Seq(f)), Some(Node::Seq(t))) = (from, to) else {
            return out;
        };
        let strings = |l: &[Node]| -> Vec<String> {
            l.iter()
                .map(|e| {
                    if e.value().is_empty() {
                        neat(e)
                    } else {
                        e.value().to_owned()
                    }
                })
                .collect()
        };
        let (f, t) = (strings(f), strings(t));
        let single = |l: &[String]| {
            l.iter().map(|s| text_len(s)).sum::<usize>() + l.len().saturating_sub(1) * 2
        };
        if single(&f).max(single(&t)) < self.width / 2 {
            out.push_str(&format!("- {}\n", f.join(", ")));
            out.push_str(&format!("+ {}\n", t.join(", ")));
        } else {
            out.push_str(&table(" ", 2, &[f.join("\n"), t.join("\n")]));
        }
        out
    }

    fn diff(&self, d: &Diff) -> String {
        let mut out = String::from("\n");
        if d.path.is_empty() {
            out.push_str("(root level)");
        } else {
            let parts: Vec<String> = d
                .path
                .iter()
                .map(|e| match e {
                    PathElement::Name(n) | PathElement::Named(n) => n.clone(),
                    PathElement::Index(i) => i.to_string(),
                })
                .collect();
            out.push_str(&parts.join("."));
        }
        out.push('\n');
        let blocks: Vec<String> = d.details.iter().map(|x| self.detail(x)).collect();
        out.push_str(&self.text_blocks(0, &blocks));
        out
    }
}

fn count_header(node: &Node) -> String {
    match node {
        Node::Doc(_) => plural(1, "document", None),
        Node::Seq(s) => plural(s.len(), "list entry", Some("list entries")),
        Node::Map(m) => plural(m.len(), "map entry", Some("map entries")),
        Node::Scalar(..) => String::new(),
    }
}

fn human_type(node: Option<&Node>) -> &'static str {
    match node {
        None => "<nil>",
        Some(Node::Doc(_)) => "document",
        Some(Node::Map(_)) => "map",
        Some(Node::Seq(_)) => "list",
        Some(Node::Scalar(t, _)) => match t {
            Tag::Str => "string",
            Tag::Null => "<nil>",
            Tag::Int => "int",
            Tag::Float => "float",
            Tag::Bool => "bool",
        },
    }
}

/// dyff's `createStringWithPrefix`: the prefix on the first line, its width on the others.
fn prefixed(prefix: &str, text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i == 0 {
            out.push_str(prefix);
        } else {
            out.push_str(&" ".repeat(text_len(prefix)));
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// dyff's `createStringWithContinuousPrefix`: the prefix on every line.
fn continuous_prefixed(prefix: &str, text: &str) -> String {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut out = String::new();
    for line in text.split('\n') {
        out.push_str(prefix);
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Equal,
    Insert,
    Delete,
}

/// diff-match-patch's line mode (`DiffLinesToChars`, `DiffMain`, `DiffCharsToLines`):
/// the changes between two texts, whole lines at a time.
fn line_diff(a: &str, b: &str) -> Vec<(Op, String)> {
    let mut lines: Vec<String> = Vec::new();
    let mut index: BTreeMap<String, u32> = BTreeMap::new();
    let mut encode = |text: &str| -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            let line = &rest[..end];
            rest = &rest[end..];
            let id = *index.entry(line.to_owned()).or_insert_with(|| {
                lines.push(line.to_owned());
                lines.len() as u32 - 1
            });
            out.push(id);
        }
        out
    };
    let (ea, eb) = (encode(a), encode(b));
    super::dmp::diff(&ea, &eb)
        .into_iter()
        .map(|(op, ids)| {
            let text: String = ids
                .iter()
                .map(|i| {
                    lines
                        .get(*i as usize)
                        .map(String::as_str)
                        .unwrap_or_default()
                })
                .collect();
            (
                match op {
                    super::dmp::Op::Equal => Op::Equal,
                    super::dmp::Op::Insert => Op::Insert,
                    super::dmp::Op::Delete => Op::Delete,
                },
                text,
            )
        })
        .collect()
}

/// The report Flux prints under `► Kind/namespace/name drifted`: the differences between
/// the live object and the dry-run result, `width` being the terminal's.
pub fn report(live: &Value, merged: &Value, width: usize) -> String {
    let diffs = compare_documents(&Node::from_json(live), &Node::from_json(merged));
    let r = Report { width };
    let mut out = String::new();
    for d in &diffs {
        out.push_str(&r.diff(d));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(extra: Value) -> Value {
        let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "default"}});
        if let (Some(m), Some(e)) = (o.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                m.insert(k.clone(), v.clone());
            }
        }
        o
    }

    #[test]
    fn added_labels_as_flux_prints_them() {
        let live = obj(json!({"data": {"key": "value"}}));
        let mut merged = live.clone();
        merged["metadata"]["labels"] = json!({"kustomize.toolkit.fluxcd.io/name": "configmaps",
                   "kustomize.toolkit.fluxcd.io/namespace": ""});
        assert_eq!(
            report(&live, &merged, 80),
            "\nmetadata\n+ one map entry added:\n  labels:\n    kustomize.toolkit.fluxcd.io/name: configmaps\n    kustomize.toolkit.fluxcd.io/namespace:\n\n"
        );
    }

    #[test]
    fn named_list_value_change() {
        let live = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "p"},
            "spec": {"ports": [{"name": "http", "port": 9899}, {"name": "grpc", "port": 9999}]}});
        let mut merged = live.clone();
        merged["spec"]["ports"][0]["port"] = json!(9898);
        assert_eq!(
            report(&live, &merged, 80),
            "\nspec.ports.http.port\n± value change\n- 9899\n+ 9898\n\n"
        );
    }

    #[test]
    fn removed_and_added_side_by_side() {
        let live = obj(json!({"data": {"drift-key": "*****"}}));
        let merged = obj(json!({"data": {"token": "*****"}}));
        assert_eq!(
            report(&live, &merged, 80),
            "\ndata\n- one map entry removed:   + one map entry added:\ndrift-key: \"*****\"           token: \"*****\"\n\n"
        );
    }

    #[test]
    fn strings_types_and_order() {
        let live = obj(
            json!({"data": {"a": "*** (before)", "n": 1, "text": "a\nb\nc\n"},
            "list": ["x", "y", "z"]}),
        );
        let merged = obj(
            json!({"data": {"a": "*** (after)", "n": "1", "text": "a\nB\nc\n"},
            "list": ["z", "y", "x"]}),
        );
        let out = report(&live, &merged, 80);
        assert!(
            out.contains("\nlist\n⇆ order changed\n- x, y, z\n+ z, y, x\n"),
            "{out}"
        );
        assert!(
            out.contains("\ndata.a\n± value change\n- *** (before)\n+ *** (after)\n"),
            "{out}"
        );
        assert!(
            out.contains("\ndata.n\n± type change from int to string\n- 1\n+ 1\n"),
            "{out}"
        );
        assert!(
            out.contains("\ndata.text\n± value change in multiline text (one insert, one deletion)\n- b\n+ B\n\n"),
            "{out}"
        );
    }

    #[test]
    fn wide_blocks_fall_back_to_rows() {
        let long = "x".repeat(70);
        let live = obj(json!({"data": {"a": long.clone()}}));
        let merged = obj(json!({"data": {"b": long}}));
        let out = report(&live, &merged, 80);
        assert_eq!(
            out,
            format!(
                "\ndata\n- one map entry removed:\na: {0}\n\n+ one map entry added:\n  b: {0}\n\n\n",
                "x".repeat(70)
            )
        );
    }

    #[test]
    fn restructure_puts_name_first() {
        let mut n = Node::from_json(
            &json!({"image": "x", "env": [{"name": "a", "value": "b"}], "name": "c", "args": ["z"]}),
        );
        restructure(&mut n);
        let Node::Map(m) = &n else { panic!() };
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["name", "image", "args", "env"]);
    }
}
