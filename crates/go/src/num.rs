//! Go's number text: `strconv` parsing and formatting, and `encoding/json`'s floats.
//!
//! Float digits are always the shortest that read back to the same value (Rust's `{:e}`
//! gives exactly those, as Go's `strconv` does with precision -1).

use std::fmt::Write;

/// The shortest round-trip decimal digits of `f` (`{:e}`'s digits): whether it is
/// negative, the digits without trailing zeros, and the exponent of the last digit.
pub fn shortest_digits(f: f64) -> (bool, String, i32) {
    digits_of(f.is_sign_negative(), &format!("{:e}", f.abs()))
}

/// [`shortest_digits`] of `f` as a `float32` (Go's `FormatFloat(f, …, 32)`).
pub fn shortest_digits32(f: f64) -> (bool, String, i32) {
    digits_of(f.is_sign_negative(), &format!("{:e}", (f as f32).abs()))
}

fn digits_of(neg: bool, e: &str) -> (bool, String, i32) {
    let (mant, exp) = e.split_once('e').unwrap_or((e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = digits.len() as i32;
    (neg, digits.to_owned(), exp - (nd - 1))
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which is also `%v` of a float64
/// (`+Inf`, `-Inf`, `NaN` spelled as Go does).
pub fn format_float_g(f: f64) -> String {
    format_g(f, shortest_digits(f))
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest digits of a `float32`.
pub fn format_float32_g(f: f64) -> String {
    format_g(f, shortest_digits32(f))
}

fn format_g(f: f64, (neg, digits, exp): (bool, String, i32)) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let nd = digits.len() as i32;
    // The exponent of the first digit (d.ddd form) decides between %e and %f.
    let x = exp + nd - 1;
    let mut s = String::with_capacity(nd as usize + 8);
    if neg {
        s.push('-');
    }
    // Shortest precision: Go decides between %e and %f as if the precision were 6.
    if !(-4..6).contains(&x) {
        exponent_form(&mut s, &digits, x);
    } else {
        fixed_form(&mut s, &digits, x + 1);
    }
    s
}

fn exponent_form(s: &mut String, digits: &str, x: i32) {
    s.push_str(&digits[..1]);
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    s.push('e');
    s.push(if x < 0 { '-' } else { '+' });
    let ax = x.abs();
    if ax < 10 {
        s.push('0');
    }
    let _ = write!(s, "{ax}");
}

/// Writes `digits` with the decimal point after `dp` of them (`dp` may be ≤ 0 or past
/// the end).
fn fixed_form(s: &mut String, digits: &str, dp: i32) {
    let nd = digits.len() as i32;
    if dp <= 0 {
        s.push_str("0.");
        for _ in 0..-dp {
            s.push('0');
        }
        s.push_str(digits);
    } else if dp >= nd {
        s.push_str(digits);
        for _ in 0..dp - nd {
            s.push('0');
        }
    } else {
        s.push_str(&digits[..dp as usize]);
        s.push('.');
        s.push_str(&digits[dp as usize..]);
    }
}

/// The text Go's `encoding/json` writes for a finite float64: `%f` form for magnitudes in
/// [1e-6, 1e21), `%e` form otherwise with a one-digit negative exponent unpadded
/// (`1e-7`, `1e+21`). Callers reject non-finite values first (Go: `json: unsupported value`).
pub fn json_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (neg, digits, exp) = shortest_digits(f);
    let mut s = String::with_capacity(digits.len() + 8);
    if neg {
        s.push('-');
    }
    let a = f.abs();
    if (1e-6..1e21).contains(&a) {
        fixed_form(&mut s, &digits, exp + digits.len() as i32);
    } else {
        let x = exp + digits.len() as i32 - 1;
        exponent_form(&mut s, &digits, x);
        // clean up e-09 to e-9 (Go only does it for negative exponents)
        let n = s.len();
        if x < 0 && x > -10 {
            s.remove(n - 2);
        }
    }
    s
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)`: an optional
/// sign, then `0x`, `0o`, `0b` or a leading `0` (octal) prefix, or decimal. `Ok` for an
/// int64, `Err` for a value that fits only a uint64 (written without a sign, as
/// `ParseUint` takes none). Digit separators (`_`) are not
/// accepted here; YAML resolution removes them first.
pub fn parse_int(s: &str) -> Option<Result<i64, u64>> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, r)
        } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, r)
        } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, r)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let u = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        (u <= i64::MAX as u64 + 1).then(|| Ok((u as i128).wrapping_neg() as i64))
    } else if u <= i64::MAX as u64 {
        Some(Ok(u as i64))
    } else {
        (!s.starts_with('+')).then_some(Err(u))
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` alone (no uint64 fallback).
pub fn parse_i64(s: &str) -> Option<i64> {
    parse_int(s)?.ok()
}

/// Reads a number as Go's `strconv.ParseFloat(s, 64)` does: decimal and hexadecimal
/// (`0x1p-2`) forms, `_` digit separators, `Inf`/`Infinity` (signed) and `NaN` in any case.
/// Out-of-range values (which Go reports with `ErrRange`) are `None`.
pub fn parse_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    // Special values.
    let (neg, body) = match b.first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    let bb = body.as_bytes();
    let hex = bb.len() > 2 && bb[0] == b'0' && (bb[1] | 0x20) == b'x';
    if hex {
        return parse_hex_float(&body[2..], s).map(|v| if neg { -v } else { v });
    }
    // Decimal: digits [. digits] [e [sign] digits], with underscores.
    let mut i = 0;
    let mut digits = false;
    let mut dot = false;
    let mut underscores = false;
    while i < bb.len() {
        match bb[i] {
            b'_' => underscores = true,
            b'.' if !dot => dot = true,
            b'0'..=b'9' => digits = true,
            _ => break,
        }
        i += 1;
    }
    if !digits {
        return None;
    }
    if i < bb.len() && (bb[i] | 0x20) == b'e' {
        i += 1;
        if i < bb.len() && (bb[i] == b'+' || bb[i] == b'-') {
            i += 1;
        }
        if i >= bb.len() || !bb[i].is_ascii_digit() {
            return None;
        }
        while i < bb.len() && (bb[i].is_ascii_digit() || bb[i] == b'_') {
            underscores |= bb[i] == b'_';
            i += 1;
        }
    }
    if i != bb.len() || (underscores && !underscore_ok(s)) {
        return None;
    }
    let v: f64 = if underscores {
        body.replace('_', "").parse().ok()?
    } else {
        body.parse().ok()?
    };
    if v.is_infinite() {
        return None; // ErrRange
    }
    Some(if neg { -v } else { v })
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let mut b = s.as_bytes();
    if let Some((b'+' | b'-', rest)) = b.split_first() {
        b = rest;
    }
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = (b[1] | 0x20) == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// The part after `0x` of a Go hexadecimal float: hex digits with an optional point, then a
/// mandatory binary exponent `p±d`.
fn parse_hex_float(body: &str, whole: &str) -> Option<f64> {
    let b = body.as_bytes();
    let mut i = 0;
    let mut mant: f64 = 0.0;
    let mut digits = false;
    let mut dot = false;
    let mut frac_bits: i64 = 0;
    let mut underscores = false;
    while i < b.len() {
        match b[i] {
            b'_' => underscores = true,
            b'.' if !dot => dot = true,
            c if c.is_ascii_hexdigit() => {
                digits = true;
                let d = (c as char).to_digit(16).unwrap_or(0);
                mant = mant * 16.0 + f64::from(d);
                if dot {
                    frac_bits += 4;
                }
            }
            _ => break,
        }
        i += 1;
    }
    if !digits || i >= b.len() || (b[i] | 0x20) != b'p' {
        return None;
    }
    i += 1;
    let mut esign = 1i64;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        if b[i] == b'-' {
            esign = -1;
        }
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return None;
    }
    let mut e: i64 = 0;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        if b[i] == b'_' {
            underscores = true;
        } else if e < 10_000 {
            e = e * 10 + i64::from(b[i] - b'0');
        }
        i += 1;
    }
    if i != b.len() || (underscores && !underscore_ok(whole)) {
        return None;
    }
    let v = ldexp(mant, esign * e - frac_bits);
    if v.is_infinite() { None } else { Some(v) }
}

/// `x * 2^e` without intermediate overflow or underflow of the power of two.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    e = e.clamp(-4000, 4000);
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_float_matches_go() {
        // Recorded from Go's strconv.ParseFloat(s, 64).
        let cases: &[(&str, Option<f64>)] = &[
            ("1_000", Some(1000.0)),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("1.5_5", Some(1.55)),
            ("0x1p3", Some(8.0)),
            ("0x1", None),
            ("0x1.8p1", Some(3.0)),
            ("0x_1p0", Some(1.0)),
            ("+Inf", Some(f64::INFINITY)),
            ("-infinity", Some(f64::NEG_INFINITY)),
            ("+nan", None),
            ("infin", None),
            ("1e400", None),
            ("1e-400", Some(0.0)),
            ("5.", Some(5.0)),
            (".5", Some(0.5)),
            (".", None),
            ("1e", None),
            ("1e+", None),
            ("+.5", Some(0.5)),
            ("0b101", None),
            ("017", Some(17.0)),
            ("1,5", None),
            (" 1", None),
            ("1 ", None),
            ("0x1p-1074", Some(5e-324)),
            ("1.7976931348623157e308", Some(f64::MAX)),
            ("1.7976931348623159e308", None),
            ("0X1P+2", Some(4.0)),
            ("1E5", Some(100000.0)),
            ("00012", Some(12.0)),
            ("", None),
            ("-", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_float(s), *want, "{s:?}");
        }
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert!(parse_float("nan").is_some_and(f64::is_nan));
    }

    #[test]
    fn g_format() {
        for (f, want) in [
            (1.0, "1"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1e21, "1e+21"),
            (123456789.0, "1.23456789e+08"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5, "1.5"),
            (-2.5e-10, "-2.5e-10"),
            (f64::INFINITY, "+Inf"),
            (-0.0, "-0"),
        ] {
            assert_eq!(format_float_g(f), want, "{f}");
        }
        assert_eq!(format_float32_g(0.1), "0.1");
        assert_eq!(format_float32_g(16777217.0), "1.6777216e+07");
    }

    #[test]
    fn json_format() {
        for (f, want) in [
            (1.0, "1"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (0.000001, "0.000001"),
            (123456789.0, "123456789"),
            (-0.5, "-0.5"),
        ] {
            assert_eq!(json_float(f), want, "{f}");
        }
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int("0777"), Some(Ok(511)));
        assert_eq!(parse_int("0x10"), Some(Ok(16)));
        assert_eq!(parse_int("-9223372036854775808"), Some(Ok(i64::MIN)));
        assert_eq!(parse_int("18446744073709551615"), Some(Err(u64::MAX)));
        assert_eq!(parse_int("18446744073709551616"), None);
        assert_eq!(parse_int("-9223372036854775809"), None);
        assert_eq!(parse_int("08"), None);
        assert_eq!(parse_int("+"), None);
        assert_eq!(parse_int("+18446744073709551615"), None);
    }
}
