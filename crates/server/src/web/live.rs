//! Live code pages: an open code page holds a server-sent-events stream, and is told
//! `status` whenever something about its person may have changed, so it fetches its card
//! again and changes colour without a reload.
//!
//! The signal comes from the cache's invalidations ([`crate::cache::Cache::invalidate`]),
//! which the change feed drives for every write to the store, whoever made it: this node,
//! another node on the same database, a bulk import. A page is told "look again", never the
//! status itself, so a missed or doubled signal costs one fetch and nothing more.
//!
//! One watch channel per person with an open page; a channel goes when its last page does.
//! Open streams are counted in the `healthcode_live_streams_open` gauge (`crate::metrics`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::Stream;
use tokio::sync::watch;

use healthcode_store::DocIndex;

use super::session::Page;
use crate::routes::residents;
use crate::state::AppState;

/// How often an idle stream sends a comment, so proxies and the browser keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// The open live pages of this node.
#[derive(Debug)]
pub struct Live {
    channels: Mutex<HashMap<DocIndex, watch::Sender<u64>>>,
    /// Set when the server shuts down: every stream ends, so connections can close.
    closing: watch::Sender<bool>,
    open: AtomicUsize,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            channels: Mutex::default(),
            closing: watch::channel(false).0,
            open: AtomicUsize::new(0),
        }
    }
}

/// One open page's subscription; dropping it closes the channel if it was the last.
struct Subscription {
    live: Arc<Live>,
    subject: DocIndex,
    changes: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
    /// This stream, counted in the metrics until dropped.
    _counted: crate::metrics::Open,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.live.open.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut channels) = self.live.channels.lock()
            && channels
                .get(&self.subject)
                .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            channels.remove(&self.subject);
        }
    }
}

impl Live {
    /// Pages open now.
    pub fn open_pages(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    fn subscribe(self: &Arc<Self>, subject: DocIndex) -> Option<Subscription> {
        let mut channels = self.channels.lock().ok()?;
        let changes = channels
            .entry(subject)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        self.open.fetch_add(1, Ordering::Relaxed);
        Some(Subscription {
            live: self.clone(),
            subject,
            changes,
            closing: self.closing.subscribe(),
            _counted: crate::metrics::Open::live_stream(),
        })
    }

    /// Tells the open pages of these people to look again.
    pub fn notify<'a>(&self, subjects: impl IntoIterator<Item = &'a DocIndex>) {
        let Ok(channels) = self.channels.lock() else {
            return;
        };
        if channels.is_empty() {
            return;
        }
        for s in subjects {
            if let Some(tx) = channels.get(s) {
                tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Tells every open page to look again (the cache was cleared as a whole).
    pub fn notify_all(&self) {
        if let Ok(channels) = self.channels.lock() {
            for tx in channels.values() {
                tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Ends every stream, for a graceful shutdown.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}

/// `GET /code/events`: the signed-in person's stream. It ends when the server shuts down (the
/// browser reconnects, to this node or another); a session that ended shows when the page
/// next fetches its card (at the latest when the code nears expiry), which sends it to sign in.
pub async fn events(State(state): State<AppState>, page: Page) -> Response {
    let Some(session) = page.session else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    events_for(&state, session.person_id).await
}

/// The stream for `person`'s page (their own, or a dependant's shown by their guardian).
pub(crate) async fn events_for(state: &AppState, person: i64) -> Response {
    let now = state.clock.now();
    let entry = match residents::load(state, person, now).await {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let Some(subscription) = state.live.subscribe(entry.who.doc_index) else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    Sse::new(stream(subscription))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

fn stream(subscription: Subscription) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold((subscription, true), |(mut sub, first)| async move {
        if first {
            // Tells the page the stream is open; it fetches its card once, in case
            // something changed while it was connecting.
            return Some((
                Ok(Event::default().event("status").data("open")),
                (sub, false),
            ));
        }
        if *sub.closing.borrow() {
            return None;
        }
        tokio::select! {
            changed = sub.changes.changed() => match changed {
                Ok(()) => {
                    sub.changes.borrow_and_update();
                    Some((Ok(Event::default().event("status").data("changed")), (sub, false)))
                }
                Err(_) => None,
            },
            _ = sub.closing.changed() => None,
        }
    })
}
