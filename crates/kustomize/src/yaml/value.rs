//! The document model: a JSON-like tree with typed scalars and insertion-ordered maps.
//!
//! kustomize turns every resource into JSON before printing it, so comments and scalar styles
//! of the input never reach the output; what matters is the resolved type of each scalar
//! (string, integer, float, boolean, null). This model keeps exactly that.

use indexmap::IndexMap;

/// An insertion-ordered mapping with string keys.
pub type Mapping = IndexMap<String, Value>;

/// A YAML/JSON value.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// `null`, `~` or an empty value.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer too large for `i64`.
    Uint(u64),
    /// A floating point number.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<Value>),
    /// A mapping.
    Map(Mapping),
}

impl Value {
    /// An empty mapping.
    pub fn map() -> Value {
        Value::Map(Mapping::new())
    }

    /// The mapping inside, if this is one.
    pub fn as_map(&self) -> Option<&Mapping> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The mutable mapping inside, if this is one.
    pub fn as_map_mut(&mut self) -> Option<&mut Mapping> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence inside, if this is one.
    pub fn as_seq(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The mutable sequence inside, if this is one.
    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this is a scalar (not a map or sequence).
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Value::Map(_) | Value::Seq(_))
    }

    /// The text of a scalar as kustomize sees it (`8080`, `true`, `foo`); `None` for
    /// collections and null.
    pub fn scalar_string(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Uint(u) => Some(u.to_string()),
            Value::Float(f) => Some(gitops_go::yaml::float_text(*f)),
            Value::String(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// Looks a key up in a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// Looks a key up in a mapping, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_map_mut().and_then(|m| m.get_mut(key))
    }

    /// Follows a path of mapping keys.
    pub fn get_path(&self, path: &[&str]) -> Option<&Value> {
        let mut cur = self;
        for p in path {
            cur = cur.get(p)?;
        }
        Some(cur)
    }

    /// The string at a path of mapping keys.
    pub fn get_str(&self, path: &[&str]) -> Option<&str> {
        self.get_path(path).and_then(Value::as_str)
    }

    /// Follows a path of mapping keys, creating empty mappings on the way (replacing
    /// non-mapping values). Returns the value at the end, created as null if missing.
    pub fn ensure_path(&mut self, path: &[&str]) -> &mut Value {
        let mut cur = self;
        for p in path {
            if !matches!(cur, Value::Map(_)) {
                *cur = Value::map();
            }
            let Value::Map(m) = cur else {
                unreachable!("just made a map")
            };
            cur = m.entry((*p).to_string()).or_insert(Value::Null);
        }
        cur
    }

    /// Sets a string at a path of mapping keys, creating mappings on the way.
    pub fn set_str(&mut self, path: &[&str], v: &str) {
        *self.ensure_path(path) = Value::String(v.to_string());
    }

    /// Whether the value is an empty map, empty sequence or null.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Map(m) => m.is_empty(),
            Value::Seq(s) => s.is_empty(),
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
