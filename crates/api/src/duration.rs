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

pub use gitops_go::duration::DurationError;
/// Formats a duration as Go's `time.Duration.String()` does: `0s`, `1.5s`, `1m0s`,
/// `2h3m4.5s`, `250ms`.
pub use gitops_go::duration::format_std as format_go_duration;
/// Parses a non-negative Go duration (`time.ParseDuration`, negative values refused).
pub use gitops_go::duration::parse_std as parse_go_duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn parses_and_formats_as_go() {
        // The syntax itself is gitops_go::duration's; these are the API type's uses of it.
        assert_eq!(
            Duration::parse("1.5h").unwrap().get(),
            StdDuration::from_secs(5400)
        );
        assert_eq!(Duration::parse("0").unwrap().get(), StdDuration::ZERO);
        assert_eq!(
            Duration::from(StdDuration::from_secs(600)).as_str(),
            "10m0s"
        );
        assert_eq!(Duration::default().as_str(), "0s");
        for (bad, msg) in [
            ("10", r#"time: missing unit in duration "10""#),
            ("1y", r#"time: unknown unit "y" in duration "1y""#),
            ("soon", r#"time: invalid duration "soon""#),
            (
                "-1s",
                r#"invalid duration "-1s": negative durations are not allowed"#,
            ),
        ] {
            let e = Duration::parse(bad).unwrap_err();
            assert_eq!(e.input(), bad);
            assert_eq!(e.to_string(), msg);
        }
    }

    #[test]
    fn keeps_spelling_and_compares_by_value() {
        let a: Duration = serde_json::from_str("\"1m\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"1m\"");
        assert_eq!(a, Duration::parse("60s").unwrap());
        let e = serde_json::from_str::<Duration>("\"1y\"").unwrap_err();
        assert!(e.to_string().contains(r#"unknown unit "y""#), "{e}");
    }
}
