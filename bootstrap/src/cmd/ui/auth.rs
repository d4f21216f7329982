//! Who may use the web view. On a loopback address anyone on this machine may (as with
//! `kubectl proxy`), but only through a loopback host name, so a web page cannot reach it
//! by pointing its own name at 127.0.0.1 (DNS rebinding). Anywhere else every request
//! needs the token printed at start: a cookie set after `/?token=…`, or an
//! `Authorization: Bearer` header; only the static assets ([`PUBLIC_PATHS`]: the style
//! sheet, script and icon, which hold nothing about the cluster) are served without it,
//! so the login page is styled. Actions (POST) must also come from the view's own pages
//! (`Origin` or `Sec-Fetch-Site`), so another site cannot make a browser send them.

use base64::Engine as _;
use hyper::http::{HeaderMap, Method, StatusCode, Uri, header};
use std::net::{IpAddr, SocketAddr};

/// The paths served without the token (to `GET` only, matched exactly): the embedded
/// static assets, the same for every server and free of anything about the cluster.
pub const PUBLIC_PATHS: &[&str] = &[
    "/_/static/style.css",
    "/_/static/app.js",
    "/_/static/icon.svg",
];

/// The access policy of one server.
pub struct Access {
    token: Option<String>,
    cookie: String,
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it; `bearer` when the token came in an `Authorization` header (which no
    /// other site can make a browser send).
    Allow {
        /// Authenticated by an `Authorization: Bearer` header.
        bearer: bool,
    },
    /// The token was right in the query: set this cookie and redirect to `location`
    /// (the same page without the token).
    Login {
        /// The `Set-Cookie` value.
        set_cookie: String,
        /// Where to go.
        location: String,
    },
    /// Refuse with this status and message.
    Deny(StatusCode, &'static str),
}

/// Whether `ip` is a loopback address (IPv4-mapped IPv6 loopback too).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Compares without stopping at the first difference (the token's length is not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The host of a `Host` header value without its port.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

/// Whether a `Host` header names this machine's loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(is_loopback)
}

/// The value of query parameter `name`, percent-decoded.
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| decode(v))
    })
}

/// `application/x-www-form-urlencoded` decoding of one value.
pub fn decode(v: &str) -> String {
    percent_encoding::percent_decode_str(&v.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// `path` when it stays on this server, else `/` (`//host` and `/\host` leave it).
fn local_path(path: &str) -> String {
    match path.as_bytes() {
        [b'/', b'/' | b'\\', ..] => "/".into(),
        [b'/', ..] => path.to_owned(),
        _ => "/".into(),
    }
}

impl Access {
    /// The policy of a server listening on `listen`: a new random token unless it is a
    /// loopback address.
    pub fn new(listen: SocketAddr) -> Access {
        let token = (!is_loopback(listen.ip())).then(|| {
            let bytes: [u8; 32] = rand::random();
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        });
        Access::with_token(listen.port(), token)
    }

    fn with_token(port: u16, token: Option<String>) -> Access {
        Access {
            token,
            // Cookies are per host, not per port: one name per server.
            cookie: format!("gitops-ui-{port}"),
        }
    }

    /// The token every request needs, when one is needed.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Decides on a request by its method, URI and headers.
    pub fn check(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Verdict {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let Some(token) = &self.token else {
            if !is_loopback_host(host) {
                return Verdict::Deny(
                    StatusCode::FORBIDDEN,
                    "This web view only answers to a loopback host name (localhost, 127.0.0.1 or [::1]).",
                );
            }
            return Verdict::Allow { bearer: false };
        };
        if method == Method::GET && PUBLIC_PATHS.contains(&uri.path()) {
            return Verdict::Allow { bearer: false };
        }
        if let Some(given) = query_param(uri, "token") {
            if !same(given.as_bytes(), token.as_bytes()) {
                return Verdict::Deny(StatusCode::UNAUTHORIZED, "The token is not right.");
            }
            if method != Method::GET {
                return Verdict::Allow { bearer: false };
            }
            return Verdict::Login {
                set_cookie: format!("{}={token}; Path=/; HttpOnly; SameSite=Strict", self.cookie),
                location: local_path(uri.path()),
            };
        }
        if let Some(auth) = headers.get(header::AUTHORIZATION) {
            let given = auth
                .to_str()
                .ok()
                .and_then(|a| a.strip_prefix("Bearer "))
                .unwrap_or_default()
                .trim();
            if same(given.as_bytes(), token.as_bytes()) {
                return Verdict::Allow { bearer: true };
            }
            return Verdict::Deny(StatusCode::UNAUTHORIZED, "The token is not right.");
        }
        let from_cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|c| c.to_str().ok())
            .flat_map(|c| c.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(k, v)| k == self.cookie && same(v.as_bytes(), token.as_bytes()));
        if from_cookie {
            return Verdict::Allow { bearer: false };
        }
        Verdict::Deny(
            StatusCode::UNAUTHORIZED,
            "This web view needs the token that `gitops ui` printed when it started.",
        )
    }

    /// Whether an action request (POST) comes from this server's own pages: its `Origin`
    /// is this server, or (without `Origin`) `Sec-Fetch-Site` says same-origin; requests
    /// authenticated by a bearer header need neither.
    pub fn same_origin(&self, headers: &HeaderMap, bearer: bool) -> Result<(), &'static str> {
        let get = |name: header::HeaderName| headers.get(name).and_then(|h| h.to_str().ok());
        let host = get(header::HOST).unwrap_or_default();
        if let Some(origin) = get(header::ORIGIN) {
            if !host.is_empty() && origin.eq_ignore_ascii_case(&format!("http://{host}")) {
                return Ok(());
            }
            return Err("Refused: the request comes from another site.");
        }
        if let Some(site) = headers.get("sec-fetch-site").and_then(|h| h.to_str().ok()) {
            if site == "same-origin" {
                return Ok(());
            }
            return Err("Refused: the request comes from another site.");
        }
        if bearer {
            return Ok(());
        }
        Err("Refused: actions need an Origin header (or an Authorization header).")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_needs_no_token_but_a_loopback_host() {
        let access = Access::new("127.0.0.1:9000".parse().unwrap());
        assert_eq!(access.token(), None);
        for host in [
            "127.0.0.1:9000",
            "localhost:9000",
            "[::1]:9000",
            "LOCALHOST",
        ] {
            assert_eq!(
                access.check(&Method::GET, &uri("/"), &headers(&[("host", host)])),
                Verdict::Allow { bearer: false },
                "{host}"
            );
        }
        let rebound = access.check(
            &Method::GET,
            &uri("/"),
            &headers(&[("host", "evil.example:9000")]),
        );
        assert!(matches!(rebound, Verdict::Deny(StatusCode::FORBIDDEN, _)));
    }

    #[test]
    fn other_addresses_need_the_token() {
        let access = Access::new("0.0.0.0:9000".parse().unwrap());
        let token = access.token().unwrap().to_owned();
        assert!(token.len() >= 40);
        assert_ne!(
            Access::new("0.0.0.0:9000".parse().unwrap()).token(),
            Some(token.as_str())
        );
        let h = headers(&[("host", "127.0.0.1:9000")]);
        assert!(matches!(
            access.check(&Method::GET, &uri("/"), &h),
            Verdict::Deny(StatusCode::UNAUTHORIZED, _)
        ));
        // Logging in with the query sets the cookie and drops the token from the URL.
        match access.check(
            &Method::GET,
            &uri(&format!("/kustomizations/a/b?token={token}")),
            &h,
        ) {
            Verdict::Login {
                set_cookie,
                location,
            } => {
                assert_eq!(location, "/kustomizations/a/b");
                assert!(set_cookie.starts_with(&format!("gitops-ui-9000={token};")));
                assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
            }
            other => panic!("{other:?}"),
        }
        // The redirect stays on this server.
        match access.check(
            &Method::GET,
            &uri(&format!("//evil.example/?token={token}")),
            &h,
        ) {
            Verdict::Login { location, .. } => assert_eq!(location, "/"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            access.check(&Method::GET, &uri("/?token=wrong"), &h),
            Verdict::Deny(StatusCode::UNAUTHORIZED, _)
        ));
        let cookie = headers(&[
            ("host", "example.org"),
            ("cookie", &format!("other=1; gitops-ui-9000={token}")),
        ]);
        assert_eq!(
            access.check(&Method::GET, &uri("/"), &cookie),
            Verdict::Allow { bearer: false }
        );
        let wrong_port = headers(&[("cookie", &format!("gitops-ui-9001={token}"))]);
        assert!(matches!(
            access.check(&Method::GET, &uri("/"), &wrong_port),
            Verdict::Deny(..)
        ));
        let bearer = headers(&[("authorization", &format!("Bearer {token}"))]);
        assert_eq!(
            access.check(&Method::POST, &uri("/_/action"), &bearer),
            Verdict::Allow { bearer: true }
        );
        let bad = headers(&[("authorization", "Bearer nope")]);
        assert!(matches!(
            access.check(&Method::POST, &uri("/_/action"), &bad),
            Verdict::Deny(StatusCode::UNAUTHORIZED, _)
        ));
    }

    #[test]
    fn only_the_static_assets_are_public() {
        let access = Access::new("0.0.0.0:9000".parse().unwrap());
        let h = headers(&[("host", "192.0.2.1:9000")]);
        let check = |method: &Method, path: &str| access.check(method, &uri(path), &h);
        for path in [
            "/_/static/style.css",
            "/_/static/app.js",
            "/_/static/icon.svg",
            "/_/static/style.css?v=1",
        ] {
            assert_eq!(
                check(&Method::GET, path),
                Verdict::Allow { bearer: false },
                "{path}"
            );
        }
        for path in [
            "/",
            "/?x=1",
            "/_/static/",
            "/_/static",
            "/_/static/other.css",
            "/_/static/style.css/",
            "/_/static/style.css/x",
            "/_/static/%73tyle.css",
            "/_/static//style.css",
            "/_/static/../stream",
            "/_/static/style.css/../../stream",
            "/_/stream?page=%2F",
            "/_/object?apiVersion=v1&kind=Secret&namespace=a&name=b",
            "/kustomizations/flux-system/flux-system",
            "/_/STATIC/style.css",
        ] {
            assert!(
                matches!(
                    check(&Method::GET, path),
                    Verdict::Deny(StatusCode::UNAUTHORIZED, _)
                ),
                "{path} needs the token"
            );
        }
        // Only GET: a POST to an asset's path needs the token like any other.
        assert!(matches!(
            check(&Method::POST, "/_/static/style.css"),
            Verdict::Deny(StatusCode::UNAUTHORIZED, _)
        ));
        assert!(matches!(
            check(&Method::POST, "/_/action/gitrepositories/a/b"),
            Verdict::Deny(StatusCode::UNAUTHORIZED, _)
        ));
        // On loopback, the assets still want a loopback host name, as every path does.
        let local = Access::new("127.0.0.1:9000".parse().unwrap());
        let rebound = local.check(
            &Method::GET,
            &uri("/_/static/style.css"),
            &headers(&[("host", "evil.example:9000")]),
        );
        assert!(matches!(rebound, Verdict::Deny(StatusCode::FORBIDDEN, _)));
    }

    #[test]
    fn actions_must_come_from_the_same_origin() {
        let access = Access::new("127.0.0.1:9000".parse().unwrap());
        let ok = headers(&[
            ("host", "127.0.0.1:9000"),
            ("origin", "http://127.0.0.1:9000"),
        ]);
        assert_eq!(access.same_origin(&ok, false), Ok(()));
        let cross = headers(&[
            ("host", "127.0.0.1:9000"),
            ("origin", "http://evil.example"),
        ]);
        assert!(access.same_origin(&cross, false).is_err());
        assert!(access.same_origin(&cross, true).is_err());
        let fetch_site = headers(&[("host", "127.0.0.1:9000"), ("sec-fetch-site", "cross-site")]);
        assert!(access.same_origin(&fetch_site, false).is_err());
        let same_site = headers(&[
            ("host", "127.0.0.1:9000"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert_eq!(access.same_origin(&same_site, false), Ok(()));
        let bare = headers(&[("host", "127.0.0.1:9000")]);
        assert!(access.same_origin(&bare, false).is_err());
        assert_eq!(access.same_origin(&bare, true), Ok(()));
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            query_param(&uri("/x?a=1&token=a%2Bb+c"), "token").as_deref(),
            Some("a+b c")
        );
        assert_eq!(query_param(&uri("/x?a=1"), "token"), None);
    }
}
