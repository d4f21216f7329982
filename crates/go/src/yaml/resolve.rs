//! What a plain scalar is: go-yaml v2's and v3's resolution side by side, and go-yaml's
//! timestamps (`time.Parse` with its four layouts).
//!
//! Both versions resolve `null`/`~`, booleans, integers (Go's `ParseInt`/`ParseUint` with
//! base prefixes and `_` separators), YAML-style floats, `.inf`/`.nan` and timestamps. They
//! differ where YAML 1.1 and 1.2 differ: v2 also reads `yes`/`no`/`on`/`off`/`y`/`n` as
//! booleans and `<<` as the merge key; v2 decodes a timestamp into `interface{}` as the
//! string it was written as, v3 as a `time.Time` (which JSON then prints in RFC 3339).

use crate::num::{parse_float, parse_int};

/// What go-yaml makes of an untagged plain scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null`, `Null`, `NULL`, `~` or nothing.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer fitting int64.
    Int(i64),
    /// An integer fitting only uint64.
    Uint(u64),
    /// A float (finite, or `.inf`/`.nan` spelled as YAML does).
    Float(f64),
    /// A timestamp (v3 only), as Go's JSON encoding of the `time.Time` prints it
    /// (RFC 3339 with nanoseconds, trailing zeros dropped, `Z` for UTC).
    Timestamp(String),
    /// A string: the scalar's own text.
    Str,
}

/// go-yaml v2's `resolve("", s)` as its decoder uses it for `interface{}`: timestamps stay
/// strings. The merge key `<<` is a string here (v2's resolver never reaches its table entry;
/// the parser, not the resolver, treats a plain `<<` key as a merge).
pub fn resolve_v2(s: &str) -> Scalar {
    match resolve_v2_with_timestamps(s) {
        Scalar::Timestamp(_) => Scalar::Str,
        other => other,
    }
}

/// What go-yaml v2's resolver itself answers, timestamps recognised: the encoder's view
/// (it quotes a string that reads back as a timestamp), where the decoder's
/// ([`resolve_v2`]) keeps timestamps as strings.
pub fn resolve_v2_with_timestamps(s: &str) -> Scalar {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Scalar::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Scalar::Bool(false),
        _ => resolve_common(s),
    }
}

/// go-yaml v3's resolution of an untagged plain scalar (YAML 1.2 core schema plus Go's
/// integer syntaxes and timestamps).
pub fn resolve_v3(s: &str) -> Scalar {
    resolve_common(s)
}

/// Whether go-yaml v2's encoder must quote the string `s`: it would read back as another
/// type (including a timestamp or the merge key), or as a base-60 float (YAML 1.1's
/// `1:30`, which v2 quotes without resolving).
pub fn needs_quotes_v2(s: &str) -> bool {
    match resolve_v2_with_timestamps(s) {
        Scalar::Str => is_base60_float(s),
        _ => true,
    }
}

fn resolve_common(s: &str) -> Scalar {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match s.as_bytes()[0] {
        b'.' => {
            if let Some(f) = parse_float(s) {
                return Scalar::Float(f);
            }
        }
        b'+' | b'-' | b'0'..=b'9' => {
            let plain: std::borrow::Cow<str> = if s.contains('_') {
                s.replace('_', "").into()
            } else {
                s.into()
            };
            match parse_int(&plain) {
                Some(Ok(i)) => return Scalar::Int(i),
                Some(Err(u)) => return Scalar::Uint(u),
                None => {}
            }
            if is_yaml_float(&plain)
                && let Some(f) = parse_float(&plain)
            {
                return Scalar::Float(f);
            }
            if let Some(t) = timestamp(s) {
                return Scalar::Timestamp(t);
            }
        }
        _ => {}
    }
    Scalar::Str
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
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
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
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
        // `[0-5]?[0-9]`: a leading 6-9 can only be a single digit
        if n == 0 || (n == 2 && b[st] > b'5') {
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

/// go-yaml's `parseTimestamp`: `s` read with Go's `time.Parse` under the layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (also with `t`), `2006-1-2 15:4:5.999999999` and
/// `2006-1-2`, after the quick check for four digits and a dash. Returns the time as Go's
/// JSON encoding of it prints (RFC 3339 with nanoseconds).
pub fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let year: i64 = s[..4].parse().ok()?;
    let mut r = Reader { b, i: 5 };
    let month = r.num()?;
    r.lit(b'-')?;
    let day = r.num()?;
    let date_only = r.done();
    let (mut hour, mut min, mut sec, mut nanos, mut zone) = (0, 0, 0, 0u32, None);
    if !date_only {
        let sep = r.next()?;
        if !matches!(sep, b'T' | b't' | b' ') {
            return None;
        }
        hour = r.num()?;
        r.lit(b':')?;
        min = r.num()?;
        r.lit(b':')?;
        sec = r.num()?;
        nanos = r.fraction();
        if sep != b' ' {
            zone = Some(r.zone()?);
        }
        if !r.done() {
            return None;
        }
        if hour >= 24 || min >= 60 || sec >= 60 {
            return None;
        }
    }
    if !(1..=12).contains(&month) || day < 1 || day > crate::date::days_in(month, year) {
        return None;
    }
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}");
    if nanos > 0 {
        let f = format!("{nanos:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    match zone {
        Some(offset) if offset != 0 => {
            let a = offset.unsigned_abs();
            let sign = if offset < 0 { '-' } else { '+' };
            out.push_str(&format!("{sign}{:02}:{:02}", a / 60, a % 60));
        }
        _ => out.push('Z'),
    }
    Some(out)
}

/// A cursor over the text `time.Parse` reads.
struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }
    fn digit(&self, k: usize) -> Option<i64> {
        self.b
            .get(self.i + k)
            .filter(|c| c.is_ascii_digit())
            .map(|c| i64::from(c - b'0'))
    }
    fn lit(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    /// Go's `getnum(s, false)`: one or two digits.
    fn num(&mut self) -> Option<i64> {
        let a = self.digit(0)?;
        match self.digit(1) {
            Some(b) => {
                self.i += 2;
                Some(a * 10 + b)
            }
            None => {
                self.i += 1;
                Some(a)
            }
        }
    }
    /// An optional `.` or `,` and digits (any number; nanoseconds from the first nine).
    fn fraction(&mut self) -> u32 {
        if !matches!(self.b.get(self.i), Some(b'.' | b',')) || self.digit(1).is_none() {
            return 0;
        }
        self.i += 1;
        let mut nanos = 0u32;
        let mut n = 0;
        while let Some(d) = self.digit(0) {
            if n < 9 {
                nanos = nanos * 10 + d as u32;
                n += 1;
            }
            self.i += 1;
        }
        nanos * 10u32.pow(9 - n)
    }
    /// `Z07:00`: `Z`, or a sign, two digits, `:`, two digits. The offset in minutes.
    fn zone(&mut self) -> Option<i64> {
        if self.b.get(self.i) == Some(&b'Z') {
            self.i += 1;
            return Some(0);
        }
        let z = self.b.get(self.i..self.i + 6)?;
        let sign = match z[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        if z[3] != b':' || ![1, 2, 4, 5].iter().all(|&k| z[k].is_ascii_digit()) {
            return None;
        }
        let h = i64::from((z[1] - b'0') * 10 + (z[2] - b'0'));
        let m = i64::from((z[4] - b'0') * 10 + (z[5] - b'0'));
        if h > 24 || m > 60 {
            return None;
        }
        self.i += 6;
        Some(sign * (h * 60 + m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_and_v3_differ_where_yaml_does() {
        assert_eq!(resolve_v2("yes"), Scalar::Bool(true));
        assert_eq!(resolve_v3("yes"), Scalar::Str);
        assert_eq!(resolve_v2("<<"), Scalar::Str);
        assert_eq!(resolve_v2("2001-12-14"), Scalar::Str);
        assert_eq!(
            resolve_v3("2001-12-14"),
            Scalar::Timestamp("2001-12-14T00:00:00Z".into())
        );
    }

    #[test]
    fn numbers() {
        for r in [resolve_v2, resolve_v3] {
            assert_eq!(r("0777"), Scalar::Int(511));
            assert_eq!(r("0x10"), Scalar::Int(16));
            assert_eq!(r("1_000"), Scalar::Int(1000));
            assert_eq!(r("1e3"), Scalar::Float(1000.0));
            assert_eq!(
                r("12345678901234567890"),
                Scalar::Uint(12345678901234567890)
            );
            assert_eq!(
                r("+12345678901234567890"),
                Scalar::Float(12345678901234567890.0)
            );
            assert_eq!(r("1e400"), Scalar::Str);
            assert_eq!(r("1.2.3"), Scalar::Str);
            assert_eq!(r(".5"), Scalar::Float(0.5));
            assert_eq!(r("0x1p3"), Scalar::Str);
        }
    }

    #[test]
    fn quoting() {
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
            "2001-12-14",
            "2001-1-2 3:4:5",
            "2001-12-14t21:59:43.10-05:00",
        ] {
            assert!(needs_quotes_v2(s), "{s}");
        }
        for s in [
            "1.2.3",
            "abc",
            "-",
            "=x",
            "x1",
            "<<",
            "2001-13-01",
            "2001-02-30",
            "12:60",
        ] {
            assert!(!needs_quotes_v2(s), "{s}");
        }
    }

    #[test]
    fn timestamps_as_go_parses_them() {
        let t = |s| timestamp(s);
        assert_eq!(t("2001-12-14"), Some("2001-12-14T00:00:00Z".into()));
        assert_eq!(t("2001-1-2"), Some("2001-01-02T00:00:00Z".into()));
        assert_eq!(
            t("2001-12-14t21:59:43.10-05:00"),
            Some("2001-12-14T21:59:43.1-05:00".into())
        );
        assert_eq!(
            t("2001-12-14 21:59:43.10"),
            Some("2001-12-14T21:59:43.1Z".into())
        );
        assert_eq!(t("2001-12-14T1:2:3Z"), Some("2001-12-14T01:02:03Z".into()));
        assert_eq!(
            t("2001-12-14T21:59:43+00:00"),
            Some("2001-12-14T21:59:43Z".into())
        );
        assert_eq!(
            t("2001-12-14T21:59:43.1234567891Z"),
            Some("2001-12-14T21:59:43.123456789Z".into())
        );
        assert_eq!(
            t("2001-12-14T21:59:43,5Z"),
            Some("2001-12-14T21:59:43.5Z".into())
        );
        for bad in [
            "2001-02-29",
            "2001-12-14T21:59:43",
            "2001-12-14 21:59:43Z",
            "2001-12-14T24:00:00Z",
            "2001-12-14T21:59:43+0500",
            "2001-012-14",
            "20011-12-14",
            "2001-12-14T",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
        assert_eq!(t("2000-02-29"), Some("2000-02-29T00:00:00Z".into()));
    }
}
