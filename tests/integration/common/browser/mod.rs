//! Headless Chromium driven through chromedriver (WebDriver), for tests of
//! the pages the admin listener serves.
//!
//! ```ignore
//! let browser = Browser::start().await;
//! browser.goto(&format!("http://{admin}/")).await;
//! browser.fill("input[name=token]", "secret").await;
//! browser.submit("form#login").await;
//! assert_eq!(browser.text_of("h1").await, "Console");
//! browser.screenshot(dir.join("console.png")).await;
//! browser.close().await;
//! ```
//!
//! Each `Browser` runs its own chromedriver on a free port, with `TMPDIR`
//! pointing into a directory of its own, where Chromium's profile goes. On
//! drop, chromedriver and Chromium are killed (Chromium outlives a killed
//! chromedriver otherwise) and the directory removed; `close` ends the
//! session properly first. Both run in the test's process group, so the
//! test runner's clean-up after a timeout reaches them too.
//!
//! Chromium and chromedriver come from Debian (`scripts/install-deps.sh
//! chromium`); a test that needs them fails, saying so, when they are
//! missing.

mod driver;

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};
use serde_json::Value;

use driver::{Driver, connect_session, free_addr};

/// How long the element helpers wait for an element to appear.
const ELEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a click or a submission may take to load the next page.
const PAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Free ports are picked, then released before chromedriver binds them:
/// another process may take one in between.
const START_ATTEMPTS: usize = 3;

/// A headless Chromium session, with the chromedriver it runs under.
pub struct Browser {
    client: Client,
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a 1280x900 window
    /// (its viewport, which screenshots show, is 1280 wide and a little
    /// less high). Panics, with chromedriver's output, if either does not
    /// come up.
    pub async fn start() -> Browser {
        for attempt in 1..=START_ATTEMPTS {
            let addr = free_addr();
            let mut driver = Driver::spawn(addr);
            if let Err(why) = driver.wait_ready(addr).await {
                if attempt < START_ATTEMPTS && why.contains("exited") {
                    continue;
                }
                panic!("chromedriver on {addr} {why}\n{}", driver.log());
            }
            let client = connect_session(addr, &driver).await;
            return Browser { client, driver };
        }
        unreachable!("the last attempt panics")
    }

    /// The fantoccini client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `url` and waits until the page has loaded.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("browser: go to {url}: {e}"));
    }

    /// The address of the page shown now (after redirects).
    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("browser: current URL: {e}"))
            .to_string()
    }

    /// The rendered text of the first element matching `css`, waiting up
    /// to 10 s for it to appear (and looking again if a script replaces
    /// it meanwhile).
    pub async fn text_of(&self, css: &str) -> String {
        let deadline = Instant::now() + ELEMENT_TIMEOUT;
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => panic!("browser: text of {css:?}: {e}"),
            }
        }
    }

    /// The rendered texts of every element matching `css` (none: empty),
    /// in document order.
    pub async fn texts_of(&self, css: &str) -> Vec<String> {
        let deadline = Instant::now() + ELEMENT_TIMEOUT;
        loop {
            match self.try_texts_of(css).await {
                Ok(texts) => return texts,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => panic!("browser: texts of {css:?}: {e}"),
            }
        }
    }

    /// Whether an element matches `css` now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        let found = self.client.find_all(Locator::Css(css)).await;
        !found
            .unwrap_or_else(|e| panic!("browser: find all {css:?}: {e}"))
            .is_empty()
    }

    /// Clicks the first element matching `css` (a link, a submit button),
    /// waiting for it to appear, then waits until the page it leads to has
    /// loaded. A control that stays on the page: `click_in_page`.
    pub async fn click(&self, css: &str) {
        self.mark_page().await;
        self.click_in_page(css).await;
        self.wait_new_page(&format!("click {css:?}")).await;
    }

    /// Clicks the first element matching `css`, waiting for it to appear,
    /// and does not wait for a new page: for controls a script handles.
    pub async fn click_in_page(&self, css: &str) {
        let element = self.find(css).await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("browser: click {css:?}: {e}"));
    }

    /// Replaces the value of the form field matching `css` by typing
    /// `value` into it.
    pub async fn fill(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("browser: clear {css:?}: {e}"));
        element
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("browser: type into {css:?}: {e}"));
    }

    /// Submits the form matching `form_css` by clicking its first submit
    /// button, as a user would, and waits until the page it leads to has
    /// loaded.
    pub async fn submit(&self, form_css: &str) {
        self.find(form_css).await;
        let form = self
            .client
            .form(Locator::Css(form_css))
            .await
            .unwrap_or_else(|e| panic!("browser: form {form_css:?}: {e}"));
        self.mark_page().await;
        form.submit()
            .await
            .unwrap_or_else(|e| panic!("browser: submit {form_css:?} (no submit button?): {e}"));
        self.wait_new_page(&format!("submit {form_css:?}")).await;
    }

    /// The names of the cookies the current page's site has set, sorted.
    pub async fn cookie_names(&self) -> Vec<String> {
        let cookies = self
            .client
            .get_all_cookies()
            .await
            .unwrap_or_else(|e| panic!("browser: cookies: {e}"));
        let mut names: Vec<String> = cookies.iter().map(|c| c.name().to_string()).collect();
        names.sort();
        names
    }

    /// Writes a PNG of the visible page to `path`, creating its directory.
    pub async fn screenshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("browser: screenshot: {e}"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Ends the session (Chromium quits and chromedriver removes its
    /// profile), then stops chromedriver.
    pub async fn close(self) {
        let Browser { client, driver } = self;
        let closed = tokio::time::timeout(Duration::from_secs(20), client.close()).await;
        match closed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("browser: close the session: {e}"),
            Err(_) => panic!("browser: the session did not close within 20 s"),
        }
        drop(driver);
    }

    /// The texts of the elements matching `css`, or the first error.
    async fn try_texts_of(&self, css: &str) -> Result<Vec<String>, CmdError> {
        let mut texts = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await? {
            texts.push(element.text().await?);
        }
        Ok(texts)
    }

    /// Marks the document shown now, so that `wait_new_page` can tell it
    /// from the next one (a click does not always wait for the navigation
    /// it starts).
    async fn mark_page(&self) {
        self.client
            .execute("window.__softdelOldPage = true;", vec![])
            .await
            .unwrap_or_else(|e| panic!("browser: mark the page: {e}"));
    }

    /// Waits until the marked document is gone and the next one has
    /// loaded.
    async fn wait_new_page(&self, what: &str) {
        const STATE: &str =
            "return window.__softdelOldPage === true ? 'old page' : document.readyState;";
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            // Errors are expected while the documents change places.
            let state = match self.client.execute(STATE, vec![]).await {
                Ok(Value::String(state)) if state == "complete" => return,
                Ok(other) => other.to_string(),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                panic!("browser: {what}: no new page after {PAGE_TIMEOUT:?} (last: {state})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first element matching `css`, waiting for it to appear.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(ELEMENT_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| {
                panic!("browser: no element matches {css:?} (waited {ELEMENT_TIMEOUT:?}): {e}")
            })
    }
}
