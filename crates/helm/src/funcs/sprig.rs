//! Sprig functions: strings, lists, dicts, math, encoding, regex, paths, reflection.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::*;
use crate::template::fmt::go_quote;
use crate::template::{FnErr, FuncMap};
use crate::value::Value;
use gitops_go::regexp::Regexp;

type Res = Result<Value, FnErr>;

fn s(v: impl Into<String>) -> Res {
    Ok(Value::from(v.into()))
}

type Cache<T> = std::cell::RefCell<std::collections::HashMap<String, T>>;

thread_local! {
    static REGEX_CACHE: Cache<Rc<Regexp>> = Default::default();
    static REGEX_RESULTS: Cache<Value> = Default::default();
}

/// `make()`'s value for `key`, made once per thread while `cache` holds fewer than `keep`
/// entries (failures are not kept).
fn cached<T: Clone>(
    cache: &'static std::thread::LocalKey<Cache<T>>,
    key: &str,
    keep: usize,
    make: impl FnOnce() -> Result<T, FnErr>,
) -> Result<T, FnErr> {
    if let Some(v) = cache.with(|c| c.borrow().get(key).cloned()) {
        return Ok(v);
    }
    let v = make()?;
    cache.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() < keep {
            c.insert(key.to_string(), v.clone());
        }
    });
    Ok(v)
}

/// Compiles (and caches) a Go regular expression. The cache hands out the compiled regex
/// itself: a cloned `regex::Regex` starts with an empty matching cache, which costs about as
/// much to build again as a small render's other work.
fn regex(p: &str) -> Result<Rc<Regexp>, FnErr> {
    cached(&REGEX_CACHE, p, 1024, || {
        Regexp::new(p)
            .map(Rc::new)
            .map_err(|e| FnErr::Call(format!("error parsing regexp: {e}")))
    })
}

/// A regular-expression function's result for (`op`, `args`), computed once: charts call the
/// same ones over and over (a name helper on every object, an image tag check per image),
/// and matching a long pattern costs more than looking its result up.
fn regex_memo(op: &str, args: &[&str], f: impl FnOnce() -> Res) -> Res {
    // each argument length-prefixed, so that no two argument lists share a key
    let mut key = String::from(op);
    for a in args {
        key.push_str(&format!(" {}:", a.len()));
        key.push_str(a);
    }
    cached(&REGEX_RESULTS, &key, 4096, f)
}

fn go_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_');
    }
    out
}

fn go_untitle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep && !c.is_whitespace() {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        prev_sep = c.is_whitespace();
    }
    out
}

fn rand_string(n: i64, set: &[u8]) -> String {
    (0..n.clamp(0, MAX_ITEMS as i64))
        .map(|_| set[rand::random_range(0..set.len())] as char)
        .collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn words_split(s: &str) -> Vec<String> {
    // split into words on case changes, digits boundaries and separators
    let mut words = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                words.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn go_path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let j = parts.join("/");
    if rooted {
        format!("/{j}")
    } else if j.is_empty() {
        ".".into()
    } else {
        j
    }
}

fn go_path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn go_path_dir(p: &str) -> String {
    let d = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    go_path_clean(d)
}

fn go_path_ext(p: &str) -> String {
    let b = p.rsplit('/').next().unwrap_or(p);
    match b.rfind('.') {
        Some(i) => b[i..].to_string(),
        None => String::new(),
    }
}

fn list_of(v: &Value, what: &str) -> Result<Rc<Vec<Value>>, FnErr> {
    a_list(v, what)
}

/// Sprig's `mergo` deep merge of `src` into `dst`.
pub(crate) fn mergo(dst: &crate::value::Map, src: &crate::value::Map, overwrite: bool) {
    if Rc::ptr_eq(dst, src) {
        return;
    }
    let src_items: Vec<(String, Value)> = src
        .borrow()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, sv) in src_items {
        let dv = dst.borrow().get(&k).cloned();
        if let Value::Nil = sv {
            if overwrite {
                dst.borrow_mut().insert(k, Value::Nil);
            }
            continue;
        }
        if let (Value::Map(sm), Some(Value::Map(dm))) = (&sv, &dv) {
            mergo(dm, sm, overwrite);
            continue;
        }
        let dst_empty = match &dv {
            None => true,
            Some(d) => !d.truthy(),
        };
        if let (Some(d), Value::List(_)) = (&dv, &sv)
            && d.truthy()
            && !overwrite
        {
            continue;
        }
        if overwrite || dst_empty {
            dst.borrow_mut().insert(k, sv);
        }
    }
}

fn decimal_op(a: f64, b: f64, op: char) -> f64 {
    // exact decimal arithmetic on the shortest representations (shopspring/decimal)
    fn parts(f: f64) -> Option<(i128, i32)> {
        if f == 0.0 {
            return Some((0, 0));
        }
        let (neg, digits, exp) = crate::value::shortest_digits(f);
        let m: i128 = digits.parse().ok()?;
        Some((if neg { -m } else { m }, exp))
    }
    let r = (|| {
        let (ma, ea) = parts(a)?;
        let (mb, eb) = parts(b)?;
        match op {
            '+' | '-' => {
                let e = ea.min(eb);
                let sa = ma.checked_mul(10i128.checked_pow((ea - e) as u32)?)?;
                let sb = mb.checked_mul(10i128.checked_pow((eb - e) as u32)?)?;
                let m = if op == '+' {
                    sa.checked_add(sb)?
                } else {
                    sa.checked_sub(sb)?
                };
                format!("{m}e{e}").parse::<f64>().ok()
            }
            '*' => {
                let m = ma.checked_mul(mb)?;
                format!("{m}e{}", ea + eb).parse::<f64>().ok()
            }
            _ => None,
        }
    })();
    r.unwrap_or(match op {
        '+' => a + b,
        '-' => a - b,
        _ => a * b,
    })
}

fn seq_fn(a: &[Value]) -> Res {
    let p: Vec<i64> = a.iter().map(to_int64).collect();
    let (start, step, end) = match p.len() {
        0 => return s(""),
        1 => (1, 1, p[0]),
        2 => (p[0], if p[1] >= p[0] { 1 } else { -1 }, p[1]),
        _ => (p[0], p[1], p[2]),
    };
    let mut out = Vec::new();
    if step == 0 || (end as i128 - start as i128) / step as i128 > MAX_ITEMS {
        return s("");
    }
    let mut i = start;
    if step > 0 {
        while i <= end {
            out.push(i.to_string());
            i += step;
        }
    } else {
        while i >= end {
            out.push(i.to_string());
            i += step;
        }
    }
    s(out.join(" "))
}

/// Largest list or string the generators build (guards against exhausting memory).
const MAX_ITEMS: i128 = 10_000_000;

fn until_step(start: i64, stop: i64, step: i64) -> Result<Value, FnErr> {
    let mut v = Vec::new();
    if step == 0 {
        return Ok(Value::from(v));
    }
    if (stop as i128 - start as i128) / step as i128 > MAX_ITEMS {
        return Err(FnErr::Call(format!(
            "untilStep: more than {MAX_ITEMS} items"
        )));
    }
    let mut i = start;
    if step > 0 {
        while i < stop {
            v.push(Value::Int(i));
            i += step;
        }
    } else {
        while i > stop {
            v.push(Value::Int(i));
            i += step;
        }
    }
    Ok(Value::from(v))
}

fn abbrev(width: i64, s: &str) -> String {
    if width < 4 || s.len() as i64 <= width {
        return s.to_string();
    }
    format!(
        "{}...",
        String::from_utf8_lossy(&s.as_bytes()[..(width - 3) as usize])
    )
}

fn wrap_text(s: &str, width: usize, sep: &str) -> String {
    // word wrap at `width` characters, breaking long words (goutils.WrapCustom with wrapLong)
    let mut out = String::new();
    for (li, line) in s.split('\n').enumerate() {
        if li > 0 {
            out.push('\n');
        }
        let mut rest: Vec<char> = line.chars().collect();
        let mut first = true;
        while rest.len() > width {
            let cut = rest[..=width.min(rest.len() - 1)]
                .iter()
                .rposition(|c| *c == ' ');
            let (piece, next): (Vec<char>, Vec<char>) = match cut {
                Some(i) if i > 0 => (rest[..i].to_vec(), rest[i + 1..].to_vec()),
                _ => (rest[..width].to_vec(), rest[width..].to_vec()),
            };
            if !first {
                out.push_str(sep);
            }
            out.extend(piece);
            first = false;
            rest = next.into_iter().skip_while(|c| *c == ' ').collect();
        }
        if !first {
            out.push_str(sep);
        }
        out.extend(rest);
    }
    out
}

fn dict_from(a: &[Value]) -> Value {
    let mut m = BTreeMap::new();
    let mut i = 0;
    while i < a.len() {
        let k = strval(&a[i]);
        let v = a.get(i + 1).cloned().unwrap_or_else(|| Value::from(""));
        m.insert(k, v);
        i += 2;
    }
    Value::from(m)
}

fn uniq(l: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in l {
        if !out.iter().any(|x| deep_equal(x, v)) {
            out.push(v.clone());
        }
    }
    out
}

fn url_parse(u: &str) -> Value {
    let mut m = BTreeMap::new();
    let (rest, fragment) = match u.split_once('#') {
        Some((a, b)) => (a, b),
        None => (u, ""),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((a, b)) => (a, b),
        None => (rest, ""),
    };
    let (scheme, rest) = match rest.find(':') {
        Some(i)
            if rest[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && i > 0 =>
        {
            (&rest[..i], &rest[i + 1..])
        }
        _ => ("", rest),
    };
    let (mut host, mut path, mut userinfo, mut opaque) = ("", rest, "", "");
    if let Some(r) = rest.strip_prefix("//") {
        let end = r.find('/').unwrap_or(r.len());
        let auth = &r[..end];
        path = &r[end..];
        match auth.rfind('@') {
            Some(i) => {
                userinfo = &auth[..i];
                host = &auth[i + 1..];
            }
            None => host = auth,
        }
    } else if !scheme.is_empty() && !rest.starts_with('/') {
        opaque = rest;
        path = "";
    }
    let hostname = if let Some(h) = host.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    for (k, v) in [
        ("scheme", scheme),
        ("host", host),
        ("hostname", hostname),
        ("path", path),
        ("query", query),
        ("opaque", opaque),
        ("fragment", fragment),
        ("userinfo", userinfo),
    ] {
        m.insert(k.to_string(), Value::from(v));
    }
    Value::from(m)
}

fn url_join(d: &BTreeMap<String, Value>) -> String {
    let g = |k: &str| d.get(k).map(strval).unwrap_or_default();
    let mut out = String::new();
    let scheme = g("scheme");
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    let opaque = g("opaque");
    if !opaque.is_empty() {
        out.push_str(&opaque);
    } else {
        let host = g("host");
        let ui = g("userinfo");
        if !host.is_empty() || !scheme.is_empty() {
            out.push_str("//");
            if !ui.is_empty() {
                out.push_str(&ui);
                out.push('@');
            }
            out.push_str(&host);
        }
        let path = g("path");
        if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
            out.push('/');
        }
        out.push_str(&path);
    }
    let q = g("query");
    if !q.is_empty() {
        out.push('?');
        out.push_str(&q);
    }
    let f = g("fragment");
    if !f.is_empty() {
        out.push('#');
        out.push_str(&f);
    }
    out
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

fn base32_encode(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(A[((n >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut bits: u64 = 0;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        } as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

pub(super) fn register(m: &mut FuncMap) {
    // --- strings
    m.insert("trim", |_, a| {
        nargs(a, "trim", 1)?;
        s(a_str(&a[0])?.trim())
    });
    m.insert("trimAll", |_, a| {
        nargs(a, "trimAll", 2)?;
        let cut: Vec<char> = a_str(&a[0])?.chars().collect();
        s(a_str(&a[1])?.trim_matches(|c| cut.contains(&c)))
    });
    m.insert("trimall", |e, a| (e.funcs["trimAll"])(e, a));
    m.insert("trimSuffix", |_, a| {
        nargs(a, "trimSuffix", 2)?;
        let (suf, st) = (a_str(&a[0])?, a_str(&a[1])?);
        s(st.strip_suffix(suf).unwrap_or(st))
    });
    m.insert("trimPrefix", |_, a| {
        nargs(a, "trimPrefix", 2)?;
        let (pre, st) = (a_str(&a[0])?, a_str(&a[1])?);
        s(st.strip_prefix(pre).unwrap_or(st))
    });
    m.insert("upper", |_, a| {
        nargs(a, "upper", 1)?;
        s(a_str(&a[0])?.to_uppercase())
    });
    m.insert("lower", |_, a| {
        nargs(a, "lower", 1)?;
        s(a_str(&a[0])?.to_lowercase())
    });
    m.insert("title", |_, a| {
        nargs(a, "title", 1)?;
        s(go_title(a_str(&a[0])?))
    });
    m.insert("untitle", |_, a| {
        nargs(a, "untitle", 1)?;
        s(go_untitle(a_str(&a[0])?))
    });
    m.insert("substr", |_, a| {
        nargs(a, "substr", 3)?;
        let (st, en, x) = (a_int(&a[0])?, a_int(&a[1])?, a_str(&a[2])?);
        let b = x.as_bytes();
        let len = b.len() as i64;
        let r = if st < 0 {
            &b[..en.clamp(0, len) as usize]
        } else if en < 0 || en > len {
            &b[st.min(len) as usize..]
        } else {
            &b[st.min(en) as usize..en as usize]
        };
        s(String::from_utf8_lossy(r).into_owned())
    });
    m.insert("trunc", |_, a| {
        nargs(a, "trunc", 2)?;
        let (c, x) = (a_int(&a[0])?, a_str(&a[1])?);
        let b = x.as_bytes();
        let n = b.len() as i64;
        let r = if c < 0 && n + c > 0 {
            &b[(n + c) as usize..]
        } else if c >= 0 && n > c {
            &b[..c as usize]
        } else {
            b
        };
        s(String::from_utf8_lossy(r).into_owned())
    });
    m.insert("repeat", |_, a| {
        nargs(a, "repeat", 2)?;
        let n = a_int(&a[0])?;
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        if n as i128 * a_str(&a[1])?.len() as i128 > MAX_ITEMS * 16 {
            return Err("strings: Repeat output length overflow".into());
        }
        s(a_str(&a[1])?.repeat(n as usize))
    });
    m.insert("nospace", |_, a| {
        nargs(a, "nospace", 1)?;
        s(a_str(&a[0])?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>())
    });
    m.insert("initials", |_, a| {
        nargs(a, "initials", 1)?;
        s(a_str(&a[0])?
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .collect::<String>())
    });
    m.insert("randAlphaNum", |_, a| {
        nargs(a, "randAlphaNum", 1)?;
        s(rand_string(a_int(&a[0])?, ALNUM))
    });
    m.insert("randAlpha", |_, a| {
        nargs(a, "randAlpha", 1)?;
        s(rand_string(a_int(&a[0])?, &ALNUM[..52]))
    });
    m.insert("randNumeric", |_, a| {
        nargs(a, "randNumeric", 1)?;
        s(rand_string(a_int(&a[0])?, &ALNUM[52..]))
    });
    m.insert("randAscii", |_, a| {
        nargs(a, "randAscii", 1)?;
        let set: Vec<u8> = (32u8..127).collect();
        s(rand_string(a_int(&a[0])?, &set))
    });
    m.insert("swapcase", |_, a| {
        nargs(a, "swapcase", 1)?;
        s(a_str(&a[0])?
            .chars()
            .map(|c| {
                if c.is_uppercase() {
                    c.to_lowercase().next().unwrap_or(c)
                } else {
                    c.to_uppercase().next().unwrap_or(c)
                }
            })
            .collect::<String>())
    });
    m.insert("shuffle", |_, a| {
        nargs(a, "shuffle", 1)?;
        let mut v: Vec<char> = a_str(&a[0])?.chars().collect();
        for i in (1..v.len()).rev() {
            let j = rand::random_range(0..=i);
            v.swap(i, j);
        }
        s(v.into_iter().collect::<String>())
    });
    m.insert("snakecase", |_, a| {
        nargs(a, "snakecase", 1)?;
        s(words_split(a_str(&a[0])?)
            .iter()
            .map(|w| w.to_lowercase())
            .collect::<Vec<_>>()
            .join("_"))
    });
    m.insert("kebabcase", |_, a| {
        nargs(a, "kebabcase", 1)?;
        s(words_split(a_str(&a[0])?)
            .iter()
            .map(|w| w.to_lowercase())
            .collect::<Vec<_>>()
            .join("-"))
    });
    m.insert("camelcase", |_, a| {
        nargs(a, "camelcase", 1)?;
        let x = a_str(&a[0])?;
        s(x.split('_')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect::<String>())
    });
    m.insert("wrap", |_, a| {
        nargs(a, "wrap", 2)?;
        s(wrap_text(
            a_str(&a[1])?,
            a_int(&a[0])?.max(1) as usize,
            "\n",
        ))
    });
    m.insert("wrapWith", |_, a| {
        nargs(a, "wrapWith", 3)?;
        s(wrap_text(
            a_str(&a[2])?,
            a_int(&a[0])?.max(1) as usize,
            a_str(&a[1])?,
        ))
    });
    m.insert("abbrev", |_, a| {
        nargs(a, "abbrev", 2)?;
        s(abbrev(a_int(&a[0])?, a_str(&a[1])?))
    });
    m.insert("abbrevboth", |_, a| {
        nargs(a, "abbrevboth", 3)?;
        let (l, r, x) = (a_int(&a[0])?, a_int(&a[1])?, a_str(&a[2])?);
        let x = if l > 4 && (x.len() as i64) > l {
            format!("...{}", &x[(l as usize).min(x.len())..])
        } else {
            x.to_string()
        };
        s(abbrev(r, &x))
    });
    m.insert("contains", |_, a| {
        nargs(a, "contains", 2)?;
        Ok(Value::Bool(a_str(&a[1])?.contains(a_str(&a[0])?)))
    });
    m.insert("hasPrefix", |_, a| {
        nargs(a, "hasPrefix", 2)?;
        Ok(Value::Bool(a_str(&a[1])?.starts_with(a_str(&a[0])?)))
    });
    m.insert("hasSuffix", |_, a| {
        nargs(a, "hasSuffix", 2)?;
        Ok(Value::Bool(a_str(&a[1])?.ends_with(a_str(&a[0])?)))
    });
    m.insert("quote", |_, a| {
        let v: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| go_quote(&strval(v)))
            .collect();
        s(v.join(" "))
    });
    m.insert("squote", |_, a| {
        let v: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| format!("'{}'", strval(v)))
            .collect();
        s(v.join(" "))
    });
    m.insert("cat", |_, a| {
        let v: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| v.to_go_string())
            .collect();
        s(v.join(" ").trim().to_string())
    });
    m.insert("indent", |_, a| {
        nargs(a, "indent", 2)?;
        let pad = " ".repeat(a_int(&a[0])?.clamp(0, 1 << 20) as usize);
        s(format!(
            "{pad}{}",
            a_str(&a[1])?.replace('\n', &format!("\n{pad}"))
        ))
    });
    m.insert("nindent", |_, a| {
        nargs(a, "nindent", 2)?;
        let pad = " ".repeat(a_int(&a[0])?.clamp(0, 1 << 20) as usize);
        s(format!(
            "\n{pad}{}",
            a_str(&a[1])?.replace('\n', &format!("\n{pad}"))
        ))
    });
    m.insert("replace", |_, a| {
        nargs(a, "replace", 3)?;
        let (o, n, src) = (a_str(&a[0])?, a_str(&a[1])?, a_str(&a[2])?);
        if o.is_empty() {
            // Go inserts `new` between every rune
            let mut out = String::from(n);
            for c in src.chars() {
                out.push(c);
                out.push_str(n);
            }
            return s(out);
        }
        s(src.replace(o, n))
    });
    m.insert("plural", |_, a| {
        nargs(a, "plural", 3)?;
        let c = a_int(&a[2])?;
        s(if c == 1 { a_str(&a[0])? } else { a_str(&a[1])? })
    });
    m.insert("sha1sum", |_, a| {
        nargs(a, "sha1sum", 1)?;
        use sha1::Digest;
        s(hex::encode(sha1::Sha1::digest(a_str(&a[0])?.as_bytes())))
    });
    m.insert("sha256sum", |_, a| {
        nargs(a, "sha256sum", 1)?;
        use sha2::Digest;
        s(hex::encode(sha2::Sha256::digest(a_str(&a[0])?.as_bytes())))
    });
    m.insert("sha512sum", |_, a| {
        nargs(a, "sha512sum", 1)?;
        use sha2::Digest;
        s(hex::encode(sha2::Sha512::digest(a_str(&a[0])?.as_bytes())))
    });
    m.insert("adler32sum", |_, a| {
        nargs(a, "adler32sum", 1)?;
        s(adler32(a_str(&a[0])?.as_bytes()).to_string())
    });
    m.insert("toString", |_, a| {
        nargs(a, "toString", 1)?;
        s(strval(&a[0]))
    });
    m.insert("toStrings", |_, a| {
        nargs(a, "toStrings", 1)?;
        Ok(Value::from(
            strslice(&a[0])
                .into_iter()
                .map(Value::from)
                .collect::<Vec<_>>(),
        ))
    });
    m.insert("atoi", |_, a| {
        nargs(a, "atoi", 1)?;
        Ok(Value::Int(a_str(&a[0])?.parse::<i64>().unwrap_or(0)))
    });
    m.insert("int", |_, a| {
        nargs(a, "int", 1)?;
        Ok(Value::Int(to_int64(&a[0])))
    });
    m.insert("int64", |_, a| {
        nargs(a, "int64", 1)?;
        Ok(Value::Int(to_int64(&a[0])))
    });
    m.insert("float64", |_, a| {
        nargs(a, "float64", 1)?;
        Ok(Value::Float(to_float64(&a[0])))
    });
    m.insert("toDecimal", |_, a| {
        nargs(a, "toDecimal", 1)?;
        Ok(Value::Int(
            i64::from_str_radix(&a[0].to_go_string(), 8).unwrap_or(0),
        ))
    });
    m.insert("seq", |_, a| seq_fn(a));
    m.insert("split", |_, a| {
        nargs(a, "split", 2)?;
        let (sep, orig) = (a_str(&a[0])?, a_str(&a[1])?);
        let parts: Vec<&str> = if sep.is_empty() {
            orig.split_terminator("").skip(1).collect()
        } else {
            orig.split(sep).collect()
        };
        let mut mm = BTreeMap::new();
        for (i, p) in parts.iter().enumerate() {
            mm.insert(format!("_{i}"), Value::from(*p));
        }
        Ok(Value::from(mm))
    });
    m.insert("splitList", |_, a| {
        nargs(a, "splitList", 2)?;
        let (sep, orig) = (a_str(&a[0])?, a_str(&a[1])?);
        let parts: Vec<Value> = if sep.is_empty() {
            orig.chars().map(|c| Value::from(c.to_string())).collect()
        } else {
            orig.split(sep).map(Value::from).collect()
        };
        Ok(Value::from(parts))
    });
    m.insert("splitn", |_, a| {
        nargs(a, "splitn", 3)?;
        let (sep, n, orig) = (a_str(&a[0])?, a_int(&a[1])?, a_str(&a[2])?);
        let parts: Vec<&str> = if n < 0 {
            orig.split(sep).collect()
        } else {
            orig.splitn(n as usize, sep).collect()
        };
        let mut mm = BTreeMap::new();
        for (i, p) in parts.iter().enumerate() {
            mm.insert(format!("_{i}"), Value::from(*p));
        }
        Ok(Value::from(mm))
    });
    m.insert("join", |_, a| {
        nargs(a, "join", 2)?;
        s(strslice(&a[1]).join(a_str(&a[0])?))
    });
    m.insert("sortAlpha", |_, a| {
        nargs(a, "sortAlpha", 1)?;
        let mut v = match &a[0] {
            Value::List(_) => strslice(&a[0]),
            x => vec![strval(x)],
        };
        v.sort();
        Ok(Value::from(
            v.into_iter().map(Value::from).collect::<Vec<_>>(),
        ))
    });
    // --- defaults & flow
    m.insert("default", |_, a| {
        min_args(a, "default", 1)?;
        if a.len() < 2 || empty(&a[1]) {
            return Ok(a[0].clone());
        }
        Ok(a[1].clone())
    });
    m.insert("empty", |_, a| {
        nargs(a, "empty", 1)?;
        Ok(Value::Bool(empty(&a[0])))
    });
    m.insert("coalesce", |_, a| {
        Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil))
    });
    m.insert("all", |_, a| Ok(Value::Bool(a.iter().all(|v| !empty(v)))));
    m.insert("any", |_, a| Ok(Value::Bool(a.iter().any(|v| !empty(v)))));
    m.insert("ternary", |_, a| {
        nargs(a, "ternary", 3)?;
        Ok(if a_bool(&a[2])? {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    m.insert("deepCopy", |_, a| {
        nargs(a, "deepCopy", 1)?;
        Ok(a[0].deep_copy())
    });
    m.insert("mustDeepCopy", |_, a| {
        nargs(a, "mustDeepCopy", 1)?;
        Ok(a[0].deep_copy())
    });
    m.insert("typeOf", |_, a| {
        nargs(a, "typeOf", 1)?;
        s(a[0].type_name())
    });
    m.insert("typeIs", |_, a| {
        nargs(a, "typeIs", 2)?;
        Ok(Value::Bool(a_str(&a[0])? == a[1].type_name()))
    });
    m.insert("typeIsLike", |_, a| {
        nargs(a, "typeIsLike", 2)?;
        let t = a[1].type_name();
        let w = a_str(&a[0])?;
        Ok(Value::Bool(w == t || w == format!("*{t}")))
    });
    m.insert("kindOf", |_, a| {
        nargs(a, "kindOf", 1)?;
        s(a[0].kind())
    });
    m.insert("kindIs", |_, a| {
        nargs(a, "kindIs", 2)?;
        Ok(Value::Bool(a_str(&a[0])? == a[1].kind()))
    });
    m.insert("deepEqual", |_, a| {
        nargs(a, "deepEqual", 2)?;
        Ok(Value::Bool(deep_equal(&a[0], &a[1])))
    });
    m.insert("getHostByName", |_, a| {
        nargs(a, "getHostByName", 1)?;
        s("")
    });
    // --- paths
    m.insert("base", |_, a| {
        nargs(a, "base", 1)?;
        s(go_path_base(a_str(&a[0])?))
    });
    m.insert("dir", |_, a| {
        nargs(a, "dir", 1)?;
        s(go_path_dir(a_str(&a[0])?))
    });
    m.insert("clean", |_, a| {
        nargs(a, "clean", 1)?;
        s(go_path_clean(a_str(&a[0])?))
    });
    m.insert("ext", |_, a| {
        nargs(a, "ext", 1)?;
        s(go_path_ext(a_str(&a[0])?))
    });
    m.insert("isAbs", |_, a| {
        nargs(a, "isAbs", 1)?;
        Ok(Value::Bool(a_str(&a[0])?.starts_with('/')))
    });
    m.insert("osBase", |e, a| (e.funcs["base"])(e, a));
    m.insert("osDir", |e, a| (e.funcs["dir"])(e, a));
    m.insert("osClean", |e, a| (e.funcs["clean"])(e, a));
    m.insert("osExt", |e, a| (e.funcs["ext"])(e, a));
    m.insert("osIsAbs", |e, a| (e.funcs["isAbs"])(e, a));
    // --- encoding
    m.insert("b64enc", |_, a| {
        nargs(a, "b64enc", 1)?;
        s(b64(a_str(&a[0])?.as_bytes()))
    });
    m.insert("b64dec", |_, a| {
        nargs(a, "b64dec", 1)?;
        use base64::Engine;
        match base64::engine::general_purpose::STANDARD.decode(a_str(&a[0])?) {
            Ok(b) => s(String::from_utf8_lossy(&b).into_owned()),
            Err(e) => s(e.to_string()),
        }
    });
    m.insert("b32enc", |_, a| {
        nargs(a, "b32enc", 1)?;
        s(base32_encode(a_str(&a[0])?.as_bytes()))
    });
    m.insert("b32dec", |_, a| {
        nargs(a, "b32dec", 1)?;
        match base32_decode(a_str(&a[0])?) {
            Some(b) => s(String::from_utf8_lossy(&b).into_owned()),
            None => s("illegal base32 data"),
        }
    });
    // --- lists
    m.insert("list", |_, a| Ok(Value::from(a.to_vec())));
    m.insert("tuple", |_, a| Ok(Value::from(a.to_vec())));
    for name in ["append", "push", "mustAppend", "mustPush"] {
        m.insert(name, |_, a| {
            nargs(a, "append", 2)?;
            let l = list_of(&a[0], "append")?;
            let mut v = l.to_vec();
            v.push(a[1].clone());
            Ok(Value::from(v))
        });
    }
    for name in ["prepend", "mustPrepend"] {
        m.insert(name, |_, a| {
            nargs(a, "prepend", 2)?;
            let l = list_of(&a[0], "prepend")?;
            let mut v = vec![a[1].clone()];
            v.extend(l.iter().cloned());
            Ok(Value::from(v))
        });
    }
    for name in ["first", "mustFirst"] {
        m.insert(name, |_, a| {
            nargs(a, "first", 1)?;
            let l = list_of(&a[0], "find first")?;
            Ok(l.first().cloned().unwrap_or(Value::Nil))
        });
    }
    for name in ["last", "mustLast"] {
        m.insert(name, |_, a| {
            nargs(a, "last", 1)?;
            let l = list_of(&a[0], "find last")?;
            Ok(l.last().cloned().unwrap_or(Value::Nil))
        });
    }
    for name in ["rest", "mustRest"] {
        m.insert(name, |_, a| {
            nargs(a, "rest", 1)?;
            let l = list_of(&a[0], "find rest")?;
            if l.is_empty() {
                return Ok(Value::Nil);
            }
            Ok(Value::from(l[1..].to_vec()))
        });
    }
    for name in ["initial", "mustInitial"] {
        m.insert(name, |_, a| {
            nargs(a, "initial", 1)?;
            let l = list_of(&a[0], "find initial")?;
            if l.is_empty() {
                return Ok(Value::Nil);
            }
            Ok(Value::from(l[..l.len() - 1].to_vec()))
        });
    }
    for name in ["reverse", "mustReverse"] {
        m.insert(name, |_, a| {
            nargs(a, "reverse", 1)?;
            let l = list_of(&a[0], "find reverse")?;
            Ok(Value::from(l.iter().rev().cloned().collect::<Vec<_>>()))
        });
    }
    for name in ["uniq", "mustUniq"] {
        m.insert(name, |_, a| {
            nargs(a, "uniq", 1)?;
            let l = list_of(&a[0], "find uniq")?;
            Ok(Value::from(uniq(&l)))
        });
    }
    for name in ["compact", "mustCompact"] {
        m.insert(name, |_, a| {
            nargs(a, "compact", 1)?;
            let l = list_of(&a[0], "compact")?;
            Ok(Value::from(
                l.iter().filter(|v| !empty(v)).cloned().collect::<Vec<_>>(),
            ))
        });
    }
    for name in ["without", "mustWithout"] {
        m.insert(name, |_, a| {
            min_args(a, "without", 1)?;
            let l = list_of(&a[0], "find without")?;
            Ok(Value::from(
                l.iter()
                    .filter(|v| !a[1..].iter().any(|o| deep_equal(o, v)))
                    .cloned()
                    .collect::<Vec<_>>(),
            ))
        });
    }
    for name in ["has", "mustHas"] {
        m.insert(name, |_, a| {
            nargs(a, "has", 2)?;
            match &a[1] {
                Value::Nil => Ok(Value::Bool(false)),
                h => {
                    let l = list_of(h, "find has")?;
                    Ok(Value::Bool(l.iter().any(|v| deep_equal(v, &a[0]))))
                }
            }
        });
    }
    m.insert("slice", |_, a| {
        min_args(a, "slice", 1)?;
        match &a[0] {
            Value::List(_) => go_slice(a),
            v => Err(format!("Cannot slice on type {}", v.type_name()).into()),
        }
    });
    m.insert("mustSlice", |e, a| (e.funcs["slice"])(e, a));
    m.insert("concat", |_, a| {
        let mut v = Vec::new();
        for l in a {
            let l = list_of(l, "concat")?;
            v.extend(l.iter().cloned());
        }
        Ok(Value::from(v))
    });
    for name in ["chunk", "mustChunk"] {
        m.insert(name, |_, a| {
            nargs(a, "chunk", 2)?;
            let size = a_int(&a[0])?.max(1) as usize;
            let l = list_of(&a[1], "chunk")?;
            Ok(Value::from(
                l.chunks(size)
                    .map(|c| Value::from(c.to_vec()))
                    .collect::<Vec<_>>(),
            ))
        });
    }
    m.insert("until", |_, a| {
        nargs(a, "until", 1)?;
        let n = a_int(&a[0])?;
        if n < 0 {
            until_step(0, n, -1)
        } else {
            until_step(0, n, 1)
        }
    });
    m.insert("untilStep", |_, a| {
        nargs(a, "untilStep", 3)?;
        until_step(a_int(&a[0])?, a_int(&a[1])?, a_int(&a[2])?)
    });
    // --- dicts
    m.insert("dict", |_, a| Ok(dict_from(a)));
    m.insert("get", |_, a| {
        nargs(a, "get", 2)?;
        let k = a_str(&a[1])?;
        Ok(match a_map(&a[0])? {
            Some(mm) => mm
                .borrow()
                .get(k)
                .cloned()
                .unwrap_or_else(|| Value::from("")),
            None => Value::from(""),
        })
    });
    m.insert("set", |_, a| {
        nargs(a, "set", 3)?;
        let k = a_str(&a[1])?.to_string();
        match a_map(&a[0])? {
            Some(mm) => {
                mm.borrow_mut().insert(k, a[2].clone());
                Ok(a[0].clone())
            }
            None => Err("assignment to entry in nil map".into()),
        }
    });
    m.insert("unset", |_, a| {
        nargs(a, "unset", 2)?;
        let k = a_str(&a[1])?;
        if let Some(mm) = a_map(&a[0])? {
            mm.borrow_mut().remove(k);
        }
        Ok(a[0].clone())
    });
    m.insert("hasKey", |_, a| {
        nargs(a, "hasKey", 2)?;
        let k = a_str(&a[1])?;
        Ok(Value::Bool(
            a_map(&a[0])?.is_some_and(|mm| mm.borrow().contains_key(k)),
        ))
    });
    m.insert("pluck", |_, a| {
        min_args(a, "pluck", 1)?;
        let k = a_str(&a[0])?;
        let mut v = Vec::new();
        for d in &a[1..] {
            if let Some(mm) = a_map(d)?
                && let Some(x) = mm.borrow().get(k)
            {
                v.push(x.clone());
            }
        }
        Ok(Value::from(v))
    });
    m.insert("keys", |_, a| {
        let mut v = Vec::new();
        for d in a {
            if let Some(mm) = a_map(d)? {
                v.extend(mm.borrow().keys().map(|k| Value::from(k.as_str())));
            }
        }
        Ok(Value::from(v))
    });
    m.insert("values", |_, a| {
        nargs(a, "values", 1)?;
        Ok(Value::from(match a_map(&a[0])? {
            Some(mm) => mm.borrow().values().cloned().collect::<Vec<_>>(),
            None => Vec::new(),
        }))
    });
    m.insert("pick", |_, a| {
        min_args(a, "pick", 1)?;
        let mut out = BTreeMap::new();
        if let Some(mm) = a_map(&a[0])? {
            let mm = mm.borrow();
            for k in &a[1..] {
                let k = a_str(k)?;
                if let Some(v) = mm.get(k) {
                    out.insert(k.to_string(), v.clone());
                }
            }
        }
        Ok(Value::from(out))
    });
    m.insert("omit", |_, a| {
        min_args(a, "omit", 1)?;
        let mut out = BTreeMap::new();
        let mut skip = Vec::new();
        for k in &a[1..] {
            skip.push(a_str(k)?.to_string());
        }
        if let Some(mm) = a_map(&a[0])? {
            for (k, v) in mm.borrow().iter() {
                if !skip.contains(k) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(Value::from(out))
    });
    for (name, ow) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        let f: crate::template::Func = if ow {
            |_, a| {
                min_args(a, "mergeOverwrite", 1)?;
                let Some(dst) = a_map(&a[0])? else {
                    return Ok(a[0].clone());
                };
                for src in &a[1..] {
                    if let Some(sm) = a_map(src)? {
                        mergo(&dst, &sm, true);
                    }
                }
                Ok(a[0].clone())
            }
        } else {
            |_, a| {
                min_args(a, "merge", 1)?;
                let Some(dst) = a_map(&a[0])? else {
                    return Ok(a[0].clone());
                };
                for src in &a[1..] {
                    if let Some(sm) = a_map(src)? {
                        mergo(&dst, &sm, false);
                    }
                }
                Ok(a[0].clone())
            }
        };
        m.insert(name, f);
    }
    m.insert("dig", |_, a| {
        min_args(a, "dig", 3)?;
        let n = a.len();
        let dict = a_map(&a[n - 1])?;
        let def = a[n - 2].clone();
        let mut cur = match dict {
            Some(d) => Value::Map(d),
            None => return Ok(def),
        };
        for k in &a[..n - 2] {
            let k = a_str(k)?;
            let next = match &cur {
                Value::Map(mm) => mm.borrow().get(k).cloned(),
                _ => None,
            };
            match next {
                Some(v) => cur = v,
                None => return Ok(def),
            }
        }
        Ok(cur)
    });
    // --- math
    m.insert("add", |_, a| {
        Ok(Value::Int(
            a.iter().map(to_int64).fold(0i64, |x, y| x.wrapping_add(y)),
        ))
    });
    m.insert("add1", |_, a| {
        nargs(a, "add1", 1)?;
        Ok(Value::Int(to_int64(&a[0]).wrapping_add(1)))
    });
    m.insert("sub", |_, a| {
        nargs(a, "sub", 2)?;
        Ok(Value::Int(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
    });
    m.insert("mul", |_, a| {
        min_args(a, "mul", 1)?;
        Ok(Value::Int(
            a.iter().map(to_int64).fold(1i64, |x, y| x.wrapping_mul(y)),
        ))
    });
    m.insert("div", |_, a| {
        nargs(a, "div", 2)?;
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int(to_int64(&a[0]).wrapping_div(d)))
    });
    m.insert("mod", |_, a| {
        nargs(a, "mod", 2)?;
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int(to_int64(&a[0]).wrapping_rem(d)))
    });
    for name in ["max", "biggest"] {
        m.insert(name, |_, a| {
            min_args(a, "max", 1)?;
            Ok(Value::Int(a.iter().map(to_int64).max().unwrap_or(0)))
        });
    }
    m.insert("min", |_, a| {
        min_args(a, "min", 1)?;
        Ok(Value::Int(a.iter().map(to_int64).min().unwrap_or(0)))
    });
    m.insert("maxf", |_, a| {
        min_args(a, "maxf", 1)?;
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::NEG_INFINITY, f64::max),
        ))
    });
    m.insert("minf", |_, a| {
        min_args(a, "minf", 1)?;
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::INFINITY, f64::min),
        ))
    });
    m.insert("addf", |_, a| {
        Ok(Value::Float(
            a.iter()
                .map(to_float64)
                .fold(0.0, |x, y| decimal_op(x, y, '+')),
        ))
    });
    m.insert("add1f", |_, a| {
        nargs(a, "add1f", 1)?;
        Ok(Value::Float(decimal_op(to_float64(&a[0]), 1.0, '+')))
    });
    m.insert("subf", |_, a| {
        min_args(a, "subf", 1)?;
        let first = to_float64(&a[0]);
        Ok(Value::Float(
            a[1..]
                .iter()
                .map(to_float64)
                .fold(first, |x, y| decimal_op(x, y, '-')),
        ))
    });
    m.insert("mulf", |_, a| {
        min_args(a, "mulf", 1)?;
        let first = to_float64(&a[0]);
        Ok(Value::Float(
            a[1..]
                .iter()
                .map(to_float64)
                .fold(first, |x, y| decimal_op(x, y, '*')),
        ))
    });
    m.insert("divf", |_, a| {
        min_args(a, "divf", 1)?;
        let first = to_float64(&a[0]);
        let mut r = first;
        for d in &a[1..] {
            let d = to_float64(d);
            if d == 0.0 {
                return Err("decimal division by 0".into());
            }
            r /= d;
        }
        Ok(Value::Float(r))
    });
    m.insert("floor", |_, a| {
        nargs(a, "floor", 1)?;
        Ok(Value::Float(to_float64(&a[0]).floor()))
    });
    m.insert("ceil", |_, a| {
        nargs(a, "ceil", 1)?;
        Ok(Value::Float(to_float64(&a[0]).ceil()))
    });
    m.insert("round", |_, a| {
        min_args(a, "round", 2)?;
        let val = to_float64(&a[0]);
        let places = a_int(&a[1])? as f64;
        let round_on = a.get(2).map(to_float64).unwrap_or(0.5);
        let pow = 10f64.powf(places);
        let digit = pow * val;
        let div = digit.fract();
        let r = if div >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(r / pow))
    });
    m.insert("randInt", |_, a| {
        nargs(a, "randInt", 2)?;
        let (lo, hi) = (a_int(&a[0])?, a_int(&a[1])?);
        if hi <= lo {
            return Err("invalid argument to Intn".into());
        }
        Ok(Value::Int(rand::random_range(lo..hi)))
    });
    // --- regex
    for name in ["regexMatch", "mustRegexMatch"] {
        m.insert(name, |_, a| {
            nargs(a, "regexMatch", 2)?;
            let (p, x) = (a_str(&a[0])?, a_str(&a[1])?);
            regex_memo("match", &[p, x], || Ok(Value::Bool(regex(p)?.is_match(x))))
        });
    }
    for name in ["regexFindAll", "mustRegexFindAll"] {
        m.insert(name, |_, a| {
            nargs(a, "regexFindAll", 3)?;
            let re = regex(a_str(&a[0])?)?;
            let n = a_int(&a[2])?;
            let limit = usize::try_from(n).ok();
            let v: Vec<Value> = re
                .find_all(a_str(&a[1])?, limit)
                .into_iter()
                .map(Value::from)
                .collect();
            Ok(Value::from(v))
        });
    }
    for name in ["regexFind", "mustRegexFind"] {
        m.insert(name, |_, a| {
            nargs(a, "regexFind", 2)?;
            let (p, x) = (a_str(&a[0])?, a_str(&a[1])?);
            regex_memo("find", &[p, x], || s(regex(p)?.find(x).unwrap_or_default()))
        });
    }
    for name in ["regexReplaceAll", "mustRegexReplaceAll"] {
        m.insert(name, |_, a| {
            nargs(a, "regexReplaceAll", 3)?;
            let (p, x, r) = (a_str(&a[0])?, a_str(&a[1])?, a_str(&a[2])?);
            regex_memo("replace", &[p, x, r], || {
                s(regex(p)?.replace_all(x, r, false))
            })
        });
    }
    for name in ["regexReplaceAllLiteral", "mustRegexReplaceAllLiteral"] {
        m.insert(name, |_, a| {
            nargs(a, "regexReplaceAllLiteral", 3)?;
            let (p, x, r) = (a_str(&a[0])?, a_str(&a[1])?, a_str(&a[2])?);
            regex_memo("literal", &[p, x, r], || {
                s(regex(p)?.replace_all(x, r, true))
            })
        });
    }
    for name in ["regexSplit", "mustRegexSplit"] {
        m.insert(name, |_, a| {
            nargs(a, "regexSplit", 3)?;
            let re = regex(a_str(&a[0])?)?;
            let n = a_int(&a[2])?;
            let x = a_str(&a[1])?;
            let v: Vec<Value> = if n == 0 {
                Vec::new()
            } else {
                let limit = usize::try_from(n).ok();
                re.split(x, limit).into_iter().map(Value::from).collect()
            };
            Ok(Value::from(v))
        });
    }
    m.insert("regexQuoteMeta", |_, a| {
        nargs(a, "regexQuoteMeta", 1)?;
        s(regex::escape(a_str(&a[0])?))
    });
    // --- urls
    m.insert("urlParse", |_, a| {
        nargs(a, "urlParse", 1)?;
        Ok(url_parse(a_str(&a[0])?))
    });
    m.insert("urlJoin", |_, a| {
        nargs(a, "urlJoin", 1)?;
        let d = a_map(&a[0])?
            .map(|m| m.borrow().clone())
            .unwrap_or_default();
        s(url_join(&d))
    });
    m.insert("uuidv4", |_, a| {
        nargs(a, "uuidv4", 0)?;
        let mut b: [u8; 16] = rand::random();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        s(format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        ))
    });
    m.insert("fail", |_, a| {
        nargs(a, "fail", 1)?;
        Err(FnErr::Call(a_str(&a[0])?.to_string()))
    });
    m.insert("semver", |_, a| {
        nargs(a, "semver", 1)?;
        super::semver::semver_value(a_str(&a[0])?)
    });
    m.insert("semverCompare", |_, a| {
        nargs(a, "semverCompare", 2)?;
        super::semver::compare(a_str(&a[0])?, a_str(&a[1])?)
            .map(Value::Bool)
            .map_err(FnErr::Call)
    });
}
