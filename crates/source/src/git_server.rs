//! A Git smart-HTTP server for local repositories: `git http-backend` (CGI) behind a small
//! HTTP/1.1 server, with the pack stream piped through rather than buffered.
//!
//! `gitops dev` uses it to offer a local checkout to the source-controller (GitRepository
//! URLs must be `http`, `https` or `ssh`), and tests use it as a real Git server. The
//! repositories under the root are served read-write as `git http-backend` allows it
//! (`GIT_HTTP_EXPORT_ALL`, pushes need `http.receivepack`); bind it to loopback.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The response body type of [`GitHandler`].
pub type Body = BoxBody<Bytes, std::io::Error>;

/// Largest request body accepted (a fetch negotiation is small; pushes can be larger).
const MAX_REQUEST: usize = 512 << 20;

/// Configuration of [`serve`].
#[derive(Clone, Debug, Default)]
pub struct GitServerConfig {
    /// `GIT_PROJECT_ROOT`: repositories are `<root>/<path>` (bare or with a work tree).
    pub root: PathBuf,
    /// Exact `Authorization` header value required (e.g. `Basic dXNlcjpwYXNz`); none when unset.
    pub authorization: Option<String>,
}

fn text(status: StatusCode, msg: &str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(msg.to_owned()))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r
}

/// The directory of git's helper programs (`git --exec-path`).
pub fn git_exec_path() -> std::io::Result<PathBuf> {
    let out = std::process::Command::new("git")
        .arg("--exec-path")
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other("git --exec-path failed"));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn header(req: &Request<hyper::body::Incoming>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Answers Git smart-HTTP requests; for servers that bring their own transport (TLS, say).
/// [`serve`] is this handler on a plain TCP listener.
#[derive(Clone, Debug)]
pub struct GitHandler {
    cfg: Arc<GitServerConfig>,
    backend: Arc<PathBuf>,
}

impl GitHandler {
    /// A handler for the repositories under `cfg.root`; fails when git's `http-backend`
    /// cannot be found.
    pub fn new(cfg: GitServerConfig) -> std::io::Result<GitHandler> {
        let backend = git_exec_path()?.join("git-http-backend");
        if !backend.exists() {
            return Err(std::io::Error::other(format!(
                "{} not found (install git)",
                backend.display()
            )));
        }
        Ok(GitHandler {
            cfg: Arc::new(cfg),
            backend: Arc::new(backend),
        })
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Body> {
        handle(&self.cfg, &self.backend, req).await
    }
}

async fn handle(
    cfg: &GitServerConfig,
    backend: &Path,
    req: Request<hyper::body::Incoming>,
) -> Response<Body> {
    if let Some(expected) = &cfg.authorization
        && header(&req, "authorization") != *expected
    {
        let mut r = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
        r.headers_mut().insert(
            "www-authenticate",
            hyper::header::HeaderValue::from_static("Basic realm=\"git\""),
        );
        return r;
    }
    let path = req.uri().path().to_owned();
    if path.split('/').any(|s| s == "..") {
        return text(StatusCode::BAD_REQUEST, "bad path\n");
    }
    let env = [
        ("PATH_INFO", path),
        (
            "QUERY_STRING",
            req.uri().query().unwrap_or_default().to_owned(),
        ),
        ("REQUEST_METHOD", req.method().to_string()),
        ("CONTENT_TYPE", header(&req, "content-type")),
        ("HTTP_CONTENT_ENCODING", header(&req, "content-encoding")),
        ("GIT_PROTOCOL", header(&req, "git-protocol")),
    ];
    let body = match http_body_util::Limited::new(req.into_body(), MAX_REQUEST)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n"),
    };
    let mut cmd = tokio::process::Command::new(backend);
    cmd.env_clear()
        .env("GIT_PROJECT_ROOT", &cfg.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REMOTE_USER", "gitops")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "git http-backend did not start");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "git http-backend failed\n",
            );
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        tokio::spawn(async move {
            let _ = stdin.write_all(&body).await;
        });
    }
    let Some(stdout) = child.stdout.take() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "git http-backend failed\n",
        );
    };
    let mut reader = BufReader::new(stdout);
    let mut resp_status = StatusCode::OK;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) => return text(StatusCode::INTERNAL_SERVER_ERROR, "bad CGI output\n"),
            Ok(_) => {}
            Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "bad CGI output\n"),
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("status") {
            resp_status = v
                .split(' ')
                .next()
                .and_then(|c| c.parse::<u16>().ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        } else {
            headers.push((k.to_owned(), v.to_owned()));
        }
    }
    // The rest of stdout is the body, streamed as the backend writes it; the child is
    // reaped when the stream ends.
    let stream = futures::stream::unfold(Some((reader, child)), |state| async move {
        let (mut reader, mut child) = state?;
        let mut buf = vec![0u8; 64 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => {
                let _ = child.wait().await;
                None
            }
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), Some((reader, child))))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *r.status_mut() = resp_status;
    for (k, v) in headers {
        if let (Ok(name), Ok(val)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(&v),
        ) {
            r.headers_mut().append(name, val);
        }
    }
    r
}

/// Serves the repositories under `cfg.root` on `listener` until `shutdown` resolves.
/// Fails only when git's `http-backend` cannot be found.
pub async fn serve(
    cfg: GitServerConfig,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let handler = GitHandler::new(cfg)?;
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "git server: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler.handle(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[tokio::test]
    async fn clone_over_smart_http_with_and_without_auth() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        // Enough content for a multi-chunk pack.
        for i in 0..50 {
            let data: String = (0..4000)
                .map(|j| ((i * 7 + j) % 26) as u8 as char)
                .collect();
            std::fs::write(repo.join(format!("f{i}.txt")), data).unwrap();
        }
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-qm", "one"]);
        let head = git(&repo, &["rev-parse", "HEAD"]);
        for auth in [None, Some(("u", "p"))] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            use base64::Engine;
            let cfg = GitServerConfig {
                root: root.path().to_path_buf(),
                authorization: auth.map(|(u, p)| {
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                    )
                }),
            };
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(serve(cfg, listener, async {
                let _ = rx.await;
            }));
            let dest = tempfile::tempdir().unwrap();
            let url = match auth {
                None => format!("http://{addr}/repo"),
                Some((u, p)) => format!("http://{u}:{p}@{addr}/repo"),
            };
            let d = dest.path().to_path_buf();
            let u = url.clone();
            let cloned = tokio::task::spawn_blocking(move || {
                git(&d, &["clone", "-q", &u, "c"]);
                git(&d.join("c"), &["rev-parse", "HEAD"])
            })
            .await
            .unwrap();
            assert_eq!(cloned, head);
            if auth.is_some() {
                let d = dest.path().to_path_buf();
                let bad = format!("http://{addr}/repo");
                let out = tokio::task::spawn_blocking(move || {
                    std::process::Command::new("git")
                        .arg("-C")
                        .arg(&d)
                        .args(["ls-remote", &bad])
                        .env("GIT_TERMINAL_PROMPT", "0")
                        .output()
                        .unwrap()
                })
                .await
                .unwrap();
                assert!(!out.status.success(), "no credentials must be refused");
            }
            let _ = tx.send(());
            server.await.unwrap().unwrap();
        }
    }
}
