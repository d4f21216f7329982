//! The dynamic value model of the template engine (Go's `interface{}` as Helm sees it).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// A shared, mutable map (Go maps are reference types: `set` mutates in place).
pub type Map = Rc<RefCell<BTreeMap<String, Value>>>;

/// A value flowing through templates.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's untyped nil (a missing value).
    #[default]
    Nil,
    /// A boolean.
    Bool(bool),
    /// Any Go integer type.
    Int(i64),
    /// A float64.
    Float(f64),
    /// A string.
    Str(Rc<str>),
    /// A `[]byte`.
    Bytes(Rc<[u8]>),
    /// A slice.
    List(Rc<Vec<Value>>),
    /// A `map[string]interface{}`.
    Map(Map),
    /// A Go struct or other object with fields and methods.
    Object(Rc<dyn Object>),
}

/// A Go object with fields and methods (`.Files`, `.Capabilities`, `.Chart`).
pub trait Object {
    /// The Go type name, for error messages and `typeOf`.
    fn type_name(&self) -> String;
    /// A field or zero-argument method.
    fn field(&self, name: &str) -> Option<Value>;
    /// Calls a method with arguments; `None` when there is no such method.
    fn call(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    /// Whether `name` is a method that takes arguments.
    fn has_method(&self, _name: &str) -> bool {
        false
    }
    /// Formatting with `%v`.
    fn display(&self) -> String;
    /// Key/value entries when the object is a Go map (`range`, `len`, `index`).
    fn entries(&self) -> Option<Vec<(String, Value)>> {
        None
    }
    /// `range` over a Go map whose keys are not strings (struct keys): key/value pairs in
    /// Go's order. Defaults to [`Object::entries`] with string keys.
    fn range_entries(&self) -> Option<Vec<(Value, Value)>> {
        self.entries()
            .map(|e| e.into_iter().map(|(k, v)| (Value::from(k), v)).collect())
    }
    /// Access to the concrete type.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// The value as plain data (for `toYaml`, `toJson`), if it has one.
    fn to_data(&self) -> Value {
        Value::Nil
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.type_name(), self.to_go_string())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(Rc::from(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(Rc::from(s))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(Rc::new(v))
    }
}
impl From<BTreeMap<String, Value>> for Value {
    fn from(m: BTreeMap<String, Value>) -> Self {
        Value::Map(Rc::new(RefCell::new(m)))
    }
}

impl Value {
    /// A new empty map.
    pub fn new_map() -> Value {
        Value::Map(Rc::new(RefCell::new(BTreeMap::new())))
    }

    /// Go's truthiness (`if`, `and`, `or`, `not`).
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Object(o) => o.range_entries().is_none_or(|e| !e.is_empty()),
        }
    }

    /// The string content, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Go's `reflect.Kind` name of the value (`kindOf`).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(_) => "struct",
        }
    }

    /// Go's type name (`typeOf`, `%T`).
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::Bytes(_) => "[]uint8".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// Formats like Go's `fmt.Sprint` (`%v`).
    pub fn to_go_string(&self) -> String {
        let mut s = String::new();
        self.write_go(&mut s, true);
        s
    }

    /// Appends the `%v` form; `top` is false inside containers.
    pub fn write_go(&self, out: &mut String, top: bool) {
        match self {
            Value::Nil => out.push_str("<nil>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&format_float_g(*f)),
            Value::Str(s) => out.push_str(s),
            Value::Bytes(b) => {
                if top {
                    // fmt prints []byte with %v as a list of numbers
                }
                out.push('[');
                for (i, x) in b.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{x}");
                }
                out.push(']');
            }
            Value::List(l) => {
                out.push('[');
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    x.write_go(out, false);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_go(out, false);
                }
                out.push(']');
            }
            Value::Object(o) => out.push_str(&o.display()),
        }
    }

    /// Deep copy (maps become new maps).
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::Map(m) => {
                let c: BTreeMap<String, Value> = m
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.deep_copy()))
                    .collect();
                Value::from(c)
            }
            Value::List(l) => Value::from(l.iter().map(|v| v.deep_copy()).collect::<Vec<_>>()),
            v => v.clone(),
        }
    }

    /// Converts plain data (JSON values as Helm holds them; numbers are float64).
    pub fn from_json(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::from(s.as_str()),
            serde_json::Value::Array(a) => {
                Value::from(a.iter().map(Value::from_json).collect::<Vec<_>>())
            }
            serde_json::Value::Object(o) => Value::from_json_map(o),
        }
    }

    /// A JSON object as a template map.
    pub fn from_json_map(o: &serde_json::Map<String, serde_json::Value>) -> Value {
        Value::from(
            o.iter()
                .map(|(k, v)| (k.clone(), Value::from_json(v)))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    /// Converts to JSON (Go `json.Marshal` semantics); errors for unsupported values.
    pub fn to_json(&self) -> Result<serde_json::Value, String> {
        Ok(match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => {
                if !f.is_finite() {
                    return Err(format!("json: unsupported value: {}", format_float_g(*f)));
                }
                serde_json::Number::from_f64(*f)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null)
            }
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Bytes(b) => serde_json::Value::String(crate::funcs::b64(b)),
            Value::List(l) => {
                serde_json::Value::Array(l.iter().map(|v| v.to_json()).collect::<Result<_, _>>()?)
            }
            Value::Map(m) => {
                let mut o = serde_json::Map::new();
                for (k, v) in m.borrow().iter() {
                    o.insert(k.clone(), v.to_json()?);
                }
                serde_json::Value::Object(o)
            }
            Value::Object(o) => return o.to_data().to_json(),
        })
    }
}

pub use gitops_go::num::{format_float_g, shortest_digits};

/// A thread-safe snapshot of plain data (JSON) to move values between threads.
pub struct SendValue(serde_json::Value);

impl From<&Value> for SendValue {
    fn from(v: &Value) -> Self {
        SendValue(v.to_json().unwrap_or(serde_json::Value::Null))
    }
}

impl From<SendValue> for Value {
    fn from(v: SendValue) -> Self {
        Value::from_json(&v.0)
    }
}
