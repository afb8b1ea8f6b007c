//! Launching Debian's Chromium headless, each browser with a profile of its own, and ending it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chromiumoxide::BrowserConfig;
use chromiumoxide::handler::viewport::Viewport;
use futures_util::StreamExt;
use tempfile::TempDir;
use tokio::task::JoinHandle;

use crate::page::Page;

/// Where Debian's `chromium` package puts the browser itself (`/usr/bin/chromium` is a shell
/// wrapper around it). `.ci/run` installs the package.
pub const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// Set to the path of another Chromium build to use it instead of Debian's.
const CHROMIUM_VARIABLE: &str = "HEALTHCODE_CHROMIUM";

const MISSING: &str = "Chromium is not installed: the browser tests need Debian's chromium \
    package (apt-get install -y chromium; .ci/run installs it), or HEALTHCODE_CHROMIUM set to \
    a Chromium binary";

/// Flags (without the leading `--`) every browser gets besides chromiumoxide's own (among
/// them `headless`, which is Chromium's new headless mode, and `no-sandbox`): nothing
/// reaches the network on its own (the machine's network is closed, and a test must not
/// depend on it), no first-run or sync screens, no GPU.
const FLAGS: [&str; 7] = [
    "disable-gpu",
    "disable-background-networking",
    "disable-component-update",
    "disable-sync",
    "no-first-run",
    "disable-quic",
    // Media permission prompts are answered yes, and the camera is Chromium's fake device:
    // its own moving pattern, or the Y4M file of `Options::camera`.
    "use-fake-ui-for-media-stream",
];

/// How a browser is launched.
#[derive(Debug, Clone)]
pub struct Options {
    /// The window and every page's viewport, in CSS pixels; 390 × 844 (a phone) by default.
    pub width: u32,
    pub height: u32,
    /// A Y4M file the fake camera plays in a loop (see [`crate::write_y4m`]).
    pub camera: Option<PathBuf>,
    /// The browser binary; by default `HEALTHCODE_CHROMIUM`, else [`CHROMIUM`], else
    /// `chromium` on the `PATH`.
    pub chromium: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            width: 390,
            height: 844,
            camera: None,
            chromium: None,
        }
    }
}

impl Options {
    /// The window and viewport size in CSS pixels.
    pub fn window(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Pages that ask for a camera get this Y4M file's picture.
    pub fn camera(mut self, y4m: impl Into<PathBuf>) -> Self {
        self.camera = Some(y4m.into());
        self
    }

    /// The browser binary to run.
    pub fn chromium(mut self, binary: impl Into<PathBuf>) -> Self {
        self.chromium = Some(binary.into());
        self
    }

    fn binary(&self) -> Option<PathBuf> {
        if let Some(binary) = &self.chromium {
            return Some(binary.clone());
        }
        if let Some(binary) = std::env::var_os(CHROMIUM_VARIABLE) {
            return Some(PathBuf::from(binary));
        }
        // As `.ci/run` looks: Debian's binary, else a `chromium` on the PATH.
        let path = std::env::var_os("PATH").unwrap_or_default();
        let on_path = std::env::split_paths(&path).map(|dir| dir.join("chromium"));
        std::iter::once(PathBuf::from(CHROMIUM))
            .chain(on_path)
            .find(|p| p.is_file())
    }
}

/// A running headless Chromium. Dropping it kills the browser; [`Browser::close`] ends it
/// gracefully.
#[derive(Debug)]
pub struct Browser {
    inner: chromiumoxide::Browser,
    handler: JoinHandle<()>,
    // Dropped after the browser has been ended (fields drop after `Drop::drop`).
    profile: TempDir,
}

impl Browser {
    /// Launches Chromium headless with a fresh profile. Fails, saying what to install, when
    /// there is no Chromium.
    pub async fn launch(options: Options) -> Result<Self> {
        let binary = options.binary().ok_or_else(|| anyhow!(MISSING))?;
        if !binary.is_file() {
            bail!("{MISSING} (looked for {})", binary.display());
        }
        let profile = tempfile::Builder::new()
            .prefix("healthcode-e2e-")
            .tempdir()
            .context("creating the browser's profile directory")?;

        let mut flags: Vec<String> = FLAGS.iter().map(|f| (*f).to_owned()).collect();
        flags.push("use-fake-device-for-media-stream".to_owned());
        if let Some(camera) = &options.camera {
            let camera = camera
                .canonicalize()
                .with_context(|| format!("the camera file {}", camera.display()))?;
            flags.push(format!(
                "use-file-for-fake-video-capture={}",
                camera.display()
            ));
        }

        let config = BrowserConfig::builder()
            .chrome_executable(&binary)
            .no_sandbox()
            .user_data_dir(profile.path())
            .window_size(options.width, options.height)
            .viewport(Viewport {
                width: options.width,
                height: options.height,
                device_scale_factor: Some(1.0),
                ..Viewport::default()
            })
            // Two shared cores and other builds: a cold start can take a while.
            .launch_timeout(Duration::from_secs(60))
            .args(flags.iter().map(String::as_str))
            .build()
            .map_err(|e| anyhow!("configuring Chromium: {e}"))?;

        let (inner, mut events) = chromiumoxide::Browser::launch(config)
            .await
            .with_context(|| format!("launching {}", binary.display()))?;
        // The handler drives the DevTools connection. An error on one message (an event this
        // version of the protocol does not know, a closed target) must not stop the others.
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });

        Ok(Self {
            inner,
            handler,
            profile,
        })
    }

    /// Like [`Browser::launch`], but when Chromium is not installed and `CI` is not set, prints
    /// why and returns `None`, so the test passes as skipped. In CI a missing Chromium fails.
    pub async fn launch_or_skip(options: Options) -> Result<Option<Self>> {
        if options.binary().is_none() && std::env::var_os("CI").is_none() {
            // Straight to stderr: the test harness captures `eprintln!`, and a skip should show.
            let _ = writeln!(std::io::stderr(), "skipped: {MISSING}");
            return Ok(None);
        }
        Self::launch(options).await.map(Some)
    }

    /// Opens a new tab at `url` and waits for it to load.
    pub async fn page(&self, url: &str) -> Result<Page> {
        Page::open(&self.inner, url).await
    }

    /// The browser's profile directory (removed when the browser is dropped).
    pub fn profile(&self) -> &Path {
        self.profile.path()
    }

    /// The underlying chromiumoxide browser, for what this harness does not wrap.
    pub fn cdp(&self) -> &chromiumoxide::Browser {
        &self.inner
    }

    /// Asks the browser to quit and waits for it, killing it if it takes more than 10 s.
    pub async fn close(mut self) -> Result<()> {
        let asked = self.inner.close().await;
        let exited = tokio::time::timeout(Duration::from_secs(10), self.inner.wait()).await;
        if !matches!(exited, Ok(Ok(_))) {
            self.inner.kill().await;
        }
        asked.context("closing the browser")?;
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.handler.abort();
        if let Some(child) = self.inner.get_mut_child() {
            if matches!(child.inner.try_wait(), Ok(Some(_))) {
                return;
            }
            // Best effort: the process is killed and reaped here, before the profile
            // directory is removed, so that Chromium is not writing to it then.
            if child.inner.start_kill().is_ok() {
                let deadline = Instant::now() + Duration::from_secs(2);
                while Instant::now() < deadline && matches!(child.inner.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
}
