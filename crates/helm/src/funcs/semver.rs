//! Sprig's `semver` and `semverCompare`, over [`gitops_go::semver`] (Masterminds semver v3).

use std::cmp::Ordering;
use std::rc::Rc;

use gitops_go::semver::{Constraints, Version};

use crate::template::FnErr;
use crate::value::Value;

/// `semverCompare constraint version`: Masterminds `NewConstraint(constraint)` and
/// `NewVersion(version)`, then `Check`; the errors are Masterminds'.
///
/// Charts call it with the same few arguments over and over (a `semverCompare` against
/// `.Capabilities.KubeVersion` in every template), so answers are remembered per thread.
pub fn compare(constraint: &str, version: &str) -> Result<bool, String> {
    type Answers = std::collections::HashMap<(String, String), Result<bool, String>>;
    thread_local! {
        static ANSWERS: std::cell::RefCell<Answers> = Default::default();
    }
    let key = (constraint.to_string(), version.to_string());
    if let Some(answer) = ANSWERS.with(|a| a.borrow().get(&key).cloned()) {
        return answer;
    }
    let answer = (|| {
        let c = Constraints::parse(constraint).map_err(|e| e.to_string())?;
        let v = Version::parse(version).map_err(|e| e.to_string())?;
        Ok(c.check(&v))
    })();
    ANSWERS.with(|a| {
        let mut a = a.borrow_mut();
        if a.len() < 1024 {
            a.insert(key, answer.clone());
        }
    });
    answer
}

/// A `*semver.Version` in a template.
struct SemverObj(Version);

impl crate::value::Object for SemverObj {
    fn type_name(&self) -> String {
        "*semver.Version".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let v = &self.0;
        Some(match name {
            "Major" => Value::Int(v.major() as i64),
            "Minor" => Value::Int(v.minor() as i64),
            "Patch" => Value::Int(v.patch() as i64),
            "Prerelease" => Value::from(v.prerelease()),
            "Metadata" => Value::from(v.metadata()),
            "Original" => Value::from(v.original()),
            "String" => Value::from(v.to_string()),
            _ => return None,
        })
    }
    fn has_method(&self, name: &str) -> bool {
        name == "Compare" || name == "LessThan" || name == "GreaterThan" || name == "Equal"
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let other = match args.first() {
            Some(Value::Object(o)) => o
                .as_any()
                .and_then(|a| a.downcast_ref::<SemverObj>())
                .map(|s| s.0.clone()),
            _ => None,
        };
        let Some(o) = other else {
            return Some(Err("expected a *semver.Version".into()));
        };
        let c = self.0.cmp(&o);
        Some(Ok(match name {
            "Compare" => Value::Int(c as i64),
            "LessThan" => Value::Bool(c == Ordering::Less),
            "GreaterThan" => Value::Bool(c == Ordering::Greater),
            _ => Value::Bool(c == Ordering::Equal),
        }))
    }
    fn display(&self) -> String {
        self.0.to_string()
    }
    fn to_data(&self) -> Value {
        // Masterminds' MarshalJSON/MarshalText: the version's String().
        Value::from(self.0.to_string())
    }
}

/// Sprig's `semver`: Masterminds `NewVersion`.
pub(super) fn semver_value(s: &str) -> Result<Value, FnErr> {
    match Version::parse(s) {
        Ok(v) => Ok(Value::Object(Rc::new(SemverObj(v)))),
        Err(e) => Err(FnErr::Call(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use crate::value::Value;

    fn render(src: &str) -> String {
        crate::template::tests::render_with(src, Value::Nil).unwrap_or_else(|e| format!("ERR: {e}"))
    }

    // What helm renders (v4.1.4, whose Masterminds semver v3.4.0 writes `improper
    // constraint: 1.0.0p` without the quotes v3.5.0 added, as Flux and Helm 4.2 have them).
    #[test]
    fn sprig_semver() {
        assert_eq!(render(r#"{{ semverCompare ">=1.2" "1.3" }}"#), "true");
        assert_eq!(render(r#"{{ semverCompare "^1.x" "1.9.0" }}"#), "true");
        assert_eq!(render(r#"{{ semver "v1.2" }}"#), "1.2.0");
        assert_eq!(
            render(r#"{{ (semver "v1.2.3-rc.1+m").Original }}"#),
            "v1.2.3-rc.1+m"
        );
        assert_eq!(render(r#"{{ semver "1.2.3" | toJson }}"#), r#""1.2.3""#);
        assert_eq!(
            render(r#"{{ (semver "1.2.3").Compare (semver "1.10.0") }}"#),
            "-1"
        );
        for (src, err) in [
            (r#"{{ semver "1.2.x" }}"#, "invalid semantic version"),
            (
                r#"{{ semver "01.2.3-01" }}"#,
                "version segment starts with 0",
            ),
            (
                r#"{{ semver "99999999999999999999.1" }}"#,
                r#"error parsing version segment: strconv.ParseUint: parsing "99999999999999999999": value out of range"#,
            ),
            (
                r#"{{ semverCompare "1.0.0p" "1.0.0" }}"#,
                r#"improper constraint: "1.0.0p""#,
            ),
            (
                r#"{{ semverCompare "1x" "1.0.0" }}"#,
                "constraint parser error",
            ),
            (
                r#"{{ semverCompare ">1" "V1.0.0" }}"#,
                "invalid semantic version",
            ),
        ] {
            let got = render(src);
            assert!(
                got.starts_with("ERR: ") && got.ends_with(err),
                "{src}: {got}"
            );
        }
    }
}
