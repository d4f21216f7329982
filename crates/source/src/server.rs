//! The artifact HTTP file server: `GET`/`HEAD /<kind>/<namespace>/<name>/<file>` from the
//! storage root, streamed in chunks. Nothing else is served: no listings, no paths outside
//! the root.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, std::io::Error>;

fn text(status: StatusCode, msg: &str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(msg.to_owned()))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r
}

async fn handle(root: Arc<PathBuf>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    let raw = req.uri().path().trim_start_matches('/');
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let Ok(rel) = crate::archive::safe_relative_path(&decoded) else {
        return text(StatusCode::BAD_REQUEST, "bad path\n");
    };
    if rel.as_os_str().is_empty() {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    let path = root.join(rel);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => return text(StatusCode::NOT_FOUND, "not found\n"),
    };
    let md = match file.metadata().await {
        Ok(m) if m.is_file() => m,
        _ => return text(StatusCode::NOT_FOUND, "not found\n"),
    };
    let len = md.len();
    let content_type = if decoded.ends_with(".yaml") {
        "application/x-yaml"
    } else if decoded.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    };
    let body: Body = if req.method() == Method::HEAD {
        Full::new(Bytes::new())
            .map_err(|never: Infallible| match never {})
            .boxed()
    } else {
        let stream = futures::stream::unfold(Some(file), |state| async move {
            let mut f = state?;
            let mut buf = vec![0u8; 64 * 1024];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Frame::data(Bytes::from(buf))), Some(f)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        BodyExt::boxed(StreamBody::new(stream))
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(hyper::header::CONTENT_LENGTH, len.into());
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

/// Serves the files under `root` on `listener` until `shutdown` resolves.
pub async fn serve(
    root: PathBuf,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let root = Arc::new(root);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "artifact server: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let root = root.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let root = root.clone();
                async move { Ok::<_, Infallible>(handle(root, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
