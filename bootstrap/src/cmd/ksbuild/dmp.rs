//! The diff of diff-match-patch (sergi/go-diff's `DiffMain` without a time limit) over
//! sequences of symbols (lines, in line mode): common prefix and suffix, the substring
//! and half-match shortcuts, Myers' bisection, then `DiffCleanupMerge`. Tools that print
//! its chunks (dyff) are matched chunk for chunk.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Equal,
    Insert,
    Delete,
}

type Chunk = (Op, Vec<u32>);

/// The chunks turning `a` into `b`.
pub fn diff(a: &[u32], b: &[u32]) -> Vec<Chunk> {
    if a == b {
        return if a.is_empty() {
            Vec::new()
        } else {
            vec![(Op::Equal, a.to_vec())]
        };
    }
    let p = common_prefix(a, b);
    let (prefix, a, b) = (&a[..p], &a[p..], &b[p..]);
    let s = common_suffix(a, b);
    let (suffix, a, b) = (&a[a.len() - s..], &a[..a.len() - s], &b[..b.len() - s]);
    let mut diffs = compute(a, b);
    if !prefix.is_empty() {
        diffs.insert(0, (Op::Equal, prefix.to_vec()));
    }
    if !suffix.is_empty() {
        diffs.push((Op::Equal, suffix.to_vec()));
    }
    cleanup_merge(&mut diffs);
    diffs
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn common_suffix(a: &[u32], b: &[u32]) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

fn index_of(hay: &[u32], needle: &[u32], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return (from <= hay.len()).then_some(from);
    }
    if from >= hay.len() || needle.len() > hay.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

fn compute(a: &[u32], b: &[u32]) -> Vec<Chunk> {
    if a.is_empty() {
        return vec![(Op::Insert, b.to_vec())];
    }
    if b.is_empty() {
        return vec![(Op::Delete, a.to_vec())];
    }
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    if let Some(i) = index_of(long, short, 0) {
        let op = if a.len() > b.len() {
            Op::Delete
        } else {
            Op::Insert
        };
        return vec![
            (op, long[..i].to_vec()),
            (Op::Equal, short.to_vec()),
            (op, long[i + short.len()..].to_vec()),
        ];
    }
    if short.len() == 1 {
        return vec![(Op::Delete, a.to_vec()), (Op::Insert, b.to_vec())];
    }
    if let Some([a1, a2, b1, b2, common]) = half_match(a, b) {
        let mut out = diff(&a1, &b1);
        out.push((Op::Equal, common));
        out.extend(diff(&a2, &b2));
        return out;
    }
    bisect(a, b)
}

fn half_match(a: &[u32], b: &[u32]) -> Option<[Vec<u32>; 5]> {
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    if long.len() < 4 || short.len() * 2 < long.len() {
        return None;
    }
    let hm1 = half_match_i(long, short, long.len().div_ceil(4));
    let hm2 = half_match_i(long, short, long.len().div_ceil(2));
    let hm = match (hm1, hm2) {
        (None, None) => return None,
        (Some(h), None) | (None, Some(h)) => h,
        (Some(h1), Some(h2)) => {
            if h1[4].len() > h2[4].len() {
                h1
            } else {
                h2
            }
        }
    };
    if a.len() > b.len() {
        Some(hm)
    } else {
        let [la, lb, sa, sb, c] = hm;
        Some([sa, sb, la, lb, c])
    }
}

fn half_match_i(long: &[u32], short: &[u32], i: usize) -> Option<[Vec<u32>; 5]> {
    let seed = &long[i..i + long.len() / 4];
    let mut best: Option<[Vec<u32>; 5]> = None;
    let mut best_len = 0;
    let mut j = index_of(short, seed, 0);
    while let Some(jj) = j {
        let prefix = common_prefix(&long[i..], &short[jj..]);
        let suffix = common_suffix(&long[..i], &short[..jj]);
        if best_len < suffix + prefix {
            let mut common = short[jj - suffix..jj].to_vec();
            common.extend_from_slice(&short[jj..jj + prefix]);
            best_len = common.len();
            best = Some([
                long[..i - suffix].to_vec(),
                long[i + prefix..].to_vec(),
                short[..jj - suffix].to_vec(),
                short[jj + prefix..].to_vec(),
                common,
            ]);
        }
        j = index_of(short, seed, jj + 1);
    }
    best.filter(|b| b[4].len() * 2 >= long.len())
}

fn bisect(a: &[u32], b: &[u32]) -> Vec<Chunk> {
    let (l1, l2) = (a.len() as isize, b.len() as isize);
    let max_d = (l1 + l2 + 1) / 2;
    let v_offset = max_d;
    let v_length = 2 * max_d;
    let mut v1 = vec![-1isize; v_length as usize];
    let mut v2 = vec![-1isize; v_length as usize];
    v1[(v_offset + 1) as usize] = 0;
    v2[(v_offset + 1) as usize] = 0;
    let delta = l1 - l2;
    let front = delta % 2 != 0;
    let (mut k1start, mut k1end, mut k2start, mut k2end) = (0, 0, 0, 0);
    for d in 0..max_d {
        let mut k1 = -d + k1start;
        while k1 <= d - k1end {
            let k1_offset = v_offset + k1;
            let mut x1 = if k1 == -d
                || (k1 != d && v1[(k1_offset - 1) as usize] < v1[(k1_offset + 1) as usize])
            {
                v1[(k1_offset + 1) as usize]
            } else {
                v1[(k1_offset - 1) as usize] + 1
            };
            let mut y1 = x1 - k1;
            while x1 < l1 && y1 < l2 && a[x1 as usize] == b[y1 as usize] {
                x1 += 1;
                y1 += 1;
            }
            v1[k1_offset as usize] = x1;
            if x1 > l1 {
                k1end += 2;
            } else if y1 > l2 {
                k1start += 2;
            } else if front {
                let k2_offset = v_offset + delta - k1;
                if k2_offset >= 0 && k2_offset < v_length && v2[k2_offset as usize] != -1 {
                    let x2 = l1 - v2[k2_offset as usize];
                    if x1 >= x2 {
                        return bisect_split(a, b, x1 as usize, y1 as usize);
                    }
                }
            }
            k1 += 2;
        }
        let mut k2 = -d + k2start;
        while k2 <= d - k2end {
            let k2_offset = v_offset + k2;
            let mut x2 = if k2 == -d
                || (k2 != d && v2[(k2_offset - 1) as usize] < v2[(k2_offset + 1) as usize])
            {
                v2[(k2_offset + 1) as usize]
            } else {
                v2[(k2_offset - 1) as usize] + 1
            };
            let mut y2 = x2 - k2;
            while x2 < l1 && y2 < l2 && a[(l1 - x2 - 1) as usize] == b[(l2 - y2 - 1) as usize] {
                x2 += 1;
                y2 += 1;
            }
            v2[k2_offset as usize] = x2;
            if x2 > l1 {
                k2end += 2;
            } else if y2 > l2 {
                k2start += 2;
            } else if !front {
                let k1_offset = v_offset + delta - k2;
                if k1_offset >= 0 && k1_offset < v_length && v1[k1_offset as usize] != -1 {
                    let x1 = v1[k1_offset as usize];
                    let y1 = v_offset + x1 - k1_offset;
                    if x1 >= l1 - x2 {
                        return bisect_split(a, b, x1 as usize, y1 as usize);
                    }
                }
            }
            k2 += 2;
        }
    }
    vec![(Op::Delete, a.to_vec()), (Op::Insert, b.to_vec())]
}

fn bisect_split(a: &[u32], b: &[u32], x: usize, y: usize) -> Vec<Chunk> {
    let mut out = diff(&a[..x], &b[..y]);
    out.extend(diff(&a[x..], &b[y..]));
    out
}

/// go-diff's `DiffCleanupMerge`: merges neighbouring chunks of the same kind, factors
/// common affixes out of edits and shifts single edits over equalities.
fn cleanup_merge(diffs: &mut Vec<Chunk>) {
    diffs.push((Op::Equal, Vec::new()));
    let mut pointer = 0;
    let (mut count_delete, mut count_insert) = (0usize, 0usize);
    let (mut text_delete, mut text_insert): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
    while pointer < diffs.len() {
        match diffs[pointer].0 {
            Op::Insert => {
                count_insert += 1;
                text_insert.extend_from_slice(&diffs[pointer].1);
                pointer += 1;
            }
            Op::Delete => {
                count_delete += 1;
                text_delete.extend_from_slice(&diffs[pointer].1);
                pointer += 1;
            }
            Op::Equal => {
                if count_delete + count_insert > 1 {
                    if count_delete != 0 && count_insert != 0 {
                        let c = common_prefix(&text_insert, &text_delete);
                        if c != 0 {
                            let x = pointer - count_delete - count_insert;
                            if x > 0 && diffs[x - 1].0 == Op::Equal {
                                diffs[x - 1].1.extend_from_slice(&text_insert[..c]);
                            } else {
                                diffs.insert(0, (Op::Equal, text_insert[..c].to_vec()));
                                pointer += 1;
                            }
                            text_insert.drain(..c);
                            text_delete.drain(..c);
                        }
                        let c = common_suffix(&text_insert, &text_delete);
                        if c != 0 {
                            let ii = text_insert.len() - c;
                            let di = text_delete.len() - c;
                            let mut t = text_insert[ii..].to_vec();
                            t.extend_from_slice(&diffs[pointer].1);
                            diffs[pointer].1 = t;
                            text_insert.truncate(ii);
                            text_delete.truncate(di);
                        }
                    }
                    let start = pointer - count_delete - count_insert;
                    let mut replacement = Vec::new();
                    if count_delete == 0 {
                        replacement.push((Op::Insert, std::mem::take(&mut text_insert)));
                    } else if count_insert == 0 {
                        replacement.push((Op::Delete, std::mem::take(&mut text_delete)));
                    } else {
                        replacement.push((Op::Delete, std::mem::take(&mut text_delete)));
                        replacement.push((Op::Insert, std::mem::take(&mut text_insert)));
                    }
                    diffs.splice(start..start + count_delete + count_insert, replacement);
                    pointer = start + 1;
                    if count_delete != 0 {
                        pointer += 1;
                    }
                    if count_insert != 0 {
                        pointer += 1;
                    }
                } else if pointer != 0 && diffs[pointer - 1].0 == Op::Equal {
                    let t = diffs.remove(pointer).1;
                    diffs[pointer - 1].1.extend(t);
                } else {
                    pointer += 1;
                }
                count_insert = 0;
                count_delete = 0;
                text_delete.clear();
                text_insert.clear();
            }
        }
    }
    if diffs.last().is_some_and(|d| d.1.is_empty()) {
        diffs.pop();
    }
    let mut changes = false;
    let mut pointer = 1;
    while pointer + 1 < diffs.len() {
        if diffs[pointer - 1].0 == Op::Equal && diffs[pointer + 1].0 == Op::Equal {
            let prev = diffs[pointer - 1].1.clone();
            let next = diffs[pointer + 1].1.clone();
            let cur = diffs[pointer].1.clone();
            if cur.ends_with(&prev) {
                let mut t = prev.clone();
                t.extend_from_slice(&cur[..cur.len() - prev.len()]);
                diffs[pointer].1 = t;
                let mut n = prev;
                n.extend_from_slice(&next);
                diffs[pointer + 1].1 = n;
                diffs.remove(pointer - 1);
                changes = true;
            } else if cur.starts_with(&next) {
                diffs[pointer - 1].1.extend_from_slice(&next);
                let mut t = cur[next.len()..].to_vec();
                t.extend_from_slice(&next);
                diffs[pointer].1 = t;
                diffs.remove(pointer + 1);
                changes = true;
            }
        }
        pointer += 1;
    }
    if changes {
        cleanup_merge(diffs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> Vec<u32> {
        t.chars().map(|c| c as u32).collect()
    }

    fn text(d: &[Chunk]) -> Vec<(Op, String)> {
        d.iter()
            .map(|(o, t)| (*o, t.iter().filter_map(|c| char::from_u32(*c)).collect()))
            .collect()
    }

    #[test]
    fn diffs_like_diff_match_patch() {
        assert_eq!(
            text(&diff(&s("abc"), &s("abc"))),
            vec![(Op::Equal, "abc".into())]
        );
        assert_eq!(
            text(&diff(&s("abc"), &s("ab123c"))),
            vec![
                (Op::Equal, "ab".into()),
                (Op::Insert, "123".into()),
                (Op::Equal, "c".into())
            ]
        );
        assert_eq!(
            text(&diff(&s("a"), &s("b"))),
            vec![(Op::Delete, "a".into()), (Op::Insert, "b".into())]
        );
        // the example of diff-match-patch's tests
        assert_eq!(
            text(&diff(
                &s("Apples are a fruit."),
                &s("Bananas are also fruit.")
            )),
            vec![
                (Op::Delete, "Apple".into()),
                (Op::Insert, "Banana".into()),
                (Op::Equal, "s are a".into()),
                (Op::Insert, "lso".into()),
                (Op::Equal, " fruit.".into()),
            ]
        );
        assert_eq!(
            text(&diff(&s("ax\t"), &s("\u{0680}x\0"))),
            vec![
                (Op::Delete, "a".into()),
                (Op::Insert, "\u{0680}".into()),
                (Op::Equal, "x".into()),
                (Op::Delete, "\t".into()),
                (Op::Insert, "\0".into()),
            ]
        );
    }
}
