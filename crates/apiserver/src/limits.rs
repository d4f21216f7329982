//! Limits on what one request may make the server store or compute, and the cheap
//! measurements that enforce them.
//!
//! Every stored object is at most [`MAX_OBJECT_BYTES`] of JSON and nests at most
//! [`MAX_NESTING`] containers deep (deeper values could not be read back: the JSON reader
//! stops at 128 levels, and lists and watch events wrap objects in two more). Patches are
//! checked while they apply, so a small request cannot build a large value first (see
//! [`crate::patch::json_patch`]).

use serde_json::{Number, Value};

/// Largest stored object, as compact JSON: the request body limit. The real server's
/// limit is etcd's 1.5 MiB of protobuf, which is about this much JSON.
pub const MAX_OBJECT_BYTES: usize = crate::http::MAX_BODY;

/// Deepest nesting of objects and lists in a stored object.
pub const MAX_NESTING: usize = 100;

/// Most operations in one JSON patch (the real server's `maxJSONPatchOperations`).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Most bytes `copy` operations of one JSON patch may add in total (the real server's
/// `JSONPatchMaxCopyBytes`, which defaults to the request body limit).
pub const MAX_JSON_PATCH_COPY_BYTES: usize = crate::http::MAX_BODY;

/// Most work one JSON patch may do, in bytes of values measured plus list items shifted
/// (about a nanosecond each): a bound on its CPU time (well under a second) that ordinary
/// patches stay far below.
pub const MAX_JSON_PATCH_WORK: usize = 256 * 1024 * 1024;

/// The size of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Length of its compact JSON encoding.
    pub bytes: usize,
    /// Nesting depth: 0 for a scalar, 1 for a flat object or list.
    pub depth: usize,
}

/// Which limit a value passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// Its encoding is longer than allowed.
    Bytes,
    /// It nests deeper than allowed.
    Depth,
}

enum Frame<'a> {
    List(std::slice::Iter<'a, Value>),
    Map(serde_json::map::Iter<'a>),
}

/// Measures `v` without serializing it, stopping as soon as its encoding passes
/// `max_bytes` or its nesting passes `max_depth`: the cost is proportional to
/// `min(size, max_bytes)`, and the walk uses no recursion.
pub fn measure(v: &Value, max_bytes: usize, max_depth: usize) -> Result<Size, Over> {
    let mut bytes = 0usize;
    let mut deepest = 0usize;
    let mut stack: Vec<Frame> = Vec::new();
    let mut next = Some(v);
    loop {
        if let Some(v) = next.take() {
            match v {
                Value::Null => bytes += 4,
                Value::Bool(b) => bytes += if *b { 4 } else { 5 },
                Value::Number(n) => bytes += number_len(n),
                Value::String(s) => bytes += string_len(s),
                Value::Array(a) => {
                    bytes += 2 + a.len().saturating_sub(1);
                    stack.push(Frame::List(a.iter()));
                }
                Value::Object(m) => {
                    bytes += 2 + m.len().saturating_sub(1);
                    stack.push(Frame::Map(m.iter()));
                }
            }
            if stack.len() > max_depth {
                return Err(Over::Depth);
            }
            deepest = deepest.max(stack.len());
            if bytes > max_bytes {
                return Err(Over::Bytes);
            }
        }
        loop {
            match stack.last_mut() {
                None => {
                    return Ok(Size {
                        bytes,
                        depth: deepest,
                    });
                }
                Some(Frame::List(items)) => match items.next() {
                    Some(item) => {
                        next = Some(item);
                        break;
                    }
                    None => {
                        stack.pop();
                    }
                },
                Some(Frame::Map(entries)) => match entries.next() {
                    Some((k, item)) => {
                        bytes += string_len(k) + 1;
                        next = Some(item);
                        break;
                    }
                    None => {
                        stack.pop();
                    }
                },
            }
        }
    }
}

/// Length of a string's JSON encoding, quotes included (as `serde_json` escapes).
pub fn string_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn number_len(n: &Number) -> usize {
    if let Some(u) = n.as_u64() {
        digits(u)
    } else if let Some(i) = n.as_i64() {
        1 + digits(i.unsigned_abs())
    } else {
        n.to_string().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn measures_like_serde_json_encodes() {
        for v in [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-1234567),
            json!(u64::MAX),
            json!(1.5e300),
            json!("plain"),
            json!("quote \" backslash \\ newline \n tab \t bell \u{7} é ✓"),
            json!([]),
            json!({}),
            json!([1, [2, [3, {"a": "b", "c\"": [null, {}]}]]]),
            json!({"metadata": {"name": "x", "labels": {"a": "b"}}, "data": {"k": "v"}}),
        ] {
            let want = serde_json::to_vec(&v).unwrap().len();
            assert_eq!(
                measure(&v, usize::MAX, usize::MAX).unwrap().bytes,
                want,
                "{v}"
            );
        }
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(measure(&json!(1), 100, 100).unwrap().depth, 0);
        assert_eq!(measure(&json!({"a": 1}), 100, 100).unwrap().depth, 1);
        assert_eq!(
            measure(&json!({"a": [[1]], "b": 2}), 100, 100)
                .unwrap()
                .depth,
            3
        );
        assert_eq!(measure(&json!([[[]]]), 100, 2), Err(Over::Depth));
        assert_eq!(measure(&json!([[[]]]), 100, 3).unwrap().depth, 3);
    }

    #[test]
    fn stops_at_the_byte_limit() {
        let v = json!({"a": "x".repeat(1000)});
        assert_eq!(measure(&v, 100, 10), Err(Over::Bytes));
        assert!(measure(&v, 2000, 10).is_ok());
    }

    #[test]
    fn deep_values_do_not_recurse() {
        let mut v = json!(1);
        for _ in 0..50_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(measure(&v, usize::MAX, usize::MAX).unwrap().depth, 50_000);
        assert_eq!(measure(&v, usize::MAX, 100), Err(Over::Depth));
        // Dropping a value this deep recurses in serde_json; take it apart iteratively.
        let mut cur = v;
        while let Value::Array(mut a) = cur {
            cur = a.pop().unwrap_or(Value::Null);
        }
    }
}
