//! Semantic version ranges in the syntax Flux and Helm use (Masterminds `semver`):
//! `>=1.2.0 <2.0.0`, `^1.2`, `~1.2.3`, `1.2.x`, `*`, `1.0 - 1.4`, alternatives with `||`,
//! conjunctions with spaces or commas. Versions may carry a `v` prefix and omit the minor or
//! patch number. Pre-releases only match when a comparator of the range has one.

use semver::Version;
use std::cmp::Ordering;

/// A range that did not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid semver range {input:?}: {reason}")]
pub struct RangeError {
    /// The range text.
    pub input: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses a version leniently: `v1.2.3`, `1.2`, `1`, with pre-release and build metadata.
pub fn parse_version(s: &str) -> Option<Version> {
    let s = s.trim();
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    if let Ok(v) = Version::parse(s) {
        return Some(v);
    }
    // Fill missing minor/patch numbers before any pre-release or build suffix.
    let cut = s.find(['-', '+']).unwrap_or(s.len());
    let (core, rest) = s.split_at(cut);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut nums = parts
        .iter()
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<Vec<_>>>()?;
    nums.resize(3, 0);
    Version::parse(&format!("{}.{}.{}{rest}", nums[0], nums[1], nums[2])).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    version: Version,
}

impl Comparator {
    fn matches(&self, v: &Version) -> bool {
        let c = cmp_precedence(v, &self.version);
        match self.op {
            Op::Eq => c == Ordering::Equal,
            Op::Ne => c != Ordering::Equal,
            Op::Gt => c == Ordering::Greater,
            Op::Ge => c != Ordering::Less,
            Op::Lt => c == Ordering::Less,
            Op::Le => c != Ordering::Greater,
        }
    }
}

/// Compares ignoring build metadata, as semver precedence does.
fn cmp_precedence(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => a.pre.cmp(&b.pre),
        })
}

/// A parsed range.
#[derive(Debug, Clone)]
pub struct Range {
    /// Alternatives (OR) of conjunctions (AND).
    groups: Vec<Vec<Comparator>>,
    input: String,
}

/// A partially specified version: `1`, `1.2`, `1.2.x`, `*`.
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: String,
}

fn parse_partial(s: &str) -> Option<Partial> {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    let cut = s.find(['-', '+']).unwrap_or(s.len());
    let (core, rest) = s.split_at(cut);
    let pre = rest
        .strip_prefix('-')
        .map(|p| p.split('+').next().unwrap_or("").to_owned())
        .unwrap_or_default();
    let mut nums = [None, None, None];
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut wild = false;
    for (i, p) in parts.iter().enumerate() {
        if matches!(*p, "x" | "X" | "*") {
            wild = true;
            continue;
        }
        if wild {
            return None; // 1.x.3 is not a version
        }
        nums[i] = Some(p.parse::<u64>().ok()?);
    }
    Some(Partial {
        major: nums[0],
        minor: nums[1],
        patch: nums[2],
        pre,
    })
}

fn ver(major: u64, minor: u64, patch: u64, pre: &str) -> Option<Version> {
    if pre.is_empty() {
        Some(Version::new(major, minor, patch))
    } else {
        Version::parse(&format!("{major}.{minor}.{patch}-{pre}")).ok()
    }
}

fn expand(op: &str, p: &Partial) -> Option<Vec<Comparator>> {
    let c = |op, version| Comparator { op, version };
    let lo = |p: &Partial| {
        ver(
            p.major.unwrap_or(0),
            p.minor.unwrap_or(0),
            p.patch.unwrap_or(0),
            &p.pre,
        )
    };
    let Some(major) = p.major else {
        // `*`, `x`: anything (except with `<`/`!=`, which exclude everything / nothing)
        return match op {
            "<" | "!=" => Some(vec![c(Op::Lt, Version::new(0, 0, 0))]),
            _ => Some(vec![c(Op::Ge, Version::new(0, 0, 0))]),
        };
    };
    // The first version above the partial one: 1 → 2.0.0, 1.2 → 1.3.0.
    let next = || match (p.minor, p.patch) {
        (None, _) => Version::new(major + 1, 0, 0),
        (Some(mi), None) => Version::new(major, mi + 1, 0),
        (Some(mi), Some(pa)) => Version::new(major, mi, pa + 1),
    };
    let exact = p.minor.is_some() && p.patch.is_some();
    Some(match op {
        "" | "=" => {
            if exact {
                vec![c(Op::Eq, lo(p)?)]
            } else {
                vec![c(Op::Ge, lo(p)?), c(Op::Lt, next())]
            }
        }
        // A hole in a conjunction (`!=1.x`) is not expressible: refused below.
        "!=" if exact => vec![c(Op::Ne, lo(p)?)],
        ">" => {
            if exact {
                vec![c(Op::Gt, lo(p)?)]
            } else {
                vec![c(Op::Ge, next())]
            }
        }
        ">=" | "=>" => vec![c(Op::Ge, lo(p)?)],
        "<" => vec![c(Op::Lt, lo(p)?)],
        "<=" | "=<" => {
            if exact {
                vec![c(Op::Le, lo(p)?)]
            } else {
                vec![c(Op::Lt, next())]
            }
        }
        "~" | "~>" => {
            // ~1.2.3 := >=1.2.3 <1.3.0; ~1.2 := >=1.2.0 <1.3.0; ~1 := >=1.0.0 <2.0.0
            let upper = match p.minor {
                Some(mi) => Version::new(major, mi + 1, 0),
                None => Version::new(major + 1, 0, 0),
            };
            vec![c(Op::Ge, lo(p)?), c(Op::Lt, upper)]
        }
        "^" => {
            // ^1.2.3 := <2.0.0; ^0.2.3 := <0.3.0; ^0.0.3 := <0.0.4; ^0 := <1.0.0
            let upper = if major > 0 {
                Version::new(major + 1, 0, 0)
            } else {
                match (p.minor, p.patch) {
                    (None, _) => Version::new(1, 0, 0),
                    (Some(0), None) => Version::new(0, 1, 0),
                    (Some(0), Some(pa)) => Version::new(0, 0, pa + 1),
                    (Some(mi), _) => Version::new(0, mi + 1, 0),
                }
            };
            vec![c(Op::Ge, lo(p)?), c(Op::Lt, upper)]
        }
        _ => return None,
    })
}

impl Range {
    /// Parses a range.
    pub fn parse(input: &str) -> Result<Range, RangeError> {
        let err = |reason: &str| RangeError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.trim().is_empty() {
            return Err(err("empty range"));
        }
        let mut groups = Vec::new();
        for alt in input.split("||") {
            // Normalise: operators may be followed by spaces (`>= 1.2`), commas separate too.
            let alt = alt.replace(',', " ");
            let tokens: Vec<&str> = alt.split_whitespace().collect();
            if tokens.is_empty() {
                return Err(err("empty alternative between '||'"));
            }
            let mut group = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                let mut tok = tokens[i].to_owned();
                // operator alone: join with the next token
                if tok.chars().all(|ch| "<>=!~^".contains(ch)) {
                    i += 1;
                    let Some(next) = tokens.get(i) else {
                        return Err(err("operator without a version"));
                    };
                    tok.push_str(next);
                }
                // hyphen range: A - B
                if tokens.get(i + 1) == Some(&"-") {
                    let Some(upper) = tokens.get(i + 2) else {
                        return Err(err("hyphen range without an upper bound"));
                    };
                    let a =
                        parse_partial(&tok).ok_or_else(|| err(&format!("bad version {tok:?}")))?;
                    let b = parse_partial(upper)
                        .ok_or_else(|| err(&format!("bad version {upper:?}")))?;
                    group.extend(expand(">=", &a).ok_or_else(|| err("bad lower bound"))?);
                    group.extend(expand("<=", &b).ok_or_else(|| err("bad upper bound"))?);
                    i += 3;
                    continue;
                }
                let split = tok
                    .find(|ch: char| !"<>=!~^".contains(ch))
                    .ok_or_else(|| err("operator without a version"))?;
                let (op, v) = tok.split_at(split);
                let p = parse_partial(v).ok_or_else(|| err(&format!("bad version {v:?}")))?;
                group.extend(
                    expand(op, &p)
                        .ok_or_else(|| err(&format!("unsupported operator {op:?} with {v:?}")))?,
                );
                i += 1;
            }
            groups.push(group);
        }
        Ok(Range {
            groups,
            input: input.to_owned(),
        })
    }

    /// Whether a version satisfies the range. Pre-releases match only when a comparator of
    /// the matching alternative is a pre-release of the same major.minor.patch.
    pub fn matches(&self, v: &Version) -> bool {
        self.groups.iter().any(|g| {
            g.iter().all(|c| c.matches(v))
                && (v.pre.is_empty()
                    || g.iter().any(|c| {
                        !c.version.pre.is_empty()
                            && (c.version.major, c.version.minor, c.version.patch)
                                == (v.major, v.minor, v.patch)
                    }))
        })
    }

    /// The range as written.
    pub fn as_str(&self) -> &str {
        &self.input
    }

    /// The highest of `candidates` (strings parsed with [`parse_version`]) in the range,
    /// with its original text. Unparsable candidates are skipped.
    pub fn best<'a, I>(&self, candidates: I) -> Option<(&'a str, Version)>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut best: Option<(&'a str, Version)> = None;
        for c in candidates {
            let Some(v) = parse_version(c) else { continue };
            if !self.matches(&v) {
                continue;
            }
            let better = match &best {
                None => true,
                Some((_, b)) => cmp_precedence(&v, b) == Ordering::Greater,
            };
            if better {
                best = Some((c, v));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(range: &str, v: &str) -> bool {
        Range::parse(range)
            .unwrap()
            .matches(&parse_version(v).unwrap())
    }

    #[test]
    fn ranges() {
        assert!(m(">=1.0.0 <2.0.0", "1.5.0"));
        assert!(!m(">=1.0.0 <2.0.0", "2.0.0"));
        assert!(m(">=1.0.0, <2.0.0", "1.0.0"));
        assert!(m("^1.2", "1.9.9"));
        assert!(!m("^1.2", "1.1.0"));
        assert!(m("^0.2.3", "0.2.9"));
        assert!(!m("^0.2.3", "0.3.0"));
        assert!(m("~1.2.3", "1.2.9"));
        assert!(!m("~1.2.3", "1.3.0"));
        assert!(m("1.2.x", "1.2.7"));
        assert!(!m("1.2.x", "1.3.0"));
        assert!(m("*", "0.0.1"));
        assert!(!m("*", "1.0.0-rc.1"));
        assert!(m(">=1.0.0-0", "1.0.0-rc.1"));
        assert!(m("1.0 - 1.4", "1.4.9"));
        assert!(!m("1.0 - 1.4", "1.5.0"));
        assert!(m("<1.0.0 || >=3.0.0", "3.1.0"));
        assert!(!m("<1.0.0 || >=3.0.0", "2.0.0"));
        assert!(m(">= 1.2", "v1.2.0"));
        assert!(m("6.1.x", "6.1.6"));
        assert!(m("=1.2.3", "1.2.3+build"));
    }

    #[test]
    fn best_and_errors() {
        let r = Range::parse("1.x").unwrap();
        let tags = [
            "v1.0.0",
            "1.2.0",
            "v1.10.0",
            "2.0.0",
            "latest",
            "1.11.0-rc.1",
        ];
        assert_eq!(r.best(tags).unwrap().0, "v1.10.0");
        assert!(Range::parse("").is_err());
        assert!(Range::parse(">=").is_err());
        assert!(Range::parse("abc").unwrap_err().to_string().contains("abc"));
        assert_eq!(parse_version("v2").unwrap(), Version::new(2, 0, 0));
        assert!(parse_version("latest").is_none());
    }
}
