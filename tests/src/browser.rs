//! A real browser for end-to-end tests of the transparency pages: headless Chromium (Debian's
//! `chromium` package; `scripts/test` installs it) driven over the Chrome DevTools Protocol.
//! Tests read what a person would read (the rendered text), at a phone's width, and move
//! through the page with the keyboard. [`Browser::launch`] says why when no browser can run,
//! so the test can skip with that message.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::WebSocket;

/// How long one protocol command or page load may take.
const STEP: Duration = Duration::from_secs(30);

/// A running headless Chromium with one page.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// The browser's executable, if installed.
fn executable() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| PathBuf::from(dir).join(name))
                .find(|p| p.is_file())
        })
}

impl Browser {
    /// Starts Chromium headless with an empty profile and opens one page; `Err` says why not
    /// (not installed, cannot start here).
    pub fn launch() -> Result<Browser, String> {
        let exe = executable().ok_or(
            "chromium is not installed (scripts/test installs it: apt-get install chromium)",
        )?;
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let child = Command::new(&exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--mute-audio",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let mut browser = Browser {
            child,
            ws: Self::connect(&profile.path().join("DevToolsActivePort"))?,
            session: String::new(),
            next_id: 0,
            _profile: profile,
        };
        let target = browser.call_browser("Target.createTarget", json!({"url": "about:blank"}))?;
        let target = target["targetId"]
            .as_str()
            .ok_or("no target id")?
            .to_string();
        let attached = browser.call_browser(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        )?;
        browser.session = attached["sessionId"]
            .as_str()
            .ok_or("no session id")?
            .to_string();
        browser.call("Page.enable", json!({}))?;
        Ok(browser)
    }

    /// Waits for Chromium to write its DevTools port, then opens the protocol's websocket.
    fn connect(port_file: &std::path::Path) -> Result<WebSocket<TcpStream>, String> {
        let deadline = Instant::now() + STEP;
        let text = loop {
            match std::fs::read_to_string(port_file) {
                Ok(t) if t.lines().count() >= 2 => break t,
                _ if Instant::now() > deadline => {
                    return Err("chromium did not open its DevTools port within 30 s".into());
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let mut lines = text.lines();
        let port = lines.next().unwrap_or_default().trim();
        let path = lines.next().unwrap_or_default().trim();
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| e.to_string())?;
        let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .map_err(|e| format!("DevTools handshake: {e}"))?;
        Ok(ws)
    }

    fn send(
        &mut self,
        session: Option<String>,
        method: &str,
        params: Value,
    ) -> Result<u64, String> {
        self.next_id += 1;
        let mut message = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        self.ws
            .send(tungstenite::Message::text(message.to_string()))
            .map_err(|e| format!("{method}: {e}"))?;
        Ok(self.next_id)
    }

    /// The next message, or `None` after the read time-out.
    fn receive(&mut self) -> Result<Option<Value>, String> {
        match self.ws.read() {
            Ok(tungstenite::Message::Text(text)) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| e.to_string()),
            Ok(_) => Ok(None),
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                Ok(None)
            }
            Err(e) => Err(format!("DevTools connection: {e}")),
        }
    }

    /// Waits for the answer to command `id` (events meanwhile are dropped unless `event` names
    /// one to wait for as well: then both must have arrived).
    fn wait(&mut self, id: u64, event: Option<&str>) -> Result<Value, String> {
        let deadline = Instant::now() + STEP;
        let mut answer = None;
        let mut seen = event.is_none();
        while answer.is_none() || !seen {
            if Instant::now() > deadline {
                return Err(format!("no answer from chromium within {STEP:?}"));
            }
            let Some(message) = self.receive()? else {
                continue;
            };
            if message["id"].as_u64() == Some(id) {
                if let Some(error) = message.get("error") {
                    return Err(format!("chromium refused: {error}"));
                }
                answer = Some(message["result"].clone());
            } else if event.is_some() && message["method"].as_str() == event {
                seen = true;
            }
        }
        answer.ok_or_else(|| "no answer".into())
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.send(None, method, params)?;
        self.wait(id, None)
    }

    /// A command to the page.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.send(Some(self.session.clone()), method, params)?;
        self.wait(id, None)
    }

    /// Sets the viewport (CSS pixels), as a phone (`mobile`) or a desktop.
    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) -> Result<(), String> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 2, "mobile": mobile}),
        )
        .map(drop)
    }

    /// Opens `url` and waits until it has loaded.
    pub fn open(&mut self, url: &str) -> Result<(), String> {
        let id = self.send(
            Some(self.session.clone()),
            "Page.navigate",
            json!({"url": url}),
        )?;
        let answer = self.wait(id, Some("Page.loadEventFired"))?;
        match answer.get("errorText") {
            Some(e) => Err(format!("cannot open {url}: {e}")),
            None => Ok(()),
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    pub fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("{expression}: {e}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// The text a person reads on the page (rendered, hidden parts left out).
    pub fn text(&mut self) -> Result<String, String> {
        Ok(self
            .eval("document.body.innerText")?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Saves a PNG of the whole page to `path`.
    pub fn screenshot(&mut self, path: &std::path::Path) -> Result<(), String> {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        )?;
        let data = shot["data"].as_str().ok_or("no screenshot data")?;
        let png = data_encoding::BASE64
            .decode(data.as_bytes())
            .map_err(|e| format!("screenshot: {e}"))?;
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Presses Tab and returns the text of the element that then has the keyboard focus.
    pub fn tab(&mut self) -> Result<String, String> {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9}),
            )?;
        }
        Ok(self
            .eval("document.activeElement ? document.activeElement.textContent.trim() : ''")?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
