//! Authentication: the server's admin token, service account tokens (bound tokens from the
//! TokenRequest API and legacy Secret-held tokens, both JWTs signed by the server), client
//! certificates issued by the server's CA, and impersonation headers.

use super::{
    AUTHENTICATED, Attributes, Objects, SYSTEM_MASTERS, UNAUTHENTICATED, User, key,
    parse_service_account_user, service_account_groups,
};
use crate::error::{ApiError, ApiResult};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The issuer (and default audience) of the server's service account tokens, as a
/// default cluster's.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The issuer of legacy Secret-held tokens.
const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
/// The user name of the admin token.
pub const ADMIN_USER: &str = "gitops-admin";

/// Verifies credentials and signs service account tokens.
pub struct Authenticator {
    admin_token: String,
    key: ring::hmac::Key,
    /// Token audiences this server accepts: the issuer, and its own URL (as a cluster
    /// configured with `--api-audiences` does, so a controller's `generic` workload
    /// identity token for this server's address is valid here).
    audiences: Vec<String>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator")
    }
}

/// Constant-time equality.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Authenticator {
    /// An authenticator for the admin token and a token-signing secret.
    pub fn new(admin_token: &str, signing_secret: &[u8]) -> Authenticator {
        Authenticator {
            admin_token: admin_token.to_owned(),
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, signing_secret),
            audiences: vec![ISSUER.to_owned()],
        }
    }

    /// Also accepts tokens for `audience` (the server's URL).
    pub fn with_audience(mut self, audience: &str) -> Authenticator {
        self.audiences.push(audience.to_owned());
        self
    }

    /// The admin identity: a member of `system:masters`.
    pub fn admin() -> User {
        User {
            name: ADMIN_USER.into(),
            uid: String::new(),
            groups: vec![SYSTEM_MASTERS.into(), AUTHENTICATED.into()],
            extra: BTreeMap::new(),
        }
    }

    /// The identity of a request: its client certificate's (verified by TLS) first, then
    /// its bearer token's. `Ok(None)` when it carries no credentials; 401 when a token is
    /// not valid.
    pub fn authenticate(
        &self,
        objs: &impl Objects,
        headers: &hyper::HeaderMap,
        peer: Option<&User>,
    ) -> ApiResult<Option<User>> {
        if let Some(u) = peer {
            return Ok(Some(u.clone()));
        }
        let Some(value) = headers.get(hyper::header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(crate::http::bearer_token)
            .ok_or_else(ApiError::unauthorized)?;
        let audiences: Vec<&str> = self.audiences.iter().map(String::as_str).collect();
        self.user_of_token(objs, token, &audiences)
            .ok_or_else(ApiError::unauthorized)
            .map(Some)
    }

    /// The user a bearer token stands for, when it is valid for one of `audiences`.
    pub fn user_of_token(
        &self,
        objs: &impl Objects,
        token: &str,
        audiences: &[&str],
    ) -> Option<User> {
        if same(token.as_bytes(), self.admin_token.as_bytes()) {
            return Some(Authenticator::admin());
        }
        let claims = self.verify(token)?;
        if claims["iss"] == LEGACY_ISSUER {
            return legacy_user(objs, &claims, token);
        }
        if claims["iss"] != ISSUER {
            return None;
        }
        let now = jiff::Timestamp::now().as_second();
        if claims["exp"].as_i64().is_none_or(|exp| exp <= now)
            || claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + 60)
        {
            return None;
        }
        let aud: Vec<&str> = super::strings(&claims["aud"]).collect();
        if !audiences.iter().any(|a| aud.contains(a)) {
            return None;
        }
        let k8s = &claims["kubernetes.io"];
        let ns = k8s["namespace"].as_str()?;
        let sa = &k8s["serviceaccount"];
        let (name, uid) = (sa["name"].as_str()?, sa["uid"].as_str()?);
        // The token dies with its service account (and with the object it is bound to).
        let live = objs.object(&key("", "serviceaccounts", ns, name))?;
        if live.uid() != uid {
            return None;
        }
        let mut user = User::service_account(ns, name, uid);
        for (kind, plural) in [("secret", "secrets"), ("pod", "pods")] {
            let bound = &k8s[kind];
            if let (Some(n), Some(u)) = (bound["name"].as_str(), bound["uid"].as_str()) {
                let obj = objs.object(&key("", plural, ns, n))?;
                if obj.uid() != u {
                    return None;
                }
                if kind == "pod" {
                    user.extra.insert(
                        "authentication.kubernetes.io/pod-name".into(),
                        vec![n.to_owned()],
                    );
                    user.extra.insert(
                        "authentication.kubernetes.io/pod-uid".into(),
                        vec![u.to_owned()],
                    );
                }
            }
        }
        if let Some(jti) = claims["jti"].as_str() {
            user.extra.insert(
                "authentication.kubernetes.io/credential-id".into(),
                vec![format!("JTI={jti}")],
            );
        }
        Some(user)
    }

    /// The claims of a token this server signed (signature checked, nothing else).
    fn verify(&self, token: &str) -> Option<Value> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        ring::hmac::verify(&self.key, format!("{h}.{p}").as_bytes(), &sig).ok()?;
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        if header["alg"] != "HS256" {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
    }

    /// Signs claims into a JWT.
    fn sign(&self, claims: &Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"gitops","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let sig = ring::hmac::sign(&self.key, format!("{h}.{p}").as_bytes());
        format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    /// A bound service account token (TokenRequest): for `audiences`, valid `seconds`, tied
    /// to the service account's uid and to `bound` (`secret` or `pod`: name and uid).
    pub fn issue(
        &self,
        ns: &str,
        name: &str,
        uid: &str,
        audiences: &[String],
        seconds: i64,
        bound: Option<(&str, &str, &str)>,
    ) -> (String, i64) {
        let now = jiff::Timestamp::now().as_second();
        let exp = now + seconds;
        let mut k8s = json!({"namespace": ns, "serviceaccount": {"name": name, "uid": uid}});
        if let Some((kind, n, u)) = bound {
            k8s[kind] = json!({"name": n, "uid": u});
        }
        let claims = json!({
            "aud": audiences,
            "exp": exp,
            "iat": now,
            "nbf": now,
            "iss": ISSUER,
            "jti": uuid::Uuid::new_v4().to_string(),
            "kubernetes.io": k8s,
            "sub": super::service_account_user(ns, name),
        });
        (self.sign(&claims), exp)
    }

    /// A legacy token for a `kubernetes.io/service-account-token` Secret: valid as long as
    /// the Secret holds it and the service account lives.
    pub fn issue_legacy(&self, ns: &str, name: &str, uid: &str, secret: &str) -> String {
        self.sign(&json!({
            "iss": LEGACY_ISSUER,
            "kubernetes.io/serviceaccount/namespace": ns,
            "kubernetes.io/serviceaccount/secret.name": secret,
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
            "sub": super::service_account_user(ns, name),
        }))
    }
}

fn legacy_user(objs: &impl Objects, claims: &Value, token: &str) -> Option<User> {
    let ns = claims["kubernetes.io/serviceaccount/namespace"].as_str()?;
    let secret = claims["kubernetes.io/serviceaccount/secret.name"].as_str()?;
    let name = claims["kubernetes.io/serviceaccount/service-account.name"].as_str()?;
    let uid = claims["kubernetes.io/serviceaccount/service-account.uid"].as_str()?;
    let s = objs.object(&key("", "secrets", ns, secret))?;
    let held = STANDARD.decode(s.value["data"]["token"].as_str()?).ok()?;
    if !same(&held, token.as_bytes()) {
        return None;
    }
    let sa = objs.object(&key("", "serviceaccounts", ns, name))?;
    (sa.uid() == uid).then(|| User::service_account(ns, name, uid))
}

/// The identity in a client certificate (already verified against the server's CA): the
/// subject's common name is the user, its organizations the groups.
pub fn cert_identity(der: &[u8]) -> Option<User> {
    let (cn, orgs) = subject_names(der)?;
    if cn.is_empty() {
        return None;
    }
    let mut groups = orgs;
    groups.push(AUTHENTICATED.into());
    Some(User {
        name: cn,
        uid: String::new(),
        groups,
        extra: BTreeMap::new(),
    })
}

/// One DER element: tag, contents and what follows.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The subject's common name and organizations of a DER certificate.
fn subject_names(der: &[u8]) -> Option<(String, Vec<String>)> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    // [0] version (optional), serial, signature algorithm, issuer, validity, subject.
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r;
    }
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (_, mut subject, _) = tlv(rest)?;
    let (mut cn, mut orgs) = (String::new(), Vec::new());
    while !subject.is_empty() {
        let (_, set, r) = tlv(subject)?;
        subject = r;
        let mut set = set;
        while !set.is_empty() {
            let (_, attr, r) = tlv(set)?;
            set = r;
            let (_, oid, r) = tlv(attr)?;
            let (_, value, _) = tlv(r)?;
            let value = String::from_utf8_lossy(value).into_owned();
            match oid {
                [0x55, 0x04, 0x03] => cn = value,
                [0x55, 0x04, 0x0a] => orgs.push(value),
                _ => {}
            }
        }
    }
    Some((cn, orgs))
}

/// Applies `Impersonate-*` headers: each impersonated user, group, uid and extra value
/// must be allowed by the `impersonate` verb for the requester; the request then runs as
/// the impersonated identity (with `system:authenticated`, and a service account's groups
/// when none are given). Without the headers the requester is returned unchanged.
pub fn impersonate(
    objs: &impl Objects,
    requester: User,
    headers: &hyper::HeaderMap,
) -> ApiResult<User> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    };
    let user = values("impersonate-user").into_iter().next();
    let groups = values("impersonate-group");
    let uid = values("impersonate-uid").into_iter().next();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(k) = name.as_str().strip_prefix("impersonate-extra-")
            && let Ok(v) = value.to_str()
        {
            let k = percent_encoding::percent_decode_str(k)
                .decode_utf8_lossy()
                .to_lowercase();
            extra.entry(k).or_default().push(v.to_owned());
        }
    }
    let Some(user) = user else {
        if !groups.is_empty() || uid.is_some() || !extra.is_empty() {
            return Err(ApiError::bad_request(
                "requested impersonation without impersonating a user",
            ));
        }
        return Ok(requester);
    };
    let check = |a: Attributes| super::require(objs, &requester, &a);
    let mut result_groups = groups.clone();
    match parse_service_account_user(&user) {
        Some((ns, name)) => {
            check(Attributes::resource(
                "impersonate",
                "",
                "serviceaccounts",
                "",
                ns,
                name,
            ))?;
            if groups.is_empty() {
                result_groups = service_account_groups(ns);
            }
        }
        None => check(Attributes::resource(
            "impersonate",
            "",
            "users",
            "",
            "",
            &user,
        ))?,
    }
    for g in &groups {
        check(Attributes::resource("impersonate", "", "groups", "", "", g))?;
    }
    if let Some(u) = &uid {
        check(Attributes::resource(
            "impersonate",
            "authentication.k8s.io",
            "uids",
            "",
            "",
            u,
        ))?;
    }
    for (k, vs) in &extra {
        for v in vs {
            check(Attributes::resource(
                "impersonate",
                "authentication.k8s.io",
                "userextras",
                k,
                "",
                v,
            ))?;
        }
    }
    if user != "system:anonymous"
        && !result_groups
            .iter()
            .any(|g| g == AUTHENTICATED || g == UNAUTHENTICATED)
    {
        result_groups.push(AUTHENTICATED.into());
    }
    Ok(User {
        name: user,
        uid: uid.unwrap_or_default(),
        groups: result_groups,
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Obj;
    use std::sync::Arc;

    struct NoObjects;
    impl Objects for NoObjects {
        fn object(&self, _: &str) -> Option<Arc<Obj>> {
            None
        }
        fn objects(&self, _: &str) -> Vec<Arc<Obj>> {
            Vec::new()
        }
    }

    #[test]
    fn tokens_are_signed_and_checked() {
        let a = Authenticator::new("admin-token", b"secret");
        assert_eq!(
            a.user_of_token(&NoObjects, "admin-token", &[ISSUER]),
            Some(Authenticator::admin())
        );
        let (t, _) = a.issue("ns", "sa", "uid-1", &[ISSUER.into()], 600, None);
        assert!(a.verify(&t).is_some());
        // Signed by another key, or altered: refused.
        let b = Authenticator::new("admin-token", b"other");
        assert!(b.verify(&t).is_none());
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            json!({"iss": ISSUER, "exp": i64::MAX, "aud": [ISSUER], "kubernetes.io": {"namespace": "kube-system", "serviceaccount": {"name": "x", "uid": "y"}}}).to_string(),
        );
        parts[1] = &forged;
        assert!(a.verify(&parts.join(".")).is_none());
        // Valid signature, but the service account does not exist.
        assert!(a.user_of_token(&NoObjects, &t, &[ISSUER]).is_none());
        assert!(a.verify("a.b").is_none() && a.verify("").is_none());
    }

    #[test]
    fn client_certificate_subjects() {
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "alice");
        dn.push(rcgen::DnType::OrganizationName, "dev");
        dn.push(rcgen::DnType::CustomDnType(vec![2, 5, 4, 10]), "ops");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let u = cert_identity(cert.der()).unwrap();
        assert_eq!(u.name, "alice");
        assert_eq!(u.groups, vec!["dev", "ops", AUTHENTICATED]);
        assert!(cert_identity(&cert.der()[..40]).is_none());
        assert!(cert_identity(&[]).is_none());
    }
}
