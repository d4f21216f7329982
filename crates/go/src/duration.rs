//! Go's `time.Duration`: [`parse`] is `time.ParseDuration`, [`format()`] is
//! `Duration.String()`, [`round`] is `Duration.Round`.
//!
//! A Go duration is a signed count of nanoseconds in an `int64`, so it spans about ±292
//! years; [`parse`] refuses what does not fit, with Go's error texts. [`parse_std`] and
//! [`format_std`] do the same for [`std::time::Duration`], which cannot be negative.
//!
//! ```
//! use gitops_go::duration;
//!
//! assert_eq!(duration::parse("1h2m3.5s"), Ok(3_723_500_000_000));
//! assert_eq!(duration::format(-1_500_000), "-1.5ms");
//! assert_eq!(
//!     duration::parse("10x").unwrap_err().to_string(),
//!     r#"time: unknown unit "x" in duration "10x""#
//! );
//! ```

use std::time::Duration as StdDuration;

/// One nanosecond, the unit of a Go duration.
pub const NANOSECOND: i64 = 1;
/// One microsecond in nanoseconds.
pub const MICROSECOND: i64 = 1_000 * NANOSECOND;
/// One millisecond in nanoseconds.
pub const MILLISECOND: i64 = 1_000 * MICROSECOND;
/// One second in nanoseconds.
pub const SECOND: i64 = 1_000 * MILLISECOND;
/// One minute in nanoseconds.
pub const MINUTE: i64 = 60 * SECOND;
/// One hour in nanoseconds.
pub const HOUR: i64 = 60 * MINUTE;

/// A duration that does not parse; the messages are Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Malformed or out of the `int64` nanosecond range: `time: invalid duration "x"`.
    #[error("time: invalid duration {}", quote(input))]
    Invalid {
        /// The text that failed to parse.
        input: String,
    },
    /// A number without a unit: `time: missing unit in duration "1"`.
    #[error("time: missing unit in duration {}", quote(input))]
    MissingUnit {
        /// The text that failed to parse.
        input: String,
    },
    /// A unit other than `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`:
    /// `time: unknown unit "d" in duration "1d"`.
    #[error("time: unknown unit {} in duration {}", quote(unit), quote(input))]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The text that failed to parse.
        input: String,
    },
    /// A negative duration where only non-negative ones exist ([`parse_std`]); Go itself
    /// accepts these.
    #[error("invalid duration {input:?}: negative durations are not allowed")]
    Negative {
        /// The text that was refused.
        input: String,
    },
}

impl DurationError {
    /// The text that failed to parse.
    pub fn input(&self) -> &str {
        match self {
            DurationError::Invalid { input }
            | DurationError::MissingUnit { input }
            | DurationError::UnknownUnit { input, .. }
            | DurationError::Negative { input } => input,
        }
    }
}

/// Go's `time.ParseDuration`: a possibly signed sequence of decimal numbers, each with an
/// optional fraction and a unit (`300ms`, `-1.5h`, `2h45m`, `.5s`); `0` alone needs no unit.
/// Units are `ns`, `us` (or `µs`, `μs`), `ms`, `s`, `m`, `h`. Returns nanoseconds.
pub fn parse(text: &str) -> Result<i64, DurationError> {
    const LIMIT: u64 = 1 << 63;
    let invalid = || DurationError::Invalid {
        input: text.to_owned(),
    };
    let mut s = text.as_bytes();
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = rest;
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while let Some(&first) = s.first() {
        // The next character must be [0-9.].
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        // [0-9]*
        let (mut v, rest, pre) = leading_int(s).ok_or_else(invalid)?;
        s = rest;
        // (\.[0-9]*)?
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix(b".") {
            let (x, sc, rest, consumed) = leading_fraction(rest);
            (f, scale, post) = (x, sc, consumed);
            s = rest;
        }
        if !pre && !post {
            // no digits (".s", "-.s")
            return Err(invalid());
        }
        // The unit: everything up to the next number.
        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit {
                input: text.to_owned(),
            });
        }
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let unit: u64 = match unit {
            b"ns" => NANOSECOND as u64,
            // `µs` (U+00B5 micro sign) and `μs` (U+03BC Greek mu)
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => MICROSECOND as u64,
            b"ms" => MILLISECOND as u64,
            b"s" => SECOND as u64,
            b"m" => MINUTE as u64,
            b"h" => HOUR as u64,
            _ => {
                return Err(DurationError::UnknownUnit {
                    unit: String::from_utf8_lossy(unit).into_owned(),
                    input: text.to_owned(),
                });
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            // Go computes the fraction in float64 (nanosecond-exact for fractions of an hour)
            // and truncates.
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        // Go adds in uint64 and may wrap (2^63 + 2^63 is 0), which it then accepts.
        total = total.wrapping_add(v);
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        // total ≤ 2^63, so its negation fits (−2^63 is i64::MIN).
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// Go's `leadingInt`: the leading `[0-9]*` of `s`, the rest, and whether any digit was read;
/// `None` past 2^63.
fn leading_int(s: &[u8]) -> Option<(u64, &[u8], bool)> {
    const LIMIT: u64 = 1 << 63;
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut x: u64 = 0;
    for &c in &s[..n] {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(c - b'0');
        if x > LIMIT {
            return None;
        }
    }
    Some((x, &s[n..], n > 0))
}

/// Go's `leadingFraction`: the leading `[0-9]*` of `s` as a numerator and its power-of-ten
/// scale (precision stops accumulating on overflow), the rest, and whether any digit was read.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8], bool) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let (mut x, mut scale, mut overflow) = (0u64, 1f64, false);
    for &c in &s[..n] {
        if overflow {
            continue;
        }
        if x > (i64::MAX as u64) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(c - b'0');
        if y > 1 << 63 {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[n..], n > 0)
}

/// Go's `Duration.String()` of `ns` nanoseconds: `0s`, `1ns`, `1.5µs`, `2.2ms`, `1.5s`, `1m0s`,
/// `1h2m3.5s`, `-2h0m0s`. Below a second the unit is the largest that keeps a non-zero
/// integer part; from a second on, hours (uncapped), minutes and fractional seconds.
pub fn format(ns: i64) -> String {
    format_magnitude(ns < 0, u128::from(ns.unsigned_abs()))
}

/// [`format()`] for a [`std::time::Duration`], also beyond Go's `int64` range (written the
/// same way, with more hours).
pub fn format_std(d: StdDuration) -> String {
    format_magnitude(false, d.as_nanos())
}

/// [`parse`] into a [`std::time::Duration`]; negative durations are refused
/// ([`DurationError::Negative`]), `-0s` is zero.
pub fn parse_std(text: &str) -> Result<StdDuration, DurationError> {
    let ns = parse(text)?;
    u64::try_from(ns)
        .map(StdDuration::from_nanos)
        .map_err(|_| DurationError::Negative {
            input: text.to_owned(),
        })
}

/// Go's `Duration.Round(m)`: `d` rounded to the nearest multiple of `m`, halfway values away
/// from zero, saturating at the `int64` bounds; `d` unchanged when `m <= 0`.
pub fn round(d: i64, m: i64) -> i64 {
    if m <= 0 {
        return d;
    }
    // Go's lessThanHalf(x, y): x+x < y without overflow (x, y positive).
    let less_than_half = |x: i64, y: i64| (x as u64) + (x as u64) < y as u64;
    let mut r = d % m;
    if d < 0 {
        r = -r;
        if less_than_half(r, m) {
            return d + r;
        }
        return match (d + r).checked_sub(m) {
            Some(d1) if d1 < d => d1,
            _ => i64::MIN,
        };
    }
    if less_than_half(r, m) {
        return d - r;
    }
    match (d + r.wrapping_neg()).checked_add(m) {
        Some(d1) if d1 > d => d1,
        _ => i64::MAX,
    }
}

fn format_magnitude(neg: bool, u: u128) -> String {
    const SEC: u128 = SECOND as u128;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if u == 0 {
        out.push_str("0s");
    } else if u < SEC {
        // Smaller units for less than a second: 1.2ms.
        let (per, unit) = if u < MICROSECOND as u128 {
            (1, "ns")
        } else if u < MILLISECOND as u128 {
            (MICROSECOND as u128, "µs")
        } else {
            (MILLISECOND as u128, "ms")
        };
        push_fraction(&mut out, u, per);
        out.push_str(unit);
    } else {
        let hours = u / (HOUR as u128);
        let minutes = u / (MINUTE as u128) % 60;
        if hours > 0 {
            out.push_str(&hours.to_string());
            out.push('h');
        }
        if hours > 0 || minutes > 0 {
            out.push_str(&minutes.to_string());
            out.push('m');
        }
        push_fraction(&mut out, u % (MINUTE as u128), SEC);
        out.push('s');
    }
    out
}

/// Writes `value / per` with its fraction, trailing zeros (and a bare point) dropped.
fn push_fraction(out: &mut String, value: u128, per: u128) {
    out.push_str(&(value / per).to_string());
    let rem = value % per;
    if rem != 0 {
        let width = per.ilog10() as usize;
        let digits = format!("{rem:0width$}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// The `time` package's own `quote`: printable ASCII as is (with `"` and `\` escaped), every
/// byte of anything else as `\xNN`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c.is_ascii() && c >= ' ' {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        match parse(s) {
            Ok(v) => panic!("{s:?} parsed as {v}"),
            Err(e) => {
                assert_eq!(e.input(), s);
                e.to_string()
            }
        }
    }

    #[test]
    fn parses_go_syntax() {
        // Go's time_test.go parseDurationTests.
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("5s", 5 * SECOND),
            ("30s", 30 * SECOND),
            ("1478s", 1478 * SECOND),
            ("-5s", -5 * SECOND),
            ("+5s", 5 * SECOND),
            ("-0", 0),
            ("+0", 0),
            ("5.0s", 5 * SECOND),
            ("5.6s", 5 * SECOND + 600 * MILLISECOND),
            ("5.s", 5 * SECOND),
            (".5s", 500 * MILLISECOND),
            ("1.0s", SECOND),
            ("1.00s", SECOND),
            ("1.004s", SECOND + 4 * MILLISECOND),
            ("1.0040s", SECOND + 4 * MILLISECOND),
            ("100.00100s", 100 * SECOND + MILLISECOND),
            ("10ns", 10),
            ("11us", 11 * MICROSECOND),
            ("12µs", 12 * MICROSECOND),
            ("12μs", 12 * MICROSECOND),
            ("13ms", 13 * MILLISECOND),
            ("14s", 14 * SECOND),
            ("15m", 15 * MINUTE),
            ("16h", 16 * HOUR),
            ("3h30m", 3 * HOUR + 30 * MINUTE),
            ("10.5s4m", 4 * MINUTE + 10 * SECOND + 500 * MILLISECOND),
            ("-2m3.4s", -(2 * MINUTE + 3 * SECOND + 400 * MILLISECOND)),
            (
                "1h2m3s4ms5us6ns",
                HOUR + 2 * MINUTE + 3 * SECOND + 4 * MILLISECOND + 5 * MICROSECOND + 6,
            ),
            (
                "39h9m14.425s",
                39 * HOUR + 9 * MINUTE + 14 * SECOND + 425 * MILLISECOND,
            ),
            ("52763797000ns", 52763797000),
            ("0.3333333333333333333h", 20 * MINUTE),
            ("9007199254740993ns", (1 << 53) + 1),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("9223372036s854ms775us807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("-9223372036854775.808us", i64::MIN),
            ("-9223372036s854ms775us808ns", i64::MIN),
            ("-9223372036854775808ns", -1 << 63),
            ("-2562047h47m16.854775808s", -1 << 63),
            ("0.100000000000000000000h", 6 * MINUTE),
            (
                "0.830103483285477580700h",
                49 * MINUTE + 48 * SECOND + 372539827,
            ),
        ];
        for &(s, want) in cases {
            assert_eq!(parse(s), Ok(want), "{s}");
        }
    }

    #[test]
    fn go_error_texts() {
        assert_eq!(err(""), r#"time: invalid duration """#);
        assert_eq!(err("3"), r#"time: missing unit in duration "3""#);
        assert_eq!(err("1"), r#"time: missing unit in duration "1""#);
        assert_eq!(err("-"), r#"time: invalid duration "-""#);
        assert_eq!(err("s"), r#"time: invalid duration "s""#);
        assert_eq!(err("."), r#"time: invalid duration ".""#);
        assert_eq!(err("-."), r#"time: invalid duration "-.""#);
        assert_eq!(err(".s"), r#"time: invalid duration ".s""#);
        assert_eq!(err("+.s"), r#"time: invalid duration "+.s""#);
        assert_eq!(err("1d"), r#"time: unknown unit "d" in duration "1d""#);
        assert_eq!(err("1.1.1s"), r#"time: missing unit in duration "1.1.1s""#);
        assert_eq!(err("1s2"), r#"time: missing unit in duration "1s2""#);
        assert_eq!(
            err("5 minutes"),
            r#"time: unknown unit " minutes" in duration "5 minutes""#
        );
        assert_eq!(
            err("3000000h"),
            r#"time: invalid duration "3000000h""#,
            "beyond int64 nanoseconds"
        );
        // Go's quote writes non-ASCII bytes as \x escapes.
        assert_eq!(
            err("1µx"),
            r#"time: unknown unit "\xc2\xb5x" in duration "1\xc2\xb5x""#
        );
        assert_eq!(err("\"1s"), r#"time: invalid duration "\"1s""#);
    }

    #[test]
    fn overflow() {
        for s in [
            "9223372036854775808ns",
            "9223372036854775.808us",
            "9223372036854ms775us808ns",
            "-9223372036854775809ns",
            "2562047h47m16.854775808s",
            "9999999999999999999999h",
            "100000000000000000000000000ns",
            "0.9223372036854775808h3000000h",
        ] {
            assert_eq!(err(s), format!("time: invalid duration \"{s}\""), "{s}");
        }
        // Go's uint64 sum wraps to zero here, and Go accepts it.
        assert_eq!(parse("9223372036854775808ns9223372036854775808ns"), Ok(0));
        // A long fraction stops gaining precision instead of overflowing.
        assert_eq!(parse("1.00000000000000000000000000001s"), Ok(SECOND));
    }

    #[test]
    fn formats_like_go() {
        // Go's time_test.go durationTests.
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1100, "1.1µs"),
            (2200 * MICROSECOND, "2.2ms"),
            (3300 * MILLISECOND, "3.3s"),
            (4 * MINUTE + 5 * SECOND, "4m5s"),
            (4 * MINUTE + 5001 * MILLISECOND, "4m5.001s"),
            (5 * HOUR + 6 * MINUTE + 7001 * MILLISECOND, "5h6m7.001s"),
            (8 * MINUTE + 1, "8m0.000000001s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
            (-1, "-1ns"),
            (-1_500_000, "-1.5ms"),
            (999_999_999, "999.999999ms"),
            (MINUTE, "1m0s"),
            (HOUR, "1h0m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-2 * HOUR, "-2h0m0s"),
        ];
        for &(ns, want) in cases {
            assert_eq!(format(ns), want, "{ns}");
        }
        assert_eq!(format_std(StdDuration::from_secs(600)), "10m0s");
        assert_eq!(format_std(StdDuration::ZERO), "0s");
        assert_eq!(
            format_std(StdDuration::from_secs(u64::MAX)),
            "5124095576030431h0m15s"
        );
    }

    #[test]
    fn std_durations() {
        assert_eq!(parse_std("1m30s"), Ok(StdDuration::from_secs(90)));
        assert_eq!(parse_std("-0s"), Ok(StdDuration::ZERO));
        let e = parse_std("-1s").unwrap_err();
        assert_eq!(e.input(), "-1s");
        assert_eq!(
            e.to_string(),
            r#"invalid duration "-1s": negative durations are not allowed"#
        );
        assert!(matches!(
            parse_std("soon"),
            Err(DurationError::Invalid { .. })
        ));
    }

    #[test]
    fn rounds_like_go() {
        // Go's time_test.go durationRoundTests.
        let cases: &[(i64, i64, i64)] = &[
            (0, SECOND, 0),
            (MINUTE, -11, MINUTE),
            (MINUTE, 0, MINUTE),
            (MINUTE, 1, MINUTE),
            (2 * MINUTE, MINUTE, 2 * MINUTE),
            (2 * MINUTE + 10 * SECOND, MINUTE, 2 * MINUTE),
            (2 * MINUTE + 30 * SECOND, MINUTE, 3 * MINUTE),
            (2 * MINUTE + 50 * SECOND, MINUTE, 3 * MINUTE),
            (-MINUTE, 1, -MINUTE),
            (-2 * MINUTE, MINUTE, -2 * MINUTE),
            (-2 * MINUTE - 10 * SECOND, MINUTE, -2 * MINUTE),
            (-2 * MINUTE - 30 * SECOND, MINUTE, -3 * MINUTE),
            (-2 * MINUTE - 50 * SECOND, MINUTE, -3 * MINUTE),
            (8e18 as i64, 3e18 as i64, 9e18 as i64),
            (9e18 as i64, 5e18 as i64, i64::MAX),
            (-8e18 as i64, 3e18 as i64, -9e18 as i64),
            (-9e18 as i64, 5e18 as i64, i64::MIN),
            (3 << 61, 3 << 61, 3 << 61),
        ];
        for &(d, m, want) in cases {
            assert_eq!(round(d, m), want, "round({d}, {m})");
        }
    }
}
