//! Retries, time limits, secret masking, TLS and proxy settings, validation, and NATS
//! against a fake server.

use super::*;
use std::time::Instant as StdInstant;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Answers 500 to the first `failures` requests, then 200.
async fn flaky(failures: usize, status: u16) -> TestServer {
    TestServer::start(move |_, i| {
        if i < failures {
            (status, vec![], "try again".to_owned())
        } else {
            (200, vec![], "{}".to_owned())
        }
    })
    .await
}

#[tokio::test]
async fn retries_server_errors_until_delivered() {
    let srv = flaky(2, 500).await;
    let cfg = config("generic", &srv.url);
    send(&cfg, &info_event()).await.unwrap();
    assert_eq!(srv.requests().len(), 3);
}

#[tokio::test]
async fn retries_too_many_requests() {
    let srv = flaky(1, 429).await;
    send(&config("slack", &srv.url), &info_event())
        .await
        .unwrap();
    assert_eq!(srv.requests().len(), 2);
}

#[tokio::test]
async fn honours_retry_after_within_limits() {
    let srv = TestServer::start(|_, i| {
        if i == 0 {
            (503, vec![("Retry-After", "0".to_owned())], String::new())
        } else {
            (200, vec![], String::new())
        }
    })
    .await;
    send(&config("generic", &srv.url), &info_event())
        .await
        .unwrap();
    assert_eq!(srv.requests().len(), 2);
}

#[tokio::test]
async fn does_not_retry_client_errors_or_501() {
    let srv = TestServer::answering(400, "bad payload").await;
    let err = send(&config("generic", &srv.url), &info_event())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(srv.requests().len(), 1);
    assert!(err.contains("status code 400"), "{err}");
    assert!(err.contains("bad payload"), "{err}");

    let srv = TestServer::answering(501, "").await;
    assert!(
        send(&config("generic", &srv.url), &info_event())
            .await
            .is_err()
    );
    assert_eq!(srv.requests().len(), 1);
}

#[tokio::test]
async fn gives_up_after_the_retries() {
    let srv = TestServer::answering(503, &"x".repeat(5000)).await;
    let err = send(&config("generic", &srv.url), &info_event())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(srv.requests().len(), 5);
    assert!(err.contains("status code 503 (after 5 attempts)"), "{err}");
    assert!(err.len() < 1000, "the body is cut: {}", err.len());
}

#[tokio::test]
async fn server_down_fails_within_the_timeout() {
    // A port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config("generic", &format!("http://127.0.0.1:{port}/hook"));
    cfg.timeout = Duration::from_secs(2);
    let start = StdInstant::now();
    let err = send(&cfg, &info_event()).await.unwrap_err().to_string();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(err.contains("after 5 attempts"), "{err}");
}

#[tokio::test]
async fn a_hanging_server_is_cut_by_the_timeout() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            conns.push(s); // never answered
        }
    });
    let mut cfg = config("slack", &url);
    cfg.timeout = Duration::from_millis(300);
    let start = StdInstant::now();
    assert!(send(&cfg, &info_event()).await.is_err());
    assert!(start.elapsed() < Duration::from_secs(2));
    hold.abort();
}

#[tokio::test]
async fn errors_never_show_secrets() {
    // Telegram puts the bot token in the URL path; the server echoes it back.
    let srv = TestServer::answering(401, &format!("unauthorized bot{TOKEN}")).await;
    let mut cfg = config("telegram", "");
    cfg.api_base = Some(srv.url.clone());
    cfg.channel = "123".into();
    cfg.token = TOKEN.into();
    let err = send(&cfg, &info_event()).await.unwrap_err().to_string();
    assert!(!err.contains(TOKEN), "{err}");
    assert!(err.contains("status code 401"), "{err}");

    // A webhook whose path, query and user info carry secrets, on a closed port.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config(
        "slack",
        &format!("http://user:{TOKEN}@127.0.0.1:{port}/services/T0/B0/hooksecret?sig=querysecret"),
    );
    cfg.retry.max_retries = 0;
    cfg.token = TOKEN.into();
    cfg.password = "p4ssw0rd-value".into();
    let err = send(&cfg, &info_event()).await.unwrap_err().to_string();
    for secret in [TOKEN, "hooksecret", "querysecret", "p4ssw0rd-value"] {
        assert!(!err.contains(secret), "{err}");
    }
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[tokio::test]
async fn masks_bitbucket_credentials_in_validation_errors() {
    let mut cfg = config("bitbucket", "https://bitbucket.org/foo/bar/baz");
    cfg.token = "someuser:app-secret-123".into();
    let err = validate(&cfg).unwrap_err().to_string();
    assert!(err.contains("invalid repository id"), "{err}");
    assert!(!err.contains("app-secret-123"));
}

#[tokio::test]
async fn invalid_tls_material_is_an_error() {
    let mut cfg = config("generic", "https://127.0.0.1:1/");
    cfg.tls = Some(TlsMaterial {
        ca: Some(b"not a pem".to_vec()),
        ..Default::default()
    });
    let err = send(&cfg, &info_event()).await.unwrap_err().to_string();
    assert!(err.contains("ca.crt"), "{err}");
}

#[test]
fn validation_follows_flux() {
    let err = |c: &ProviderConfig| validate(c).unwrap_err().to_string();
    let with = |t: &str, a: &str, f: &dyn Fn(&mut ProviderConfig)| {
        let mut c = config(t, a);
        f(&mut c);
        c
    };
    let none = |_: &mut ProviderConfig| {};
    let token = |c: &mut ProviderConfig| c.token = TOKEN.into();

    assert_eq!(
        err(&config("zulip2", "")),
        "provider type 'zulip2' is not supported"
    );
    assert!(err(&config("slack", "")).contains("requires an address"));
    assert!(err(&config("slack", "not a url")).contains("invalid slack address"));
    assert!(validate(&config("slack", "https://hooks.slack.com/services/x")).is_ok());
    assert_eq!(
        err(&config("generic-hmac", "http://h/")),
        "HMAC key is empty"
    );
    assert_eq!(err(&with("telegram", "", &token)), "empty Telegram channel");
    assert_eq!(
        err(&with("telegram", "", &|c| c.channel = "1".into())),
        "empty Telegram token"
    );
    assert!(err(&with("matrix", "https://m.org", &token)).contains("room"));
    assert_eq!(
        err(&config("opsgenie", "https://api.opsgenie.com/v2/alerts")),
        "empty Opsgenie apikey/token"
    );
    assert_eq!(err(&config("datadog", "")), "token cannot be empty");
    assert!(validate(&with("datadog", "", &token)).is_ok());
    assert_eq!(err(&config("sentry", "")), "DSN cannot be empty");
    assert!(err(&config("sentry", "https://sentry.io/1")).contains("public key"));
    assert!(validate(&config("sentry", "https://key@o1.ingest.sentry.io/42")).is_ok());
    assert!(err(&with("nats", "nats://n:4222", &none)).contains("subject"));
    assert!(
        err(&with("nats", "nats://n:4222", &|c| {
            c.channel = "s".into();
            c.secret_data.insert("nkey".into(), b"SUAxyz".to_vec());
        }))
        .contains("'nkey' authentication is not supported")
    );
    assert!(validate(&with("nats", "nats://n:4222", &|c| c.channel = "flux".into())).is_ok());

    assert_eq!(
        err(&config("github", "https://github.com/foo/bar")),
        "github token or github app details must be specified"
    );
    assert!(
        err(&with("github", "https://github.com/foo/bar", &|c| {
            c.secret_data.insert("githubAppID".into(), b"1".to_vec());
        }))
        .contains("GitHub App")
    );
    assert!(
        err(&with("github", "https://github.com/foo/bar/baz", &token))
            .contains("invalid repository id")
    );
    assert!(
        validate(&with("github", "https://github.com/foo/bar", &|c| c
            .password =
            TOKEN.into()))
        .is_ok()
    );
    assert!(
        validate(&with(
            "githubdispatch",
            "git@github.com:foo/bar.git",
            &token
        ))
        .is_ok()
    );
    assert_eq!(
        err(&config("gitlab", "https://gitlab.com/foo/bar")),
        "gitlab token cannot be empty"
    );
    assert!(validate(&with("gitlab", "https://gitlab.com/a/b/c/d", &token)).is_ok());
    assert!(
        err(&with("gitea", "https://gitea.io/a/b/c", &token)).contains("invalid repository id")
    );
    assert_eq!(
        err(&config("bitbucket", "https://bitbucket.org/foo/bar")),
        "bitbucket token cannot be empty"
    );
    assert!(
        err(&with("bitbucket", "https://bitbucket.org/foo/bar", &token))
            .contains("<user>:<password>")
    );
    assert!(
        err(&with(
            "bitbucketserver",
            "https://bb.example.com/foo/bar",
            &token
        ))
        .contains("not http(s) git clone url")
    );
    assert!(
        err(&with("bitbucketserver", "ssh://git@bb/scm/p/r.git", &token))
            .contains("unsupported scheme")
    );
    assert!(
        err(&config("bitbucketserver", "https://bb/scm/p/r.git")).contains("invalid credentials")
    );
    assert!(
        validate(&with("bitbucketserver", "https://bb/scm/p/r.git", &|c| {
            c.username = "u".into();
            c.password = "p".into();
        }))
        .is_ok()
    );
    assert!(
        err(&with(
            "azuredevops",
            "https://dev.azure.com/org/proj/repo",
            &token
        ))
        .contains("invalid repository id")
    );
    assert!(
        err(&config(
            "azuredevops",
            "https://dev.azure.com/org/proj/_git/repo"
        ))
        .contains("token")
    );
    assert!(
        validate(&with(
            "azuredevops",
            "https://dev.azure.com/org/proj/_git/repo",
            &token
        ))
        .is_ok()
    );
    assert_eq!(
        err(&with("slack", "https://h/", &|c| c.proxy = Some("::".into()))),
        "unable to parse proxy URL"
    );
}

/// What the fake NATS server saw.
#[derive(Debug, Default)]
struct NatsSeen {
    connect: Value,
    subject: String,
    payload: Vec<u8>,
}

use serde_json::Value;

/// A fake NATS server (no NATS server binary is available in the test environment): it
/// sends `INFO`, reads `CONNECT`, checks `user`/`pass` if `auth` is set (`-ERR
/// 'Authorization Violation'` otherwise), reads one `PUB` with its payload, and answers
/// `PING` with `PONG`.
async fn fake_nats(
    auth: Option<(&'static str, &'static str)>,
) -> (String, tokio::task::JoinHandle<NatsSeen>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r);
        let info = format!(
            "INFO {{\"server_id\":\"fake\",\"version\":\"2.10.0\",\"proto\":1,\"max_payload\":1048576,\"auth_required\":{}}}\r\n",
            auth.is_some()
        );
        w.write_all(info.as_bytes()).await.unwrap();
        let mut seen = NatsSeen::default();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap() == 0 {
                return seen;
            }
            let line = line.trim_end();
            if let Some(c) = line.strip_prefix("CONNECT ") {
                seen.connect = serde_json::from_str(c).unwrap();
                if let Some((u, p)) = auth
                    && (seen.connect["user"] != u || seen.connect["pass"] != p)
                {
                    w.write_all(b"-ERR 'Authorization Violation'\r\n")
                        .await
                        .unwrap();
                    return seen;
                }
            } else if let Some(rest) = line.strip_prefix("PUB ") {
                let (subject, len) = rest.rsplit_once(' ').unwrap();
                seen.subject = subject.to_owned();
                let mut buf = vec![0; len.parse::<usize>().unwrap() + 2];
                r.read_exact(&mut buf).await.unwrap();
                buf.truncate(buf.len() - 2);
                seen.payload = buf;
            } else if line == "PING" {
                w.write_all(b"PONG\r\n").await.unwrap();
                return seen;
            }
        }
    });
    (format!("nats://{addr}"), task)
}

#[tokio::test]
async fn nats_publishes_the_event() {
    let (url, server) = fake_nats(Some(("flux", "pw-123456"))).await;
    let mut cfg = config("nats", &url);
    cfg.channel = "flux.events".into();
    cfg.username = "flux".into();
    cfg.password = "pw-123456".into();
    let e = error_event();
    send(&cfg, &e).await.unwrap();
    let seen = server.await.unwrap();
    assert_eq!(seen.subject, "flux.events");
    assert_eq!(seen.connect["verbose"], false);
    assert_eq!(seen.connect["name"], "NATS Provider Publisher");
    let back: Event = serde_json::from_slice(&seen.payload).unwrap();
    assert_eq!(back, e);
}

#[tokio::test]
async fn nats_reports_server_errors() {
    let (url, server) = fake_nats(Some(("flux", "right-password"))).await;
    let mut cfg = config("nats", &url);
    cfg.channel = "flux".into();
    cfg.username = "flux".into();
    cfg.password = "wrong-password".into();
    let err = send(&cfg, &info_event()).await.unwrap_err().to_string();
    assert!(err.contains("Authorization Violation"), "{err}");
    assert!(err.contains("subject flux"), "{err}");
    assert!(!err.contains("wrong-password"));
    server.await.unwrap();
}

#[tokio::test]
async fn nats_server_down_is_an_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config("nats", &format!("nats://127.0.0.1:{port}"));
    cfg.channel = "flux".into();
    let err = send(&cfg, &info_event()).await.unwrap_err().to_string();
    assert!(err.contains("error connecting to server"), "{err}");
}
