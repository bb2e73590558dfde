//! Evaluation slots: at most `max_concurrent_evaluations` evaluations run at
//! once and at most `max_queued` wait for a slot; beyond that, 503 `overloaded`
//! with `Retry-After`. A streamed response keeps its slot until its body is sent.
//!
//! A JSON body is received whole before its request asks for a slot, so that a
//! slow client holds no slot while its body arrives; at most twice as many
//! bodies as there are slots and places in the queue are received at once
//! (their memory is bounded), beyond that 503 `overloaded`. An NDJSON body is
//! evaluated as it streams, in its slot.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ErrorCode};
use crate::handlers::evaluate::{Media, media, whole_body};
use crate::state::AppState;

/// Seconds a refused caller is told to wait.
const RETRY_AFTER_SECS: u64 = 2;

/// The evaluation slots and the places in their queue.
#[derive(Debug)]
pub(crate) struct Slots {
    /// Running and waiting evaluations together.
    places: Arc<Semaphore>,
    /// Running evaluations.
    running: Arc<Semaphore>,
    /// JSON bodies being received before their requests ask for a slot.
    receiving: Arc<Semaphore>,
    concurrent: usize,
    queued: usize,
    /// When each running evaluation took its slot, by ticket.
    started: Arc<Mutex<Vec<(u64, Instant)>>>,
    next_ticket: std::sync::atomic::AtomicU64,
}

/// A running evaluation's slot (and its place in the queue). The request holds it, and so does
/// the evaluation's work: the slot is free again only when both are done, so that a request that
/// timed out keeps its slot until its work has actually stopped.
#[derive(Debug)]
pub(crate) struct Held {
    _permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
    ticket: u64,
    started: Arc<Mutex<Vec<(u64, Instant)>>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut started) = self.started.lock() {
            started.retain(|(ticket, _)| *ticket != self.ticket);
        }
    }
}

impl Slots {
    pub(crate) fn new(concurrent: usize, queued: usize) -> Self {
        Slots {
            places: Arc::new(Semaphore::new(concurrent + queued)),
            running: Arc::new(Semaphore::new(concurrent)),
            receiving: Arc::new(Semaphore::new(2 * (concurrent + queued))),
            concurrent,
            queued,
            started: Arc::default(),
            next_ticket: Default::default(),
        }
    }

    /// How long the oldest running evaluation has run, if one runs.
    pub(crate) fn oldest_age(&self) -> Option<Duration> {
        let started = self.started.lock().ok()?;
        started.iter().map(|(_, at)| at.elapsed()).max()
    }

    /// Every slot is taken by an evaluation that has run longer than `limit`: new requests
    /// can only wait.
    pub(crate) fn saturated(&self, limit: Duration) -> bool {
        let Ok(started) = self.started.lock() else { return false };
        started.len() >= self.concurrent && started.iter().all(|(_, at)| at.elapsed() > limit)
    }

    /// Evaluations running now.
    pub(crate) fn running(&self) -> usize {
        self.concurrent - self.running.available_permits().min(self.concurrent)
    }

    /// Evaluations waiting for a slot now.
    pub(crate) fn waiting(&self) -> usize {
        let taken = self.concurrent + self.queued - self.places.available_permits().min(self.concurrent + self.queued);
        taken.saturating_sub(self.running())
    }
}

/// The 503 `overloaded` answer, with what is busy.
fn overloaded(state: &AppState, what: String) -> Response {
    state.telemetry().overloaded();
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Overloaded,
        format!("the server is busy: {what}; retry in {RETRY_AFTER_SECS} s"),
    )
    .retry_after(RETRY_AFTER_SECS)
    .into_response()
}

/// Admits the request to an evaluation slot, waiting in the queue if need be; a JSON body is
/// received whole first (see the module documentation).
pub(crate) async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let slots = state.slots();
    let request = if matches!(media(request.headers()), Ok(Media::Json)) {
        let Ok(_receiving) = slots.receiving.clone().try_acquire_owned() else {
            let receiving = 2 * (slots.concurrent + slots.queued);
            return overloaded(&state, format!("{receiving} request bodies are being received"));
        };
        let (parts, body) = request.into_parts();
        let mut reading = Request::new(body);
        // The body limit travels in the extensions.
        *reading.extensions_mut() = parts.extensions.clone();
        match whole_body(reading, state.limits()).await {
            Ok(bytes) => Request::from_parts(parts, Body::from(bytes)),
            Err(error) => return error.into_response(),
        }
    } else {
        request
    };
    let Ok(place) = slots.places.clone().try_acquire_owned() else {
        let what = format!("{} evaluations running and {} waiting", slots.running(), slots.waiting());
        return overloaded(&state, what);
    };
    let Ok(slot) = slots.running.clone().acquire_owned().await else {
        return ApiError::internal("the evaluation slots are closed").into_response();
    };
    let ticket = slots.next_ticket.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Ok(mut started) = slots.started.lock() {
        started.push((ticket, Instant::now()));
    }
    let held = Arc::new(Held { _permits: (place, slot), ticket, started: slots.started.clone() });
    let mut request = request;
    request.extensions_mut().insert(held.clone());
    let response = next.run(request).await;
    hold_until_sent(response, held)
}

/// Keeps `guard` alive until the response body is sent (or dropped), when the body is
/// streamed; a body of known size is complete already, and the guard is released now.
pub(crate) fn hold_until_sent<G: Send + 'static>(response: Response, guard: G) -> Response {
    if response.body().size_hint().exact().is_some() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let stream = body.into_data_stream().map(move |frame| {
        let _held = &guard;
        frame
    });
    Response::from_parts(parts, Body::from_stream(stream))
}
