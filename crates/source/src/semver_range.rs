//! Semantic version ranges as Flux and Helm read them (Masterminds `semver/v3`
//! constraints): `>=1.2.0 <2.0.0`, `^1.2`, `~1.2.3`, `1.2.x`, `*`, `1.0 - 1.4`, alternatives
//! with `||`, conjunctions with spaces or commas, Masterminds' rules for wildcards in each
//! operator and its error messages. Versions may carry a `v` prefix and omit the minor or
//! patch number. A pre-release only matches an alternative in which some comparator has a
//! pre-release. The one implementation of these ranges in the workspace: the
//! source-controller (Git tags, OCI tags, Helm chart versions) and image policies use it.

use regex::Regex;
use semver::Version;
use std::cmp::Ordering;
use std::sync::LazyLock;

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

/// Masterminds `NewVersion` (coercing): [`parse_version`] minus what Masterminds refuses
/// (an uppercase `V`, surrounding whitespace).
pub fn masterminds_version(s: &str) -> Option<Version> {
    if s.starts_with('V') || s.trim() != s {
        return None;
    }
    parse_version(s)
}

/// Compares versions as Masterminds `Version.Compare`: major, minor, patch, then
/// pre-release (a release is greater than its pre-releases); build metadata is ignored.
pub fn compare_versions(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => compare_prerelease(a.pre.as_str(), b.pre.as_str()),
        })
}

/// Masterminds `comparePrerelease`: identifier by identifier; a missing identifier is less,
/// numeric identifiers (those fitting a `u64`) compare as numbers and are less than others,
/// others compare as bytes.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => {
                let d = compare_pre_part(x.unwrap_or(""), y.unwrap_or(""));
                if d != Ordering::Equal {
                    return d;
                }
            }
        }
    }
}

fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (parse_u64(s), parse_u64(o)) {
        (None, None) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(si), Some(oi)) => {
            if si > oi {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

/// Go's `\s`.
const WS: &str = r"[\t\n\f\r ]";
/// Masterminds' operator alternation (with its empty alternative).
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// Masterminds' constraint version pattern.
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";

struct ConstraintRegexes {
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

static RES: LazyLock<Option<ConstraintRegexes>> = LazyLock::new(|| {
    Some(ConstraintRegexes {
        constraint: Regex::new(&format!(r"^{WS}*({OPS}){WS}*({CV}){WS}*$")).ok()?,
        range: Regex::new(&format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")).ok()?,
        find: Regex::new(&format!(r"({OPS}){WS}*({CV})")).ok()?,
        valid: Regex::new(&format!(
            r"^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$"
        ))
        .ok()?,
    })
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Constraint {
    op: Op,
    con: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// A parsed range: a Masterminds `semver/v3` constraint set (`Constraints`), alternatives
/// separated by `||`, each a conjunction of comparators separated by spaces or commas;
/// `x`/`X`/`*` wildcards, `~`, `^`, hyphen ranges `1.2 - 1.4`.
#[derive(Debug, Clone)]
pub struct Range {
    groups: Vec<Vec<Constraint>>,
    /// Whether a comparator of the alternative has a pre-release.
    has_pre: Vec<bool>,
    input: String,
}

impl Range {
    /// Parses a range as Masterminds `NewConstraint`; the error carries Masterminds'
    /// message (`improper constraint: "…"`).
    pub fn parse(range: &str) -> Result<Range, RangeError> {
        let err = |reason: String| RangeError {
            input: range.to_owned(),
            reason,
        };
        let res = RES
            .as_ref()
            .ok_or_else(|| err("constraint patterns unavailable".into()))?;
        let rewritten = rewrite_range(res, range);
        let mut groups = Vec::new();
        let mut has_pre = Vec::new();
        for alt in rewritten.split("||") {
            if !res.valid.is_match(alt) {
                return Err(err(format!("improper constraint: {}", go_quote(alt))));
            }
            let mut found: Vec<&str> = res.find.find_iter(alt).map(|m| m.as_str()).collect();
            if found.is_empty() {
                found.push(alt);
            }
            let mut group = Vec::with_capacity(found.len());
            let mut pre = false;
            for s in found {
                let c = parse_constraint(res, s).map_err(err)?;
                pre |= !c.con.pre.is_empty();
                group.push(c);
            }
            groups.push(group);
            has_pre.push(pre);
        }
        Ok(Range {
            groups,
            has_pre,
            input: range.to_owned(),
        })
    }

    /// The range as written.
    pub fn as_str(&self) -> &str {
        &self.input
    }

    /// Masterminds `Constraints.Check`: some alternative's comparators all accept `v`;
    /// a pre-release is accepted only by an alternative where some comparator has one.
    pub fn matches(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .zip(&self.has_pre)
            .any(|(g, &pre)| g.iter().all(|c| c.check(v, pre)))
    }

    /// The highest of `candidates` (strings parsed with [`parse_version`]) in the range,
    /// with its original text; the first listed among equal versions. Unparsable
    /// candidates are skipped.
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
            if best
                .as_ref()
                .is_none_or(|(_, b)| compare_versions(&v, b) == Ordering::Greater)
            {
                best = Some((c, v));
            }
        }
        best
    }
}

/// Masterminds `rewriteRange`: `A - B` becomes `>= A, <= B `.
fn rewrite_range(res: &ConstraintRegexes, input: &str) -> String {
    let mut out = input.to_owned();
    for caps in res.range.captures_iter(input) {
        let (Some(whole), Some(a), Some(b)) = (caps.get(0), caps.get(1), caps.get(11)) else {
            continue;
        };
        let t = format!(">= {}, <= {} ", a.as_str(), b.as_str());
        out = out.replacen(whole.as_str(), &t, 1);
    }
    out
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn parse_constraint(res: &ConstraintRegexes, s: &str) -> Result<Constraint, String> {
    if s.is_empty() {
        return Ok(Constraint {
            op: Op::TildeOrEqual,
            con: Version::new(0, 0, 0),
            dirty: true,
            minor_dirty: false,
            patch_dirty: false,
        });
    }
    let m = res
        .constraint
        .captures(s)
        .ok_or_else(|| format!("improper constraint: {}", go_quote(s)))?;
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    let op = match g(1) {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        other => return Err(format!("improper constraint: {}", go_quote(other))),
    };
    let (major, minor, patch, pre) = (g(3), g(4), g(5), g(6));
    let strip = |p: &str| p.strip_prefix('.').unwrap_or(p).to_owned();
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    let ver = if is_x(major) || major.is_empty() {
        dirty = true;
        format!("0.0.0{pre}")
    } else if is_x(&strip(minor)) || minor.is_empty() {
        dirty = true;
        minor_dirty = true;
        format!("{major}.0.0{pre}")
    } else if is_x(&strip(patch)) || patch.is_empty() {
        dirty = true;
        patch_dirty = true;
        format!("{major}{minor}.0{pre}")
    } else {
        g(2).to_owned()
    };
    let con = masterminds_version(&ver).ok_or_else(|| "constraint parser error".to_owned())?;
    Ok(Constraint {
        op,
        con,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Constraint {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.con;
        let cmp = || compare_versions(v, c);
        match self.op {
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    cmp() == Ordering::Equal
                }
            }
            Op::Tilde => self.tilde(v),
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_prerelease(v.pre.as_str(), c.pre.as_str())
                                != Ordering::Equal;
                        }
                        return false;
                    }
                }
                cmp() != Ordering::Equal
            }
            Op::Greater => {
                if !self.dirty {
                    return cmp() == Ordering::Greater;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    cmp() == Ordering::Greater
                }
            }
            Op::Less => cmp() == Ordering::Less,
            Op::GreaterEqual => cmp() != Ordering::Less,
            Op::LessEqual => {
                if !self.dirty {
                    return cmp() != Ordering::Greater;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Caret => {
                if cmp() == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if compare_versions(v, c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

/// Go's `%q` for the strings Masterminds quotes in its messages.
fn go_quote(s: &str) -> String {
    gitops_api::gostr::quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Versions and the results of Masterminds semver/v3 (HEAD after 3.4.0, as Flux's
    // v3.5.0) Check() on them, one character per version, recorded with a Go program
    // calling Flux's ParseVersion and NewConstraint(range).Check.
    const VERSIONS: [&str; 40] = [
        "0.0.0",
        "0.0.1",
        "0.0.3",
        "0.0.4",
        "0.1.0",
        "0.2.3",
        "0.2.9",
        "0.3.0",
        "1.0.0-alpha",
        "1.0.0-beta",
        "1.0.0",
        "1.0.1",
        "1.1.0-rc.1",
        "1.1.0",
        "1.2.0-rc.1",
        "1.2.0",
        "1.2.3-alpha",
        "1.2.3-beta",
        "1.2.3-rc.1",
        "1.2.3-rc.2",
        "1.2.3",
        "1.2.3+build",
        "1.2.4",
        "1.2.99",
        "1.3.0-rc.1",
        "1.3.0",
        "1.4.9",
        "1.5.0",
        "1.99.0",
        "2.0.0-rc.1",
        "2.0.0",
        "2.3.4",
        "2.3.5",
        "3.0.0",
        "4.2.3",
        "4.3.0-rc.1",
        "v1.2.3",
        "2025.02.03",
        "2025.2.3-rc.1",
        "01.02.03",
    ];

    const CHECKS: &[(&str, &str)] = &[
        (">=1.0.0 <2.0.0", "ffffffffffttftftffffttttfttttffffffftfft"),
        ("~1.2", "ffffffffffffffftffffttttfffffffffffftfft"),
        ("^1", "ffffffffffttftftffffttttfttttffffffftfft"),
        ("^1.2.3", "ffffffffffffffffffffttttfttttffffffftfft"),
        ("^0.2.3", "fffffttfffffffffffffffffffffffffffffffff"),
        ("^0.0.3", "fftfffffffffffffffffffffffffffffffffffff"),
        ("^0.0", "ttttffffffffffffffffffffffffffffffffffff"),
        ("^0", "ttttttttffffffffffffffffffffffffffffffff"),
        ("~0.0.0", "ttttttttffttftftffffttttfttttftttttfttft"),
        ("~0", "ttttttttffffffffffffffffffffffffffffffff"),
        ("^*", "tfffffffffffffffffffffffffffffffffffffff"),
        ("*", "ttttttttffttftftffffttttfttttftttttfttft"),
        ("x", "ttttttttffttftftffffttttfttttftttttfttft"),
        ("1.x", "ffffffffffttftftffffttttfttttffffffftfft"),
        ("1.2.x", "ffffffffffffffftffffttttfffffffffffftfft"),
        ("1.2", "ffffffffffffffftffffttttfffffffffffftfft"),
        ("=1.2", "ffffffffffffffftffffttttfffffffffffftfft"),
        ("!=1.2", "ttttttttffttftfffffffffffttttftttttfftff"),
        ("!=1.x", "ttttttttfffffffffffffffffffffftttttfftff"),
        ("!=1.2.3", "ttttttttffttftftffffffttfttttftttttfftff"),
        ("!=*", "ftttttttffttftftffffttttfttttftttttfttft"),
        (">1.2", "fffffffffffffffffffffffffttttftttttfftff"),
        (">1.x", "fffffffffffffffffffffffffffffftttttfftff"),
        (">*", "ftttttttffttftftffffttttfttttftttttfttft"),
        ("<1.2", "ttttttttffttftffffffffffffffffffffffffff"),
        ("<=1.2", "ttttttttffttftftffffttttfffffffffffftfft"),
        ("<=1.x", "ttttttttffttftftffffttttfttttffffffftfft"),
        (">=1.0.0-0", "fffffffftttttttttttttttttttttttttttttttt"),
        (">=1.2.3-rc.1", "fffffffffffffffffftttttttttttttttttttttt"),
        ("1.2.3-rc.1", "fffffffffffffffffftfffffffffffffffffffff"),
        ("~1.2.3-beta", "ffffffffffffffffftttttttfffffffffffftfft"),
        ("^1.2.3-beta", "fffffffffffffffffttttttttttttffffffftfft"),
        (
            ">= 1.2, < 3.0.0 || >= 4.2.3",
            "ffffffffffffffftffffttttfttttftttftfttft",
        ),
        ("1.0 - 1.4", "ffffffffffttftftffffttttfttffffffffftfft"),
        ("1.2.3 - 2.3.4", "ffffffffffffffffffffttttfttttfttfffftfft"),
        (">=1.0.0,<2.0.0", "ffffffffffttftftffffttttfttttffffffftfft"),
        ("v1.x", "ffffffffffttftftffffttttfttttffffffftfft"),
        ("=v1.2.3", "ffffffffffffffffffffttfffffffffffffftfft"),
        ("1.0.0+meta", "fffffffffftfffffffffffffffffffffffffffff"),
        ("~>1.2", "ffffffffffffffftffffttttfffffffffffftfft"),
        (">0,<2.0", "ffffffffffttftftffffttttfttttffffffftfft"),
        ("1.0.x", "ffffffffffttffffffffffffffffffffffffffff"),
        ("=1.0.0", "fffffffffftfffffffffffffffffffffffffffff"),
        (">=1.0", "ffffffffffttftftffffttttfttttftttttfttft"),
        ("^1.0", "ffffffffffttftftffffttttfttttffffffftfft"),
        ("~1.0", "ffffffffffttffffffffffffffffffffffffffff"),
        ("<1.0.0-beta", "tttttttttfffffffffffffffffffffffffffffff"),
        ("1.2.3 || 2.x", "ffffffffffffffffffffttfffffffftttffftfft"),
        ("2025.x", "ffffffffffffffffffffffffffffffffffffftff"),
        (">=01.2", "ffffffffffffffftffffttttfttttftttttfttft"),
        ("=> 1.2", "ffffffffffffffftffffttttfttttftttttfttft"),
        ("~ 1.2", "ffffffffffffffftffffttttfffffffffffftfft"),
        ("^ 1.2", "ffffffffffffffftffffttttfttttffffffftfft"),
        ("> 1.2", "fffffffffffffffffffffffffttttftttttfftff"),
    ];

    #[test]
    fn masterminds_check_table() {
        let versions: Vec<Version> = VERSIONS
            .iter()
            .map(|v| masterminds_version(v).unwrap_or_else(|| panic!("version {v}")))
            .collect();
        let mut failures = Vec::new();
        for (range, expected) in CHECKS {
            let c = Range::parse(range).unwrap_or_else(|e| panic!("{range}: {e}"));
            let got: String = versions
                .iter()
                .map(|v| if c.matches(v) { 't' } else { 'f' })
                .collect();
            if &got != expected {
                failures.push(format!("{range:?}\n  want {expected}\n  got  {got}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn masterminds_invalid_ranges() {
        let cases = [
            ("1.0.0p", r#"improper constraint: "1.0.0p""#),
            ("1x", "constraint parser error"),
            ("x1", "constraint parser error"),
            ("-1", r#"improper constraint: "-1""#),
            ("a", r#"improper constraint: "a""#),
            ("", r#"improper constraint: """#),
            ("*-*", r#"improper constraint: "*-*""#),
            (">=", r#"improper constraint: ">=""#),
            ("1.2.3.4", r#"improper constraint: "1.2.3.4""#),
            ("V1.2", r#"improper constraint: "V1.2""#),
            ("1 - ", r#"improper constraint: "1 - ""#),
            ("==1.2", r#"improper constraint: "==1.2""#),
            ("1.2 ||", r#"improper constraint: """#),
            ("|| 1.2", r#"improper constraint: """#),
            (">1.2 <<2", r#"improper constraint: ">1.2 <<2""#),
            ("1|2", "constraint parser error"),
            ("1.2.3 -2.0.0", r#"improper constraint: "1.2.3 -2.0.0""#),
        ];
        for (range, reason) in cases {
            match Range::parse(range) {
                Err(RangeError { input, reason: got }) => {
                    assert_eq!(input, range);
                    assert_eq!(got, reason, "{range:?}");
                }
                other => panic!("{range:?}: {other:?}"),
            }
        }
        // Flux's factory_test: "*-*" is invalid; valid ones from semver_test.
        for ok in ["1.0.x", "^1.0", "=1.0.0", "~1.0", ">=1.0", ">0,<2.0"] {
            assert!(Range::parse(ok).is_ok(), "{ok}");
        }
    }

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
