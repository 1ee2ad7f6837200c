//! A minimal W3C WebDriver client over reqwest, for the dashboard's browser tests: the few
//! commands they use (new session, navigate, find, text, click, type, screenshot, quit).
//!
//! Why not a WebDriver crate: `fantoccini` pulls in `webdriver` and ICU, whose features change
//! those of crates wasmtime shares, so `cargo test` would build a second wasmtime beside the
//! one `cargo run` builds (issue 19 wants one build for both README commands).

use base64::Engine as _;
use serde_json::{Value, json};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session of a WebDriver server.
pub(crate) struct Session {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    base: String,
}

impl Session {
    /// Opens a session on the driver at `driver` (`http://127.0.0.1:PORT`) with `capabilities`.
    pub(crate) async fn new(driver: &str, capabilities: Value) -> Result<Self, String> {
        let http = reqwest::Client::new();
        let body = json!({"capabilities": {"alwaysMatch": capabilities}});
        let answer = send(http.post(format!("{driver}/session")).json(&body)).await?;
        let id = answer["sessionId"]
            .as_str()
            .ok_or(format!("no session id: {answer}"))?;
        Ok(Self {
            base: format!("{driver}/session/{id}"),
            http,
        })
    }

    pub(crate) async fn goto(&self, url: &str) -> Result<(), String> {
        self.post("/url", json!({"url": url})).await.map(drop)
    }

    /// The element matching `css`.
    pub(crate) async fn find(&self, css: &str) -> Result<String, String> {
        let body = json!({"using": "css selector", "value": css});
        let found = self.post("/element", body).await?;
        let id = found[ELEMENT]
            .as_str()
            .ok_or(format!("no element {css}: {found}"))?;
        Ok(id.to_owned())
    }

    pub(crate) async fn text(&self, element: &str) -> Result<String, String> {
        let text = send(
            self.http
                .get(format!("{}/element/{element}/text", self.base)),
        )
        .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    pub(crate) async fn click(&self, element: &str) -> Result<(), String> {
        self.post(&format!("/element/{element}/click"), json!({}))
            .await
            .map(drop)
    }

    pub(crate) async fn type_text(&self, element: &str, text: &str) -> Result<(), String> {
        let body = json!({"text": text});
        self.post(&format!("/element/{element}/value"), body)
            .await
            .map(drop)
    }

    /// A PNG of the viewport.
    pub(crate) async fn screenshot(&self) -> Result<Vec<u8>, String> {
        let png = send(self.http.get(format!("{}/screenshot", self.base))).await?;
        let png = png.as_str().unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(png)
            .map_err(|e| e.to_string())
    }

    pub(crate) async fn quit(&self) {
        let _ = send(self.http.delete(&self.base)).await;
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        send(self.http.post(format!("{}{path}", self.base)).json(&body)).await
    }
}

/// Sends a command; its `value`, or the driver's error.
async fn send(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let answer = request.send().await.map_err(|e| e.to_string())?;
    let json: Value = answer.json().await.map_err(|e| e.to_string())?;
    let value = json.get("value").cloned().unwrap_or(Value::Null);
    match value.get("error") {
        Some(error) => Err(format!("{error}: {}", value["message"])),
        None => Ok(value),
    }
}
