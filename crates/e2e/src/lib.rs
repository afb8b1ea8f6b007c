//! Driving the project's pages in a real headless Chromium, for end-to-end tests.
//!
//! A test launches a [`Browser`] (Debian's Chromium, over the DevTools protocol through
//! `chromiumoxide`), opens a [`Page`] and does what a person does: open, type, press, then
//! reads what is shown (text, a computed colour, a screenshot under `target/e2e/`).
//!
//! - Problems: every page collects uncaught exceptions, `console.error` calls and browser log
//!   errors (among them Content Security Policy violations); [`Page::problems`] returns them,
//!   so a test can assert that a page ran cleanly.
//! - Where Chromium is missing, [`Browser::launch`] fails with a message saying what to
//!   install; [`Browser::launch_or_skip`] skips instead, outside CI only.
//!
//! What this crate does not own: the pages and their server (a test starts its own).

mod browser;
mod page;
mod problems;
mod screenshot;

pub use browser::{Browser, CHROMIUM, Options};
pub use page::{Cookie, Page};
pub use problems::{Problem, ProblemKind};
pub use screenshot::screenshot_dir;
