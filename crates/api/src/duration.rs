//! Go-style durations (`30s`, `1m30s`, `1.5h`, `500ms`), as Flux writes them in `interval`,
//! `timeout` and `retryInterval`.
//!
//! [`Duration`] keeps the text it was read from, so an object read and written back is
//! unchanged, and offers the parsed [`std::time::Duration`]. Durations built from a
//! [`std::time::Duration`] are formatted as Go's `time.Duration.String()` does (`1m0s`).

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration as StdDuration;

/// The pattern Flux's CRDs use for intervals (hours allowed).
pub const INTERVAL_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";
/// The pattern Flux's CRDs use for most timeouts (no hours).
pub const TIMEOUT_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$";

/// An error from parsing a Go duration string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    /// The text that failed to parse.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A non-negative Go duration that remembers its original spelling.
#[derive(Clone, Debug)]
pub struct Duration {
    text: String,
    value: StdDuration,
}

impl Duration {
    /// Parses a Go duration such as `1m30s`, `1.5h`, `250ms` or `0`.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let value = parse_go_duration(text)?;
        Ok(Duration {
            text: text.to_owned(),
            value,
        })
    }

    /// The parsed value.
    pub fn get(&self) -> StdDuration {
        self.value
    }

    /// The text as written (or as formatted, for durations built from a value).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<StdDuration> for Duration {
    fn from(value: StdDuration) -> Self {
        Duration {
            text: format_go_duration(value),
            value,
        }
    }
}

impl Default for Duration {
    /// Zero, spelt `0s`.
    fn default() -> Self {
        Duration::from(StdDuration::ZERO)
    }
}

impl PartialEq for Duration {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl Eq for Duration {}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

thread_local! {
    static GO_ENCODING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with objects serialized as Flux's Go types re-encode a decoded object: durations
/// as `metav1.Duration.String()` (`5m` → `5m0s`, `60s` → `1m0s`) instead of as written, and
/// unset `metav1.Time` struct fields as `null` (see [`crate::meta::none_unless_go`]). Tools
/// that print objects the way Flux's CLI does (`export`, `debug`) serialize inside this.
pub fn go_encoded<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            GO_ENCODING.with(|g| g.set(self.0));
        }
    }
    let _reset = Reset(GO_ENCODING.with(|g| g.replace(true)));
    f()
}

/// Whether serialization runs inside [`go_encoded`].
pub fn is_go_encoding() -> bool {
    GO_ENCODING.with(std::cell::Cell::get)
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if GO_ENCODING.with(std::cell::Cell::get) {
            serializer.serialize_str(&format_go_duration(self.value))
        } else {
            serializer.serialize_str(&self.text)
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

const NANOS_PER: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a Go duration string (`time.ParseDuration` syntax, without negative values).
pub fn parse_go_duration(text: &str) -> Result<StdDuration, DurationError> {
    let err = |reason| DurationError {
        input: text.to_owned(),
        reason,
    };
    let mut s = text;
    if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    } else if s.starts_with('-') {
        return Err(err("negative durations are not allowed"));
    }
    if s == "0" {
        return Ok(StdDuration::ZERO);
    }
    if s.is_empty() {
        return Err(err("empty duration"));
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, rest) = s.split_at(int_len);
        let (frac_part, rest) = match rest.strip_prefix('.') {
            Some(r) => {
                let n = r.bytes().take_while(u8::is_ascii_digit).count();
                r.split_at(n)
            }
            None => ("", rest),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err("expected a number"));
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let (unit, rest) = rest.split_at(unit_len);
        if unit.is_empty() {
            return Err(err("missing unit (one of ns, us, ms, s, m, h)"));
        }
        let per = NANOS_PER
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, n)| *n)
            .ok_or_else(|| err("unknown unit (expected one of ns, us, ms, s, m, h)"))?;
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| err("number too large"))?
        };
        let mut nanos = int.checked_mul(per).ok_or_else(|| err("overflow"))?;
        if !frac_part.is_empty() {
            // Scale the fraction to nanoseconds of this unit, truncating like Go.
            let mut scale: u128 = 1;
            let mut frac: u128 = 0;
            for d in frac_part.bytes().take(30) {
                frac = frac * 10 + u128::from(d - b'0');
                scale *= 10;
            }
            nanos = nanos
                .checked_add(frac * per / scale)
                .ok_or_else(|| err("overflow"))?;
        }
        total = total.checked_add(nanos).ok_or_else(|| err("overflow"))?;
        s = rest;
    }
    // Go's durations are int64 nanoseconds.
    if total > i64::MAX as u128 {
        return Err(err("overflow"));
    }
    Ok(StdDuration::from_nanos(total as u64))
}

/// Formats a duration as Go's `time.Duration.String()` does: `0s`, `1.5s`, `1m0s`, `2h3m4.5s`, `250ms`.
pub fn format_go_duration(d: StdDuration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        let (unit, per) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{}", fraction(nanos, per), unit);
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = nanos / 60_000_000_000 % 60;
    let seconds = nanos % 60_000_000_000;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&fraction(seconds, 1_000_000_000));
    out.push('s');
    out
}

/// `value / per` with the fraction printed without trailing zeros.
fn fraction(value: u128, per: u128) -> String {
    let int = value / per;
    let rem = value % per;
    if rem == 0 {
        return int.to_string();
    }
    let width = per.ilog10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> StdDuration {
        parse_go_duration(s).unwrap()
    }

    #[test]
    fn go_encoding_is_scoped() {
        let v = Duration::parse("60s").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"60s\"");
        assert_eq!(
            go_encoded(|| serde_json::to_string(&v).unwrap()),
            "\"1m0s\""
        );
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"60s\"");
    }

    #[test]
    fn parses_go_syntax() {
        assert_eq!(d("0"), StdDuration::ZERO);
        assert_eq!(d("10m"), StdDuration::from_secs(600));
        assert_eq!(d("1h30m"), StdDuration::from_secs(5400));
        assert_eq!(d("1.5h"), StdDuration::from_secs(5400));
        assert_eq!(d("250ms"), StdDuration::from_millis(250));
        assert_eq!(d("1m0.5s"), StdDuration::from_millis(60_500));
        assert_eq!(d(".5s"), StdDuration::from_millis(500));
        assert_eq!(d("3µs"), StdDuration::from_micros(3));
        assert_eq!(d("+5s"), StdDuration::from_secs(5));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "", "m", "10", "10x", "-1s", "1..5s", ".s", "1s2", "abc", "1 m",
        ] {
            let e = parse_go_duration(bad).unwrap_err();
            assert_eq!(e.input, bad);
        }
        assert!(parse_go_duration("9999999999999999999999h").is_err());
        assert!(
            parse_go_duration("3000000h").is_err(),
            "beyond int64 nanoseconds"
        );
    }

    #[test]
    fn formats_like_go() {
        let f = |ns: u64| format_go_duration(StdDuration::from_nanos(ns));
        assert_eq!(f(0), "0s");
        assert_eq!(f(1), "1ns");
        assert_eq!(f(1_100), "1.1µs");
        assert_eq!(f(2_200_000), "2.2ms");
        assert_eq!(f(1_500_000_000), "1.5s");
        assert_eq!(f(60_000_000_000), "1m0s");
        assert_eq!(f(3_600_000_000_000), "1h0m0s");
        assert_eq!(f(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(
            Duration::from(StdDuration::from_secs(600)).as_str(),
            "10m0s"
        );
    }

    #[test]
    fn keeps_spelling_and_compares_by_value() {
        let a: Duration = serde_json::from_str("\"1m\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"1m\"");
        assert_eq!(a, Duration::parse("60s").unwrap());
        assert!(serde_json::from_str::<Duration>("\"1y\"").is_err());
    }
}
