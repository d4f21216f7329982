//! A small HTTP/1.1 server for the endpoints controllers serve (metrics and probes, the
//! notification controller's event and webhook receivers): one task per connection, each
//! request answered by a handler, request bodies read with a size limit.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The answer type of handlers.
pub type HttpResponse = Response<Full<Bytes>>;

/// Longest time to read the request headers (as Flux's servers: 10 s).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `listener` until the task is dropped: each request goes to `handler`.
pub fn serve<H, F>(listener: tokio::net::TcpListener, handler: H) -> tokio::task::JoinHandle<()>
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .max_buf_size(256 * 1024)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

/// A response with `status` and a plain-text `body`.
pub fn text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    let mut r = Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit (answer 413).
    TooLarge,
    /// The connection failed while reading (answer 400).
    Read,
}

impl BodyError {
    /// The answer for this error.
    pub fn response(self, limit: usize) -> HttpResponse {
        match self {
            BodyError::TooLarge => text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body exceeds the maximum size of {limit} bytes"),
            ),
            BodyError::Read => text(StatusCode::BAD_REQUEST, "reading the request body failed"),
        }
    }
}

/// Reads the whole body of `req`, at most `limit` bytes.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(BodyError::TooLarge)
        }
        Err(_) => Err(BodyError::Read),
    }
}
