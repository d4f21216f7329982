//! go-yaml as Kubernetes tools use it.
//!
//! - [`resolve_v2`] / [`resolve_v3`]: what an untagged plain scalar is, for go-yaml v2
//!   (Helm's `sigs.k8s.io/yaml`) and v3 (kustomize's kyaml) — side by side, since they
//!   differ on purpose.
//! - [`marshal`]: what `sigs.k8s.io/yaml.Marshal` prints (Go's JSON encoding, read back by
//!   go-yaml v2, written by go-yaml v2's emitter), the output format of `kustomize build`,
//!   Helm's `toYaml` and the Flux CLI.
//! - [`key_cmp`]: go-yaml's order of map keys.

mod emit;
mod resolve;

pub use emit::{MarshalError, Node, float_text, marshal, marshal_float, marshal_into};
pub use resolve::{
    Scalar, needs_quotes_v2, resolve_v2, resolve_v2_with_timestamps, resolve_v3, timestamp,
};

use std::cmp::Ordering;

/// go-yaml's ordering of string map keys (`keyList.Less`): letters compare by code point,
/// runs of digits compare numerically, and a non-letter sorts before a letter.
pub fn key_cmp(a: &str, b: &str) -> Ordering {
    if a == b {
        Ordering::Equal
    } else if key_less(a, b) {
        Ordering::Less
    } else if key_less(b, a) {
        Ordering::Greater
    } else {
        a.cmp(b)
    }
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

    #[test]
    fn natural_key_order() {
        let mut keys = vec!["b10", "b9", "a", "B", "1", "_x", "b09", "é", "z"];
        keys.sort_by(|a, b| key_cmp(a, b));
        assert_eq!(keys, ["_x", "1", "B", "a", "b9", "b09", "b10", "z", "é"]);
    }
}
