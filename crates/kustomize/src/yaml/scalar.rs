//! Scalar resolution as kustomize's parser (go-yaml v3) does it, on [`gitops_go::yaml`].

use super::value::Value;
use base64::Engine;
use gitops_go::yaml::Scalar;
use granit_parser::ScalarStyle;

/// Resolves an untagged plain scalar like go-yaml v3 (YAML 1.2 core schema plus Go's
/// integer syntaxes; a timestamp becomes the RFC 3339 text Go's JSON gives a `time.Time`).
pub fn resolve_plain(s: &str) -> Value {
    match gitops_go::yaml::resolve_v3(s) {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::Int(i),
        Scalar::Uint(u) => Value::Uint(u),
        Scalar::Float(f) => Value::Float(f),
        Scalar::Timestamp(t) => Value::String(t),
        Scalar::Str => Value::String(s.to_string()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_resolution() {
        assert_eq!(resolve_plain("0777"), Value::Int(511));
        assert_eq!(resolve_plain("yes"), Value::String("yes".into()));
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(
            resolve_plain("2001-12-14"),
            Value::String("2001-12-14T00:00:00Z".into())
        );
        assert_eq!(resolve_plain("1.2.3"), Value::String("1.2.3".into()));
    }
}
