//! `nats`: the event's JSON published on the subject `channel`, over a minimal client of
//! NATS' text protocol (`INFO`, `CONNECT`, `PUB`, then `PING` until `PONG` so the server
//! has processed the message, or `-ERR` tells why not).
//!
//! Supported: plain TCP (`nats://host[:port]`, `host[:port]`, comma-separated server
//! lists tried in order), username/password (the provider's, else the URL's user info)
//! and tokens in the URL (`nats://token@host`). Not supported: TLS, user credentials
//! files (`creds`) and NKeys (`nkey`), which need ed25519 signing.

use super::{ProviderConfig, ProviderError};
use gitops_api::event::Event;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

const DEFAULT_PORT: u16 = 4222;
/// The longest protocol line read from the server.
const MAX_LINE: usize = 64 << 10;

/// One server of the address.
#[derive(Debug, PartialEq)]
struct Server {
    /// `host:port`.
    addr: String,
    user: Option<String>,
    pass: Option<String>,
    token: Option<String>,
}

fn servers(address: &str) -> Result<Vec<Server>, ProviderError> {
    let mut out = Vec::new();
    for part in address.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let url = if part.contains("://") {
            part.to_owned()
        } else {
            format!("nats://{part}")
        };
        let u = reqwest::Url::parse(&url)
            .map_err(|_| ProviderError::new("invalid NATS server address"))?;
        match u.scheme() {
            "nats" => {}
            "tls" | "wss" | "ws" => {
                return Err(ProviderError(format!(
                    "NATS '{}://' connections are not supported (plain nats:// only)",
                    u.scheme()
                )));
            }
            other => {
                return Err(ProviderError(format!(
                    "unsupported NATS URL scheme '{other}'"
                )));
            }
        }
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| ProviderError::new("invalid NATS server address: no host"))?;
        let port = u.port().unwrap_or(DEFAULT_PORT);
        let (user, pass, token) = match (u.username(), u.password()) {
            ("", _) => (None, None, None),
            (user, Some(pass)) => (Some(percent_decode(user)), Some(percent_decode(pass)), None),
            (token, None) => (None, None, Some(percent_decode(token))),
        };
        out.push(Server {
            addr: format!("{host}:{port}"),
            user,
            pass,
            token,
        });
    }
    if out.is_empty() {
        return Err(ProviderError::new("NATS server (address) cannot be empty"));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 3 <= bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The checks of Flux's `NewNATS`, plus what this client cannot do.
pub(super) fn check(cfg: &ProviderConfig) -> Result<(), ProviderError> {
    if cfg.address.trim().is_empty() {
        return Err(ProviderError::new("NATS server (address) cannot be empty"));
    }
    if cfg.channel.is_empty() {
        return Err(ProviderError::new("NATS subject (channel) cannot be empty"));
    }
    if cfg.channel.chars().any(|c| c.is_whitespace()) {
        return Err(ProviderError::new(
            "invalid NATS subject (channel): it must not contain whitespace",
        ));
    }
    for key in ["creds", "nkey"] {
        if cfg.secret_data.get(key).is_some_and(|v| !v.is_empty()) {
            return Err(ProviderError(format!(
                "NATS '{key}' authentication is not supported, use username and password"
            )));
        }
    }
    servers(&cfg.address).map(drop)
}

/// Publishes the event, trying the address's servers in order.
pub(super) async fn send(
    cfg: &ProviderConfig,
    event: &Event,
    deadline: Instant,
) -> Result<(), ProviderError> {
    let payload = serde_json::to_vec(event)
        .map_err(|e| ProviderError(format!("error json-marshaling event: {e}")))?;
    let mut last = ProviderError::new("no NATS server");
    for server in servers(&cfg.address)? {
        match tokio::time::timeout_at(deadline, publish(&server, cfg, &payload)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = e,
            Err(_) => last = ProviderError(format!("{}: timed out", server.addr)),
        }
    }
    Err(ProviderError(format!(
        "error publishing event to subject {}: {last}",
        cfg.channel
    )))
}

async fn publish(
    server: &Server,
    cfg: &ProviderConfig,
    payload: &[u8],
) -> Result<(), ProviderError> {
    let at = |e: String| ProviderError(format!("{}: {e}", server.addr));
    let stream = TcpStream::connect(&server.addr)
        .await
        .map_err(|e| at(format!("error connecting to server: {e}")))?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);

    let greeting = read_line(&mut r).await.map_err(at)?;
    let info = greeting
        .strip_prefix("INFO")
        .ok_or_else(|| at("unexpected greeting from the server".to_owned()))?;
    let info: Value = serde_json::from_str(info.trim()).unwrap_or(Value::Null);
    if info.get("tls_required").and_then(Value::as_bool) == Some(true) {
        return Err(at(
            "the server requires TLS, which is not supported".to_owned()
        ));
    }
    if let Some(max) = info.get("max_payload").and_then(Value::as_u64)
        && payload.len() as u64 > max
    {
        return Err(at(format!(
            "maximum payload exceeded ({} > {max} bytes)",
            payload.len()
        )));
    }

    let mut connect = json!({
        "verbose": false,
        "pedantic": false,
        "tls_required": false,
        "name": "NATS Provider Publisher",
        "lang": "rust",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": 1,
        "echo": true,
    });
    if !cfg.username.is_empty() && !cfg.password.is_empty() {
        connect["user"] = json!(cfg.username);
        connect["pass"] = json!(cfg.password);
    } else if let (Some(u), Some(p)) = (&server.user, &server.pass) {
        connect["user"] = json!(u);
        connect["pass"] = json!(p);
    } else if let Some(t) = &server.token {
        connect["auth_token"] = json!(t);
    }
    let mut out = format!(
        "CONNECT {connect}\r\nPUB {} {}\r\n",
        cfg.channel,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\nPING\r\n");
    let io = |e: std::io::Error| at(format!("error publishing message to server: {e}"));
    w.write_all(&out).await.map_err(io)?;
    w.flush().await.map_err(io)?;

    loop {
        let line = read_line(&mut r).await.map_err(at)?;
        let op = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match op.as_str() {
            "PONG" => return Ok(()),
            "PING" => {
                w.write_all(b"PONG\r\n").await.map_err(io)?;
            }
            "+OK" | "INFO" | "" => {}
            "-ERR" => {
                let why = line
                    .trim_start()
                    .get(4..)
                    .unwrap_or("")
                    .trim()
                    .trim_matches('\'');
                return Err(at(format!("error publishing message to server: {why}")));
            }
            _ => {
                return Err(at("unexpected message from the server".to_owned()));
            }
        }
    }
}

/// One `\r\n`-terminated protocol line (without the terminator).
async fn read_line<R: tokio::io::AsyncRead + Unpin>(
    r: &mut BufReader<R>,
) -> Result<String, String> {
    let mut buf = Vec::new();
    loop {
        let chunk = r
            .fill_buf()
            .await
            .map_err(|e| format!("reading from the server: {e}"))?;
        if chunk.is_empty() {
            return Err("connection closed by the server".to_owned());
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                buf.extend_from_slice(&chunk[..i]);
                r.consume(i + 1);
                break;
            }
            None => {
                let n = chunk.len();
                buf.extend_from_slice(chunk);
                r.consume(n);
            }
        }
        if buf.len() > MAX_LINE {
            return Err("protocol line too long".to_owned());
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_lists() {
        let s = servers("nats://a:1, b ,nats://u:p%40ss@c,nats://tok@d:5").unwrap();
        assert_eq!(s[0].addr, "a:1");
        assert_eq!(s[1].addr, "b:4222");
        assert_eq!(
            (s[2].user.as_deref(), s[2].pass.as_deref()),
            (Some("u"), Some("p@ss"))
        );
        assert_eq!(s[3].token.as_deref(), Some("tok"));
        assert!(servers("tls://a:1").is_err());
        assert!(servers(" , ").is_err());
    }
}
