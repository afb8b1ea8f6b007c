//! What went wrong in a page while it ran: uncaught exceptions, `console.error`, and the
//! browser's own error log (Content Security Policy violations, failed loads).

use std::fmt;
use std::sync::{Mutex, PoisonError};

use anyhow::Result;
use chromiumoxide::cdp::browser_protocol::log::{
    EventEntryAdded, LogEntry, LogEntryLevel, LogEntrySource,
};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown, RemoteObject,
};
use chromiumoxide::listeners::EventStream;
use futures_util::{FutureExt, StreamExt};

/// Where a [`Problem`] was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// An exception no script caught (`Runtime.exceptionThrown`).
    Exception,
    /// The page called `console.error` or a failing `console.assert`.
    Console,
    /// The browser logged an error (`Log.entryAdded`): a CSP violation, a failed load.
    Log,
}

/// One thing that went wrong in a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// For [`ProblemKind::Log`], the log's source (`security`, `network`, `javascript`, …).
    pub source: Option<String>,
    pub text: String,
    /// The script or resource concerned, when the browser says.
    pub url: Option<String>,
}

impl Problem {
    /// Whether this is the browser refusing something under the page's Content Security Policy.
    pub fn is_csp_violation(&self) -> bool {
        self.kind == ProblemKind::Log && self.text.contains("Content Security Policy")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ProblemKind::Exception => write!(f, "uncaught exception")?,
            ProblemKind::Console => write!(f, "console error")?,
            ProblemKind::Log => write!(
                f,
                "browser error ({})",
                self.source.as_deref().unwrap_or("unknown source")
            )?,
        }
        if let Some(url) = &self.url {
            write!(f, " at {url}")?;
        }
        write!(f, ": {}", self.text)
    }
}

/// A page's subscriptions to the events that report problems, and what they have reported.
pub(crate) struct Problems {
    state: Mutex<State>,
}

struct State {
    exceptions: EventStream<EventExceptionThrown>,
    console: EventStream<EventConsoleApiCalled>,
    log: EventStream<EventEntryAdded>,
    seen: Vec<Problem>,
}

impl fmt::Debug for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Problems").finish_non_exhaustive()
    }
}

impl Problems {
    /// Subscribes; to catch a page's first problems, call it before navigating. (chromiumoxide
    /// enables the Runtime and Log domains of every page it opens.)
    pub(crate) async fn listen(page: &chromiumoxide::Page) -> Result<Self> {
        Ok(Self {
            state: Mutex::new(State {
                exceptions: page.event_listener::<EventExceptionThrown>().await?,
                console: page.event_listener::<EventConsoleApiCalled>().await?,
                log: page.event_listener::<EventEntryAdded>().await?,
                seen: Vec::new(),
            }),
        })
    }

    /// Every problem delivered so far, in the order of each kind's arrival.
    pub(crate) fn all(&self) -> Vec<Problem> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.drain();
        state.seen.clone()
    }

    /// Forgets the problems delivered so far.
    pub(crate) fn clear(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.drain();
        state.seen.clear();
    }
}

impl State {
    /// Moves what the streams hold now into `seen`, without waiting for more.
    fn drain(&mut self) {
        while let Some(Some(event)) = self.exceptions.next().now_or_never() {
            let details = &event.exception_details;
            let text = details
                .exception
                .as_ref()
                .and_then(|e| e.description.clone())
                .unwrap_or_else(|| details.text.clone());
            self.seen.push(Problem {
                kind: ProblemKind::Exception,
                source: None,
                text,
                url: details.url.clone(),
            });
        }
        while let Some(Some(event)) = self.console.next().now_or_never() {
            if !matches!(
                event.r#type,
                ConsoleApiCalledType::Error | ConsoleApiCalledType::Assert
            ) {
                continue;
            }
            let text = event.args.iter().map(shown).collect::<Vec<_>>().join(" ");
            self.seen.push(Problem {
                kind: ProblemKind::Console,
                source: None,
                text,
                url: None,
            });
        }
        while let Some(Some(event)) = self.log.next().now_or_never() {
            let entry = &event.entry;
            if entry.level != LogEntryLevel::Error || is_automatic_favicon(entry) {
                continue;
            }
            self.seen.push(Problem {
                kind: ProblemKind::Log,
                source: Some(entry.source.as_ref().to_owned()),
                text: entry.text.clone(),
                url: entry.url.clone(),
            });
        }
    }
}

/// The browser asks for `/favicon.ico` by itself when a page names no icon; that it is
/// missing says nothing about the page.
fn is_automatic_favicon(entry: &LogEntry) -> bool {
    entry.source == LogEntrySource::Network
        && entry
            .url
            .as_deref()
            .and_then(|url| url.split(['?', '#']).next())
            .is_some_and(|url| url.ends_with("/favicon.ico"))
}

/// A console argument as the console would show it.
fn shown(arg: &RemoteObject) -> String {
    match &arg.value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => arg.description.clone().unwrap_or_default(),
    }
}
