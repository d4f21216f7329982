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
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\x07' => o.push_str("\\a"),
            '\x08' => o.push_str("\\b"),
            '\x0c' => o.push_str("\\f"),
            '\x0b' => o.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c if is_go_printable(c) => o.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(o, "\\U{:08x}", c as u32);
            }
        }
    }
    o.push('"');
    o
}

fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    !(0x80..0xa0).contains(&u)
        && !matches!(u, 0xad | 0x2028 | 0x2029 | 0xfeff)
        && !(0xfff9..=0xfffb).contains(&u)
        && !(0xd800..=0xdfff).contains(&u)
}

fn pad(s: String, sp: &Spec, numeric: bool) -> String {
    let Some(w) = sp.width else { return s };
    let w = w.min(1 << 20);
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

fn bad(verb: char, v: &Value) -> String {
    match v {
        Value::Nil => format!("%!{verb}(<nil>)"),
        v => format!("%!{verb}({}={})", v.type_name(), v.to_go_string()),
    }
}

fn fmt_int(i: i64, verb: char, sp: &Spec) -> String {
    let neg = i < 0;
    let u = i.unsigned_abs();
    let mut digits = match verb {
        'd' | 'v' => u.to_string(),
        'x' => format!("{u:x}"),
        'X' => format!("{u:X}"),
        'o' | 'O' => format!("{u:o}"),
        'b' => format!("{u:b}"),
        _ => u.to_string(),
    };
    if let Some(p) = sp.prec {
        let p = p.min(1 << 20);
        while digits.len() < p {
            digits.insert(0, '0');
        }
        if p == 0 && u == 0 {
            digits.clear();
        }
    }
    if sp.sharp {
        match verb {
            'x' => digits.insert_str(0, "0x"),
            'X' => digits.insert_str(0, "0X"),
            'o' => digits.insert(0, '0'),
            'b' => digits.insert_str(0, "0b"),
            _ => {}
        }
    }
    if verb == 'O' {
        digits.insert_str(0, "0o");
    }
    let sign = if neg {
        "-"
    } else if sp.plus {
        "+"
    } else if sp.space {
        " "
    } else {
        ""
    };
    let mut sp2 = *sp;
    if sp.prec.is_some() {
        sp2.zero = false;
    }
    pad(format!("{sign}{digits}"), &sp2, true)
}

/// Go's `%e` with precision `p` (exponent at least two digits).
pub fn fmt_e(f: f64, p: usize, upper: bool) -> String {
    let s = format!("{:.*e}", p, f);
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
            let p = p.max(1);
            if f == 0.0 {
                return "0".into();
            }
            let e = format!("{:.*e}", p - 1, f);
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
                let s = format!("{:.*}", dec, f);
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
            'f' | 'F' => format!("{:.*}", sp.prec.unwrap_or(6).min(1000), f),
            'e' | 'E' => fmt_e(f, sp.prec.unwrap_or(6).min(1000), verb == 'E'),
            'g' | 'G' => fmt_g(f, sp.prec.map(|p| p.min(1000)), verb == 'G'),
            _ => fmt_g(f, sp.prec, false),
        }
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

fn fmt_str(s: &str, verb: char, sp: &Spec) -> String {
    let s: String = match sp.prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    match verb {
        'q' => pad(go_quote(&s), sp, false),
        'x' | 'X' => {
            let mut o = String::new();
            for (i, b) in s.bytes().enumerate() {
                if sp.space && i > 0 {
                    o.push(' ');
                }
                if verb == 'x' {
                    let _ = write!(o, "{b:02x}");
                } else {
                    let _ = write!(o, "{b:02X}");
                }
            }
            pad(o, sp, false)
        }
        _ => pad(s, sp, false),
    }
}

fn fmt_value(v: &Value, verb: char, sp: &Spec) -> String {
    match (verb, v) {
        ('T', v) => pad(v.type_name(), sp, false),
        ('v', Value::Nil) => pad("<nil>".into(), sp, false),
        (_, Value::Nil) => bad(verb, v),
        ('v' | 't', Value::Bool(b)) => pad(b.to_string(), sp, false),
        (_, Value::Bool(_)) => bad(verb, v),
        ('v' | 'd' | 'x' | 'X' | 'o' | 'O' | 'b', Value::Int(i)) => fmt_int(*i, verb, sp),
        ('c', Value::Int(i)) => pad(
            char::from_u32(*i as u32).unwrap_or('\u{FFFD}').to_string(),
            sp,
            false,
        ),
        ('q', Value::Int(i)) => {
            let c = char::from_u32(*i as u32).unwrap_or('\u{FFFD}');
            let q = go_quote(&c.to_string());
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
        ('U', Value::Int(i)) => pad(format!("U+{:04X}", i), sp, false),
        (_, Value::Int(_)) => bad(verb, v),
        ('v' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G', Value::Float(f)) => {
            fmt_float(*f, if verb == 'v' { 'g' } else { verb }, sp)
        }
        (_, Value::Float(_)) => bad(verb, v),
        ('v' | 's' | 'q' | 'x' | 'X', Value::Str(s)) => fmt_str(s, verb, sp),
        (_, Value::Str(_)) => bad(verb, v),
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
        (_, v) => bad(verb, v),
    }
}

/// `fmt.Sprintf` with Go's verbs, flags, width and precision.
pub fn sprintf(f: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(f.len() + 16);
    let chars: Vec<char> = f.chars().collect();
    let mut i = 0;
    let mut argi = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        if i >= chars.len() {
            out.push_str("%!(NOVERB)");
            break;
        }
        let mut sp = Spec::default();
        while i < chars.len() {
            match chars[i] {
                '+' => sp.plus = true,
                '-' => {
                    sp.minus = true;
                    sp.zero = false
                }
                '#' => sp.sharp = true,
                ' ' => sp.space = true,
                '0' => sp.zero = !sp.minus,
                _ => break,
            }
            i += 1;
        }
        // width
        if i < chars.len() && chars[i] == '*' {
            i += 1;
            if let Some(Value::Int(w)) = args.get(argi) {
                if *w < 0 {
                    sp.minus = true;
                    sp.width = Some(w.unsigned_abs() as usize);
                } else {
                    sp.width = Some(*w as usize);
                }
            } else {
                out.push_str("%!(BADWIDTH)");
            }
            argi += 1;
        } else {
            let st = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i > st {
                sp.width = chars[st..i].iter().collect::<String>().parse().ok();
            }
        }
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            if i < chars.len() && chars[i] == '*' {
                i += 1;
                if let Some(Value::Int(p)) = args.get(argi) {
                    sp.prec = if *p < 0 { None } else { Some(*p as usize) };
                } else {
                    out.push_str("%!(BADPREC)");
                }
                argi += 1;
            } else {
                let st = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                sp.prec = Some(chars[st..i].iter().collect::<String>().parse().unwrap_or(0));
            }
        }
        if i >= chars.len() {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = chars[i];
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.get(argi) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        argi += 1;
        out.push_str(&fmt_value(a, verb, &sp));
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[argi..].iter().enumerate() {
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
