//! A local HTTP/1.1 server for provider tests: records every request (method, URI,
//! headers, body) and answers with what a handler returns.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::net::TcpListener;

/// One request the server received.
#[derive(Clone, Debug)]
pub(super) struct Captured {
    pub method: String,
    /// The request target as sent (absolute through a proxy).
    pub uri: String,
    /// The path, percent-encoding kept.
    pub path: String,
    /// The query string (empty if none).
    pub query: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Captured {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// A header's value, empty if absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or("")
    }

    /// `path?query`.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }
}

/// An answer: status, headers, body.
pub(super) type Answer = (u16, Vec<(&'static str, String)>, String);

type Handler = Arc<dyn Fn(&Captured, usize) -> Answer + Send + Sync>;

/// The running server; stops when dropped.
pub(super) struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    captured: Arc<Mutex<Vec<Captured>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Starts a server answering each request with `handler(request, index)`.
    pub async fn start(
        handler: impl Fn(&Captured, usize) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let captured: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let handler: Handler = Arc::new(handler);
        let store = captured.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                let handler = handler.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let store = store.clone();
                        let handler = handler.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let headers = parts
                                .headers
                                .iter()
                                .map(|(k, v)| {
                                    (
                                        k.as_str().to_ascii_lowercase(),
                                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                    )
                                })
                                .collect();
                            let c = Captured {
                                method: parts.method.to_string(),
                                uri: parts.uri.to_string(),
                                path: parts.uri.path().to_owned(),
                                query: parts.uri.query().unwrap_or("").to_owned(),
                                headers,
                                body,
                            };
                            let index = {
                                let mut s = store.lock();
                                s.push(c.clone());
                                s.len() - 1
                            };
                            let (status, headers, body) = handler(&c, index);
                            let mut resp = Response::builder().status(status);
                            for (k, v) in headers {
                                resp = resp.header(k, v);
                            }
                            Ok::<_, std::convert::Infallible>(
                                resp.body(Full::new(Bytes::from(body))).expect("response"),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TestServer {
            url,
            captured,
            task,
        }
    }

    /// A server answering every request `status` with `body`.
    pub async fn answering(status: u16, body: &str) -> Self {
        let body = body.to_owned();
        Self::start(move |_, _| (status, vec![], body.clone())).await
    }

    /// A server answering 200 `{}`.
    pub async fn ok() -> Self {
        Self::answering(200, "{}").await
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Captured> {
        self.captured.lock().clone()
    }

    /// The only request received.
    pub fn single(&self) -> Captured {
        let r = self.requests();
        assert_eq!(r.len(), 1, "expected one request, got {r:#?}");
        r.into_iter().next().expect("one request")
    }
}
