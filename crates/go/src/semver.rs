//! Masterminds semver v3 (`github.com/Masterminds/semver/v3` v3.5.0, as Flux's controllers,
//! Helm 4.2 and Sprig's `semver`/`semverCompare` use it): [`Version`] is `NewVersion`'s
//! coercing parse and `Compare`'s order, [`Constraints`] is `NewConstraint` and `Check`.
//!
//! - Versions: an optional lowercase `v`, one to three numbers (leading zeros allowed, `1` and
//!   `1.2` filled with zeros), a pre-release (`-rc.1`, numeric identifiers without leading
//!   zeros) and build metadata (`+b.7`). [`Version::parse_flux`] adds Flux's rule that a
//!   version has at least two dots (`fluxcd/pkg/version.ParseVersion`).
//! - Order: major, minor, patch, then pre-release (a release is greater than its
//!   pre-releases; numeric identifiers are less than others); build metadata is ignored, so
//!   `1.0.0` and `1.0.0+b` are equal.
//! - Constraints: `||` alternatives of comparators separated by spaces or commas; operators
//!   `=`, `!=`, `>`, `<`, `>=` (`=>`), `<=` (`=<`), `~` (`~>`), `^`; `x`/`X`/`*` wildcards and
//!   omitted numbers; hyphen ranges `1.2 - 1.4`. A pre-release version only satisfies an
//!   alternative in which some comparator has a pre-release.
//!
//! ```
//! use gitops_go::semver::{Constraints, Version};
//!
//! let c = Constraints::parse(">= 1.2, < 3.0.0 || >= 4.2.3").unwrap();
//! assert!(c.check(&Version::parse("v1.2").unwrap()));
//! assert!(!c.check(&Version::parse("3.0.0").unwrap()));
//! assert!(!c.check(&Version::parse("4.3.0-rc.1").unwrap()));
//! assert_eq!(Constraints::parse("1.0.0p").unwrap_err().to_string(), r#"improper constraint: "1.0.0p""#);
//! assert_eq!(Version::parse("1.2.x").unwrap_err().to_string(), "invalid semantic version");
//! ```

use regex_lite::Regex;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

/// A version that Masterminds' `NewVersion` refuses; the messages are Masterminds'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Not a version at all (`ErrInvalidSemVer`).
    #[error("invalid semantic version")]
    Invalid,
    /// A numeric pre-release identifier with a leading zero, `1.2.3-rc.01`
    /// (`ErrSegmentStartsZero`).
    #[error("version segment starts with 0")]
    SegmentStartsZero,
    /// An empty or malformed pre-release identifier (`ErrInvalidPrerelease`).
    #[error("invalid prerelease string")]
    InvalidPrerelease,
    /// An empty or malformed build metadata identifier (`ErrInvalidMetadata`).
    #[error("invalid metadata string")]
    InvalidMetadata,
    /// A major, minor or patch number beyond `u64`.
    #[error("error parsing version segment: strconv.ParseUint: parsing {}: value out of range", go_quote(.0))]
    SegmentRange(String),
}

/// A constraint that Masterminds' `NewConstraint` refuses; the messages are Masterminds'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// An `||` alternative (or one comparator of it) that is not a constraint:
    /// `improper constraint: "1.0.0p"`.
    #[error("improper constraint: {}", go_quote(.0))]
    Improper(String),
    /// A comparator whose version does not parse, such as `1x`.
    #[error("constraint parser error")]
    Parser,
}

/// A Masterminds semantic version.
///
/// Equality and order are Masterminds' `Compare`: build metadata and the original spelling
/// do not take part.
#[derive(Debug, Clone)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

/// The pieces of a version as Masterminds' loose pattern (`looseSemVerRegex`, anchored)
/// captures them: `^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-(ID(\.ID)*))?(\+(ID(\.ID)*))?$` with
/// `ID` = `[0-9A-Za-z\-]+`. The minor and patch numbers keep their dot; the pre-release and
/// metadata come without their `-` and `+`.
///
/// Read by hand rather than with a regex engine: every `Chart.yaml` of every chart is checked
/// with it, and compiling and running the pattern cost a small chart a tenth of its render.
#[derive(Debug, PartialEq)]
struct LooseParts<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    pre: &'a str,
    metadata: &'a str,
}

fn loose_parts(text: &str) -> Option<LooseParts<'_>> {
    /// The longest prefix of `s` whose bytes satisfy `f`, and the rest.
    fn span(s: &str, f: impl Fn(u8) -> bool) -> (&str, &str) {
        let n = s.bytes().take_while(|&b| f(b)).count();
        s.split_at(n)
    }
    /// `.` and one or more digits at the start of `s`, or nothing.
    fn dotted_number(s: &str) -> (&str, &str) {
        match s.strip_prefix('.') {
            Some(r) => {
                let (digits, _) = span(r, |b| b.is_ascii_digit());
                if digits.is_empty() {
                    ("", s)
                } else {
                    s.split_at(1 + digits.len())
                }
            }
            None => ("", s),
        }
    }
    /// Dot-separated non-empty identifiers of `[0-9A-Za-z-]` at the start of `s`.
    fn identifiers(s: &str) -> Option<(&str, &str)> {
        let id = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
        let mut len = 0;
        loop {
            let (part, _) = span(&s[len..], id);
            if part.is_empty() {
                return None;
            }
            len += part.len();
            match s[len..].strip_prefix('.') {
                Some(r) if r.bytes().next().is_some_and(id) => len += 1,
                _ => return Some(s.split_at(len)),
            }
        }
    }
    let rest = text.strip_prefix('v').unwrap_or(text);
    let (major, rest) = span(rest, |b| b.is_ascii_digit());
    if major.is_empty() {
        return None;
    }
    let (minor, rest) = dotted_number(rest);
    let (patch, mut rest) = dotted_number(rest);
    let mut pre = "";
    if let Some(r) = rest.strip_prefix('-') {
        (pre, rest) = identifiers(r)?;
    }
    let mut metadata = "";
    if let Some(r) = rest.strip_prefix('+') {
        (metadata, rest) = identifiers(r)?;
    }
    rest.is_empty().then_some(LooseParts {
        major,
        minor,
        patch,
        pre,
        metadata,
    })
}

impl Version {
    /// Masterminds `NewVersion` (with its default `CoerceNewVersion`): `v1.2.3`, `1.2`, `1`,
    /// `2025.01.02`, `1.2.3-rc.1+b`.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let parts = loose_parts(text).ok_or(VersionError::Invalid)?;
        let number = |s: &str| -> Result<u64, VersionError> {
            let digits = s.strip_prefix('.').unwrap_or(s);
            if digits.is_empty() {
                return Ok(0);
            }
            digits
                .parse()
                .map_err(|_| VersionError::SegmentRange(digits.to_owned()))
        };
        let v = Version {
            major: number(parts.major)?,
            minor: number(parts.minor)?,
            patch: number(parts.patch)?,
            pre: parts.pre.to_owned(),
            metadata: parts.metadata.to_owned(),
            original: text.to_owned(),
        };
        if !v.pre.is_empty() {
            validate_prerelease(&v.pre)?;
        }
        if !v.metadata.is_empty() {
            validate_metadata(&v.metadata)?;
        }
        Ok(v)
    }

    /// Flux's `version.ParseVersion` (`fluxcd/pkg/version`), which Flux applies to Git tags,
    /// OCI tags, Helm chart versions and image tags: [`Version::parse`] of a text with at least
    /// two dots (`1.2` and `v1` are not versions there).
    pub fn parse_flux(text: &str) -> Result<Version, VersionError> {
        if text.splitn(3, '.').count() != 3 {
            return Err(VersionError::Invalid);
        }
        Version::parse(text)
    }

    /// `major.minor.patch`, as Masterminds `New` without pre-release or metadata.
    pub fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
            pre: String::new(),
            metadata: String::new(),
            original: format!("{major}.{minor}.{patch}"),
        }
    }

    /// The major number.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor number.
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch number.
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The pre-release, without its `-` (empty for a release).
    pub fn prerelease(&self) -> &str {
        &self.pre
    }

    /// The build metadata, without its `+`.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// The text the version was parsed from (`Original()`).
    pub fn original(&self) -> &str {
        &self.original
    }

    /// Masterminds `SetMetadata`: the version with other build metadata (validated unless
    /// empty); its original text becomes the new version, keeping a `v` prefix.
    pub fn with_metadata(&self, metadata: &str) -> Result<Version, VersionError> {
        if !metadata.is_empty() {
            validate_metadata(metadata)?;
        }
        let mut next = self.clone();
        next.metadata = metadata.to_owned();
        let prefix = if self.original.starts_with('v') {
            "v"
        } else {
            ""
        };
        next.original = format!("{prefix}{next}");
        Ok(next)
    }
}

impl fmt::Display for Version {
    /// Masterminds `String()`: `major.minor.patch[-pre][+metadata]`, without a `v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl Ord for Version {
    /// Masterminds `Compare`.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &other.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// Masterminds `comparePrerelease`: identifier by identifier, a missing one being less.
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

/// Go's `strconv.ParseUint(s, 10, 64)` succeeding.
fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Masterminds `comparePrePart`: an empty identifier is less, numeric identifiers (those
/// fitting a `u64`) compare as numbers and are less than others, others compare as bytes.
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
        (None, None) => s.cmp(o),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(si), Some(oi)) => si.cmp(&oi),
    }
}

fn is_alnum_or_hyphen(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Masterminds `validatePrerelease`.
fn validate_prerelease(p: &str) -> Result<(), VersionError> {
    for part in p.split('.') {
        if part.is_empty() {
            return Err(VersionError::InvalidPrerelease);
        } else if part.bytes().all(|b| b.is_ascii_digit()) {
            if part.len() > 1 && part.starts_with('0') {
                return Err(VersionError::SegmentStartsZero);
            }
        } else if !is_alnum_or_hyphen(part) {
            return Err(VersionError::InvalidPrerelease);
        }
    }
    Ok(())
}

/// Masterminds `validateMetadata`.
fn validate_metadata(m: &str) -> Result<(), VersionError> {
    if m.split('.').all(|p| !p.is_empty() && is_alnum_or_hyphen(p)) {
        Ok(())
    } else {
        Err(VersionError::InvalidMetadata)
    }
}

/// Go's `\s`.
const WS: &str = r"[\t\n\f\r ]";
/// Masterminds' operator alternation (with its empty alternative).
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// Masterminds' constraint version pattern (`cvRegex`).
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";

/// The constraint patterns.
struct Regexes {
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

static REGEXES: LazyLock<Option<Regexes>> = LazyLock::new(|| {
    Some(Regexes {
        constraint: Regex::new(&format!(r"^{WS}*({OPS}){WS}*({CV}){WS}*$")).ok()?,
        range: Regex::new(&format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")).ok()?,
        find: Regex::new(&format!(r"({OPS}){WS}*({CV})")).ok()?,
        valid: Regex::new(&format!(
            r"^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$"
        ))
        .ok()?,
    })
});

/// The compiled patterns (fixed, so always present).
fn regexes() -> Option<&'static Regexes> {
    REGEXES.as_ref()
}

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

/// One comparator: an operator and a version whose omitted or wildcard parts are "dirty".
#[derive(Debug, Clone)]
struct Constraint {
    op: Op,
    con: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// Masterminds `Constraints`: `||` alternatives, each a conjunction of comparators.
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<Vec<Constraint>>,
    /// Whether a comparator of the alternative has a pre-release.
    contains_pre: Vec<bool>,
    text: String,
}

impl Constraints {
    /// Masterminds `NewConstraint`.
    pub fn parse(text: &str) -> Result<Constraints, ConstraintError> {
        if let Some(c) = single_comparator(text) {
            let c = c?;
            return Ok(Constraints {
                contains_pre: vec![!c.con.pre.is_empty()],
                groups: vec![vec![c]],
                text: text.to_owned(),
            });
        }
        Self::parse_with_patterns(text)
    }

    /// [`Constraints::parse`] by Masterminds' patterns alone.
    fn parse_with_patterns(text: &str) -> Result<Constraints, ConstraintError> {
        let res = regexes().ok_or(ConstraintError::Parser)?;
        let rewritten = rewrite_range(res, text);
        let mut groups = Vec::new();
        let mut contains_pre = Vec::new();
        for alt in rewritten.split("||") {
            if !res.valid.is_match(alt) {
                return Err(ConstraintError::Improper(alt.to_owned()));
            }
            let mut found: Vec<&str> = res.find.find_iter(alt).map(|m| m.as_str()).collect();
            if found.is_empty() {
                found.push(alt);
            }
            let mut group = Vec::with_capacity(found.len());
            let mut pre = false;
            for s in found {
                let c = parse_constraint(res, s)?;
                pre |= !c.con.pre.is_empty();
                group.push(c);
            }
            groups.push(group);
            contains_pre.push(pre);
        }
        Ok(Constraints {
            groups,
            contains_pre,
            text: text.to_owned(),
        })
    }

    /// The constraints as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Masterminds `Check`: whether some alternative's comparators all accept `v`; a
    /// pre-release is accepted only by an alternative where some comparator has one.
    pub fn check(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .zip(&self.contains_pre)
            .any(|(g, &pre)| g.iter().all(|c| c.check(v, pre)))
    }

    /// The highest of `candidates` that is a version for Flux ([`Version::parse_flux`]) and
    /// satisfies the constraints, with its text: what Flux picks from Git tags, OCI tags,
    /// Helm chart versions and image tags. Among equal versions (`1.0.0`, `v1.0.0+b`) the
    /// first listed wins.
    pub fn latest<'a, I>(&self, candidates: I) -> Option<(&'a str, Version)>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut best: Option<(&'a str, Version)> = None;
        for c in candidates {
            let Ok(v) = Version::parse_flux(c) else {
                continue;
            };
            if self.check(&v) && best.as_ref().is_none_or(|(_, b)| v > *b) {
                best = Some((c, v));
            }
        }
        best
    }
}

impl FromStr for Constraints {
    type Err = ConstraintError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Constraints::parse(s)
    }
}

impl fmt::Display for Constraints {
    /// The constraints as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Masterminds `rewriteRange`: `A - B` becomes `>= A, <= B `.
fn rewrite_range(res: &Regexes, input: &str) -> String {
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

/// The constraint when `text` is a single comparator without pre-release, metadata, ranges
/// or alternatives (`~1.2`, `>= 2.0.0`, `2.x.x`, what charts' dependencies and most users
/// write); `None` for anything else, which the patterns read.
///
/// For such a text the patterns' reading is this one: the alternatives, range and `valid`
/// patterns match the whole text, `find` finds the operator (the run of operator characters:
/// a version never starts with one) and the version after it, and `constraint` captures them.
fn single_comparator(text: &str) -> Option<Result<Constraint, ConstraintError>> {
    let go_space = |c: char| matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ');
    let t = text.trim_matches(go_space);
    let op_len = t.bytes().take_while(|b| b"=!<>~^".contains(b)).count();
    let (op, rest) = t.split_at(op_len);
    if !matches!(
        op,
        "" | "=" | "!=" | ">" | "<" | ">=" | "=>" | "<=" | "=<" | "~" | "~>" | "^"
    ) {
        return None;
    }
    let cv = rest.trim_start_matches(go_space);
    let digits = cv.strip_prefix('v').unwrap_or(cv);
    let part = |b: u8| b.is_ascii_digit() || matches!(b, b'x' | b'X' | b'*');
    let mut pieces = digits.split('.');
    let major = pieces.next()?;
    let minor = pieces.next();
    let patch = pieces.next();
    if pieces.next().is_some()
        || [Some(major), minor, patch]
            .into_iter()
            .flatten()
            .any(|p| p.is_empty() || !p.bytes().all(part))
    {
        return None;
    }
    let dotted = |p: Option<&str>| p.map_or(0, |p| p.len() + 1);
    let minor = &digits[major.len()..major.len() + dotted(minor)];
    let patch = &digits[major.len() + minor.len()..];
    Some(comparator(op, cv, major, minor, patch, ""))
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

/// Masterminds `parseConstraint`.
fn parse_constraint(res: &Regexes, s: &str) -> Result<Constraint, ConstraintError> {
    if s.is_empty() {
        // Equivalent to `*`.
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
        .ok_or_else(|| ConstraintError::Improper(s.to_owned()))?;
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    comparator(g(1), g(2), g(3), g(4), g(5), g(6))
}

/// A comparator from the pieces Masterminds' constraint pattern captures: the operator, the
/// whole version, its major number, its minor and patch numbers with their dots, and its
/// pre-release with its `-`.
fn comparator(
    op: &str,
    version: &str,
    major: &str,
    minor: &str,
    patch: &str,
    pre: &str,
) -> Result<Constraint, ConstraintError> {
    let op = match op {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        other => return Err(ConstraintError::Improper(other.to_owned())),
    };
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
        version.to_owned()
    };
    let con = Version::parse(&ver).map_err(|_| ConstraintError::Parser)?;
    Ok(Constraint {
        op,
        con,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Constraint {
    /// The `constraint*` functions of Masterminds' `constraints.go`.
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.con;
        match self.op {
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v == c
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
                            return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                v != c
            }
            Op::Greater => {
                if !self.dirty {
                    return v > c;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    v > c
                }
            }
            Op::Less => v < c,
            Op::GreaterEqual => v >= c,
            Op::LessEqual => {
                if !self.dirty {
                    return v <= c;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Caret => {
                if v < c {
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

    /// Masterminds `constraintTilde` (after the pre-release check).
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v < c {
            return false;
        }
        // ~0.0.0 accepts everything.
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

use crate::fmt::quote as go_quote;

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts made of the characters versions and constraints are written with, in random
    /// lengths and orders (a fixed xorshift, so failures reproduce).
    fn random_texts(n: usize, alphabet: &[&str]) -> Vec<String> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|_| {
                let len = (next() % 12) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn versions_read_as_the_loose_pattern_reads_them() {
        const LOOSE: &str = r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$";
        let re = Regex::new(LOOSE).unwrap();
        let alphabet = [
            "0", "1", "9", "00", "12", ".", ".", "-", "+", "v", "a", "Z", "x", " ", "\n", "é",
        ];
        let mut matched = 0;
        for t in random_texts(60_000, &alphabet) {
            let by_pattern = re.captures(&t).map(|m| {
                let g = |i: usize| m.get(i).map_or("", |g| g.as_str());
                LooseParts {
                    major: g(1),
                    minor: g(2),
                    patch: g(3),
                    pre: g(5),
                    metadata: g(8),
                }
            });
            matched += usize::from(by_pattern.is_some());
            assert_eq!(loose_parts(&t), by_pattern, "{t:?}");
        }
        assert!(matched > 1000, "only {matched} texts were versions");
    }

    #[test]
    fn single_comparators_read_as_the_patterns_read_them() {
        let alphabet = [
            "1", "2", "0", "10", ".", ".", "x", "X", "*", "v", " ", "\t", "=", ">", "<", "~", "^",
            "!", "-", "+", ",", "|", "a",
        ];
        let mut fast = 0;
        for t in random_texts(60_000, &alphabet) {
            fast += usize::from(single_comparator(&t).is_some());
            let quick = format!("{:?}", Constraints::parse(&t));
            let slow = format!("{:?}", Constraints::parse_with_patterns(&t));
            assert_eq!(quick, slow, "{t:?}");
        }
        assert!(fast > 1000, "only {fast} texts took the quick way");
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn new_version_table() {
        // Masterminds version_test.go TestNewVersion ("With loose NewVersion").
        let cases: &[(&str, bool)] = &[
            ("1.2.3", true),
            ("1.2.3-alpha.01", false),
            ("1.2.3+test.01", true),
            ("1.2.3-alpha.-1", true),
            ("v1.2.3", true),
            ("1.0", true),
            ("v1.0", true),
            ("1", true),
            ("v1", true),
            ("1.2.beta", false),
            ("v1.2.beta", false),
            ("foo", false),
            ("1.2-5", true),
            ("v1.2-5", true),
            ("1.2-beta.5", true),
            ("v1.2-beta.5", true),
            ("\n1.2", false),
            ("\nv1.2", false),
            ("1.2.0-x.Y.0+metadata", true),
            ("v1.2.0-x.Y.0+metadata", true),
            ("1.2.0-x.Y.0+metadata-width-hypen", true),
            ("v1.2.0-x.Y.0+metadata-width-hypen", true),
            ("1.2.3-rc1-with-hypen", true),
            ("v1.2.3-rc1-with-hypen", true),
            ("1.2.3-0abc123", true),
            ("1.2.3-beta.01", false),
            ("1.2.3.4", false),
            ("v1.2.3.4", false),
            ("1.2.2147483648", true),
            ("1.2147483648.3", true),
            ("2147483648.3.0", true),
            ("12.3.4.1234", false),
            ("12.23.4.1234", false),
            ("12.3.34.1234", false),
            ("20221209-update-renovatejson-v4", true),
            ("1.1.2+.123", false),
            ("1.0.0-alpha_beta", false),
            ("1.0.0-alpha..", false),
            ("1.0.0-alpha..1", false),
            ("9.8.7+meta+meta", false),
            ("1.2.31----RC-SNAPSHOT.12.09.1--.12+788", false),
            ("01.1.1", true),
            ("1.01.1", true),
            ("1.1.01", true),
            // and what Masterminds refuses that a looser reader might take
            ("V1.2.3", false),
            (" 1.2.3", false),
            ("1.2.3 ", false),
            ("vv1", false),
            ("", false),
            ("1.2.3-", false),
            ("1.2.3+", false),
        ];
        for &(s, ok) in cases {
            assert_eq!(Version::parse(s).is_ok(), ok, "{s:?}");
        }
    }

    #[test]
    fn version_errors_and_parts() {
        let e = |s: &str| Version::parse(s).unwrap_err().to_string();
        assert_eq!(e("1.2.x"), "invalid semantic version");
        assert_eq!(e("01.2.3-01"), "version segment starts with 0");
        assert_eq!(e("1.2.3+"), "invalid semantic version");
        assert_eq!(
            e("99999999999999999999.1"),
            r#"error parsing version segment: strconv.ParseUint: parsing "99999999999999999999": value out of range"#
        );
        let x = v("v01.02-rc.1+b.7");
        assert_eq!(
            (
                x.major(),
                x.minor(),
                x.patch(),
                x.prerelease(),
                x.metadata()
            ),
            (1, 2, 0, "rc.1", "b.7")
        );
        assert_eq!(x.original(), "v01.02-rc.1+b.7");
        assert_eq!(x.to_string(), "1.2.0-rc.1+b.7");
        let m = x.with_metadata("0123456789ab").unwrap();
        assert_eq!(m.to_string(), "1.2.0-rc.1+0123456789ab");
        assert_eq!(m.original(), "v1.2.0-rc.1+0123456789ab");
        assert_eq!(
            x.with_metadata("a..b").unwrap_err(),
            VersionError::InvalidMetadata
        );
        assert_eq!(Version::new(1, 2, 3).original(), "1.2.3");
    }

    #[test]
    fn flux_versions_have_two_dots() {
        assert!(Version::parse_flux("1.2").is_err());
        assert!(Version::parse_flux("v1").is_err());
        assert!(Version::parse_flux("latest").is_err());
        assert_eq!(
            Version::parse_flux("1.2-rc.1").map(|v| v.to_string()),
            Ok("1.2.0-rc.1".to_owned())
        );
        assert_eq!(
            Version::parse_flux("v2025.02.03").map(|v| v.to_string()),
            Ok("2025.2.3".to_owned())
        );
    }

    #[test]
    fn compare_table() {
        // Masterminds version_test.go TestCompare.
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.2.3", "1.5.1", Ordering::Less),
            ("2.2.3", "1.5.1", Ordering::Greater),
            ("2.2.3", "2.2.2", Ordering::Greater),
            ("3.2-beta", "3.2-beta", Ordering::Equal),
            ("1.3", "1.1.4", Ordering::Greater),
            ("4.2", "4.2-beta", Ordering::Greater),
            ("4.2-beta", "4.2", Ordering::Less),
            ("4.2-alpha", "4.2-beta", Ordering::Less),
            ("4.2-alpha", "4.2-alpha", Ordering::Equal),
            ("4.2-beta.2", "4.2-beta.1", Ordering::Greater),
            ("4.2-beta2", "4.2-beta1", Ordering::Greater),
            ("4.2-beta", "4.2-beta.2", Ordering::Less),
            ("4.2-beta", "4.2-beta.foo", Ordering::Less),
            ("4.2-beta.2", "4.2-beta", Ordering::Greater),
            ("4.2-beta.foo", "4.2-beta", Ordering::Greater),
            ("1.2+bar", "1.2+baz", Ordering::Equal),
            ("1.0.0-beta.4", "1.0.0-beta.-2", Ordering::Less),
            ("1.0.0-beta.-2", "1.0.0-beta.-3", Ordering::Less),
            ("1.0.0-beta.-3", "1.0.0-beta.5", Ordering::Greater),
        ];
        for &(a, b, want) in cases {
            assert_eq!(v(a).cmp(&v(b)), want, "{a} vs {b}");
        }
        let mut sorted: Vec<Version> = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ]
        .iter()
        .map(|s| v(s))
        .collect();
        let want = sorted.clone();
        sorted.reverse();
        sorted.sort();
        assert_eq!(sorted, want);
    }

    // Versions and the results of Masterminds semver/v3 (v3.5.0, as Flux) Check() on them,
    // one character per version, recorded with a Go program calling Flux's ParseVersion and
    // NewConstraint(range).Check.
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
        let versions: Vec<Version> = VERSIONS.iter().map(|s| v(s)).collect();
        let mut failures = Vec::new();
        for (range, expected) in CHECKS {
            let c = Constraints::parse(range).unwrap_or_else(|e| panic!("{range}: {e}"));
            let got: String = versions
                .iter()
                .map(|v| if c.check(v) { 't' } else { 'f' })
                .collect();
            if &got != expected {
                failures.push(format!("{range:?}\n  want {expected}\n  got  {got}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn masterminds_invalid_constraints() {
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
            ("~>", r#"improper constraint: "~>""#),
            ("1.2\t\"x", "improper constraint: \"1.2\\t\\\"x\""),
        ];
        for (range, want) in cases {
            match Constraints::parse(range) {
                Err(e) => assert_eq!(e.to_string(), want, "{range:?}"),
                Ok(_) => panic!("{range:?} parsed"),
            }
        }
        // Flux's factory_test: valid ones from semver_test.
        for ok in ["1.0.x", "^1.0", "=1.0.0", "~1.0", ">=1.0", ">0,<2.0"] {
            assert!(Constraints::parse(ok).is_ok(), "{ok}");
        }
    }

    fn m(range: &str, version: &str) -> bool {
        Constraints::parse(range).unwrap().check(&v(version))
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
        // Helm's kubeVersion checks.
        assert!(m(">=1.19-0", "v1.35.0"));
        assert!(!m("<1.19", "1.19.0-beta"));
    }

    #[test]
    fn latest_is_what_flux_picks() {
        let c = Constraints::parse("1.x").unwrap();
        let tags = [
            "v1.0.0",
            "1.2.0",
            "v1.10.0",
            "2.0.0",
            "latest",
            "1.11.0-rc.1",
            "v1",
            "1.99",
        ];
        assert_eq!(c.latest(tags).map(|(t, _)| t), Some("v1.10.0"));
        let c = Constraints::parse(">=1.0.0").unwrap();
        assert_eq!(
            c.latest(["1.0.0", "v1.0.0+b"]).map(|(t, _)| t),
            Some("1.0.0")
        );
        assert_eq!(c.latest(["0.9.0", "x"]), None);
        assert_eq!(c.as_str(), ">=1.0.0");
    }
}
