//! Scalar resolution and number formatting compatible with kustomize's Go YAML stack:
//! go-yaml v3 decides what an input scalar is, encoding/json and go-yaml v2 decide how it is
//! printed.

use super::value::Value;
use base64::Engine;
use granit_parser::ScalarStyle;

/// Parses an integer the way Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint` read it
/// (sign, `0x`/`0o`/`0b` prefixes, leading-zero octal). Underscores must be removed first.
fn go_parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(r) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, r)
    } else if let Some(r) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, r)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    if v > u64::MAX as i128 {
        return None;
    }
    Some(if neg { -v } else { v })
}

fn int_value(v: i128, neg_sign: bool) -> Option<Value> {
    if let Ok(i) = i64::try_from(v) {
        Some(Value::Int(i))
    } else if !neg_sign && v >= 0 {
        u64::try_from(v).ok().map(Value::Uint)
    } else {
        None
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn parse_finite(s: &str) -> Option<f64> {
    let f: f64 = s.parse().ok()?;
    f.is_finite().then_some(f)
}

/// A parsed YAML timestamp, kept as the text Go's `time.Time` JSON encoding gives.
fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut i = 5;
    let num = |i: &mut usize, min: usize, max: usize| -> Option<u32> {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - st < max {
            *i += 1;
        }
        if *i - st < min {
            return None;
        }
        s[st..*i].parse().ok()
    };
    let year: i32 = s[..4].parse().ok()?;
    let month = num(&mut i, 1, 2)?;
    if i >= b.len() || b[i] != b'-' {
        return None;
    }
    i += 1;
    let day = num(&mut i, 1, 2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day < 1 || day > mdays[(month - 1) as usize] {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if i == b.len() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let sep = b[i];
    if sep != b'T' && sep != b't' && sep != b' ' {
        return None;
    }
    i += 1;
    let hour = num(&mut i, 2, 2)?;
    if i >= b.len() || b[i] != b':' {
        return None;
    }
    i += 1;
    let min = num(&mut i, 1, 2)?;
    if i >= b.len() || b[i] != b':' {
        return None;
    }
    i += 1;
    let sec = num(&mut i, 1, 2)?;
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut frac = String::new();
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == st || i - st > 9 {
            return None;
        }
        frac = s[st..i].trim_end_matches('0').to_string();
    }
    let zone = if i == b.len() {
        if sep == b' ' {
            "Z".to_string()
        } else {
            return None;
        }
    } else if sep == b' ' {
        return None;
    } else if &s[i..] == "Z" {
        "Z".to_string()
    } else {
        let z = &s[i..];
        let zb = z.as_bytes();
        if zb.len() != 6
            || (zb[0] != b'+' && zb[0] != b'-')
            || zb[3] != b':'
            || !zb[1..3].iter().all(u8::is_ascii_digit)
            || !zb[4..6].iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        if &z[1..] == "00:00" {
            "Z".to_string()
        } else {
            z.to_string()
        }
    };
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!("{date}T{hour:02}:{min:02}:{sec:02}{frac}{zone}"))
}

/// Resolves an untagged plain scalar like go-yaml v3 (YAML 1.2 core schema plus Go's
/// integer syntaxes and timestamps).
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => {
            if let Some(f) = parse_finite(s) {
                return Value::Float(f);
            }
        }
        b'+' | b'-' | b'0'..=b'9' => {
            if let Some(ts) = parse_timestamp(s) {
                return Value::String(ts);
            }
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if let Some(v) = go_parse_int(&plain)
                && let Some(val) = int_value(v, plain.starts_with('-'))
            {
                return val;
            }
            if yaml_style_float(&plain)
                && let Some(f) = parse_finite(&plain)
            {
                return Value::Float(f);
            }
        }
        _ => {}
    }
    Value::String(s.to_string())
}

/// Resolves a scalar carrying an explicit tag (`!!str`, `!!int`, `!!binary`, …).
pub fn resolve_tagged(
    s: &str,
    style: ScalarStyle,
    handle: &str,
    suffix: &str,
) -> Result<Value, String> {
    let core = if handle == "tag:yaml.org,2002:" || handle == "!!" {
        Some(suffix)
    } else {
        None
    };
    match core {
        Some("str") => Ok(Value::String(s.to_string())),
        Some("binary") => {
            let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(clean.as_bytes())
                .map_err(|e| format!("!!binary value contains invalid base64 data: {e}"))?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Some("int") | Some("float") | Some("bool") | Some("null") | Some("timestamp") => {
            let v = resolve_plain(s);
            let ok = match (suffix, &v) {
                ("int", Value::Int(_) | Value::Uint(_)) => true,
                ("float", Value::Float(_)) => true,
                ("float", Value::Int(i)) => return Ok(Value::Float(*i as f64)),
                ("bool", Value::Bool(_)) => true,
                ("null", Value::Null) => true,
                ("timestamp", Value::String(_)) => true,
                _ => false,
            };
            if ok {
                Ok(v)
            } else {
                Err(format!("cannot decode {s:?} as a !!{suffix}"))
            }
        }
        _ => {
            if style == ScalarStyle::Plain {
                Ok(resolve_plain(s))
            } else {
                Ok(Value::String(s.to_string()))
            }
        }
    }
}

/// Whether go-yaml v2 would read this string back as something other than a string
/// (so it must be quoted on output).
pub fn v2_needs_quotes(s: &str) -> bool {
    match s {
        "" | "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False"
        | "FALSE" | "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No" | "NO" | "on"
        | "On" | "ON" | "off" | "Off" | "OFF" | ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf"
        | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" => {
            return true;
        }
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' if go_parse_float_any(s) => {
            return true;
        }
        b'+' | b'-' | b'0'..=b'9' => {
            if parse_timestamp(s).is_some() {
                return true;
            }
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if go_parse_int(&plain).is_some_and(|v| v >= i64::MIN as i128) {
                return true;
            }
            if yaml_style_float(&plain) && parse_finite(&plain).is_some() {
                return true;
            }
            if let Some(rest) = plain.strip_prefix("0b").or(plain.strip_prefix("-0b"))
                && !rest.is_empty()
                && rest.chars().all(|c| c == '0' || c == '1')
            {
                return true;
            }
            if is_base60_float(s) {
                return true;
            }
        }
        _ => {}
    }
    false
}

/// Go's ParseFloat on a string starting with '.' (decimal forms only; it has no sign).
fn go_parse_float_any(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut ds = 0;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        if b[i].is_ascii_digit() {
            ds += 1;
        }
        i += 1;
    }
    if ds == 0 || s[..i].matches('.').count() > 1 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == st {
            return false;
        }
    }
    i == b.len() && parse_finite(s).is_some()
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() && i - st < 2 {
            i += 1;
        }
        let n = i - st;
        if n == 0 {
            return false;
        }
        if n == 2 && b[st] > b'5' {
            // `[0-5]?[0-9]`: a leading 6-9 can only be a single digit
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` with go-yaml's spellings of infinities.
pub fn go_float_g(f: f64) -> String {
    go_g(f, &format!("{:e}", f))
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)` (a `float32`'s shortest digits) with
/// go-yaml's spellings of infinities.
pub fn go_float32_g(f: f64) -> String {
    go_g(f, &format!("{:e}", f as f32))
}

/// `%g` with the shortest digits: `e` is Rust's `{:e}` of the value at the wanted
/// precision (its digits and exponent).
fn go_g(f: f64, e: &str) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let (mant, exp) = e.split_once('e').unwrap_or((e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.bytes().all(|b| b == b'0') {
        return if neg { "-0".into() } else { "0".into() };
    }
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let es = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{es}{:02}", exp.abs())
    } else {
        // %f with just enough digits
        let dp = exp + 1; // position of decimal point relative to digits
        let nd = digits.len() as i32;
        let mut out = String::from(sign);
        if dp <= 0 {
            out.push_str("0.");
            for _ in 0..(-dp) {
                out.push('0');
            }
            out.push_str(&digits);
        } else if dp >= nd {
            out.push_str(&digits);
            for _ in 0..(dp - nd) {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..dp as usize]);
            out.push('.');
            out.push_str(&digits[dp as usize..]);
        }
        out
    }
}

/// The text kustomize prints for a float: it goes through Go's JSON encoding and back
/// through go-yaml v2, so integral values print as integers.
pub fn float_output(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f < 9.223_372_036_854_776e18 {
            return (f as i64).to_string();
        }
        if (0.0..1.844_674_407_370_955_2e19).contains(&f) {
            return (f as u64).to_string();
        }
    }
    go_float_g(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_resolution() {
        assert_eq!(resolve_plain("0777"), Value::Int(511));
        assert_eq!(resolve_plain("0x10"), Value::Int(16));
        assert_eq!(resolve_plain("1e3"), Value::Float(1000.0));
        assert_eq!(resolve_plain("yes"), Value::String("yes".into()));
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(
            resolve_plain("2001-12-14"),
            Value::String("2001-12-14T00:00:00Z".into())
        );
        assert_eq!(
            resolve_plain("12345678901234567890"),
            Value::Uint(12345678901234567890)
        );
        assert_eq!(resolve_plain("1.2.3"), Value::String("1.2.3".into()));
    }

    #[test]
    fn quoting_rules() {
        for s in [
            "1",
            "yes",
            "n",
            "12:30",
            "190:20:30",
            "1_000",
            "0o17",
            ".inf",
            "+1",
            "",
        ] {
            assert!(v2_needs_quotes(s), "{s}");
        }
        for s in ["1.2.3", "abc", "-", "=x", "x1"] {
            assert!(!v2_needs_quotes(s), "{s}");
        }
    }

    #[test]
    fn float_formats() {
        assert_eq!(float_output(1.0), "1");
        assert_eq!(float_output(1e23), "1e+23");
        assert_eq!(float_output(1.5e-10), "1.5e-10");
        assert_eq!(float_output(1234567.5), "1.2345675e+06");
        assert_eq!(float_output(0.5), "0.5");
        assert_eq!(float_output(0.0001), "0.0001");
        assert_eq!(float_output(0.00001), "1e-05");
    }
}
