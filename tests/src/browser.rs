//! A real browser for the console's tests: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver) with fantoccini. Each [`Chrome`] is its own browser profile, so two of them
//! are two people (an administrator, a user) with their own cookies.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use serde_json::json;

/// Where the screenshots of a test run go.
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

/// The built console the server serves, or why the browser tests cannot run.
pub fn console_dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../frontend/dist")
}

/// Whether the browser tests can run here; when they cannot and `LATCHKEY_REQUIRE_BROWSER=1`
/// (CI), that is a failure, otherwise a loud skip.
pub fn available() -> bool {
    crate::requirements_met(
        "browser tests",
        "LATCHKEY_REQUIRE_BROWSER",
        &[
            (std::path::Path::new("/usr/bin/chromedriver").exists(), "chromedriver (apt-get install chromium-driver)"),
            (std::path::Path::new("/usr/bin/chromium").exists(), "chromium (apt-get install chromium)"),
            (console_dist().join("index.html").exists(), "the built console (scripts/console)"),
        ],
    )
}

/// chromedriver on a free port, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        // Owned by a Driver at once, so a panic below still stops (and reaps) the process.
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
        for _ in 0..100 {
            if reqwest::get(format!("{}/status", driver.url)).await.is_ok_and(|r| r.status().is_success()) {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on {}", driver.url);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One headless Chromium with a fresh profile.
pub struct Chrome {
    pub client: Client,
    name: &'static str,
}

impl Chrome {
    pub async fn open(driver: &Driver, name: &'static str, width: u32) -> Self {
        // Two TLS back ends are linked into the tests; WebDriver's client uses aws-lc-rs.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let profile = std::env::temp_dir().join(format!("latchkey-chrome-{}", uuid::Uuid::new_v4()));
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            format!("--window-size={width},900"),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), json!({"binary": "/usr/bin/chromium", "args": args}));
        let client = ClientBuilder::rustls()
            .expect("a TLS setup")
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a browser session");
        Chrome { client, name }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("{}: cannot open {url}: {e}", self.name));
    }

    /// Waits (up to 15 s) for an element matching `css`. Any error counts as "not yet": while
    /// the page navigates (a redirect to the sign-in page), chromedriver answers a find with
    /// "aborted by navigation" rather than "no such element".
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_for_element(Locator::Css(css), css).await
    }

    /// Waits (up to 15 s) for a link whose text is `text`.
    pub async fn wait_for_link(&self, text: &str) -> Element {
        self.wait_for_element(Locator::LinkText(text), text).await
    }

    async fn wait_for_element(&self, locator: Locator<'_>, what: &str) -> Element {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let error = match self.client.find(locator).await {
                Ok(element) => return element,
                Err(e) => e,
            };
            if tokio::time::Instant::now() >= deadline {
                self.screenshot(&format!("failed-{}", what.replace(|c: char| !c.is_alphanumeric(), "_"))).await;
                let body = self.client.source().await.unwrap_or_default();
                panic!("{}: no element '{what}' within 15 s (last: {error}); the page was:\n{body}", self.name)
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (up to 15 s) until the page's text contains `text`.
    pub async fn wait_for_text(&self, text: &str) {
        for _ in 0..150 {
            if self.text().await.contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("failed-text").await;
        panic!("{}: the page never said '{text}'; it said:\n{}", self.name, self.text().await);
    }

    /// The text of the page's body.
    pub async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.map(|v| v.len()).unwrap_or(0)
    }

    /// Fills the sign-in page and submits it.
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.wait_for("#username").await.send_keys(username).await.unwrap();
        self.wait_for("#password").await.send_keys(password).await.unwrap();
        self.wait_for("#kc-login").await.click().await.unwrap();
    }

    /// Clicks the first button whose text is `label`.
    pub async fn click_button(&self, label: &str) {
        for _ in 0..150 {
            for button in self.client.find_all(Locator::Css("button")).await.unwrap_or_default() {
                if button.text().await.unwrap_or_default().trim() == label {
                    button.click().await.unwrap_or_else(|e| panic!("{}: clicking '{label}': {e}", self.name));
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("failed-button").await;
        panic!("{}: no button '{label}'; the page said:\n{}", self.name, self.text().await);
    }

    /// Saves a PNG of the page as `<name>.png` among the run's screenshots.
    pub async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(screenshot_dir().join(format!("{name}.png")), png);
        }
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
