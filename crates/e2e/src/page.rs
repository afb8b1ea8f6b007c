//! A tab: going to a page, waiting for it, reading and doing what a person reads and does.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
#[allow(deprecated)]
use chromiumoxide::cdp::browser_protocol::network::EmulateNetworkConditionsParams;
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, CaptureScreenshotParams, GetLayoutMetricsParams, Viewport,
};
use chromiumoxide::cdp::browser_protocol::target::SetAutoAttachParams;
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::element::Element;
use serde::de::DeserializeOwned;

use crate::problems::{Problem, Problems};
use crate::screenshot;

/// How often [`Page::wait_until`] asks again.
const POLL: Duration = Duration::from_millis(50);

/// A cookie as the browser holds it, with the flags a test asserts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub domain: String,
    pub path: String,
    pub http_only: bool,
    pub secure: bool,
    /// `Strict`, `Lax` or `None`; absent when the server did not say.
    pub same_site: Option<String>,
    /// Whether it ends with the browser session (no `Expires` or `Max-Age`).
    pub session: bool,
}

/// One tab of a [`crate::Browser`], collecting its problems from the moment it opened.
#[derive(Debug)]
pub struct Page {
    inner: chromiumoxide::Page,
    problems: Problems,
}

impl Page {
    pub(crate) async fn open(browser: &chromiumoxide::Browser, url: &str) -> Result<Self> {
        let inner = browser
            .new_page("about:blank")
            .await
            .context("opening a tab")?;
        let problems = Problems::listen(&inner).await?;
        // chromiumoxide asks each tab to attach the debugger to the workers it starts and to
        // hold them until told to run; a service worker so held sometimes never runs ("Timed
        // out while trying to start the Service Worker"). Nothing here drives workers, so
        // they start unattached.
        inner
            .execute(
                SetAutoAttachParams::builder()
                    .auto_attach(false)
                    .wait_for_debugger_on_start(false)
                    .build()
                    .map_err(|e| anyhow!("{e}"))?,
            )
            .await
            .context("letting workers start on their own")?;
        let page = Self { inner, problems };
        page.goto(url).await?;
        Ok(page)
    }

    /// Goes to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.inner
            .goto(url)
            .await
            .with_context(|| format!("opening {url}"))?;
        Ok(())
    }

    /// The address the tab shows.
    pub async fn url(&self) -> Result<String> {
        self.inner
            .url()
            .await?
            .ok_or_else(|| anyhow!("the tab has no address"))
    }

    /// Evaluates a JavaScript expression in the page (awaiting it if it is a promise) and
    /// returns its value; `undefined` reads as JSON `null`.
    pub async fn eval<T: DeserializeOwned>(&self, js: &str) -> Result<T> {
        let params = EvaluateParams::builder()
            .expression(js)
            .await_promise(true)
            .return_by_value(true)
            .build()
            .map_err(|e| anyhow!("evaluating {js}: {e}"))?;
        let result = self
            .inner
            .evaluate_expression(params)
            .await
            .with_context(|| format!("evaluating {js}"))?;
        let value = result.value().cloned().unwrap_or(serde_json::Value::Null);
        serde_json::from_value(value).with_context(|| format!("reading the value of {js}"))
    }

    /// Waits until a JavaScript expression is truthy, asking every 50 ms. While the page
    /// navigates the expression may fail; that counts as not yet.
    pub async fn wait_until(&self, predicate: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let expression = format!("!!({predicate})");
        let mut last_error = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.eval::<bool>(&expression)).await {
                Ok(Ok(true)) => return Ok(()),
                Ok(Ok(false)) => last_error = None,
                Ok(Err(e)) => last_error = Some(e),
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                let why = last_error.map_or_else(String::new, |e| format!(" (last: {e:#})"));
                bail!("waited {timeout:?} for {predicate}{why}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until an element matches a CSS selector.
    pub async fn wait_for(&self, selector: &str, timeout: Duration) -> Result<()> {
        let predicate = format!("document.querySelector({}) !== null", js_string(selector));
        self.wait_until(&predicate, timeout)
            .await
            .with_context(|| format!("waiting for {selector}"))
    }

    /// The text of the first element matching a CSS selector, as shown (`innerText`).
    pub async fn text(&self, selector: &str) -> Result<String> {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); return e === null ? null : e.innerText; }})()",
            js_string(selector)
        );
        self.eval::<Option<String>>(&js)
            .await?
            .ok_or_else(|| anyhow!("no element matches {selector}"))
    }

    /// A computed CSS property of the first element matching a selector, as the browser
    /// serialises it (colours as `rgb(r, g, b)`).
    pub async fn computed_style(&self, selector: &str, property: &str) -> Result<String> {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); \
             return e === null ? null : getComputedStyle(e).getPropertyValue({}); }})()",
            js_string(selector),
            js_string(property)
        );
        self.eval::<Option<String>>(&js)
            .await?
            .ok_or_else(|| anyhow!("no element matches {selector}"))
    }

    /// Clicks the middle of the first element matching a selector, with the mouse, after
    /// scrolling it into view.
    ///
    /// A page may replace the element between finding and clicking it (a live page swapping
    /// in new content); the click is then tried again on what now matches, a few times.
    pub async fn click(&self, selector: &str) -> Result<()> {
        let mut tries = 0;
        loop {
            let clicked = match self.element(selector).await {
                Ok(element) => element
                    .click()
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from),
                Err(e) => Err(e),
            };
            match clicked {
                Ok(()) => return Ok(()),
                Err(_) if tries < 3 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.context(format!("clicking {selector}"))),
            }
        }
    }

    /// Clicks a field and types `text` at the end of what it holds, key by key; characters
    /// with no key on a US keyboard (Chinese, say) are entered as an input method would.
    pub async fn type_into(&self, selector: &str, text: &str) -> Result<()> {
        let element = self.element(selector).await?;
        element
            .click()
            .await
            .with_context(|| format!("clicking {selector}"))?;
        element
            .call_js_fn(
                "function() { try { const n = this.value.length; this.setSelectionRange(n, n); } catch (_) {} }",
                false,
            )
            .await?;
        let mut buffer = [0u8; 4];
        for c in text.chars() {
            let key: &str = c.encode_utf8(&mut buffer);
            if chromiumoxide::keys::get_key_definition(key).is_some() {
                element.press_key(key).await?;
            } else {
                self.inner.execute(InsertTextParams::new(key)).await?;
            }
        }
        Ok(())
    }

    /// Types `text` and Enter as a keyboard-wedge scanner does: key after key into whatever
    /// has the focus, with no click first (a gate page keeps its field focused; `selector`
    /// names the page's tab to type into), every character a key press. `text` is ASCII, as
    /// codes are.
    pub async fn wedge(&self, selector: &str, text: &str) -> Result<()> {
        self.wedge_without_enter(selector, text).await?;
        self.element(selector).await?.press_key("Enter").await?;
        Ok(())
    }

    /// [`Page::wedge`] cut short: the keys of `text` and no Enter, as a scanner that lost the
    /// code half-way.
    pub async fn wedge_without_enter(&self, selector: &str, text: &str) -> Result<()> {
        let keyboard = self.element(selector).await?;
        let mut buffer = [0u8; 4];
        for c in text.chars() {
            let key: &str = c.encode_utf8(&mut buffer);
            if chromiumoxide::keys::get_key_definition(key).is_none() {
                bail!("{c:?} has no key on a scanner's keyboard");
            }
            keyboard.press_key(key).await?;
        }
        Ok(())
    }

    /// Takes the page off the network, or puts it back (DevTools' network emulation: the
    /// page's requests fail and `navigator.onLine` follows).
    // `Network.emulateNetworkConditions` is marked deprecated in the protocol in favour of
    // per-request rules; it is still what takes a whole page offline.
    #[allow(deprecated)]
    pub async fn set_offline(&self, offline: bool) -> Result<()> {
        self.inner
            .execute(EmulateNetworkConditionsParams::new(
                offline, 0.0, -1.0, -1.0,
            ))
            .await
            .context("emulating the network")?;
        Ok(())
    }

    /// Loads the page again and waits for it.
    pub async fn reload(&self) -> Result<()> {
        self.inner.reload().await.context("reloading")?;
        Ok(())
    }

    /// Sets the viewport's size in CSS pixels (a device metrics override, as the DevTools
    /// device toolbar does), for example 320 wide for the narrowest phones.
    pub async fn set_viewport(&self, width: u32, height: u32) -> Result<()> {
        self.inner
            .execute(SetDeviceMetricsOverrideParams::new(
                width, height, 1.0, false,
            ))
            .await
            .context("setting the viewport")?;
        Ok(())
    }

    /// Saves a PNG of the whole page (beyond the viewport too) as
    /// `target/e2e/<name>.png` and returns its path. `name` may hold `/` for subfolders.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let path = screenshot::path(name)?;
        let metrics = self.inner.execute(GetLayoutMetricsParams {}).await?;
        let size = &metrics.result.css_content_size;
        let params = CaptureScreenshotParams {
            format: Some(CaptureScreenshotFormat::Png),
            clip: Some(Viewport {
                x: 0.0,
                y: 0.0,
                width: size.width,
                height: size.height,
                scale: 1.0,
            }),
            capture_beyond_viewport: Some(true),
            ..CaptureScreenshotParams::default()
        };
        let png = self
            .inner
            .screenshot(params)
            .await
            .with_context(|| format!("taking the screenshot {name}"))?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        tokio::fs::write(&path, png)
            .await
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// The cookies the browser would send to the page's address.
    pub async fn cookies(&self) -> Result<Vec<Cookie>> {
        let cookies = self.inner.get_cookies().await.context("reading cookies")?;
        Ok(cookies
            .into_iter()
            .map(|c| Cookie {
                name: c.name,
                value: c.value,
                domain: c.domain,
                path: c.path,
                http_only: c.http_only,
                secure: c.secure,
                same_site: c.same_site.map(|s| s.as_ref().to_owned()),
                session: c.session,
            })
            .collect())
    }

    /// Every problem the page has reported since it opened (or since
    /// [`Page::clear_problems`]): uncaught exceptions, console errors, the browser's error log.
    pub async fn problems(&self) -> Result<Vec<Problem>> {
        // A round trip to the page: whatever it reported before answering has reached the
        // harness once the answer has (one connection, in order); the short pause covers the
        // handler handing the events on after handing on the answer.
        self.eval::<serde_json::Value>("0").await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(self.problems.all())
    }

    /// Fails, listing them, if the page has reported any problem.
    pub async fn assert_no_problems(&self) -> Result<()> {
        let problems = self.problems().await?;
        if problems.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        bail!("the page reported problems:\n{}", list.join("\n"))
    }

    /// Forgets the problems reported so far.
    pub async fn clear_problems(&self) -> Result<()> {
        self.eval::<serde_json::Value>("0").await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.problems.clear();
        Ok(())
    }

    /// The underlying chromiumoxide page, for what this harness does not wrap.
    pub fn cdp(&self) -> &chromiumoxide::Page {
        &self.inner
    }

    async fn element(&self, selector: &str) -> Result<Element> {
        self.inner
            .find_element(selector)
            .await
            .with_context(|| format!("finding {selector}"))
    }
}

/// `s` as a JavaScript string literal (JSON's string syntax is a subset of JavaScript's).
fn js_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}
