//! `gcr` Receivers: Google Container Registry / Artifact Registry notifications arrive as
//! Pub/Sub push requests carrying a Google-signed OIDC ID token (`Authorization: Bearer`).
//! The token is checked as Google documents it: an RS256 JWT signed by one of Google's
//! keys (the JWKS at `--gcr-jwks-url`, cached for an hour and refetched for an unknown
//! key id), `aud` equal to the Secret's `audience`, issuer `accounts.google.com`, not
//! expired, and `email` equal to the Secret's `email` and verified. The Pub/Sub envelope
//! must carry a base64 JSON `message.data`.

use base64::Engine;
use parking_lot::Mutex;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// Google's OAuth2 signing keys.
pub(crate) const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// How long fetched keys are trusted before they are fetched again.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// The shortest time between two fetches caused by unknown key ids.
const MIN_REFETCH: Duration = Duration::from_secs(60);
/// Clock skew tolerated on `exp`/`iat`.
const SKEW: i64 = 30;

#[derive(Clone, Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: String,
    #[serde(default)]
    kty: String,
    #[serde(default)]
    n: String,
    #[serde(default)]
    e: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

/// Google's keys, fetched on demand and cached.
pub(crate) struct GoogleKeys {
    url: String,
    http: reqwest::Client,
    cached: Mutex<Option<(Instant, Vec<Jwk>)>>,
}

impl GoogleKeys {
    /// Keys fetched from `url` (a JWKS document).
    pub fn new(url: String) -> Self {
        crate::runtime::ensure_crypto_provider();
        GoogleKeys {
            url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            cached: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<Vec<Jwk>, String> {
        let resp = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| format!("cannot fetch Google's signing keys: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!(
                "cannot fetch Google's signing keys: {}",
                resp.status()
            ));
        }
        let jwks: Jwks = resp
            .json()
            .await
            .map_err(|e| format!("cannot decode Google's signing keys: {e}"))?;
        *self.cached.lock() = Some((Instant::now(), jwks.keys.clone()));
        Ok(jwks.keys)
    }

    async fn key(&self, kid: &str) -> Result<Jwk, String> {
        let unknown = || format!("no Google signing key has id '{kid}'");
        if let Some((at, keys)) = self
            .cached
            .lock()
            .as_ref()
            .filter(|(at, _)| at.elapsed() < KEYS_TTL)
        {
            if let Some(k) = keys.iter().find(|k| k.kid == kid) {
                return Ok(k.clone());
            }
            // Keys rotate, so an unknown id refetches, but at most once a minute: forged
            // tokens must not turn each request into a request to Google.
            if at.elapsed() < MIN_REFETCH {
                return Err(unknown());
            }
        }
        self.fetch()
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(unknown)
    }
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| format!("invalid ID token: {what} is not base64url"))
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    alg: String,
    #[serde(default)]
    kid: String,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    aud: serde_json::Value,
    #[serde(default)]
    iss: String,
    #[serde(default)]
    exp: i64,
    #[serde(default)]
    iat: i64,
    #[serde(default)]
    email: String,
    #[serde(default)]
    email_verified: serde_json::Value,
}

/// Checks the `Authorization` header of a Pub/Sub push as Flux does: a valid Google ID
/// token for `audience`, issued to `email`.
pub(crate) async fn authenticate(
    keys: &GoogleKeys,
    authorization: &str,
    email: &str,
    audience: &str,
    now: i64,
) -> Result<(), String> {
    let token = authorization
        .strip_prefix("Bearer ")
        .ok_or("the Authorization header is missing or malformed")?;
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("invalid ID token: not a JWT".into());
    };
    let header: Header = serde_json::from_slice(&b64(h, "the header")?)
        .map_err(|_| "invalid ID token: undecodable header".to_string())?;
    if header.alg != "RS256" {
        return Err(format!(
            "invalid ID token: algorithm '{}' is not RS256",
            header.alg
        ));
    }
    let claims: Claims = serde_json::from_slice(&b64(c, "the claims")?)
        .map_err(|_| "invalid ID token: undecodable claims".to_string())?;
    let sig = b64(s, "the signature")?;
    let jwk = keys.key(&header.kid).await?;
    if jwk.kty != "RSA" {
        return Err(format!("Google signing key '{}' is not RSA", jwk.kid));
    }
    let key = RsaPublicKey::new(
        BigUint::from_bytes_be(&b64(&jwk.n, "the key modulus")?),
        BigUint::from_bytes_be(&b64(&jwk.e, "the key exponent")?),
    )
    .map_err(|e| format!("Google signing key '{}' is invalid: {e}", jwk.kid))?;
    use rsa::sha2::{Digest, Sha256};
    let hashed = Sha256::digest(format!("{h}.{c}").as_bytes());
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &hashed, &sig)
        .map_err(|_| "invalid ID token: the signature does not verify".to_string())?;
    let aud_ok = match &claims.aud {
        serde_json::Value::String(a) => a == audience,
        serde_json::Value::Array(list) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        let got = claims.aud.as_str().unwrap_or("<unknown>");
        return Err(format!(
            "invalid ID token: audience is '{got}', want '{audience}'"
        ));
    }
    if claims.exp + SKEW < now {
        return Err("invalid ID token: token expired".into());
    }
    if claims.iat - SKEW > now {
        return Err("invalid ID token: token used before issued".into());
    }
    if claims.iss != "accounts.google.com" && claims.iss != "https://accounts.google.com" {
        return Err(format!(
            "token issuer is '{}', want 'accounts.google.com' or 'https://accounts.google.com'",
            claims.iss
        ));
    }
    if claims.email != email {
        return Err(format!("token email is '{}', want '{email}'", claims.email));
    }
    let verified = match &claims.email_verified {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::String(s) => s == "true",
        _ => false,
    };
    if !verified {
        return Err(format!("token email '{}' is not verified", claims.email));
    }
    Ok(())
}

/// Checks the Pub/Sub envelope: `message.data` is base64 of a JSON object (the registry
/// event with `action`, `digest`, `tag`).
pub(crate) fn check_payload(body: &[u8]) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Message {
        #[serde(default)]
        data: String,
    }
    #[derive(Deserialize)]
    struct Envelope {
        message: Message,
    }
    let env: Envelope = serde_json::from_slice(body)
        .map_err(|e| format!("cannot decode GCR webhook payload: {e}"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(env.message.data.trim())
        .unwrap_or_default();
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&raw)
        .map(|_| ())
        .map_err(|e| format!("cannot decode GCR webhook body: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_must_wrap_a_json_event() {
        let data = base64::engine::general_purpose::STANDARD
            .encode(br#"{"action":"INSERT","digest":"x@sha256:1","tag":"x:1"}"#);
        let ok = format!(r#"{{"message":{{"data":"{data}","messageId":"1"}}}}"#);
        assert!(check_payload(ok.as_bytes()).is_ok());
        assert!(check_payload(br#"{"message":{"data":"bm90IGpzb24="}}"#).is_err());
        assert!(check_payload(b"[]").is_err());
    }

    #[tokio::test]
    async fn malformed_tokens_are_refused_before_any_key_lookup() {
        let keys = GoogleKeys::new("http://127.0.0.1:9/unreachable".into());
        for (auth, want) in [
            ("", "missing or malformed"),
            ("Basic abc", "missing or malformed"),
            ("Bearer a.b", "not a JWT"),
            ("Bearer !!.b.c", "not base64url"),
        ] {
            let e = authenticate(&keys, auth, "e", "a", 0).await.unwrap_err();
            assert!(e.contains(want), "{auth}: {e}");
        }
        let none = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let e = authenticate(&keys, &format!("Bearer {none}.e30.x"), "e", "a", 0)
            .await
            .unwrap_err();
        assert!(e.contains("not RS256"), "{e}");
    }
}
