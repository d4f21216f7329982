//! Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes strategic
//! merge patch with list merge keys and `$patch`, `$retainKeys`,
//! `$deleteFromPrimitiveList` and `$setElementOrder` directives.

use crate::fieldset::canonical_json;
use crate::registry::ResourceType;
use crate::types::{ListKind, list_kind};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};

/// RFC 7386: objects merge recursively, `null` deletes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, pv) in p {
                    if pv.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), pv);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Why a JSON patch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The body is not a list.
    #[error("a JSON patch must be a list of operations")]
    NotAList,
    /// More operations than allowed (the real server's wording).
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations {
        /// The limit.
        max: usize,
        /// Operations in the patch.
        got: usize,
    },
    /// An operation failed.
    #[error("operation {index}: {error}")]
    Op {
        /// Position of the operation in the patch.
        index: usize,
        /// What went wrong.
        error: OpError,
    },
}

/// Why one JSON patch operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// The operation is malformed or does not apply (missing path, failed test …).
    #[error("{0}")]
    Invalid(String),
    /// `copy` operations together copied more than allowed (worded as the real server's
    /// JSON patch library).
    #[error(
        "Unable to complete the copy, the accumulated size increase of copy is {accumulated}, exceeding the limit {limit}"
    )]
    CopyTooLarge {
        /// Bytes copied so far, this operation included.
        accumulated: usize,
        /// The limit.
        limit: usize,
    },
    /// The patched document would be larger than an object may be.
    #[error("the patch result is too large: limit is {limit}")]
    TooLarge {
        /// The limit in bytes of JSON.
        limit: usize,
    },
    /// The patched document would nest deeper than an object may.
    #[error("the patch result would nest deeper than {limit} levels")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
    },
    /// The patch walks more data than one patch may.
    #[error("the patch is too expensive to apply: it would process more than {limit} bytes")]
    TooExpensive {
        /// The work limit.
        limit: usize,
    },
}

/// What one JSON patch may do.
#[derive(Debug, Clone, Copy)]
pub struct JsonPatchLimits {
    /// Most operations.
    pub max_ops: usize,
    /// Most bytes all `copy` operations may copy together.
    pub max_copy_bytes: usize,
    /// Largest document (compact JSON) at any point while the operations apply.
    pub max_bytes: usize,
    /// Deepest nesting of the document.
    pub max_depth: usize,
    /// Most bytes of values the operations may walk together.
    pub max_work: usize,
}

impl Default for JsonPatchLimits {
    /// The server's limits (see [`crate::limits`]).
    fn default() -> Self {
        JsonPatchLimits {
            max_ops: crate::limits::MAX_JSON_PATCH_OPERATIONS,
            max_copy_bytes: crate::limits::MAX_JSON_PATCH_COPY_BYTES,
            max_bytes: crate::limits::MAX_OBJECT_BYTES,
            max_depth: crate::limits::MAX_NESTING,
            max_work: crate::limits::MAX_JSON_PATCH_WORK,
        }
    }
}

/// RFC 6902 ([`gitops_go::jsonpatch`], the one implementation), within `limits`.
/// `start_bytes` is the length of the target's compact JSON encoding (the stored object's,
/// which is known without measuring).
///
/// The size of the document is tracked as the operations apply, from the measured size of
/// every value added, copied, moved, replaced or removed, so an operation that would take
/// the document past `limits.max_bytes` fails before anything is built: memory and CPU
/// stay proportional to the limits, however the operations combine (a `copy` of a value
/// into itself doubles the document each time). Returns the length of the result's
/// encoding; errors name the failing operation.
pub fn json_patch(
    target: &mut Value,
    patch: &Value,
    start_bytes: usize,
    limits: &JsonPatchLimits,
) -> Result<usize, PatchError> {
    use gitops_go::jsonpatch::{self, Error, OpError as CoreError};
    let Value::Array(ops) = patch else {
        return Err(PatchError::NotAList);
    };
    if ops.len() > limits.max_ops {
        return Err(PatchError::TooManyOperations {
            max: limits.max_ops,
            got: ops.len(),
        });
    }
    let mut meter = SizeMeter {
        limits,
        size: start_bytes,
        copied: 0,
        work: 0,
    };
    match jsonpatch::apply(target, patch, &mut meter) {
        Ok(()) => Ok(meter.size),
        Err(Error::NotAList) => Err(PatchError::NotAList),
        Err(Error::Op { index, error }) => Err(PatchError::Op {
            index,
            error: match error {
                CoreError::Invalid(m) => OpError::Invalid(m),
                CoreError::Meter(e) => e,
            },
        }),
    }
}

/// The running totals of one JSON patch, kept as the shared JSON patch reports its changes:
/// the document's encoded size, the bytes copied and the work done.
struct SizeMeter<'a> {
    limits: &'a JsonPatchLimits,
    /// Current size of the document's encoding.
    size: usize,
    /// Bytes copied so far.
    copied: usize,
    /// Bytes walked so far.
    work: usize,
}

/// How many containers hold the value at a JSON pointer (its number of tokens).
fn pointer_depth(path: &str) -> usize {
    path.bytes().filter(|b| *b == b'/').count()
}

impl SizeMeter<'_> {
    fn measure(&mut self, v: &Value, max_depth: usize) -> Result<usize, OpError> {
        let left = self.limits.max_work.saturating_sub(self.work);
        match crate::limits::measure(v, left, max_depth) {
            Ok(size) => {
                self.work += size.bytes;
                Ok(size.bytes)
            }
            Err(crate::limits::Over::Bytes) => Err(OpError::TooExpensive {
                limit: self.limits.max_work,
            }),
            Err(crate::limits::Over::Depth) => Err(OpError::TooDeep {
                limit: self.limits.max_depth,
            }),
        }
    }

    /// Charges moving `n` list items (inserting or removing in the middle of a list; one
    /// item moved costs about as much as one byte measured).
    fn shift(&mut self, n: usize) -> Result<(), OpError> {
        self.work = self.work.saturating_add(n);
        if self.work > self.limits.max_work {
            return Err(OpError::TooExpensive {
                limit: self.limits.max_work,
            });
        }
        Ok(())
    }

    /// Accounts for `added` bytes replacing `removed` bytes of the document.
    fn resize(&mut self, added: usize, removed: usize) -> Result<(), OpError> {
        let size = self.size.saturating_sub(removed).saturating_add(added);
        if size > self.limits.max_bytes {
            return Err(OpError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        self.size = size;
        Ok(())
    }
}

impl gitops_go::jsonpatch::Meter<Value> for SizeMeter<'_> {
    /// Bytes of compact JSON.
    type Weight = usize;
    type Error = OpError;

    /// Measures a value that goes to `path` (charging the walk), checking its nesting there.
    fn weigh_in(&mut self, v: &Value, path: &str) -> Result<usize, OpError> {
        let depth = pointer_depth(path);
        if depth > self.limits.max_depth {
            return Err(OpError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        self.measure(v, self.limits.max_depth - depth)
    }

    fn weigh_out(&mut self, v: &Value) -> Result<usize, OpError> {
        self.measure(v, usize::MAX)
    }

    fn copy(&mut self, bytes: usize) -> Result<(), OpError> {
        self.copied = self.copied.saturating_add(bytes);
        if self.copied > self.limits.max_copy_bytes {
            return Err(OpError::CopyTooLarge {
                accumulated: self.copied,
                limit: self.limits.max_copy_bytes,
            });
        }
        if self.size.saturating_add(bytes) > self.limits.max_bytes {
            return Err(OpError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        Ok(())
    }

    fn change(&mut self, change: gitops_go::jsonpatch::Change<'_, usize>) -> Result<(), OpError> {
        use gitops_go::jsonpatch::Change;
        // an entry's encoding: `"key":value` in a map, `value` in a list, a comma between
        match change {
            Change::Root(bytes) => {
                self.size = 0;
                self.resize(bytes, 0)
            }
            Change::SetKey {
                weight,
                replaced: Some(old),
                ..
            } => self.resize(weight, old),
            Change::SetKey {
                key,
                weight,
                replaced: None,
                len,
            } => self.resize(
                weight + crate::limits::string_len(key) + 1 + usize::from(len > 0),
                0,
            ),
            Change::Insert {
                weight,
                len,
                shifted,
            } => {
                self.shift(shifted)?;
                self.resize(weight + usize::from(len > 0), 0)
            }
            Change::Replace { weight, old } => self.resize(weight, old),
            Change::RemoveKey { key, weight, len } => self.resize(
                0,
                weight + crate::limits::string_len(key) + 1 + usize::from(len > 1),
            ),
            Change::RemoveItem {
                weight,
                len,
                shifted,
            } => {
                self.resize(0, weight + usize::from(len > 1))?;
                self.shift(shifted)
            }
        }
    }
}

/// Strategic merge patch of a built-in kind.
pub fn strategic_merge(rt: &ResourceType, target: &mut Value, patch: &Value) -> Result<(), String> {
    smp(rt, target, patch, &mut Vec::new())
}

fn smp(
    rt: &ResourceType,
    target: &mut Value,
    patch: &Value,
    path: &mut Vec<String>,
) -> Result<(), String> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut clean = p.clone();
            clean.remove("$patch");
            *target = strip_directives(&Value::Object(clean));
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown $patch directive {other:?}")),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else {
        return Ok(());
    };
    if let Some(retain) = p.get("$retainKeys") {
        let keep: HashSet<&str> = retain
            .as_array()
            .ok_or("$retainKeys must be a list")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        t.retain(|k, _| keep.contains(k.as_str()));
    }
    for (k, pv) in p {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let drop: HashSet<String> = pv
                .as_array()
                .ok_or("$deleteFromPrimitiveList needs a list")?
                .iter()
                .map(canonical_json)
                .collect();
            if let Some(Value::Array(items)) = t.get_mut(field) {
                items.retain(|i| !drop.contains(&canonical_json(i)));
            }
            continue;
        }
        if pv.is_null() {
            t.remove(k);
            continue;
        }
        path.push(k.clone());
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        match pv {
            Value::Object(_) => {
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                smp(rt, slot, pv, path)?;
                if slot.is_null() {
                    t.remove(k);
                }
            }
            Value::Array(items) => {
                let kind = list_kind(rt, &names);
                let existing = t.remove(k).unwrap_or(Value::Array(Vec::new()));
                let merged = merge_list(rt, existing, items, &kind, path)?;
                t.insert(k.clone(), merged);
            }
            other => {
                t.insert(k.clone(), other.clone());
            }
        }
        path.pop();
    }
    for (k, order) in p
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("$setElementOrder/").map(|f| (f, v)))
    {
        path.push(k.to_owned());
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        if let (Some(Value::Array(items)), Some(order)) = (t.get_mut(k), order.as_array()) {
            let key = match list_kind(rt, &names) {
                ListKind::Map { smp_key, .. } => Some(smp_key),
                _ => None,
            };
            reorder(items, order, key.as_deref());
        }
        path.pop();
    }
    Ok(())
}

fn merge_list(
    rt: &ResourceType,
    existing: Value,
    patch: &[Value],
    kind: &ListKind,
    path: &mut Vec<String>,
) -> Result<Value, String> {
    let mut items = match existing {
        Value::Array(a) => a,
        _ => Vec::new(),
    };
    // `[{"$patch": "replace"}, ...]` replaces the whole list.
    if patch
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(Value::Array(
            patch
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .map(strip_directives)
                .collect(),
        ));
    }
    // Items are found through hash indexes (by merge key, or by value for sets), so a
    // patch costs time in proportion to the sizes of the list and the patch.
    match kind {
        ListKind::Map { smp_key, .. } => {
            let mut slots: Vec<Option<Value>> = items.into_iter().map(Some).collect();
            let mut by_key: HashMap<String, VecDeque<usize>> = HashMap::new();
            for (i, item) in slots.iter().enumerate() {
                if let Some(k) = item.as_ref().and_then(|v| v.get(smp_key)) {
                    by_key.entry(canonical_json(k)).or_default().push_back(i);
                }
            }
            for pi in patch {
                let Some(kv) = pi.get(smp_key) else {
                    return Err(format!(
                        "{}: item without merge key {smp_key:?}: {}",
                        path.join("."),
                        crate::error::short_json(pi)
                    ));
                };
                let key = canonical_json(kv);
                let found = by_key.get(&key).and_then(|q| q.front().copied());
                if pi.get("$patch").and_then(Value::as_str) == Some("delete") {
                    if let Some(i) = found {
                        slots[i] = None;
                        if let Some(q) = by_key.get_mut(&key) {
                            q.pop_front();
                        }
                    }
                    continue;
                }
                match found
                    .and_then(|i| slots.get_mut(i))
                    .and_then(Option::as_mut)
                {
                    Some(item) => smp(rt, item, pi, path)?,
                    None => {
                        by_key.entry(key).or_default().push_back(slots.len());
                        slots.push(Some(strip_directives(pi)));
                    }
                }
            }
            Ok(Value::Array(slots.into_iter().flatten().collect()))
        }
        ListKind::Set => {
            let mut seen: HashSet<String> = items.iter().map(canonical_json).collect();
            for pi in patch {
                if seen.insert(canonical_json(pi)) {
                    items.push(pi.clone());
                }
            }
            Ok(Value::Array(items))
        }
        ListKind::Atomic => Ok(Value::Array(patch.iter().map(strip_directives).collect())),
    }
}

/// Sorts items into the order of `$setElementOrder` (items it does not name go last, in
/// their order), identifying items by `key` (or by value).
fn reorder(items: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let id = |v: &Value| -> Option<String> {
        match key {
            Some(k) => v.get(k).map(canonical_json),
            None => Some(canonical_json(v)),
        }
    };
    let mut rank: HashMap<String, usize> = HashMap::new();
    for (i, o) in order.iter().enumerate() {
        if let Some(k) = id(o) {
            rank.entry(k).or_insert(i);
        }
    }
    let mut ranked: Vec<(usize, Value)> = items
        .drain(..)
        .map(|v| {
            let r = id(&v)
                .and_then(|k| rank.get(&k).copied())
                .unwrap_or(usize::MAX);
            (r, v)
        })
        .collect();
    ranked.sort_by_key(|(r, _)| *r);
    items.extend(ranked.into_iter().map(|(_, v)| v));
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        merge_patch(&mut t, &json!({"list": [1, 2]}));
        merge_patch(&mut t, &json!({"list": [3]}));
        assert_eq!(t["list"], json!([3]));
    }

    fn encoded(v: &Value) -> usize {
        serde_json::to_vec(v).unwrap().len()
    }

    /// Applies a JSON patch with the server's limits (or `limits`), checking the size it
    /// tracked against the real encoding.
    fn jp_with(t: &mut Value, p: &Value, limits: &JsonPatchLimits) -> Result<(), PatchError> {
        let size = json_patch(t, p, encoded(t), limits)?;
        assert_eq!(size, encoded(t), "tracked size of {t}");
        Ok(())
    }

    fn jp(t: &mut Value, p: &Value) -> Result<(), PatchError> {
        jp_with(t, p, &JsonPatchLimits::default())
    }

    #[test]
    fn json_patch_rfc6902() {
        let mut t = json!({"a": {"b": [1, 2]}, "x": 1});
        jp(
            &mut t,
            &json!([
                {"op": "add", "path": "/a/b/-", "value": 3},
                {"op": "add", "path": "/a/b/0", "value": 0},
                {"op": "remove", "path": "/x"},
                {"op": "replace", "path": "/a/c~1d", "value": 5},
                {"op": "copy", "from": "/a/b", "path": "/copy"},
                {"op": "move", "from": "/copy", "path": "/moved"},
                {"op": "test", "path": "/moved/3", "value": 3}
            ]),
        )
        .unwrap_err(); // replace of a missing path fails
        let mut t = json!({"a": {"b": [1, 2]}, "x": 1});
        jp(
            &mut t,
            &json!([
                {"op": "add", "path": "/a/b/-", "value": 3},
                {"op": "add", "path": "/a/b/0", "value": 0},
                {"op": "remove", "path": "/x"},
                {"op": "add", "path": "/a/c~1d", "value": 5},
                {"op": "copy", "from": "/a/b", "path": "/copy"},
                {"op": "move", "from": "/copy", "path": "/moved"},
                {"op": "test", "path": "/moved/3", "value": 3}
            ]),
        )
        .unwrap();
        assert_eq!(
            t,
            json!({"a": {"b": [0, 1, 2, 3], "c/d": 5}, "moved": [0, 1, 2, 3]})
        );
        let err = jp(
            &mut t,
            &json!([{"op": "test", "path": "/a/c~1d", "value": 6}]),
        )
        .unwrap_err();
        assert!(
            err.to_string() == "operation 0: testing value /a/c~1d failed",
            "{err}"
        );
    }

    #[test]
    fn json_patch_tracks_the_size_exactly() {
        let mut t =
            json!({"metadata": {"name": "x"}, "spec": {"list": ["a", "b"], "s": "é\n\"q\""}});
        for p in [
            json!([{"op": "add", "path": "/spec/new", "value": {"k": [1, 2.5, null, true]}}]),
            json!([{"op": "add", "path": "/spec/list/0", "value": "z"}, {"op": "add", "path": "/spec/list/-", "value": "y"}]),
            json!([{"op": "remove", "path": "/spec/list/1"}, {"op": "remove", "path": "/spec/s"}]),
            json!([{"op": "replace", "path": "/spec/new", "value": "short"}]),
            json!([{"op": "add", "path": "/spec/new", "value": {"replaced": "by add"}}]),
            json!([{"op": "move", "from": "/spec/new", "path": "/moved"}, {"op": "copy", "from": "/spec", "path": "/metadata/copy"}]),
            json!([{"op": "remove", "path": "/spec/list/0"}, {"op": "remove", "path": "/spec/list/0"}, {"op": "remove", "path": "/spec/list/0"}]),
            json!([{"op": "add", "path": "/spec/list/-", "value": 1}]),
            json!([{"op": "replace", "path": "", "value": {"whole": "document"}}]),
            json!([{"op": "add", "path": "", "value": []}, {"op": "add", "path": "/-", "value": {}}]),
        ] {
            jp(&mut t, &p).unwrap();
        }
        assert_eq!(t, json!([{}]));
    }

    /// One `add` of a 1,000-byte value and 40 `copy` operations of the value into itself
    /// would double it 40 times (a terabyte). The copy budget stops it at the operation
    /// that first goes past it, long before anything large is built.
    #[test]
    fn doubling_copies_stop_at_the_copy_budget() {
        let mut ops = vec![json!({"op": "add", "path": "/spec", "value": {"v": "x".repeat(1000)}})];
        for n in 0..40 {
            ops.push(json!({"op": "copy", "from": "/spec", "path": format!("/spec/c{n}")}));
        }
        let mut t = json!({"metadata": {"name": "x"}});
        let err = jp(&mut t, &Value::Array(ops.clone())).unwrap_err();
        match err {
            PatchError::Op {
                index,
                error: OpError::CopyTooLarge { accumulated, limit },
            } => {
                assert!(index <= 13, "stopped at operation {index}");
                assert_eq!(limit, 3 * 1024 * 1024);
                assert!(
                    accumulated > limit && accumulated < 2 * limit,
                    "{accumulated}"
                );
            }
            other => panic!("{other}"),
        }
        assert!(
            err.to_string()
                .contains("Unable to complete the copy, the accumulated size increase of copy is")
        );
        // The size limit stops the same growth when copies are allowed more.
        let lenient = JsonPatchLimits {
            max_copy_bytes: usize::MAX,
            ..JsonPatchLimits::default()
        };
        let mut t = json!({"metadata": {"name": "x"}});
        let err = jp_with(&mut t, &Value::Array(ops), &lenient).unwrap_err();
        assert!(
            matches!(
                err,
                PatchError::Op {
                    error: OpError::TooLarge { .. },
                    ..
                }
            ),
            "{err}"
        );
        assert!(encoded(&t) <= 3 * 1024 * 1024);
    }

    #[test]
    fn json_patch_limits() {
        let many: Vec<Value> = (0..10_001)
            .map(|_| json!({"op": "test", "path": "/a", "value": 1}))
            .collect();
        let err = jp(&mut json!({"a": 1}), &Value::Array(many)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
        // Adds grow the document too, up to the object size limit.
        let small = JsonPatchLimits {
            max_bytes: 100,
            ..JsonPatchLimits::default()
        };
        let big = json!([{"op": "add", "path": "/a", "value": "x".repeat(200)}]);
        let err = jp_with(&mut json!({}), &big, &small).unwrap_err();
        assert_eq!(
            err.to_string(),
            "operation 0: the patch result is too large: limit is 100"
        );
        // Replacing a large value by another is no growth.
        let mut t = json!({"a": "x".repeat(80)});
        jp_with(
            &mut t,
            &json!([{"op": "replace", "path": "/a", "value": "y".repeat(80)}]),
            &small,
        )
        .unwrap();
        // Nesting: a deep path, or a value that is deep where it goes.
        let mut deep = json!({});
        let mut path = String::new();
        for _ in 0..99 {
            path.push_str("/a");
            jp(
                &mut deep,
                &json!([{"op": "add", "path": path, "value": {}}]),
            )
            .unwrap();
        }
        path.push_str("/a");
        let err = jp(
            &mut deep,
            &json!([{"op": "add", "path": path, "value": {}}]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "operation 0: the patch result would nest deeper than 100 levels"
        );
        jp(&mut deep, &json!([{"op": "add", "path": path, "value": 1}])).unwrap();
        let err = jp(
            &mut json!({"x": {}}),
            &json!([{"op": "copy", "from": "", "path": "/x/y"}]),
        );
        assert!(err.is_ok(), "{err:?}");
        // Work: moving a large value back and forth is measured every time.
        let cheap = JsonPatchLimits {
            max_work: 10_000,
            ..JsonPatchLimits::default()
        };
        let mut t = json!({"a": "x".repeat(1000)});
        let moves: Vec<Value> = (0..20)
            .flat_map(|_| {
                [
                    json!({"op": "move", "from": "/a", "path": "/b"}),
                    json!({"op": "move", "from": "/b", "path": "/a"}),
                ]
            })
            .collect();
        let err = jp_with(&mut t, &Value::Array(moves), &cheap).unwrap_err();
        assert!(
            matches!(
                err,
                PatchError::Op {
                    error: OpError::TooExpensive { .. },
                    ..
                }
            ),
            "{err}"
        );
        // Malformed operations.
        let err = jp(&mut json!({}), &json!({"op": "add"})).unwrap_err();
        assert_eq!(err, PatchError::NotAList);
        for (p, want) in [
            (json!([{"path": "/a"}]), "operation 0: missing \"op\""),
            (
                json!([{"op": "copy", "from": "/nope", "path": "/a"}]),
                "operation 0: copy operation does not apply: doc is missing path: /nope",
            ),
            (
                json!([{"op": "remove", "path": "/a/5"}]),
                "operation 0: remove operation does not apply: doc is missing path: /a",
            ),
            (
                json!([{"op": "frobnicate", "path": "/a"}]),
                "operation 0: unexpected operation \"frobnicate\"",
            ),
        ] {
            assert_eq!(jp(&mut json!({}), &p).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn strategic_merge_of_long_lists_is_linear() {
        let rt = Registry::new().lookup("apps", "v1", "deployments").unwrap();
        let n = 20_000;
        let env: Vec<Value> = (0..n)
            .map(|i| json!({"name": format!("E{i}"), "value": "1"}))
            .collect();
        let mut d =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "env": env}]}}}});
        let patch_env: Vec<Value> = (0..n)
            .map(|i| json!({"name": format!("E{i}"), "value": "2"}))
            .chain((0..n).map(|i| json!({"name": format!("N{i}"), "value": "3"})))
            .collect();
        let order: Vec<Value> = (0..n)
            .rev()
            .map(|i| json!({"name": format!("E{i}")}))
            .collect();
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "env": patch_env, "$setElementOrder/env": order}
        ]}}}});
        strategic_merge(&rt, &mut d, &patch).unwrap();
        let env = d["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap();
        assert_eq!(env.len(), 2 * n);
        assert_eq!(env[0], json!({"name": format!("E{}", n - 1), "value": "2"}));
        assert_eq!(env[n], json!({"name": "N0", "value": "3"}));
    }

    #[test]
    fn strategic_merge_uses_merge_keys_and_directives() {
        let rt = Registry::new().lookup("apps", "v1", "deployments").unwrap();
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "x", "env": [{"name": "E", "value": "1"}]},
            {"name": "b", "image": "y"}
        ], "tolerations": [{"key": "k"}]}}}, "metadata": {"finalizers": ["f1"]}});
        let patch = json!({
            "metadata": {"finalizers": ["f2"]},
            "spec": {"template": {"spec": {
                "containers": [
                    {"name": "a", "image": "x2", "env": [{"name": "F", "value": "2"}]},
                    {"name": "b", "$patch": "delete"},
                    {"name": "c", "image": "z"}
                ],
                "tolerations": [{"key": "t"}]
            }}}
        });
        strategic_merge(&rt, &mut d, &patch).unwrap();
        assert_eq!(
            d,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "x2", "env": [{"name": "E", "value": "1"}, {"name": "F", "value": "2"}]},
                {"name": "c", "image": "z"}
            ], "tolerations": [{"key": "t"}]}}}, "metadata": {"finalizers": ["f1", "f2"]}})
        );
        let mut s = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        strategic_merge(
            &rt,
            &mut s,
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        )
        .unwrap();
        assert_eq!(s, json!({"spec": {"strategy": {"type": "Recreate"}}}));
        let mut r =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}});
        strategic_merge(&rt, &mut r, &json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "z"}]}}}})).unwrap();
        assert_eq!(
            r["spec"]["template"]["spec"]["containers"],
            json!([{"name": "z"}])
        );
    }
}
