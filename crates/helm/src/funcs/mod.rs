//! Template functions: Go builtins live in the executor; this module has Sprig's functions
//! (as Helm exposes them) and Helm's own.

mod crypto;
mod date;
mod helm;
mod keys;
pub mod semver;
mod sprig;

use std::rc::Rc;

use crate::template::{FnErr, FuncMap};
use crate::value::{Map, Value};

/// The function map Helm installs (Sprig minus `env`/`expandenv`, plus Helm's functions).
pub fn func_map() -> FuncMap {
    let mut m = FuncMap::default();
    sprig::register(&mut m);
    date::register(&mut m);
    crypto::register(&mut m);
    helm::register(&mut m);
    m
}

/// Sprig's functions not in its hermetic map: they read the clock, randomness, the
/// environment or the network.
const NON_HERMETIC: [&str; 17] = [
    "date",
    "date_in_zone",
    "date_modify",
    "now",
    "htmlDate",
    "htmlDateInZone",
    "dateInZone",
    "dateModify",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "randBytes",
    "uuidv4",
    "env",
    "expandenv",
    "getHostByName",
];

/// Sprig's hermetic function map (`sprig.HermeticTxtFuncMap`), without Helm's functions:
/// what Flux gives templates outside charts, such as image automation commit messages.
pub fn sprig_hermetic_func_map() -> FuncMap {
    let mut m = FuncMap::default();
    sprig::register(&mut m);
    date::register(&mut m);
    crypto::register(&mut m);
    for f in NON_HERMETIC {
        m.remove(f);
    }
    m
}

pub use helm::HelmHost;

/// Standard base64 encoding.
pub fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            b => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

// ---------------------------------------------------------------------------------------
// argument helpers (Go's reflect-based argument checks)

pub(crate) fn nargs(a: &[Value], name: &str, n: usize) -> Result<(), FnErr> {
    if a.len() != n {
        return Err(FnErr::Arity(format!(
            "wrong number of args for {name}: want {n} got {}",
            a.len()
        )));
    }
    Ok(())
}

pub(crate) fn min_args(a: &[Value], name: &str, n: usize) -> Result<(), FnErr> {
    if a.len() < n {
        return Err(FnErr::Arity(format!(
            "wrong number of args for {name}: want at least {n} got {}",
            a.len()
        )));
    }
    Ok(())
}

fn wrong(v: &Value, want: &'static str) -> FnErr {
    let got = match v {
        Value::Nil => "interface {}".to_string(),
        v => v.type_name(),
    };
    FnErr::Arg {
        arg: v as *const Value as usize,
        want,
        got,
    }
}

pub(crate) fn a_str(v: &Value) -> Result<&str, FnErr> {
    match v {
        Value::Str(s) => Ok(s),
        v => Err(wrong(v, "string")),
    }
}

pub(crate) fn a_int(v: &Value) -> Result<i64, FnErr> {
    match v {
        Value::Int(i) => Ok(*i),
        v => Err(wrong(v, "int")),
    }
}

pub(crate) fn a_bool(v: &Value) -> Result<bool, FnErr> {
    match v {
        Value::Bool(b) => Ok(*b),
        v => Err(wrong(v, "bool")),
    }
}

/// A `map[string]interface{}` parameter; nil gives a nil map (`None`).
pub(crate) fn a_map(v: &Value) -> Result<Option<Map>, FnErr> {
    match v {
        Value::Map(m) => Ok(Some(m.clone())),
        Value::Nil => Ok(None),
        v => Err(wrong(v, "map[string]interface {}")),
    }
}

/// A list given as `interface{}` (Sprig's reflect checks).
pub(crate) fn a_list(v: &Value, what: &str) -> Result<Rc<Vec<Value>>, FnErr> {
    match v {
        Value::List(l) => Ok(l.clone()),
        Value::Bytes(b) => Ok(Rc::new(b.iter().map(|x| Value::Int(*x as i64)).collect())),
        Value::Nil => Err(FnErr::Call(
            "runtime error: invalid memory address or nil pointer dereference".into(),
        )),
        v => Err(FnErr::Call(format!(
            "Cannot {what} on type {}",
            v.type_name()
        ))),
    }
}

/// Sprig's `strval`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        v => v.to_go_string(),
    }
}

/// Sprig's `strslice`.
pub fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(strval)
            .collect(),
        Value::Nil => Vec::new(),
        v => vec![strval(v)],
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    if let Some(p) = s.find('.')
        && p > 0
        && s[p + 1..].bytes().all(|b| b == b'0')
    {
        return &s[..p];
    }
    s
}

/// `cast.ToInt64` (errors give 0).
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => *b as i64,
        Value::Str(s) => gitops_go::num::parse_i64(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// `cast.ToFloat64` (errors give 0).
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => *b as i64 as f64,
        Value::Str(s) => s.parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Sprig's `empty`.
pub fn empty(v: &Value) -> bool {
    !v.truthy()
}

/// Go's `reflect.DeepEqual` on template values.
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| deep_equal(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Value::Object(x), Value::Object(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

/// Go's builtin `slice` (and Sprig's, which shares its name).
pub fn go_slice(a: &[Value]) -> Result<Value, FnErr> {
    let Some(item) = a.first() else {
        return Err(FnErr::Arity(
            "wrong number of args for slice: want at least 1 got 0".into(),
        ));
    };
    let idx: Vec<i64> = a[1..].iter().map(to_int64).collect();
    let len = match item {
        Value::List(l) => l.len(),
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Nil => return Err("slice of untyped nil".into()),
        v => return Err(format!("can't slice item of type {}", v.type_name()).into()),
    } as i64;
    let lo = idx.first().copied().unwrap_or(0);
    let hi = idx.get(1).copied().unwrap_or(len);
    if lo < 0 || hi < lo || hi > len {
        return Err(format!("index out of range: {hi}").into());
    }
    let (lo, hi) = (lo as usize, hi as usize);
    Ok(match item {
        Value::List(l) => Value::from(l[lo..hi].to_vec()),
        Value::Str(s) => Value::from(String::from_utf8_lossy(&s.as_bytes()[lo..hi]).into_owned()),
        Value::Bytes(b) => Value::Bytes(Rc::from(&b[lo..hi])),
        _ => Value::Nil,
    })
}
