//! A small Chrome DevTools Protocol driver for the dashboard's browser
//! test: it starts Debian's `chromium` headless, attaches to one page over
//! the DevTools WebSocket, and offers navigate / evaluate / wait / screenshot.
//!
//! Why hand-written and not `chromiumoxide` (the maintained CDP client):
//! the test needs four commands (navigate, evaluate, wait, screenshot) over
//! the tokio-tungstenite dialback already builds, while chromiumoxide 0.8
//! adds 20 crates, among them a second tungstenite and a second reqwest,
//! and 109k lines of generated protocol types (`chromiumoxide_cdp`, 3.5 min
//! alone to compile on this shared 2-core machine; the whole dialback crate
//! is 38k lines). Waiting here stays a loop of its own: each check and the
//! failure message use this one `&mut` connection.
//!
//! A missing chromium FAILS the test with the command that installs it
//! (`scripts/test` runs that command): a skipped browser test would pass
//! without ever drawing the dashboard.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Browser {
    child: Child,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// The chromium program: `$CHROMIUM`, else `chromium` on the PATH.
fn program() -> String {
    let name = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_owned());
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name}` is not installed, so the dashboard's browser test cannot run. \
         Install it with `apt-get install -y chromium` (scripts/test does), \
         or point CHROMIUM at a Chromium binary."
    );
    name
}

impl Browser {
    pub async fn launch() -> Browser {
        let profile = tempfile::tempdir().expect("a temporary profile folder");
        let mut child = Command::new(program())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1200,1600",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--remote-debugging-port=0")
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium starts");
        let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let mut seen = Vec::new();
        let url = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return Some(url.trim().to_owned());
                }
                seen.push(line);
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "chromium did not print its DevTools address; its stderr:\n{}",
                seen.join("\n")
            )
        });
        // Keep reading stderr so chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect to chromium's DevTools socket");
        let mut browser = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            _profile: profile,
        };
        let target = browser
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = browser
            .call(
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await;
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser.call("Page.enable", json!({})).await;
        browser.call("Runtime.enable", json!({})).await;
        browser
    }

    /// Sends one command (to the page once attached) and returns its result;
    /// events in between are dropped.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .await
            .unwrap_or_else(|err| panic!("{method} failed: {err}"))
    }

    /// Like `call`, but hands back the protocol's error object instead of
    /// failing: some errors are expected while a page is being replaced.
    async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .expect("send to chromium");
        let reply = tokio::time::timeout(CALL_TIMEOUT, async {
            while let Some(Ok(m)) = self.ws.next().await {
                let Message::Text(text) = m else { continue };
                let v: Value = serde_json::from_str(text.as_str()).expect("CDP sends JSON");
                if v["id"].as_u64() == Some(id) {
                    return Some(v);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("chromium did not answer {method}"));
        match reply.get("error") {
            Some(err) => Err(err.clone()),
            None => Ok(reply["result"].clone()),
        }
    }

    /// Evaluates JavaScript in the page and returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let r = self.call("Runtime.evaluate", evaluate(expression)).await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression} threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Waits until `condition` (JavaScript) is true in the page: after a
    /// navigation or a form submission, the new document has loaded.
    pub async fn wait_for(&mut self, condition: &str) {
        let check = format!(
            "(() => {{ try {{ return document.readyState === 'complete' && !!({condition}); }} catch (e) {{ return false; }} }})()"
        );
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        while self.eval_during_navigation(&check).await != Some(json!(true)) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the page never satisfied {condition}; it shows:\n{}",
                self.eval("document.body ? document.body.innerText : ''")
                    .await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Evaluates `expression`, or gives `None` when the page was being
    /// replaced at that moment. After a form `submit()` the old document can
    /// go away while Chromium is evaluating in it; it then answers with a
    /// server error (-32000: "Inspected target navigated or closed",
    /// "Execution context was destroyed", "Cannot find context with specified
    /// id"), which only means "ask again". Any other error is a real failure.
    async fn eval_during_navigation(&mut self, expression: &str) -> Option<Value> {
        match self
            .try_call("Runtime.evaluate", evaluate(expression))
            .await
        {
            Ok(r) => Some(r["result"]["value"].clone()),
            Err(err) if err["code"] == json!(-32000) => None,
            Err(err) => panic!("Runtime.evaluate failed: {err}"),
        }
    }

    /// Runs JavaScript that starts a navigation (a form's `submit()`), then
    /// waits until `until` holds in the new page. The script's own answer
    /// may be lost to the navigation it started, which is not a failure.
    pub async fn submit(&mut self, script: &str, until: &str) {
        self.eval_during_navigation(script).await;
        self.wait_for(until).await;
    }

    pub async fn navigate(&mut self, url: &str, until: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_for(until).await;
    }

    /// A PNG of the page as drawn, written to `path`; returns its bytes.
    pub async fn screenshot(&mut self, path: &Path) -> Vec<u8> {
        let r = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        std::fs::write(path, &png).expect("write the screenshot");
        png
    }

    pub async fn close(mut self) {
        // Browser-level, so without the page's session; the socket closes
        // before any answer, so none is awaited.
        let msg = json!({"id": self.next_id + 1, "method": "Browser.close"});
        let _ = self.ws.send(Message::text(msg.to_string())).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

/// `Runtime.evaluate`'s parameters: the value itself, promises awaited.
fn evaluate(expression: &str) -> Value {
    json!({"expression": expression, "returnByValue": true, "awaitPromise": true})
}
