//! Flux's `ImagePolicy` selection (image-reflector-controller `internal/policy`): pick the
//! latest of an image repository's tags by a `semver` range, `alphabetical` or `numerical`
//! order, after an optional `filterTags` pattern with `extract`.
//!
//! ```
//! use gitops_image_updater::policy::{select, Order, Policy, TagFilter};
//!
//! let semver = Policy::SemVer { range: ">=1.0.0 <2.0.0".into() };
//! assert_eq!(select(&semver, None, &["1.0.0", "v1.4.2", "2.0.0"]).unwrap(), "v1.4.2");
//!
//! let filter = TagFilter::new(r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", "$ts");
//! let numerical = Policy::Numerical { order: Order::Asc };
//! let tags = ["main-0a1b2c-1700000100", "main-3d4e5f-1700000200", "dev-abc-1800000000"];
//! assert_eq!(select(&numerical, Some(&filter), &tags).unwrap(), "main-3d4e5f-1700000200");
//! ```
//!
//! Semantics follow Flux exactly:
//! - semver: a tag is a version when it has at least two dots and Masterminds `NewVersion`
//!   reads it (`v` prefix, leading zeros); constraints are Masterminds `semver/v3` constraints,
//!   where pre-releases match only when some comparator of the same `||` alternative has a
//!   pre-release (of any version). The highest matching version wins; among equal versions
//!   (`1.0.0` and `v1.0.0`) the first listed.
//! - alphabetical: byte order; `asc` selects the greatest, `desc` the least.
//! - numerical: Go's `strconv.ParseFloat`; one tag that does not parse fails the policy.
//! - filterTags: tags not matching `pattern` are dropped; with `extract` (Go's
//!   `Regexp.ExpandString`: `$name`, `${name}`, `$1`, `$$`) the policy orders the extracted
//!   values and the original tag is returned.
//! - no tags (or all filtered out): [`PolicyError::EmptyList`]; semver with no match:
//!   [`PolicyError::NoMatch`].

use gitops_api::image::{ImagePolicyChoice, SortOrder};
use gitops_go::semver::Constraints;
use regex::{CaptureLocations, Regex};
use std::collections::HashMap;
use std::str::FromStr;

/// Why a policy could not be built or could not select a tag. The messages are Flux's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The `ImagePolicyChoice` sets none of `semver`, `alphabetical`, `numerical`.
    #[error("given ImagePolicyChoice object is invalid")]
    NoPolicy,
    /// An order other than `asc`/`desc` (case-insensitive).
    #[error("invalid order argument provided: '{0}', must be one of: ASC, DESC")]
    InvalidOrder(String),
    /// The semver range does not parse as a Masterminds constraint.
    #[error("invalid semver range {range:?}: {reason}")]
    InvalidRange {
        /// The range as written in `spec.policy.semver.range`.
        range: String,
        /// Masterminds' message, e.g. `improper constraint: "1.0.0p"`.
        reason: String,
    },
    /// The `filterTags.pattern` is not a valid regular expression.
    #[error("invalid regular expression pattern '{pattern}': {reason}")]
    InvalidPattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No tags to choose from (none given, or none left after `filterTags`).
    #[error("version list argument cannot be empty")]
    EmptyList,
    /// No tag is a version in the semver range.
    #[error("unable to determine latest version from provided list")]
    NoMatch,
    /// A tag (after `extract`) that `numerical` cannot read as a number.
    #[error("failed to parse invalid numeric value '{0}'")]
    InvalidNumber(String),
}

impl PolicyError {
    /// Whether the error is in the policy itself (Flux marks the ImagePolicy `Stalled` with
    /// reason `InvalidPolicy`) rather than in the tags it was given.
    pub fn is_invalid_policy(&self) -> bool {
        matches!(
            self,
            PolicyError::NoPolicy
                | PolicyError::InvalidOrder(_)
                | PolicyError::InvalidRange { .. }
                | PolicyError::InvalidPattern { .. }
        )
    }
}

/// Sort order of `alphabetical` and `numerical`: `asc` selects the last in ascending order
/// (the greatest), `desc` the last in descending order (the least).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Order {
    /// Ascending: the greatest is latest (the default).
    #[default]
    Asc,
    /// Descending: the least is latest.
    Desc,
}

impl FromStr for Order {
    type Err = PolicyError;

    /// Reads `asc`/`desc` in any case; empty means `asc` (Flux upper-cases the field).
    fn from_str(s: &str) -> Result<Order, PolicyError> {
        match s.to_ascii_uppercase().as_str() {
            "" | "ASC" => Ok(Order::Asc),
            "DESC" => Ok(Order::Desc),
            _ => Err(PolicyError::InvalidOrder(s.to_owned())),
        }
    }
}

impl From<SortOrder> for Order {
    fn from(o: SortOrder) -> Order {
        match o {
            SortOrder::Asc => Order::Asc,
            SortOrder::Desc => Order::Desc,
        }
    }
}

/// An ordering policy, as `spec.policy` of an ImagePolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// The highest version in a Masterminds semver range.
    SemVer {
        /// The range, e.g. `>=1.0.0 <2.0.0`, `~1.2`, `^1`, `>=1.0.0-0`.
        range: String,
    },
    /// Byte-wise string order.
    Alphabetical {
        /// Which end is latest.
        order: Order,
    },
    /// Order of the tags read as floating-point numbers.
    Numerical {
        /// Which end is latest.
        order: Order,
    },
}

impl Policy {
    /// The policy of an `ImagePolicyChoice`; `semver` wins over `alphabetical` over
    /// `numerical` when several are set, as in Flux.
    pub fn from_choice(choice: &ImagePolicyChoice) -> Result<Policy, PolicyError> {
        if let Some(s) = &choice.semver {
            Ok(Policy::SemVer {
                range: s.range.clone(),
            })
        } else if let Some(a) = &choice.alphabetical {
            Ok(Policy::Alphabetical {
                order: a.order.map(Order::from).unwrap_or_default(),
            })
        } else if let Some(n) = &choice.numerical {
            Ok(Policy::Numerical {
                order: n.order.map(Order::from).unwrap_or_default(),
            })
        } else {
            Err(PolicyError::NoPolicy)
        }
    }
}

/// `spec.filterTags`: a Go regular expression tags must match, and an optional `extract`
/// template whose expansion is ordered instead of the tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    /// Regular expression (Go RE2 syntax, read by the `regex` crate); empty matches all.
    pub pattern: String,
    /// Expansion template (`$ts`, `${ts}`, `$1`); empty orders the tags themselves.
    pub extract: String,
}

impl TagFilter {
    /// A filter from a pattern and an extract template (may be empty).
    pub fn new(pattern: impl Into<String>, extract: impl Into<String>) -> TagFilter {
        TagFilter {
            pattern: pattern.into(),
            extract: extract.into(),
        }
    }
}

impl From<&gitops_api::image::TagFilter> for TagFilter {
    fn from(f: &gitops_api::image::TagFilter) -> TagFilter {
        TagFilter {
            pattern: f.pattern.clone().unwrap_or_default(),
            extract: f.extract.clone().unwrap_or_default(),
        }
    }
}

/// Selects the latest tag: [`Selector::new`] then [`Selector::latest`] in one call.
pub fn select<S: AsRef<str>>(
    policy: &Policy,
    filter: Option<&TagFilter>,
    tags: &[S],
) -> Result<String, PolicyError> {
    Selector::new(policy, filter)?.latest(tags)
}

/// A compiled policy and filter, reusable across tag lists.
#[derive(Debug, Clone)]
pub struct Selector {
    kind: Kind,
    filter: Option<CompiledFilter>,
}

#[derive(Debug, Clone)]
enum Kind {
    SemVer(Constraints),
    Alphabetical(Order),
    Numerical(Order),
}

#[derive(Debug, Clone)]
struct CompiledFilter {
    re: Regex,
    extract: String,
    /// Group names by index, for `$name` references.
    names: Vec<Option<String>>,
}

impl Selector {
    /// Compiles a policy and an optional filter; errors name the bad range or pattern.
    pub fn new(policy: &Policy, filter: Option<&TagFilter>) -> Result<Selector, PolicyError> {
        let kind = match policy {
            Policy::SemVer { range } => {
                Kind::SemVer(
                    Constraints::parse(range).map_err(|e| PolicyError::InvalidRange {
                        range: range.clone(),
                        reason: e.to_string(),
                    })?,
                )
            }
            Policy::Alphabetical { order } => Kind::Alphabetical(*order),
            Policy::Numerical { order } => Kind::Numerical(*order),
        };
        let filter = match filter {
            None => None,
            Some(f) => {
                let re = Regex::new(&f.pattern).map_err(|e| PolicyError::InvalidPattern {
                    pattern: f.pattern.clone(),
                    reason: regex_error_reason(&e),
                })?;
                let names = re.capture_names().map(|n| n.map(str::to_owned)).collect();
                Some(CompiledFilter {
                    re,
                    extract: f.extract.clone(),
                    names,
                })
            }
        };
        Ok(Selector { kind, filter })
    }

    /// The selector of an ImagePolicy's `spec.policy` and `spec.filterTags`.
    pub fn from_spec(
        choice: &ImagePolicyChoice,
        filter: Option<&gitops_api::image::TagFilter>,
    ) -> Result<Selector, PolicyError> {
        let policy = Policy::from_choice(choice)?;
        Selector::new(&policy, filter.map(TagFilter::from).as_ref())
    }

    /// The latest of `tags` (the original tag, also when `extract` is set).
    pub fn latest<S: AsRef<str>>(&self, tags: &[S]) -> Result<String, PolicyError> {
        let Some(f) = &self.filter else {
            return self
                .kind
                .latest(tags.iter().map(AsRef::as_ref), tags.len())
                .map(str::to_owned);
        };
        let mut locs = f.re.capture_locations();
        if f.extract.is_empty() {
            let kept: Vec<&str> = tags
                .iter()
                .map(AsRef::as_ref)
                .filter(|t| f.re.captures_read(&mut locs, t).is_some())
                .collect();
            return self
                .kind
                .latest(kept.iter().copied(), kept.len())
                .map(str::to_owned);
        }
        let (keys, index) = f.extract_all(tags);
        let latest = self
            .kind
            .latest(keys.iter().map(|(k, _)| k.as_str()), keys.len())?;
        Ok(index
            .get(latest)
            .map(|&i| keys[i].1)
            .unwrap_or(latest)
            .to_owned())
    }

    /// The values the policy orders after `filterTags` (extracted ones when `extract` is set).
    #[cfg(test)]
    fn filtered_values(&self, tags: &[&str]) -> Vec<String> {
        match &self.filter {
            None => tags.iter().map(|t| t.to_string()).collect(),
            Some(f) => {
                let mut locs = f.re.capture_locations();
                if f.extract.is_empty() {
                    return tags
                        .iter()
                        .filter(|t| f.re.captures_read(&mut locs, t).is_some())
                        .map(|t| t.to_string())
                        .collect();
                }
                f.extract_all(tags).0.into_iter().map(|(k, _)| k).collect()
            }
        }
    }
}

impl CompiledFilter {
    /// Extracted value → original tag, in first-seen order of the values; a later tag with
    /// the same value replaces the earlier (Flux keeps them in a map).
    #[allow(clippy::type_complexity)]
    fn extract_all<'a, S: AsRef<str>>(
        &self,
        tags: &'a [S],
    ) -> (Vec<(String, &'a str)>, HashMap<String, usize>) {
        let mut locs = self.re.capture_locations();
        let mut keys: Vec<(String, &str)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut buf = String::new();
        for tag in tags.iter().map(AsRef::as_ref) {
            if self.re.captures_read(&mut locs, tag).is_none() {
                continue;
            }
            buf.clear();
            go_expand(&mut buf, &self.extract, tag, &locs, &self.names);
            match index.get(buf.as_str()) {
                Some(&i) => keys[i].1 = tag,
                None => {
                    index.insert(buf.clone(), keys.len());
                    keys.push((buf.clone(), tag));
                }
            }
        }
        (keys, index)
    }
}

fn regex_error_reason(e: &regex::Error) -> String {
    // The syntax error's Display spans several lines; keep it on one.
    e.to_string()
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Kind {
    fn latest<'a, I>(&self, tags: I, len: usize) -> Result<&'a str, PolicyError>
    where
        I: Iterator<Item = &'a str>,
    {
        if len == 0 {
            return Err(PolicyError::EmptyList);
        }
        match self {
            // Flux's version.ParseVersion, Check and the highest version.
            Kind::SemVer(c) => c.latest(tags).map(|(t, _)| t).ok_or(PolicyError::NoMatch),
            Kind::Alphabetical(order) => {
                let it = tags.into_iter();
                let r = match order {
                    Order::Asc => it.max(),
                    Order::Desc => it.min(),
                };
                r.ok_or(PolicyError::EmptyList)
            }
            Kind::Numerical(order) => {
                let mut latest: Option<&str> = None;
                let mut pv = 0.0f64;
                for (i, tag) in tags.enumerate() {
                    let cv = gitops_go::num::parse_float(tag)
                        .ok_or_else(|| PolicyError::InvalidNumber(tag.to_owned()))?;
                    // Go's loop, including its NaN behaviour (comparisons with NaN are false).
                    let skip = i != 0
                        && match order {
                            Order::Asc => cv < pv,
                            Order::Desc => cv > pv,
                        };
                    if !skip {
                        latest = Some(tag);
                        pv = cv;
                    }
                }
                latest.ok_or(PolicyError::EmptyList)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Go's Regexp.ExpandString

/// Appends the expansion of `template` for the match in `locs` to `dst`, as Go's
/// `Regexp.ExpandString`: `$$` is `$`; `$name`/`${name}` takes the longest run of letters,
/// digits and `_`; a number refers to a group by index; unknown or unmatched groups expand
/// to nothing; a malformed reference leaves the `$` as text.
fn go_expand(
    dst: &mut String,
    mut template: &str,
    src: &str,
    locs: &CaptureLocations,
    names: &[Option<String>],
) {
    while let Some(pos) = template.find('$') {
        dst.push_str(&template[..pos]);
        template = &template[pos + 1..];
        if let Some(rest) = template.strip_prefix('$') {
            dst.push('$');
            template = rest;
            continue;
        }
        let Some((name, num, rest)) = go_extract(template) else {
            dst.push('$');
            continue;
        };
        template = rest;
        if let Some(n) = num {
            if let Some((s, e)) = locs.get(n) {
                dst.push_str(&src[s..e]);
            }
        } else {
            for (i, gname) in names.iter().enumerate() {
                if gname.as_deref() == Some(name)
                    && let Some((s, e)) = locs.get(i)
                {
                    dst.push_str(&src[s..e]);
                    break;
                }
            }
        }
    }
    dst.push_str(template);
}

/// Go's `extract`: the name of a reference after `$`, its group number when it is one, and
/// the rest of the template.
fn go_extract(s: &str) -> Option<(&str, Option<usize>, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let rest = if brace {
        body[end..].strip_prefix('}')?
    } else {
        &body[end..]
    };
    let mut num: Option<usize> = Some(0);
    for b in name.bytes() {
        match num {
            Some(n) if b.is_ascii_digit() && n < 100_000_000 => {
                num = Some(n * 10 + usize::from(b - b'0'));
            }
            _ => {
                num = None;
                break;
            }
        }
    }
    if name.len() > 1 && name.starts_with('0') {
        num = None;
    }
    Some((name, num, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_go::semver::Version;

    fn flux_version(tag: &str) -> Option<Version> {
        Version::parse_flux(tag).ok()
    }

    fn semver(range: &str) -> Policy {
        Policy::SemVer {
            range: range.into(),
        }
    }

    fn alpha(order: Order) -> Policy {
        Policy::Alphabetical { order }
    }

    fn num(order: Order) -> Policy {
        Policy::Numerical { order }
    }

    #[test]
    fn invalid_ranges_are_invalid_policies() {
        let e = select(&semver("1.0.0p"), None, &["1.0.0"]).unwrap_err();
        assert!(e.is_invalid_policy());
        assert_eq!(
            e.to_string(),
            r#"invalid semver range "1.0.0p": improper constraint: "1.0.0p""#
        );
        // Flux's factory_test: "*-*" is invalid.
        assert!(
            select(&semver("*-*"), None, &["1.0.0"])
                .unwrap_err()
                .is_invalid_policy()
        );
    }

    #[test]
    fn flux_version_parsing() {
        // At least two dots, lowercase v, leading zeros coerced.
        assert!(flux_version("1.2").is_none());
        assert!(flux_version("v1").is_none());
        assert!(flux_version("latest").is_none());
        assert!(flux_version("1.0.0.1").is_none());
        assert!(flux_version("1.0.0p").is_none());
        assert!(flux_version("V1.2.3").is_none());
        assert!(flux_version(" 1.2.3").is_none());
        assert!(flux_version("1.2.3-").is_none());
        assert!(flux_version("1.2.3-rc.01").is_none());
        assert_eq!(
            flux_version("v2025.02.03-rc.1").unwrap().to_string(),
            "2025.2.3-rc.1"
        );
        // Two dots anywhere: Flux's SplitN(v, ".", 3) rule.
        assert_eq!(flux_version("1.2-rc.1").unwrap().to_string(), "1.2.0-rc.1");
        assert_eq!(
            flux_version("1-rc.1.2").unwrap().to_string(),
            "1.0.0-rc.1.2"
        );
    }

    #[test]
    fn semver_latest_flux_table() {
        // image-reflector-controller internal/policy/semver_test.go
        let tags = ["1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"];
        assert_eq!(select(&semver("1.0.x"), None, &tags).unwrap(), "1.0.1");
        let tags = ["v1.2.3", "v1.0.0", "v0.1.0"];
        assert_eq!(select(&semver("1.0.x"), None, &tags).unwrap(), "v1.0.0");
        let tags = ["b1.2.3", "b1.0.0", "b0.1.0"];
        assert_eq!(
            select(&semver("1.0.x"), None, &tags).unwrap_err(),
            PolicyError::NoMatch
        );
        let none: [&str; 0] = [];
        assert_eq!(
            select(&semver("1.0.x"), None, &none).unwrap_err(),
            PolicyError::EmptyList
        );
        assert_eq!(
            select(&semver("1.0.x"), None, &["1.2.0"])
                .unwrap_err()
                .to_string(),
            "unable to determine latest version from provided list"
        );
    }

    #[test]
    fn semver_latest_ranges() {
        let tags = [
            "0.9.0",
            "1.0.0",
            "1.1.0-rc.1",
            "1.2.0",
            "v1.2.5",
            "1.2.10",
            "1.3.0-beta.2",
            "1.10.0",
            "2.0.0-rc.1",
            "2.0.0",
            "2.1.0",
            "latest",
            "sha-abc123",
        ];
        let cases = [
            (">=1.0.0 <2.0.0", "1.10.0"),
            ("~1.2", "1.2.10"),
            ("^1", "1.10.0"),
            ("^1.2.3", "1.10.0"),
            ("1.2.x", "1.2.10"),
            ("<1.0.0", "0.9.0"),
            ("*", "2.1.0"),
            ("<2.0.0 || >=3", "1.10.0"),
            // Pre-releases: any comparator with a pre-release opens the alternative to all.
            (">=1.0.0-0", "2.1.0"),
            (">=1.0.0-0 <2.0.0", "2.0.0-rc.1"),
            (">=1.3.0-0 <1.4.0", "1.3.0-beta.2"),
            (">=2.0.0-0 <2.0.0", "2.0.0-rc.1"),
        ];
        for (range, want) in cases {
            assert_eq!(
                select(&semver(range), None, &tags).unwrap(),
                want,
                "{range}"
            );
        }
        // Equal versions: the first listed wins (strictly greater replaces).
        assert_eq!(
            select(&semver("1.x"), None, &["v1.0.0", "1.0.0", "1.0.0+b"]).unwrap(),
            "v1.0.0"
        );
        // Build metadata is ignored in ordering.
        assert_eq!(
            select(&semver("1.x"), None, &["1.0.0+z", "1.0.0+a", "0.9.0"]).unwrap(),
            "1.0.0+z"
        );
    }

    #[test]
    fn prerelease_ordering() {
        let mut v: Vec<Version> = [
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
        .map(|s| flux_version(s).unwrap())
        .collect();
        let sorted = v.clone();
        v.reverse();
        v.sort();
        assert_eq!(v, sorted);
    }

    #[test]
    fn alphabetical_flux_table() {
        // image-reflector-controller internal/policy/alphabetical_test.go
        let calver = ["16.04", "16.04.1", "16.10", "20.04", "20.10"];
        let names = ["xenial", "yakkety", "zesty", "artful", "bionic"];
        let ts = [
            "1606234201",
            "1606364286",
            "1606334092",
            "1606334284",
            "1606334201",
        ];
        let rel = ts.map(|t| format!("rel-{t}"));
        let rfc = [
            "2021-01-08T21-18-21Z",
            "2020-05-08T21-18-21Z",
            "2021-01-08T19-20-00Z",
            "1990-01-08T00-20-00Z",
            "2023-05-08T00-20-00Z",
        ];
        let asc = alpha(Order::Asc);
        let desc = alpha(Order::Desc);
        assert_eq!(select(&asc, None, &calver).unwrap(), "20.10");
        assert_eq!(select(&desc, None, &calver).unwrap(), "16.04");
        assert_eq!(select(&asc, None, &names).unwrap(), "zesty");
        assert_eq!(select(&desc, None, &names).unwrap(), "artful");
        assert_eq!(select(&asc, None, &ts).unwrap(), "1606364286");
        assert_eq!(select(&desc, None, &ts).unwrap(), "1606234201");
        assert_eq!(select(&asc, None, &rel).unwrap(), "rel-1606364286");
        assert_eq!(select(&asc, None, &rfc).unwrap(), "2023-05-08T00-20-00Z");
        assert_eq!(select(&desc, None, &rfc).unwrap(), "1990-01-08T00-20-00Z");
        let none: [&str; 0] = [];
        assert_eq!(
            select(&asc, None, &none).unwrap_err().to_string(),
            "version list argument cannot be empty"
        );
        // Byte order: uppercase before lowercase.
        assert_eq!(select(&asc, None, &["a", "B", "Z"]).unwrap(), "a");
    }

    #[test]
    fn numerical_flux_table() {
        // image-reflector-controller internal/policy/numerical_test.go
        let asc = num(Order::Asc);
        let desc = num(Order::Desc);
        let ints = [
            "-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91",
        ];
        assert_eq!(select(&asc, None, &ints).unwrap(), "73");
        let ints2 = ["5", "-8", "-78", "25", "70", "-4", "80", "92", "-20", "-24"];
        assert_eq!(select(&desc, None, &ints2).unwrap(), "-78");
        let floats = [
            "47.40896403322944",
            "-27.8520927455902",
            "-27.930666514224427",
            "-31.352485948094568",
            "-50.41072694704882",
            "-21.962849842263736",
            "24.71884721436865",
            "-39.99177354004344",
            "53.47333823144817",
            "3.2008658570411086",
        ];
        assert_eq!(select(&asc, None, &floats).unwrap(), "53.47333823144817");
        assert_eq!(select(&desc, None, &floats).unwrap(), "-50.41072694704882");
        let ts = [
            "1606234201",
            "1606364286",
            "1606334092",
            "1606334284",
            "1606334201",
        ];
        assert_eq!(select(&asc, None, &ts).unwrap(), "1606364286");
        assert_eq!(select(&desc, None, &ts).unwrap(), "1606234201");
        assert_eq!(select(&asc, None, &["1"]).unwrap(), "1");
        assert_eq!(select(&desc, None, &["1"]).unwrap(), "1");
        let e = select(&asc, None, &["0", "1a", "b"]).unwrap_err();
        assert_eq!(e, PolicyError::InvalidNumber("1a".into()));
        assert_eq!(e.to_string(), "failed to parse invalid numeric value '1a'");
        let none: [&str; 0] = [];
        assert_eq!(
            select(&asc, None, &none).unwrap_err(),
            PolicyError::EmptyList
        );
        // Ties: the later of equal values (Go replaces on equality).
        assert_eq!(select(&asc, None, &["1", "1.0", "0.5"]).unwrap(), "1.0");
    }

    #[test]
    fn filter_flux_table() {
        // image-reflector-controller internal/policy/filter_test.go: the values the policy
        // orders (the extracted ones, deduplicated).
        fn kept(pattern: &str, extract: &str, tags: &[&str]) -> Vec<String> {
            let f = TagFilter::new(pattern, extract);
            let sel = Selector::new(&alpha(Order::Asc), Some(&f)).unwrap();
            let mut out = sel.filtered_values(tags);
            out.sort();
            out
        }
        assert_eq!(kept("", "", &["a"]), ["a"]);
        assert_eq!(
            kept("^ver", "", &["ver1", "ver2", "ver3", "rel1"]),
            ["ver1", "ver2", "ver3"]
        );
        let debug = [
            "123-123.123.abcd123-debug",
            "123-123.123.abcd123",
            "123-123.123.abcd456-debug",
            "123-123.123.abcd456",
        ];
        assert_eq!(
            kept(r"^(123-[0-9]+\.[0-9]+\.[a-z0-9]+-debug)", "", &debug),
            ["123-123.123.abcd123-debug", "123-123.123.abcd456-debug"]
        );
        assert_eq!(
            kept(
                r"^(?P<tag>123-[0-9]+\.[0-9]+\.[a-z0-9]+[^-debug])",
                "$tag",
                &debug
            ),
            ["123-123.123.abcd123", "123-123.123.abcd456"]
        );
        assert_eq!(
            kept(r"^(?P<tag>123-[0-9]+\.[0-9]+\.[a-z0-9]+$)", "$tag", &debug),
            ["123-123.123.abcd123", "123-123.123.abcd456"]
        );
    }

    #[test]
    fn filter_extract_selects_original_tag() {
        let tags = [
            "main-0a1b2c3-1700000100",
            "main-ffee001-1700000300",
            "main-abcdef0-1700000200",
            "feature-x-1800000000",
            "main-ZZZ-1900000000", // not hex: dropped
        ];
        let f = TagFilter::new(r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", "$ts");
        for policy in [num(Order::Asc), alpha(Order::Asc)] {
            assert_eq!(
                select(&policy, Some(&f), &tags).unwrap(),
                "main-ffee001-1700000300"
            );
        }
        let f = TagFilter::new(r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", "${ts}");
        assert_eq!(
            select(&num(Order::Desc), Some(&f), &tags).unwrap(),
            "main-0a1b2c3-1700000100"
        );
        // semver on extracted versions, original tag returned.
        let tags = [
            "app-v1.2.3",
            "app-v1.10.0",
            "app-v2.0.0-rc.1",
            "other-v9.9.9",
        ];
        let f = TagFilter::new(r"^app-(?P<v>v.*)$", "$v");
        assert_eq!(
            select(&semver("^1"), Some(&f), &tags).unwrap(),
            "app-v1.10.0"
        );
        // Everything filtered out: the empty-list error, for every policy.
        let f = TagFilter::new("^nothing$", "");
        for p in [semver("*"), alpha(Order::Asc), num(Order::Asc)] {
            assert_eq!(
                select(&p, Some(&f), &tags).unwrap_err(),
                PolicyError::EmptyList
            );
        }
        // Numerical on an unparsable extracted value names the value.
        let f = TagFilter::new(r"^(?P<x>.*)-v", "$x");
        assert_eq!(
            select(&num(Order::Asc), Some(&f), &tags).unwrap_err(),
            PolicyError::InvalidNumber("app".into())
        );
    }

    #[test]
    fn invalid_pattern_names_it() {
        let f = TagFilter::new("^(unclosed", "");
        let e = select(&alpha(Order::Asc), Some(&f), &["a"]).unwrap_err();
        assert!(e.is_invalid_policy());
        let msg = e.to_string();
        assert!(
            msg.starts_with("invalid regular expression pattern '^(unclosed': "),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn go_expand_semantics() {
        // Recorded from Go's Regexp.ExpandString.
        let re = Regex::new("^(a)(b)?(?P<n>c)?").unwrap();
        let names: Vec<Option<String>> = re.capture_names().map(|n| n.map(str::to_owned)).collect();
        let tpl = "[$1][$2][${1}x][$1x][$$][$][${n}][$n][$3][$10][$01][${][${1][$ ][$-]";
        let mut locs = re.capture_locations();
        for (input, want) in [
            ("abc", "[a][b][ax][][$][$][c][c][c][][][${][${1][$ ][$-]"),
            ("a", "[a][][ax][][$][$][][][][][][${][${1][$ ][$-]"),
            ("ac", "[a][][ax][][$][$][c][c][c][][][${][${1][$ ][$-]"),
        ] {
            re.captures_read(&mut locs, input).unwrap();
            let mut out = String::new();
            go_expand(&mut out, tpl, input, &locs, &names);
            assert_eq!(out, want, "{input}");
        }
    }

    #[test]
    fn from_spec_and_orders() {
        use gitops_api::image::{OrderPolicy, SemVerPolicy};
        let choice = ImagePolicyChoice::default();
        assert_eq!(
            Selector::from_spec(&choice, None).unwrap_err().to_string(),
            "given ImagePolicyChoice object is invalid"
        );
        let choice = ImagePolicyChoice {
            semver: Some(SemVerPolicy {
                range: "1.0.x".into(),
            }),
            alphabetical: Some(OrderPolicy::default()),
            ..Default::default()
        };
        let sel = Selector::from_spec(&choice, None).unwrap();
        assert_eq!(sel.latest(&["1.0.3", "zzz"]).unwrap(), "1.0.3");
        let choice = ImagePolicyChoice {
            numerical: Some(OrderPolicy {
                order: Some(SortOrder::Desc),
            }),
            ..Default::default()
        };
        let filter = gitops_api::image::TagFilter {
            pattern: Some("^r-(?P<n>[0-9]+)$".into()),
            extract: Some("$n".into()),
        };
        let sel = Selector::from_spec(&choice, Some(&filter)).unwrap();
        assert_eq!(sel.latest(&["r-10", "r-9", "x-1"]).unwrap(), "r-9");
        assert_eq!("".parse::<Order>().unwrap(), Order::Asc);
        assert_eq!("desc".parse::<Order>().unwrap(), Order::Desc);
        assert_eq!("Asc".parse::<Order>().unwrap(), Order::Asc);
        assert_eq!(
            "up".parse::<Order>().unwrap_err().to_string(),
            "invalid order argument provided: 'up', must be one of: ASC, DESC"
        );
    }

    #[test]
    fn ten_thousand_tags() {
        // Correctness on a large list (timing is for the benchmark, not asserted here).
        let tags: Vec<String> = (0..10_000)
            .map(|i| match i % 4 {
                0 => format!("{}.{}.{}", i / 1000, (i / 10) % 100, i % 10),
                1 => format!("main-{i:07x}-{}", 1_700_000_000 + i),
                2 => format!("v{}.{}.{}-rc.{}", i / 1000, (i / 10) % 100, i % 10, i % 7),
                _ => format!("sha-{i:040x}"),
            })
            .collect();
        assert_eq!(
            select(&semver(">=1.0.0 <9.0.0"), None, &tags).unwrap(),
            "8.99.6"
        );
        let f = TagFilter::new(r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", "$ts");
        assert_eq!(
            select(&num(Order::Asc), Some(&f), &tags).unwrap(),
            "main-000270d-1700009997"
        );
        assert_eq!(
            select(&alpha(Order::Asc), None, &tags).unwrap(),
            "v9.99.8-rc.2"
        );
    }
}
