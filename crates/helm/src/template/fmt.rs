//! Go's `fmt` formatting (`print`, `println`, `printf`) for template values.

use std::fmt::Write as _;

use crate::value::{Value, format_float_g};

/// `fmt.Sprint`: spaces between operands when neither is a string.
pub fn sprint(a: &[Value]) -> String {
    let mut o = String::new();
    for (i, v) in a.iter().enumerate() {
        if i > 0 && !matches!(v, Value::Str(_)) && !matches!(a[i - 1], Value::Str(_)) {
            o.push(' ');
        }
        v.write_go(&mut o, true);
    }
    o
}

/// `fmt.Sprintln`: always spaces, trailing newline.
pub fn sprintln(a: &[Value]) -> String {
    let mut o = String::new();
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            o.push(' ');
        }
        v.write_go(&mut o, true);
    }
    o.push('\n');
    o
}

/// Go's `evalArgs` for `html`, `js`, `urlquery`.
pub fn eval_args(a: &[Value]) -> String {
    if a.len() == 1
        && let Value::Str(s) = &a[0]
    {
        return s.to_string();
    }
    sprint(a)
}

#[derive(Default, Clone, Copy)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    /// `%#v`: Go syntax (strings quoted).
    sharp_v: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

pub use gitops_go::fmt::quote as go_quote;
use gitops_go::fmt::{can_backquote, is_print as is_go_printable};

/// `strconv.Quote`, or with `ascii` `strconv.QuoteToASCII`.
fn quote_with(s: &str, ascii: bool) -> String {
    if ascii {
        gitops_go::fmt::quote_to_ascii(s)
    } else {
        gitops_go::fmt::quote(s)
    }
}

// Widths and precisions need no cap here: Go's parser refuses those past about ten million
// (see [`parsenum`]) and those from arguments past a million (`tooLarge`).
fn pad(s: String, sp: &Spec, numeric: bool) -> String {
    let Some(w) = sp.width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if sp.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if sp.zero {
        if numeric && (s.starts_with('-') || s.starts_with('+') || s.starts_with(' ')) {
            let (sign, rest) = s.split_at(1);
            format!("{sign}{}{rest}", "0".repeat(fill))
        } else {
            format!("{}{s}", "0".repeat(fill))
        }
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// Go's `badVerb`: `%!verb(type=value)`, the value printed with `%v` and the directive's
/// flags, width and precision.
fn bad(verb: char, v: &Value, sp: &Spec) -> String {
    match v {
        Value::Nil => format!("%!{verb}(<nil>)"),
        v => format!(
            "%!{verb}({}={})",
            v.type_name(),
            fmt_value(
                v,
                'v',
                &Spec {
                    sharp_v: false,
                    ..*sp
                }
            )
        ),
    }
}

/// Go's `fmtInteger`.
fn fmt_int(i: i64, verb: char, sp: &Spec) -> String {
    let neg = i < 0;
    let u = i.unsigned_abs();
    let digits = match verb {
        'x' => format!("{u:x}"),
        'X' => format!("{u:X}"),
        'o' | 'O' => format!("{u:o}"),
        'b' => format!("{u:b}"),
        _ => u.to_string(),
    };
    // two ways to ask for leading zeros: %.3d, or %03d (ignored with a precision)
    let prec = match sp.prec {
        Some(0) if u == 0 => {
            // nothing but padding, with spaces
            return " ".repeat(sp.width.unwrap_or(0));
        }
        Some(p) => p,
        None if sp.zero && !sp.minus => {
            let w = sp.width.unwrap_or(0);
            if neg || sp.plus || sp.space {
                w.saturating_sub(1)
            } else {
                w
            }
        }
        None => 0,
    };
    let mut s = String::with_capacity(prec.max(digits.len()) + 4);
    if neg {
        s.push('-');
    } else if sp.plus {
        s.push('+');
    } else if sp.space {
        s.push(' ');
    }
    if verb == 'O' {
        s.push_str("0o");
    }
    let zeros = prec.saturating_sub(digits.len());
    if sp.sharp {
        match verb {
            'x' => s.push_str("0x"),
            'X' => s.push_str("0X"),
            'b' => s.push_str("0b"),
            'o' if zeros == 0 && !digits.starts_with('0') => s.push('0'),
            _ => {}
        }
    }
    s.extend(std::iter::repeat_n('0', zeros));
    s.push_str(&digits);
    pad(s, &Spec { zero: false, ..*sp }, true)
}

/// Digits Rust's formatter is asked for at most (it takes no precision past `u16::MAX`):
/// more than any finite `f64` has after the point or in its mantissa when written exactly
/// (at most 1074 and 767), so every digit past it is a zero.
const EXACT_DIGITS: usize = 1100;

/// `f` with `p` digits after the point, for any `p`.
fn fixed(f: f64, p: usize) -> String {
    if p <= EXACT_DIGITS {
        return format!("{:.*}", p, f);
    }
    let mut s = format!("{:.*}", EXACT_DIGITS, f);
    if f.is_finite() {
        s.extend(std::iter::repeat_n('0', p - EXACT_DIGITS));
    }
    s
}

/// `f` in Rust's `e` notation with `p` digits after the point, for any `p`.
fn scientific(f: f64, p: usize) -> String {
    if p <= EXACT_DIGITS {
        return format!("{:.*e}", p, f);
    }
    let s = format!("{:.*e}", EXACT_DIGITS, f);
    match s.split_once('e') {
        Some((m, e)) => format!("{m}{}e{e}", "0".repeat(p - EXACT_DIGITS)),
        None => s,
    }
}

/// Go's `%e` with precision `p` (exponent at least two digits).
pub fn fmt_e(f: f64, p: usize, upper: bool) -> String {
    let s = scientific(f, p);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let sign = if e < 0 { '-' } else { '+' };
    let r = format!("{m}e{sign}{:02}", e.abs());
    if upper { r.to_uppercase() } else { r }
}

fn fmt_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    match prec {
        None => {
            let s = format_float_g(f);
            if upper { s.to_uppercase() } else { s }
        }
        Some(p) => {
            // past EXACT_DIGITS only zeros would follow, and %g drops them
            let p = p.clamp(1, EXACT_DIGITS);
            if f == 0.0 {
                return "0".into();
            }
            let e = scientific(f, p - 1);
            let (m, ex) = e.split_once('e').unwrap_or((&e, "0"));
            let x: i32 = ex.parse().unwrap_or(0);
            if x < -4 || x >= p as i32 {
                let m = if m.contains('.') {
                    m.trim_end_matches('0').trim_end_matches('.')
                } else {
                    m
                };
                let sign = if x < 0 { '-' } else { '+' };
                let r = format!("{m}e{sign}{:02}", x.abs());
                if upper { r.to_uppercase() } else { r }
            } else {
                let dec = (p as i32 - 1 - x).max(0) as usize;
                let s = fixed(f, dec);
                if s.contains('.') {
                    s.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    s
                }
            }
        }
    }
}

fn fmt_float(f: f64, verb: char, sp: &Spec) -> String {
    let body = if f.is_infinite() {
        if f > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        }
    } else if f.is_nan() {
        "NaN".to_string()
    } else {
        match verb {
            'f' | 'F' => fixed(f, sp.prec.unwrap_or(6)),
            'e' | 'E' => fmt_e(f, sp.prec.unwrap_or(6), verb == 'E'),
            'g' | 'G' => fmt_g(f, sp.prec, verb == 'G'),
            'x' | 'X' => fmt_hex_float(f, sp.prec, verb == 'X'),
            'b' => fmt_binary_float(f),
            _ => fmt_g(f, sp.prec, false),
        }
    };
    let body = if sp.sharp && verb != 'b' && f.is_finite() {
        sharp_float(body, verb, sp.prec)
    } else {
        body
    };
    let body = if f.is_infinite() && f > 0.0 && !sp.plus {
        "+Inf".to_string()
    } else {
        body
    };
    let body = if !body.starts_with('-') && !body.starts_with('+') {
        if sp.plus {
            format!("+{body}")
        } else if sp.space {
            format!(" {body}")
        } else {
            body
        }
    } else {
        body
    };
    pad(body, sp, f.is_finite())
}

/// Go's `#` flag on a float (`fmtFloat`): always a decimal point, and for `%g` and `%x`
/// trailing zeros up to the precision (6 when none is given).
fn sharp_float(num: String, verb: char, prec: Option<usize>) -> String {
    let mut digits: i64 = match verb {
        'g' | 'G' | 'x' | 'X' => prec.map_or(6, |p| i64::try_from(p).unwrap_or(i64::MAX)),
        _ => 0,
    };
    let (sign, body) = match num.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", num.as_str()),
    };
    let hex = matches!(verb, 'x' | 'X');
    // the exponent ("e+06", "p-01") is kept apart; the digits before it are counted
    let tail_at = body
        .find(|c: char| matches!(c, 'p' | 'P') || (!hex && matches!(c, 'e' | 'E')))
        .unwrap_or(body.len());
    let (mant, tail) = body.split_at(tail_at);
    let mut has_point = false;
    let mut nonzero = false;
    for c in mant.chars() {
        if c == '.' {
            has_point = true;
            continue;
        }
        if c != '0' {
            nonzero = true;
        }
        if nonzero {
            digits -= 1;
        }
    }
    let mut out = format!("{sign}{mant}");
    if !has_point {
        // a lone leading zero counts once
        if mant == "0" {
            digits -= 1;
        }
        out.push('.');
    }
    if digits > 0 {
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(digits).unwrap_or(0),
        ));
    }
    out.push_str(tail);
    out
}

/// A float's sign, unbiased binary exponent and 53-bit mantissa (the implicit leading bit
/// set for normal numbers; subnormals use the smallest exponent), as `strconv` splits it.
fn float_parts(f: f64) -> (bool, i64, u64) {
    let bits = f.to_bits();
    let neg = bits >> 63 == 1;
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    (neg, exp - 1023, mant)
}

/// Go's `%x`/`%X` of a float (`strconv` format `'x'`): `0x1.8p+00`, rounded to the
/// precision when one is given (half to even).
fn fmt_hex_float(f: f64, prec: Option<usize>, upper: bool) -> String {
    let (neg, mut exp, mut mant) = float_parts(f);
    if mant == 0 {
        exp = 0;
    }
    // the leading 1 (if any) at bit 60
    mant <<= 8;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec
        && p < 15
    {
        let shift = (p * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut o = String::new();
    if neg {
        o.push('-');
    }
    o.push('0');
    o.push(if upper { 'X' } else { 'x' });
    o.push(if (mant >> 60) & 1 == 1 { '1' } else { '0' });
    mant <<= 4;
    let digit = |mant: &mut u64, o: &mut String| {
        o.push(hex[((*mant >> 60) & 15) as usize] as char);
        *mant <<= 4;
    };
    match prec {
        None if mant != 0 => {
            o.push('.');
            while mant != 0 {
                digit(&mut mant, &mut o);
            }
        }
        Some(p) if p > 0 => {
            o.push('.');
            for _ in 0..p {
                digit(&mut mant, &mut o);
            }
        }
        _ => {}
    }
    o.push(if upper { 'P' } else { 'p' });
    o.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(o, "{:02}", exp.abs());
    o
}

/// Go's `%b` of a float: the decimal mantissa and the power of two (`4503599627370496p-52`).
fn fmt_binary_float(f: f64) -> String {
    let (neg, exp, mant) = float_parts(f);
    let exp = exp - 52;
    format!(
        "{}{mant}p{}{exp}",
        if neg { "-" } else { "" },
        if exp >= 0 { "+" } else { "" }
    )
}

fn fmt_str(s: &str, verb: char, sp: &Spec) -> String {
    if let 'x' | 'X' = verb {
        return fmt_sbx(s.as_bytes(), verb == 'X', sp);
    }
    let s: String = match sp.prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    match verb {
        'q' if sp.sharp && can_backquote(&s) => pad(format!("`{s}`"), sp, false),
        'q' => pad(quote_with(&s, sp.plus), sp, false),
        _ if sp.sharp_v => pad(go_quote(&s), sp, false),
        _ => pad(s, sp, false),
    }
}

/// Go's `fmtSbx`: hexadecimal bytes, the precision counting bytes, `#` adding `0x` once
/// (with ` `, before every byte).
fn fmt_sbx(b: &[u8], upper: bool, sp: &Spec) -> String {
    let n = sp.prec.map_or(b.len(), |p| p.min(b.len()));
    let b = &b[..n];
    let x = if upper { "0X" } else { "0x" };
    let mut o = String::with_capacity(4 * n);
    for (i, c) in b.iter().enumerate() {
        if sp.sharp && (i == 0 || sp.space) {
            o.push_str(x);
        }
        if upper {
            let _ = write!(o, "{c:02X}");
        } else {
            let _ = write!(o, "{c:02x}");
        }
        if sp.space && i + 1 < n {
            o.push(' ');
        }
    }
    pad(o, sp, false)
}

fn fmt_value(v: &Value, verb: char, sp: &Spec) -> String {
    match (verb, v) {
        ('T', v) => pad(v.type_name(), sp, false),
        ('v', Value::Nil) => pad("<nil>".into(), sp, false),
        (_, Value::Nil) => bad(verb, v, sp),
        ('v' | 't', Value::Bool(b)) => pad(b.to_string(), sp, false),
        (_, Value::Bool(_)) => bad(verb, v, sp),
        ('v' | 'd' | 'x' | 'X' | 'o' | 'O' | 'b', Value::Int(i)) => fmt_int(*i, verb, sp),
        ('c', Value::Int(i)) => pad(
            char::from_u32(*i as u32).unwrap_or('\u{FFFD}').to_string(),
            sp,
            false,
        ),
        ('q', Value::Int(i)) => {
            let c = char::from_u32(*i as u32).unwrap_or('\u{FFFD}');
            let q = quote_with(&c.to_string(), sp.plus);
            let inner = &q[1..q.len() - 1];
            let inner = if inner == "\\\"" {
                "\""
            } else if c == '\'' {
                "\\'"
            } else {
                inner
            };
            pad(format!("'{inner}'"), sp, false)
        }
        ('U', Value::Int(i)) => {
            let mut u = format!("U+{:04X}", i);
            // `%#U` adds the character when it is printable
            if let Some(c) = u32::try_from(*i).ok().and_then(char::from_u32)
                && sp.sharp
                && is_go_printable(c)
            {
                let _ = write!(u, " '{c}'");
            }
            pad(u, sp, false)
        }
        (_, Value::Int(_)) => bad(verb, v, sp),
        ('v' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G' | 'x' | 'X' | 'b', Value::Float(f)) => {
            fmt_float(*f, if verb == 'v' { 'g' } else { verb }, sp)
        }
        (_, Value::Float(_)) => bad(verb, v, sp),
        ('v' | 's' | 'q' | 'x' | 'X', Value::Str(s)) => fmt_str(s, verb, sp),
        (_, Value::Str(_)) => bad(verb, v, sp),
        ('s' | 'q' | 'x' | 'X', Value::Bytes(b)) => fmt_str(&String::from_utf8_lossy(b), verb, sp),
        (_, Value::List(l)) => {
            let mut o = String::from("[");
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    o.push(' ');
                }
                o.push_str(&fmt_value(
                    e,
                    verb,
                    &Spec {
                        width: sp.width,
                        prec: sp.prec,
                        ..Default::default()
                    },
                ));
            }
            o.push(']');
            o
        }
        (_, Value::Map(m)) => {
            let mut o = String::from("map[");
            for (i, (k, e)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    o.push(' ');
                }
                o.push_str(&fmt_value(&Value::from(k.as_str()), verb, &Spec::default()));
                o.push(':');
                o.push_str(&fmt_value(e, verb, &Spec::default()));
            }
            o.push(']');
            o
        }
        ('v' | 's', v) => pad(v.to_go_string(), sp, false),
        (_, v) => bad(verb, v, sp),
    }
}

/// Go's `tooLarge`: widths and precisions are at most a million in magnitude.
fn too_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

/// Go's `parsenum`: the decimal number at `b[start..end]`, whether there is one, and where
/// it ends. A number that grows past a million before its last digit is an overflow: no
/// number, and the position is `end` (the rest of the format is consumed).
fn parsenum(b: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let (mut num, mut isnum, mut i) = (0usize, false, start);
    while i < end && b[i].is_ascii_digit() {
        if num > 1_000_000 {
            return (0, false, end);
        }
        num = num * 10 + usize::from(b[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

/// Go's `parseArgNumber` for `b` starting with `[`: the zero-based index, the bytes to
/// consume (up to the closing bracket, or just the bracket when there is none) and whether
/// a number parsed.
fn parse_arg_number(b: &[u8]) -> (usize, usize, bool) {
    if b.len() < 3 {
        return (0, 1, false);
    }
    match b.iter().position(|&c| c == b']') {
        Some(close) => {
            let (n, ok, newi) = parsenum(b, 1, close);
            if !ok || newi != close || n == 0 {
                // `[0]` parses, but as index -1 it is as bad as no number
                return (usize::MAX, close + 1, ok && newi == close);
            }
            (n - 1, close + 1, true)
        }
        None => (0, 1, false),
    }
}

/// Go's `intFromArg`: the argument as a width or precision, whether it is a usable
/// integer, and the next argument.
fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    match args.get(arg_num) {
        None => (0, false, arg_num),
        Some(Value::Int(n)) if !too_large(*n) => (*n, true, arg_num + 1),
        Some(_) => (0, false, arg_num + 1),
    }
}

/// Go's `doPrintf` state that outlives one directive.
struct Printf<'a> {
    args: &'a [Value],
    /// An explicit index was used: extra arguments are not reported.
    reordered: bool,
    /// The directive's explicit index was bad.
    good_arg_num: bool,
}

impl Printf<'_> {
    /// Go's `argNumber`: the argument an explicit index `[n]` at `b[i..]` names, where the
    /// format continues, and whether an index was found.
    fn arg_number(&mut self, arg_num: usize, b: &[u8], i: usize) -> (usize, usize, bool) {
        if b.get(i) != Some(&b'[') {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&b[i..]);
        if ok && index < self.args.len() {
            return (index, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }
}

/// `fmt.Sprintf` with Go's verbs, flags, width, precision and explicit argument indexes,
/// and Go's reports for what is wrong (`%!(NOVERB)`, `%!(BADWIDTH)`, `%!(BADPREC)`,
/// `%!d(BADINDEX)`, `%!d(MISSING)`, `%!(EXTRA ...)`, `%!z(int=1)`).
pub fn sprintf(f: &str, args: &[Value]) -> String {
    let b = f.as_bytes();
    let end = b.len();
    let mut out = String::with_capacity(f.len() + 16);
    let mut p = Printf {
        args,
        reordered: false,
        good_arg_num: true,
    };
    let mut arg_num = 0usize;
    let mut i = 0;
    while i < end {
        p.good_arg_num = true;
        let last = i;
        while i < end && b[i] != b'%' {
            i += 1;
        }
        if i > last {
            out.push_str(&f[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        let mut sp = Spec::default();
        while i < end {
            match b[i] {
                b'#' => sp.sharp = true,
                b'0' => sp.zero = !sp.minus,
                b'+' => sp.plus = true,
                b'-' => {
                    sp.minus = true;
                    sp.zero = false;
                }
                b' ' => sp.space = true,
                _ => break,
            }
            i += 1;
        }
        let mut after_index;
        (arg_num, i, after_index) = p.arg_number(arg_num, b, i);
        // width
        if i < end && b[i] == b'*' {
            i += 1;
            let (w, ok, next) = int_from_arg(args, arg_num);
            arg_num = next;
            if !ok {
                out.push_str("%!(BADWIDTH)");
            } else if w < 0 {
                sp.width = Some(w.unsigned_abs() as usize);
                sp.minus = true;
                sp.zero = false;
            } else {
                sp.width = Some(w as usize);
            }
            after_index = false;
        } else {
            let (w, present, next) = parsenum(b, i, end);
            i = next;
            if present {
                sp.width = Some(w);
                if after_index {
                    // "%[3]2d"
                    p.good_arg_num = false;
                }
            }
        }
        // precision
        if i + 1 < end && b[i] == b'.' {
            i += 1;
            if after_index {
                // "%[3].2d"
                p.good_arg_num = false;
            }
            (arg_num, i, after_index) = p.arg_number(arg_num, b, i);
            if i < end && b[i] == b'*' {
                i += 1;
                let (pr, ok, next) = int_from_arg(args, arg_num);
                arg_num = next;
                if ok && pr >= 0 {
                    sp.prec = Some(pr as usize);
                } else {
                    out.push_str("%!(BADPREC)");
                }
                after_index = false;
            } else {
                let (pr, present, next) = parsenum(b, i, end);
                i = next;
                sp.prec = Some(if present { pr } else { 0 });
            }
        }
        if !after_index {
            (arg_num, i, _) = p.arg_number(arg_num, b, i);
        }
        let Some(verb) = f.get(i..).and_then(|r| r.chars().next()) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += verb.len_utf8();
        match verb {
            // a percent takes no argument and ignores width and precision
            '%' => out.push('%'),
            _ if !p.good_arg_num => {
                let _ = write!(out, "%!{verb}(BADINDEX)");
            }
            _ => match args.get(arg_num) {
                None => {
                    let _ = write!(out, "%!{verb}(MISSING)");
                }
                Some(a) => {
                    if verb == 'v' {
                        // `%#v` is Go syntax, `%+v` field names: neither flag as such
                        sp.sharp_v = sp.sharp;
                        sp.sharp = false;
                        sp.plus = false;
                    }
                    out.push_str(&fmt_value(a, verb, &sp));
                    arg_num += 1;
                }
            },
        }
    }
    if !p.reordered && arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            match a {
                Value::Nil => out.push_str("<nil>"),
                a => {
                    let _ = write!(out, "{}={}", a.type_name(), a.to_go_string());
                }
            }
        }
        out.push(')');
    }
    out
}
