//! go-yaml as Kubernetes tools use it.
//!
//! - [`resolve_v2`] / [`resolve_v3`]: what an untagged plain scalar is, for go-yaml v2
//!   (Helm's `sigs.k8s.io/yaml`) and v3 (kustomize's kyaml) — side by side, since they
//!   differ on purpose.
//! - [`marshal`]: what `sigs.k8s.io/yaml.Marshal` prints (Go's JSON encoding, read back by
//!   go-yaml v2, written by go-yaml v2's emitter), the output format of `kustomize build`,
//!   Helm's `toYaml` and the Flux CLI.
//! - [`sort_keys`], [`key_less`]: go-yaml's order of map keys.

mod emit;
mod resolve;

pub use emit::{MarshalError, Node, float_text, marshal, marshal_float, marshal_into};
pub use resolve::{
    Scalar, needs_quotes_v2, resolve_v2, resolve_v2_with_timestamps, resolve_v3, timestamp,
};

/// Sorts entries into go-yaml's key order as Go's `sort.Sort(keyList)` does, whatever the
/// keys.
///
/// `keyList.Less` is not a strict weak order for some keys that mix digits and other
/// characters (`"1" < "01" < "0a" < "1"`), and Rust's sorts may panic on such
/// a comparator where Go's never do. Go sorts up to 12 elements by insertion, which this
/// reproduces step for step; longer lists are merge-sorted, which is Go's order whenever the
/// keys are consistently ordered (and some order, without panicking, when they are not).
pub fn sort_keys<T>(items: &mut Vec<T>, key: impl Fn(&T) -> &str) {
    let less = |a: &T, b: &T| key_less(key(a), key(b));
    if items.len() <= 12 {
        for i in 1..items.len() {
            let mut j = i;
            while j > 0 && less(&items[j], &items[j - 1]) {
                items.swap(j, j - 1);
                j -= 1;
            }
        }
        return;
    }
    *items = merge_sort(std::mem::take(items), &less);
}

/// A stable merge sort that asks only `less` and stays well-defined for any answers.
fn merge_sort<T>(mut left: Vec<T>, less: &impl Fn(&T, &T) -> bool) -> Vec<T> {
    if left.len() <= 1 {
        return left;
    }
    let right = left.split_off(left.len() / 2);
    let (left, right) = (merge_sort(left, less), merge_sort(right, less));
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        let next = if less(b, a) { r.next() } else { l.next() };
        out.extend(next);
    }
    out.extend(l);
    out.extend(r);
    out
}

/// go-yaml's `keyList.Less` for two strings.
pub fn key_less(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        less(
            a.as_bytes(),
            b.as_bytes(),
            |c: &u8| c.is_ascii_alphabetic(),
            |c| *c as u32,
        )
    } else {
        let ar: Vec<char> = a.chars().collect();
        let br: Vec<char> = b.chars().collect();
        less(&ar, &br, |c: &char| c.is_alphabetic(), |c| *c as u32)
    }
}

fn less<T: PartialEq>(
    ar: &[T],
    br: &[T],
    letter: impl Fn(&T) -> bool,
    code: impl Fn(&T) -> u32,
) -> bool {
    let digit = |c: &T| (0x30..=0x39).contains(&code(c));
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = letter(&ar[i]);
        let bl = letter(&br[i]);
        if al && bl {
            return code(&ar[i]) < code(&br[i]);
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if code(&ar[i]) == 0x30 || code(&br[i]) == 0x30 {
            // a run of digits with a non-zero before this point compares as a number
            let mut j = i;
            while j > 0 && digit(&ar[j - 1]) {
                j -= 1;
                if code(&ar[j]) != 0x30 {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && digit(&ar[ai]) {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(code(&ar[ai]) - 0x30));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && digit(&br[bi]) {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(code(&br[bi]) - 0x30));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return code(&ar[i]) < code(&br[i]);
    }
    ar.len() < br.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// go-yaml's key order has cycles (found by the `helm_values` and `kustomize_yaml` fuzz
    /// targets, where the standard sort panicked on them): sorting still ends, and short lists
    /// come out as Go's insertion sort leaves them.
    #[test]
    fn key_order_cycles_sort_without_panicking() {
        assert!(key_less("1", "01") && key_less("01", "0a") && key_less("0a", "1"));
        let mut small = vec!["0a", "01", "1"];
        sort_keys(&mut small, |k| k);
        assert_eq!(small, ["01", "0a", "1"]);
        // every string of up to three of "0", "1", "a", "." in a scrambled order
        let alphabet = ['0', '1', 'a', '.'];
        let mut keys: Vec<String> = (1..=3u32)
            .flat_map(|len| {
                (0..alphabet.len().pow(len)).map(move |mut n| {
                    (0..len)
                        .map(|_| {
                            let c = alphabet[n % alphabet.len()];
                            n /= alphabet.len();
                            c
                        })
                        .collect()
                })
            })
            .collect();
        let count = keys.len();
        for i in 0..count {
            keys.swap(i, (i * 37 + 11) % count);
        }
        let mut sorted = keys.clone();
        sort_keys(&mut sorted, |k| k);
        sorted.sort();
        keys.sort();
        assert_eq!(sorted, keys);
    }

    #[test]
    fn natural_key_order() {
        let mut keys = vec!["b10", "b9", "a", "B", "1", "_x", "b09", "é", "z"];
        sort_keys(&mut keys, |k| k);
        assert_eq!(keys, ["_x", "1", "B", "a", "b9", "b09", "b10", "z", "é"]);
    }
}
