//! Semantic versions with Masterminds/semver v3 constraint semantics.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::template::FnErr;
use crate::value::Value;

/// A parsed version (lenient: `v` prefix, missing minor/patch allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Pre-release (without `-`).
    pub pre: String,
    /// Build metadata (without `+`).
    pub meta: String,
    /// The text as given.
    pub original: String,
}

impl Version {
    /// Parses like `semver.NewVersion`.
    pub fn parse(s: &str) -> Option<Version> {
        let orig = s.to_string();
        let t = s.strip_prefix('v').unwrap_or(s);
        let (t, meta) = match t.split_once('+') {
            Some((a, b)) => (a, b.to_string()),
            None => (t, String::new()),
        };
        let (t, pre) = match t.split_once('-') {
            Some((a, b)) => (a, b.to_string()),
            None => (t, String::new()),
        };
        let parts: Vec<&str> = t.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let num = |p: &str| -> Option<u64> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let major = num(parts[0])?;
        let minor = match parts.get(1) {
            Some(p) => num(p)?,
            None => 0,
        };
        let patch = match parts.get(2) {
            Some(p) => num(p)?,
            None => 0,
        };
        let ident_ok = |x: &str| {
            x.split('.')
                .all(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        };
        if (!pre.is_empty() && !ident_ok(&pre)) || (!meta.is_empty() && !ident_ok(&meta)) {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
            meta,
            original: orig,
        })
    }

    fn cmp_pre(a: &str, b: &str) -> Ordering {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => {}
        }
        let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
        for i in 0..pa.len().max(pb.len()) {
            let (Some(x), Some(y)) = (pa.get(i), pb.get(i)) else {
                return pa.len().cmp(&pb.len());
            };
            let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                (Ok(m), Ok(n)) => m.cmp(&n),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                _ => x.cmp(y),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    /// Precedence comparison (metadata ignored).
    pub fn compare(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| Self::cmp_pre(&self.pre, &o.pre))
    }
}

#[derive(Debug, Clone)]
struct Constraint {
    op: String,
    v: Version,
    dirty: bool, // wildcard in minor/patch
    wild_minor: bool,
    wild_patch: bool,
    wild_major: bool,
}

fn parse_one(c: &str) -> Option<Constraint> {
    let c = c.trim();
    let ops = ["!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^"];
    let (op, rest) = ops
        .iter()
        .find(|o| c.starts_with(**o))
        .map(|o| (o.to_string(), c[o.len()..].trim()))
        .unwrap_or((String::new(), c));
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let (core, tail) = match rest.find(['-', '+']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let is_wild = |p: &str| p == "x" || p == "X" || p == "*";
    let wild_major = parts.first().is_none_or(|p| is_wild(p) || p.is_empty());
    let wild_minor = wild_major || parts.get(1).is_none_or(|p| is_wild(p));
    let wild_patch = wild_minor || parts.get(2).is_none_or(|p| is_wild(p));
    let dirty = parts.iter().any(|p| is_wild(p));
    let num = |i: usize| {
        parts
            .get(i)
            .filter(|p| !is_wild(p))
            .map(|p| p.to_string())
            .unwrap_or_else(|| "0".into())
    };
    let vs = format!(
        "{}.{}.{}{}",
        if wild_major { "0".into() } else { num(0) },
        num(1),
        num(2),
        tail
    );
    let v = Version::parse(&vs)?;
    let op = match op.as_str() {
        "=>" => ">=".to_string(),
        "=<" => "<=".to_string(),
        "~>" => "~".to_string(),
        o => o.to_string(),
    };
    Some(Constraint {
        op,
        v,
        dirty,
        wild_minor,
        wild_patch,
        wild_major,
    })
}

fn check(c: &Constraint, v: &Version) -> bool {
    // pre-releases only match constraints that carry one
    if !v.pre.is_empty() && c.v.pre.is_empty() {
        return false;
    }
    let cmp = v.compare(&c.v);
    match c.op.as_str() {
        "" | "=" => {
            if c.dirty || c.wild_minor || c.wild_patch {
                if c.wild_major {
                    return true;
                }
                if c.wild_minor {
                    return v.major == c.v.major;
                }
                return v.major == c.v.major && v.minor == c.v.minor;
            }
            cmp == Ordering::Equal
        }
        "!=" => {
            if c.wild_major {
                return false;
            }
            if c.wild_minor {
                return v.major != c.v.major;
            }
            if c.wild_patch && c.dirty {
                return !(v.major == c.v.major && v.minor == c.v.minor);
            }
            cmp != Ordering::Equal
        }
        ">" => {
            if c.dirty && c.wild_minor && !c.wild_major {
                return v.major > c.v.major;
            }
            if c.dirty && c.wild_patch {
                return v.major > c.v.major || (v.major == c.v.major && v.minor > c.v.minor);
            }
            cmp == Ordering::Greater
        }
        ">=" => cmp != Ordering::Less,
        "<" => {
            if c.dirty && c.wild_major {
                return false;
            }
            cmp == Ordering::Less
        }
        "<=" => {
            if c.dirty && c.wild_minor && !c.wild_major {
                return v.major <= c.v.major;
            }
            if c.dirty && c.wild_patch {
                return v.major < c.v.major || (v.major == c.v.major && v.minor <= c.v.minor);
            }
            cmp != Ordering::Greater
        }
        "~" => {
            if cmp == Ordering::Less {
                return false;
            }
            if c.wild_major {
                return true;
            }
            if c.wild_minor {
                return v.major == c.v.major;
            }
            v.major == c.v.major && v.minor == c.v.minor
        }
        "^" => {
            if cmp == Ordering::Less {
                return false;
            }
            if c.wild_major {
                return true;
            }
            if c.v.major > 0 || c.wild_minor {
                return v.major == c.v.major;
            }
            if c.v.minor > 0 || c.wild_patch {
                return v.major == 0 && v.minor == c.v.minor;
            }
            v.major == 0 && v.minor == 0 && v.patch == c.v.patch
        }
        _ => false,
    }
}

/// A parsed constraint expression (`||` of comma/space separated `AND` groups).
pub struct Constraints(Vec<Vec<Constraint>>);

impl Constraints {
    /// Parses like `semver.NewConstraint`.
    pub fn parse(s: &str) -> Result<Constraints, String> {
        let mut groups = Vec::new();
        for or in s.split("||") {
            let or = or.trim();
            // hyphen ranges: "1.2 - 1.4"
            let mut items = Vec::new();
            let toks: Vec<&str> = or.split([',', ' ']).filter(|t| !t.is_empty()).collect();
            let mut i = 0;
            // join operators separated from versions by a space (">= 1.2")
            let mut joined: Vec<String> = Vec::new();
            while i < toks.len() {
                let t = toks[i];
                if ["=", "!=", ">", "<", ">=", "<=", "=>", "=<", "~", "~>", "^"].contains(&t)
                    && i + 1 < toks.len()
                {
                    joined.push(format!("{t}{}", toks[i + 1]));
                    i += 2;
                } else {
                    joined.push(t.to_string());
                    i += 1;
                }
            }
            let mut j = 0;
            while j < joined.len() {
                if j + 2 < joined.len() && joined[j + 1] == "-" {
                    let lo = parse_one(&format!(">={}", joined[j]))
                        .ok_or_else(|| format!("improper constraint: {s}"))?;
                    let hi = parse_one(&format!("<={}", joined[j + 2]))
                        .ok_or_else(|| format!("improper constraint: {s}"))?;
                    items.push(lo);
                    items.push(hi);
                    j += 3;
                    continue;
                }
                items.push(
                    parse_one(&joined[j]).ok_or_else(|| format!("improper constraint: {s}"))?,
                );
                j += 1;
            }
            if items.is_empty() {
                return Err(format!("improper constraint: {s}"));
            }
            groups.push(items);
        }
        Ok(Constraints(groups))
    }

    /// Whether `v` satisfies the constraints.
    pub fn check(&self, v: &Version) -> bool {
        self.0.iter().any(|g| g.iter().all(|c| check(c, v)))
    }
}

/// `semverCompare constraint version`.
pub fn compare(constraint: &str, version: &str) -> Result<bool, String> {
    let c = Constraints::parse(constraint)?;
    let v = Version::parse(version).ok_or_else(|| "Invalid Semantic Version".to_string())?;
    Ok(c.check(&v))
}

struct SemverObj(Version);

impl crate::value::Object for SemverObj {
    fn type_name(&self) -> String {
        "*semver.Version".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Major" => Value::Int(self.0.major as i64),
            "Minor" => Value::Int(self.0.minor as i64),
            "Patch" => Value::Int(self.0.patch as i64),
            "Prerelease" => Value::from(self.0.pre.as_str()),
            "Metadata" => Value::from(self.0.meta.as_str()),
            "Original" => Value::from(self.0.original.as_str()),
            "String" => Value::from(self.display()),
            _ => return None,
        })
    }
    fn has_method(&self, name: &str) -> bool {
        name == "Compare" || name == "LessThan" || name == "GreaterThan" || name == "Equal"
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let other = match args.first() {
            Some(Value::Object(o)) => o
                .field("Original")
                .and_then(|v| v.as_str().and_then(Version::parse)),
            _ => None,
        };
        let Some(o) = other else {
            return Some(Err("expected a *semver.Version".into()));
        };
        let c = self.0.compare(&o);
        Some(Ok(match name {
            "Compare" => Value::Int(c as i64),
            "LessThan" => Value::Bool(c == Ordering::Less),
            "GreaterThan" => Value::Bool(c == Ordering::Greater),
            _ => Value::Bool(c == Ordering::Equal),
        }))
    }
    fn display(&self) -> String {
        let v = &self.0;
        let mut s = format!("{}.{}.{}", v.major, v.minor, v.patch);
        if !v.pre.is_empty() {
            s.push('-');
            s.push_str(&v.pre);
        }
        if !v.meta.is_empty() {
            s.push('+');
            s.push_str(&v.meta);
        }
        s
    }
    fn to_data(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Major".to_string(), Value::Int(self.0.major as i64));
        Value::from(m)
    }
}

pub(super) fn semver_value(s: &str) -> Result<Value, FnErr> {
    match Version::parse(s) {
        Some(v) => Ok(Value::Object(std::rc::Rc::new(SemverObj(v)))),
        None => Err(FnErr::Call("Invalid Semantic Version".into())),
    }
}
