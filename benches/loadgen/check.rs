//! The proof that answers were kept: a sample of finished calls read back
//! through dialback's admin API (`GET /api/calls/{CallSid}`, open to
//! loopback clients without a token), compared with what the caller sent.
//! A server that answers fast by dropping answers fails here.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// GET `path` on a fresh connection; the body when the status is 2xx.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> Result<Bytes, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let request = hyper::Request::get(path)
        .header("host", "127.0.0.1")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("GET {path}: HTTP {status}"));
    }
    Ok(body)
}

/// How many sampled calls were checked, and what was wrong with the others.
#[derive(Default)]
pub(crate) struct Checked {
    pub(crate) ok: usize,
    pub(crate) wrong: Vec<String>,
}

pub(crate) async fn answers(
    addr: SocketAddr,
    samples: &[(String, serde_json::Map<String, Value>)],
) -> Checked {
    let mut checked = Checked::default();
    for (sid, expected) in samples {
        let fetched = tokio::time::timeout(
            crate::caller::CHECK_TIMEOUT,
            get(addr, &format!("/api/calls/{sid}")),
        )
        .await
        .map_err(|_| "timed out".to_string())
        .and_then(|r| r);
        let call: Value = match fetched
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("not JSON: {e}")))
        {
            Ok(v) => v,
            Err(e) => {
                checked.wrong.push(format!("{sid}: {e}"));
                continue;
            }
        };
        let stored = call.get("answers").cloned().unwrap_or(Value::Null);
        match differences(expected, &stored) {
            None => checked.ok += 1,
            Some(why) => checked.wrong.push(format!("{sid}: {why}")),
        }
    }
    checked
}

/// Every answer sent must be stored as sent, and nothing else stored.
fn differences(expected: &serde_json::Map<String, Value>, stored: &Value) -> Option<String> {
    let Some(stored) = stored.as_object() else {
        return Some(format!("no answers object: {stored}"));
    };
    for (question, want) in expected {
        let got = stored.get(question);
        let same = match (want, got) {
            // A recording: its URL, length and sid as the provider sent them.
            (Value::Object(w), Some(Value::Object(g))) => {
                w.iter().all(|(k, v)| g.get(k) == Some(v))
            }
            (w, Some(g)) => w == g,
            (_, None) => false,
        };
        if !same {
            return Some(format!("{question}: sent {want}, stored {got:?}"));
        }
    }
    if let Some(extra) = stored.keys().find(|k| !expected.contains_key(*k)) {
        return Some(format!("an answer never given was stored: {extra}"));
    }
    None
}
