//! The virtual kinds that answer questions instead of storing objects:
//! `SelfSubjectAccessReview`, `SubjectAccessReview`, `LocalSubjectAccessReview`,
//! `SelfSubjectRulesReview` (authorization), `SelfSubjectReview` and `TokenReview`
//! (authentication), and the `serviceaccounts/<name>/token` TokenRequest.

use super::authn::ISSUER;
use super::{Attributes, Authenticator, Objects, User, key, rbac, strings};
use crate::error::{ApiError, ApiResult, Cause};
use crate::registry::ResourceType;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Answers a review (`rt` one of the review kinds) asked by `user`; the request body
/// comes back with its `status`.
pub fn review(
    objs: &impl Objects,
    auth: &Authenticator,
    user: &User,
    rt: &ResourceType,
    ns: Option<&str>,
    mut body: Value,
) -> ApiResult<Value> {
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of a {} must be an object",
            rt.kind
        )));
    }
    body["apiVersion"] = json!(rt.api_version());
    body["kind"] = json!(rt.kind);
    let spec = body["spec"].clone();
    let invalid = |field: &str, value: &Value, why: &str| {
        ApiError::invalid(
            &rt.group,
            &rt.kind,
            "",
            vec![Cause::invalid(field, value, why)],
        )
    };
    let status = match rt.plural.as_str() {
        "selfsubjectaccessreviews" => {
            let a = attributes(&spec).ok_or_else(|| {
                invalid(
                    "spec.resourceAttributes",
                    &spec["resourceAttributes"],
                    "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                )
            })?;
            access_status(rbac::authorize(objs, user, &a))
        }
        "subjectaccessreviews" | "localsubjectaccessreviews" => {
            let a = attributes(&spec).ok_or_else(|| {
                invalid(
                    "spec.resourceAttributes",
                    &spec["resourceAttributes"],
                    "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                )
            })?;
            if let Some(ns) = ns
                && a.namespace() != ns
            {
                return Err(invalid(
                    "spec.resourceAttributes.namespace",
                    &json!(a.namespace()),
                    "must match metadata.namespace",
                ));
            }
            let subject = subject_of(&spec);
            if subject.name.is_empty() && subject.groups.is_empty() {
                return Err(invalid(
                    "spec.user",
                    &json!(""),
                    "at least one of user or group must be specified",
                ));
            }
            access_status(rbac::authorize(objs, &subject, &a))
        }
        "selfsubjectrulesreviews" => {
            let ns = spec["namespace"].as_str().unwrap_or_default();
            rbac::rules_review(objs, user, ns)
        }
        "selfsubjectreviews" => json!({"userInfo": user.to_user_info()}),
        "tokenreviews" => {
            let token = spec["token"].as_str().unwrap_or_default();
            let audiences: Vec<&str> = strings(&spec["audiences"]).collect();
            let audiences = if audiences.is_empty() {
                vec![ISSUER]
            } else {
                audiences
            };
            match auth.user_of_token(objs, token, &audiences) {
                Some(u) => {
                    json!({"authenticated": true, "user": u.to_user_info(), "audiences": audiences})
                }
                None => json!({"authenticated": false, "error": "invalid bearer token"}),
            }
        }
        _ => return Err(ApiError::no_route()),
    };
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    body["metadata"]["creationTimestamp"] = Value::Null;
    body["status"] = status;
    Ok(body)
}

fn access_status(d: rbac::Decision) -> Value {
    let mut s = json!({"allowed": d.allowed});
    if !d.reason.is_empty() {
        s["reason"] = json!(d.reason);
    }
    s
}

/// The request a review asks about: exactly one of resource and non-resource attributes.
fn attributes(spec: &Value) -> Option<Attributes> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match (&spec["resourceAttributes"], &spec["nonResourceAttributes"]) {
        (r @ Value::Object(_), Value::Null) => {
            let mut a = Attributes::resource(
                &s(&r["verb"]),
                &s(&r["group"]),
                &s(&r["resource"]),
                &s(&r["subresource"]),
                &s(&r["namespace"]),
                &s(&r["name"]),
            );
            if let Some(res) = a.resource.as_mut() {
                res.version = s(&r["version"]);
            }
            Some(a)
        }
        (Value::Null, n @ Value::Object(_)) => {
            Some(Attributes::non_resource(&s(&n["verb"]), &s(&n["path"])))
        }
        _ => None,
    }
}

/// The identity a SubjectAccessReview asks about.
fn subject_of(spec: &Value) -> User {
    let mut extra = BTreeMap::new();
    for (k, v) in spec["extra"].as_object().into_iter().flatten() {
        extra.insert(k.clone(), strings(v).map(str::to_owned).collect());
    }
    User {
        name: spec["user"].as_str().unwrap_or_default().to_owned(),
        uid: spec["uid"].as_str().unwrap_or_default().to_owned(),
        groups: strings(&spec["groups"]).map(str::to_owned).collect(),
        extra,
    }
}

/// Shortest and default lifetime of a requested token, as the real server's.
const MIN_EXPIRATION: i64 = 600;
const DEFAULT_EXPIRATION: i64 = 3600;
/// Longest lifetime granted (the real server's `--service-account-max-token-expiration`
/// is unset by default; two days keep leaked tokens short-lived).
const MAX_EXPIRATION: i64 = 48 * 3600;

/// `POST serviceaccounts/<name>/token`: a bound token for the service account.
pub fn token_request(
    objs: &impl Objects,
    auth: &Authenticator,
    ns: &str,
    name: &str,
    mut body: Value,
) -> ApiResult<Value> {
    let sa = objs
        .object(&key("", "serviceaccounts", ns, name))
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", name))?;
    if !body.is_object() {
        body = json!({});
    }
    let spec = body["spec"].clone();
    let invalid = |field: &str, value: &Value, why: &str| {
        ApiError::invalid(
            "authentication.k8s.io",
            "TokenRequest",
            name,
            vec![Cause::invalid(field, value, why)],
        )
    };
    let seconds = match &spec["expirationSeconds"] {
        Value::Null => DEFAULT_EXPIRATION,
        v => match v.as_i64() {
            Some(s) if s < MIN_EXPIRATION => {
                return Err(invalid(
                    "spec.expirationSeconds",
                    v,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            Some(s) if s > 1 << 32 => {
                return Err(invalid(
                    "spec.expirationSeconds",
                    v,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            Some(s) => s.min(MAX_EXPIRATION),
            None => return Err(invalid("spec.expirationSeconds", v, "must be an integer")),
        },
    };
    let audiences: Vec<String> = strings(&spec["audiences"]).map(str::to_owned).collect();
    let audiences = if audiences.is_empty() {
        vec![ISSUER.to_owned()]
    } else {
        audiences
    };
    let bound = &spec["boundObjectRef"];
    let bound_to = match bound["kind"].as_str() {
        None => None,
        Some(kind @ ("Secret" | "Pod")) => {
            let (plural, claim) = if kind == "Secret" {
                ("secrets", "secret")
            } else {
                ("pods", "pod")
            };
            let n = bound["name"].as_str().unwrap_or_default();
            let obj = objs
                .object(&key("", plural, ns, n))
                .ok_or_else(|| ApiError::not_found("", plural, n))?;
            if let Some(uid) = bound["uid"].as_str().filter(|u| !u.is_empty())
                && uid != obj.uid()
            {
                return Err(ApiError::conflict(
                    "",
                    plural,
                    n,
                    "the UID in the bound object reference does not match the object",
                ));
            }
            Some((claim, n.to_owned(), obj.uid().to_owned()))
        }
        Some(other) => {
            return Err(invalid(
                "spec.boundObjectRef.kind",
                &json!(other),
                "supported values: \"Pod\", \"Secret\"",
            ));
        }
    };
    let (token, exp) = auth.issue(
        ns,
        name,
        sa.uid(),
        &audiences,
        seconds,
        bound_to
            .as_ref()
            .map(|(c, n, u)| (*c, n.as_str(), u.as_str())),
    );
    let exp = jiff::Timestamp::from_second(exp)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    body["apiVersion"] = json!("authentication.k8s.io/v1");
    body["kind"] = json!("TokenRequest");
    body["metadata"] = json!({"name": name, "namespace": ns, "creationTimestamp": null});
    body["spec"]["audiences"] = json!(audiences);
    body["spec"]["expirationSeconds"] = json!(seconds);
    body["status"] = json!({"token": token, "expirationTimestamp": exp});
    Ok(body)
}
