//! RFC 6902 JSON Patch, as Go's `evanphx/json-patch` applies it for kustomize's JSON 6902
//! patches and for the API server's `application/json-patch+json` requests: once, over any
//! document tree ([`Doc`]), with a [`Meter`] that sees every change before it is made and may
//! refuse it (the API server keeps the size, nesting, copy and work limits of a request that
//! way; kustomize meters nothing, [`Unmetered`]).
//!
//! Semantics: operations apply in order and the first failure stops the patch; `add` to a map
//! key sets it, into a list inserts at the index (`-` appends); `remove`/`replace` need the
//! path to exist; `move` is a remove then an add (never into the moved value's own child);
//! `copy` adds a clone; `test` compares with [`Doc::same`]. Pointers are RFC 6901 (`~1` is `/`,
//! `~0` is `~`); list indexes are decimal without sign or leading zeros.

use std::fmt;

/// A map of a document tree.
pub trait DocMap<D> {
    /// The value under `key`.
    fn get(&self, key: &str) -> Option<&D>;
    /// The value under `key`, to change.
    fn get_mut(&mut self, key: &str) -> Option<&mut D>;
    /// Sets `key` (kept in place when it exists, appended otherwise).
    fn insert(&mut self, key: String, value: D);
    /// Takes `key` out, keeping the order of the others.
    fn remove(&mut self, key: &str) -> Option<D>;
    /// How many entries.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A node of a document, to read.
pub enum Node<'a, D: Doc> {
    /// A map.
    Map(&'a D::Map),
    /// A list.
    List(&'a [D]),
    /// Anything else (a scalar or null).
    Other,
}

/// A node of a document, to change.
pub enum NodeMut<'a, D: Doc> {
    /// A map.
    Map(&'a mut D::Map),
    /// A list.
    List(&'a mut Vec<D>),
    /// Anything else (a scalar or null).
    Other,
}

/// A document tree a JSON patch applies to (and the patch itself is one).
pub trait Doc: Clone {
    /// Its map type.
    type Map: DocMap<Self>;
    /// What this node is.
    fn node(&self) -> Node<'_, Self>;
    /// What this node is, to change it.
    fn node_mut(&mut self) -> NodeMut<'_, Self>;
    /// The text of a string node.
    fn as_str(&self) -> Option<&str>;
    /// A null (what an operation without `value` carries, as in Go).
    fn null() -> Self;
    /// Equality as `test` checks it.
    fn same(&self, other: &Self) -> bool;
}

/// Sees each change a patch makes before it is made, and may refuse it with its own error.
/// Weights are the meter's measure of a value (the API server's: bytes of compact JSON).
pub trait Meter<D> {
    /// A value's measure.
    type Weight: Copy;
    /// Why the meter refuses.
    type Error;
    /// `value` is about to be put at `path` (by `add`, `replace`, `move` or `copy`).
    fn weigh_in(&mut self, value: &D, path: &str) -> Result<Self::Weight, Self::Error>;
    /// `value` is about to leave the document (removed or replaced).
    fn weigh_out(&mut self, value: &D) -> Result<Self::Weight, Self::Error>;
    /// `copy` is about to clone a value of `weight`.
    fn copy(&mut self, weight: Self::Weight) -> Result<(), Self::Error>;
    /// The document changes by `change`.
    fn change(&mut self, change: Change<'_, Self::Weight>) -> Result<(), Self::Error>;
}

/// One change to a document, as a [`Meter`] sees it.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a, W> {
    /// The whole document becomes a value of `weight`.
    Root(W),
    /// A map of `len` entries gets `key` with a value of `weight`, replacing one of the
    /// given weight when the key was there.
    SetKey {
        /// The key.
        key: &'a str,
        /// The new value's weight.
        weight: W,
        /// The old value's, when the key was there.
        replaced: Option<W>,
        /// The map's entries before.
        len: usize,
    },
    /// A value of `weight` is inserted into a list of `len` items, moving `shifted` of them.
    Insert {
        /// The new item's weight.
        weight: W,
        /// The list's items before.
        len: usize,
        /// Items after the insertion point.
        shifted: usize,
    },
    /// A value replaces another in place (`replace`).
    Replace {
        /// The new value's weight.
        weight: W,
        /// The old value's.
        old: W,
    },
    /// `key` of a map of `len` entries is removed with its value of `weight`.
    RemoveKey {
        /// The key.
        key: &'a str,
        /// The removed value's weight.
        weight: W,
        /// The map's entries before.
        len: usize,
    },
    /// An item of `weight` is removed from a list of `len` items, moving `shifted` of them.
    RemoveItem {
        /// The removed item's weight.
        weight: W,
        /// The list's items before.
        len: usize,
        /// Items after the removed one.
        shifted: usize,
    },
}

/// The meter of a patch that has no limits.
pub struct Unmetered;

impl<D> Meter<D> for Unmetered {
    type Weight = ();
    type Error = std::convert::Infallible;
    fn weigh_in(&mut self, _: &D, _: &str) -> Result<(), Self::Error> {
        Ok(())
    }
    fn weigh_out(&mut self, _: &D) -> Result<(), Self::Error> {
        Ok(())
    }
    fn copy(&mut self, _: ()) -> Result<(), Self::Error> {
        Ok(())
    }
    fn change(&mut self, _: Change<'_, ()>) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Why an operation failed: it does not apply, or the meter refused it.
#[derive(Debug, Clone, PartialEq)]
pub enum OpError<E> {
    /// Malformed, or not applicable to this document (a missing path, a failed `test`).
    Invalid(String),
    /// The meter's refusal.
    Meter(E),
}

impl<E: fmt::Display> fmt::Display for OpError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::Invalid(m) => f.write_str(m),
            OpError::Meter(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for OpError<E> {}

/// Why a patch failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Error<E> {
    /// The patch is not a list.
    NotAList,
    /// Operation `index` (from 0) failed.
    Op {
        /// Its position in the patch.
        index: usize,
        /// Why.
        error: OpError<E>,
    },
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotAList => f.write_str("a JSON patch must be a list of operations"),
            Error::Op { index, error } => write!(f, "operation {index}: {error}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for Error<E> {}

fn invalid<E>(msg: impl Into<String>) -> OpError<E> {
    OpError::Invalid(msg.into())
}

/// Applies `patch` (a list of operations) to `doc`, each change seen by `meter` first. The
/// document is left as far as the operations before a failing one took it.
pub fn apply<D: Doc, M: Meter<D>>(
    doc: &mut D,
    patch: &D,
    meter: &mut M,
) -> Result<(), Error<M::Error>> {
    let Node::List(ops) = patch.node() else {
        return Err(Error::NotAList);
    };
    for (index, op) in ops.iter().enumerate() {
        apply_one(doc, op, meter).map_err(|error| Error::Op { index, error })?;
    }
    Ok(())
}

fn apply_one<D: Doc, M: Meter<D>>(
    doc: &mut D,
    op: &D,
    meter: &mut M,
) -> Result<(), OpError<M::Error>> {
    let Node::Map(fields) = op.node() else {
        return Err(invalid("an operation must be a map"));
    };
    let text = |k: &str| fields.get(k).and_then(D::as_str);
    let name = text("op").ok_or_else(|| invalid("missing \"op\""))?;
    let path = text("path").ok_or_else(|| invalid("missing \"path\""))?;
    // as in Go, an operation without a value carries null
    let value = || fields.get("value").cloned().unwrap_or_else(D::null);
    let from = || text("from").ok_or_else(|| invalid(format!("{name} operation needs \"from\"")));
    match name {
        "add" => {
            let v = value();
            let w = meter.weigh_in(&v, path).map_err(OpError::Meter)?;
            insert(doc, path, v, w, meter)
        }
        "remove" => take(doc, path, None, meter).map(|_| ()),
        "replace" => {
            let v = value();
            let w = meter.weigh_in(&v, path).map_err(OpError::Meter)?;
            let old = get(doc, path).map_err(|e| missing("replace", e))?;
            let old = meter.weigh_out(old).map_err(OpError::Meter)?;
            let change = if path.is_empty() {
                Change::Root(w)
            } else {
                Change::Replace { weight: w, old }
            };
            meter.change(change).map_err(OpError::Meter)?;
            *get_mut(doc, path)? = v;
            Ok(())
        }
        "move" => {
            let from = from()?;
            if path.len() > from.len()
                && path.starts_with(from)
                && path[from.len()..].starts_with('/')
            {
                return Err(invalid(format!(
                    "move operation cannot move {from} into its own child {path}"
                )));
            }
            let moved = get(doc, from).map_err(|e| missing("move", e))?;
            let w = meter.weigh_in(moved, path).map_err(OpError::Meter)?;
            let v = take(doc, from, Some(w), meter)?;
            insert(doc, path, v, w, meter)
        }
        "copy" => {
            let from = from()?;
            let source = get(doc, from).map_err(|e| missing("copy", e))?;
            // weighed before anything is cloned: a meter stops a doubling copy while small
            let w = meter.weigh_in(source, path).map_err(OpError::Meter)?;
            meter.copy(w).map_err(OpError::Meter)?;
            let v = source.clone();
            insert(doc, path, v, w, meter)
        }
        "test" => {
            let want = value();
            let got = get(doc, path).map_err(|e| missing("test", e))?;
            if got.same(&want) {
                Ok(())
            } else {
                Err(invalid(format!("testing value {path} failed")))
            }
        }
        other => Err(invalid(format!("unexpected operation {other:?}"))),
    }
}

fn missing<E>(op: &str, e: OpError<E>) -> OpError<E> {
    match e {
        OpError::Invalid(m) => invalid(format!("{op} operation does not apply: {m}")),
        e => e,
    }
}

/// The tokens of a JSON pointer.
fn tokens(path: &str) -> Result<impl Iterator<Item = String> + '_, String> {
    if path.is_empty() {
        return Ok(None.into_iter().flatten());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("{path:?} is not a JSON pointer"));
    };
    Ok(Some(rest.split('/').map(unescape)).into_iter().flatten())
}

fn unescape(token: &str) -> String {
    if token.contains('~') {
        token.replace("~1", "/").replace("~0", "~")
    } else {
        token.to_owned()
    }
}

/// A list index token: decimal, no sign, no leading zeros.
fn index(token: &str) -> Option<usize> {
    let ok = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    ok.then(|| token.parse().ok()).flatten()
}

fn get<'d, D: Doc, E>(doc: &'d D, path: &str) -> Result<&'d D, OpError<E>> {
    let mut cur = doc;
    for t in tokens(path).map_err(OpError::Invalid)? {
        let next = match cur.node() {
            Node::Map(m) => m.get(&t),
            Node::List(l) => index(&t).and_then(|i| l.get(i)),
            Node::Other => None,
        };
        cur = next.ok_or_else(|| invalid(format!("doc is missing path: {path}")))?;
    }
    Ok(cur)
}

fn get_mut<'d, D: Doc, E>(doc: &'d mut D, path: &str) -> Result<&'d mut D, OpError<E>> {
    let mut cur = doc;
    for t in tokens(path).map_err(OpError::Invalid)? {
        let next = match cur.node_mut() {
            NodeMut::Map(m) => m.get_mut(&t),
            NodeMut::List(l) => index(&t).and_then(|i| l.get_mut(i)),
            NodeMut::Other => None,
        };
        cur = next.ok_or_else(|| invalid(format!("doc is missing path: {path}")))?;
    }
    Ok(cur)
}

/// The parent pointer and the unescaped last token of a non-root pointer.
fn split(path: &str) -> Result<(&str, String), String> {
    if !path.starts_with('/') {
        return Err(format!("{path:?} is not a JSON pointer"));
    }
    let i = path.rfind('/').unwrap_or(0);
    Ok((&path[..i], unescape(&path[i + 1..])))
}

/// `add`: puts `v` (of weight `w`) at `path`.
fn insert<D: Doc, M: Meter<D>>(
    doc: &mut D,
    path: &str,
    v: D,
    w: M::Weight,
    meter: &mut M,
) -> Result<(), OpError<M::Error>> {
    if path.is_empty() {
        meter.change(Change::Root(w)).map_err(OpError::Meter)?;
        *doc = v;
        return Ok(());
    }
    let (parent, last) = split(path).map_err(OpError::Invalid)?;
    let add_missing = |e| missing("add", e);
    match get_mut(doc, parent).map_err(add_missing)?.node_mut() {
        NodeMut::Map(m) => {
            let replaced = match m.get(&last) {
                Some(old) => Some(meter.weigh_out(old).map_err(OpError::Meter)?),
                None => None,
            };
            let change = Change::SetKey {
                key: &last,
                weight: w,
                replaced,
                len: m.len(),
            };
            meter.change(change).map_err(OpError::Meter)?;
            m.insert(last, v);
            Ok(())
        }
        NodeMut::List(l) => {
            let i = if last == "-" {
                l.len()
            } else {
                match index(&last) {
                    Some(i) if i <= l.len() => i,
                    _ => {
                        return Err(invalid(format!(
                            "add operation does not apply: index {last:?} is out of bounds in {path} (length {})",
                            l.len()
                        )));
                    }
                }
            };
            let change = Change::Insert {
                weight: w,
                len: l.len(),
                shifted: l.len() - i,
            };
            meter.change(change).map_err(OpError::Meter)?;
            l.insert(i, v);
            Ok(())
        }
        NodeMut::Other => Err(invalid(format!(
            "add operation does not apply: {parent} is not a map or a list"
        ))),
    }
}

/// `remove`: takes the value at `path` out (`w`: its weight, when already known).
fn take<D: Doc, M: Meter<D>>(
    doc: &mut D,
    path: &str,
    w: Option<M::Weight>,
    meter: &mut M,
) -> Result<D, OpError<M::Error>> {
    if path.is_empty() {
        return Err(invalid("the document root cannot be removed"));
    }
    let (parent, last) = split(path).map_err(OpError::Invalid)?;
    let gone = || {
        invalid(format!(
            "remove operation does not apply: doc is missing path: {path}"
        ))
    };
    match get_mut(doc, parent)
        .map_err(|e| missing("remove", e))?
        .node_mut()
    {
        NodeMut::Map(m) => {
            let old = m.get(&last).ok_or_else(gone)?;
            let weight = match w {
                Some(w) => w,
                None => meter.weigh_out(old).map_err(OpError::Meter)?,
            };
            let change = Change::RemoveKey {
                key: &last,
                weight,
                len: m.len(),
            };
            meter.change(change).map_err(OpError::Meter)?;
            m.remove(&last).ok_or_else(gone)
        }
        NodeMut::List(l) => {
            let i = index(&last).filter(|i| *i < l.len()).ok_or_else(gone)?;
            let weight = match w {
                Some(w) => w,
                None => meter.weigh_out(&l[i]).map_err(OpError::Meter)?,
            };
            let change = Change::RemoveItem {
                weight,
                len: l.len(),
                shifted: l.len() - i,
            };
            meter.change(change).map_err(OpError::Meter)?;
            Ok(l.remove(i))
        }
        NodeMut::Other => Err(gone()),
    }
}

impl DocMap<serde_json::Value> for serde_json::Map<String, serde_json::Value> {
    fn get(&self, key: &str) -> Option<&serde_json::Value> {
        serde_json::Map::get(self, key)
    }
    fn get_mut(&mut self, key: &str) -> Option<&mut serde_json::Value> {
        serde_json::Map::get_mut(self, key)
    }
    fn insert(&mut self, key: String, value: serde_json::Value) {
        serde_json::Map::insert(self, key, value);
    }
    fn remove(&mut self, key: &str) -> Option<serde_json::Value> {
        serde_json::Map::remove(self, key)
    }
    fn len(&self) -> usize {
        serde_json::Map::len(self)
    }
}

impl Doc for serde_json::Value {
    type Map = serde_json::Map<String, serde_json::Value>;
    fn node(&self) -> Node<'_, Self> {
        match self {
            serde_json::Value::Object(m) => Node::Map(m),
            serde_json::Value::Array(l) => Node::List(l),
            _ => Node::Other,
        }
    }
    fn node_mut(&mut self) -> NodeMut<'_, Self> {
        match self {
            serde_json::Value::Object(m) => NodeMut::Map(m),
            serde_json::Value::Array(l) => NodeMut::List(l),
            _ => NodeMut::Other,
        }
    }
    fn as_str(&self) -> Option<&str> {
        serde_json::Value::as_str(self)
    }
    fn null() -> Self {
        serde_json::Value::Null
    }
    /// JSON equality, numbers by value (`1` equals `1.0`, as Go's `float64`s do).
    fn same(&self, other: &Self) -> bool {
        use serde_json::Value as V;
        match (self, other) {
            (V::Number(a), V::Number(b)) => a == b || a.as_f64() == b.as_f64(),
            (V::Array(a), V::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (V::Object(a), V::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| x.same(y)))
            }
            _ => self == other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn run(doc: Value, patch: Value) -> Result<Value, String> {
        let mut doc = doc;
        apply(&mut doc, &patch, &mut Unmetered)
            .map(|()| doc)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn rfc6902_operations() {
        let got = run(
            json!({"a": {"b": [1, 2]}, "c": "x"}),
            json!([
                {"op": "add", "path": "/a/b/-", "value": 3},
                {"op": "add", "path": "/a/b/0", "value": 0},
                {"op": "replace", "path": "/c", "value": "y"},
                {"op": "remove", "path": "/a/b/1"},
                {"op": "copy", "from": "/c", "path": "/d"},
                {"op": "move", "from": "/d", "path": "/e~1f"},
                {"op": "test", "path": "/c", "value": "y"},
                {"op": "test", "path": "/a/b/0", "value": 0.0},
                {"op": "add", "path": "/a~0b", "value": null}
            ]),
        );
        assert_eq!(
            got.unwrap(),
            json!({"a": {"b": [0, 2, 3]}, "c": "y", "e/f": "y", "a~b": null})
        );
        assert_eq!(
            run(
                json!({"a": 1}),
                json!([{"op": "replace", "path": "", "value": [1]}])
            )
            .unwrap(),
            json!([1])
        );
    }

    #[test]
    fn failures_name_the_operation_and_path() {
        let e = |doc: Value, patch: Value| run(doc, patch).unwrap_err();
        assert_eq!(
            e(
                json!({}),
                json!([{"op": "replace", "path": "/b", "value": 1}])
            ),
            "operation 0: replace operation does not apply: doc is missing path: /b"
        );
        assert_eq!(
            e(
                json!({"a": []}),
                json!([{"op": "test", "path": "/a", "value": {}}, {"op": "remove", "path": "/a"}])
            ),
            "operation 0: testing value /a failed"
        );
        assert_eq!(
            e(
                json!({"a": [1]}),
                json!([{"op": "remove", "path": "/a/01"}])
            ),
            "operation 0: remove operation does not apply: doc is missing path: /a/01"
        );
        assert_eq!(
            e(
                json!({"a": [1]}),
                json!([{"op": "add", "path": "/a/3", "value": 1}])
            ),
            "operation 0: add operation does not apply: index \"3\" is out of bounds in /a/3 (length 1)"
        );
        assert_eq!(
            e(
                json!({"a": {}}),
                json!([{"op": "add", "path": "/x/y", "value": 1}])
            ),
            "operation 0: add operation does not apply: doc is missing path: /x"
        );
        assert_eq!(
            e(
                json!({"a": {"b": 1}}),
                json!([{"op": "move", "from": "/a", "path": "/a/b/c"}])
            ),
            "operation 0: move operation cannot move /a into its own child /a/b/c"
        );
        assert_eq!(
            run(json!({}), json!([{"op": "add", "path": "/a"}])).unwrap(),
            json!({"a": null})
        );
        assert!(
            e(json!({}), json!([{"op": "frob", "path": "/a"}])).contains("unexpected operation")
        );
        assert!(
            e(json!({}), json!([{"op": "add", "path": "a", "value": 1}]))
                .contains("not a JSON pointer")
        );
        assert_eq!(
            e(json!({}), json!({"op": "add"})),
            "a JSON patch must be a list of operations"
        );
    }

    /// A meter that counts changes and refuses the third.
    struct Count(usize);
    impl Meter<Value> for Count {
        type Weight = ();
        type Error = &'static str;
        fn weigh_in(&mut self, _: &Value, _: &str) -> Result<(), &'static str> {
            Ok(())
        }
        fn weigh_out(&mut self, _: &Value) -> Result<(), &'static str> {
            Ok(())
        }
        fn copy(&mut self, _: ()) -> Result<(), &'static str> {
            Ok(())
        }
        fn change(&mut self, _: Change<'_, ()>) -> Result<(), &'static str> {
            self.0 += 1;
            if self.0 > 2 {
                Err("too many changes")
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn the_meter_refuses_before_the_change() {
        let mut doc = json!({"l": []});
        let patch = json!([
            {"op": "add", "path": "/l/-", "value": 1},
            {"op": "add", "path": "/l/-", "value": 2},
            {"op": "add", "path": "/l/-", "value": 3}
        ]);
        let err = apply(&mut doc, &patch, &mut Count(0)).unwrap_err();
        assert_eq!(
            err,
            Error::Op {
                index: 2,
                error: OpError::Meter("too many changes")
            }
        );
        assert_eq!(doc, json!({"l": [1, 2]}));
    }
}
