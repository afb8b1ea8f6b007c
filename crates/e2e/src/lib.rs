//! Driving the project's pages in a real headless Chromium, for end-to-end tests.
//!
//! A test launches a [`Browser`] (Debian's Chromium, over the DevTools protocol through
//! `chromiumoxide`), opens a [`Page`] and does what a person does: open, type, press, then
//! reads what is shown (text, a computed colour, a screenshot under `target/e2e/`).
//!
//! - Passkeys: [`Page::add_virtual_authenticator`] puts the DevTools virtual authenticator in
//!   the page (CTAP2, internal transport, resident keys, user verification that succeeds), so
//!   `navigator.credentials.create` and `.get` run the real WebAuthn ceremony without a person.
//!   WebAuthn wants a domain as relying party: open a local server at `http://localhost:PORT`,
//!   not at `127.0.0.1` (an IP address is not a valid RP ID).
//! - The camera: [`Options::camera`] launches with Chromium's fake capture device reading a
//!   Y4M file; [`write_y4m`] makes one from a grey picture (say, a QR code).
//! - Problems: every page collects uncaught exceptions, `console.error` calls and browser log
//!   errors (among them Content Security Policy violations); [`Page::problems`] returns them,
//!   so a test can assert that a page ran cleanly.
//! - Where Chromium is missing, [`Browser::launch`] fails with a message saying what to
//!   install; [`Browser::launch_or_skip`] skips instead, outside CI only.
//!
//! What this crate does not own: the pages and their server (a test starts its own), and
//! checking a passkey's signature (the server's business, with its own verifier).

mod browser;
mod camera;
mod page;
mod passkey;
mod problems;
mod screenshot;

pub use browser::{Browser, CHROMIUM, Options};
pub use camera::write_y4m;
pub use image::GrayImage;
pub use page::{Cookie, Page};
pub use passkey::{AuthenticatorId, Passkey};
pub use problems::{Problem, ProblemKind};
pub use screenshot::screenshot_dir;
