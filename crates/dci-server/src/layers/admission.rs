//! Evaluation slots: at most `max_concurrent_evaluations` evaluations run at
//! once and at most `max_queued` wait for a slot; beyond that, 503 `overloaded`
//! with `Retry-After`. A streamed response keeps its slot until its body is sent.

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

/// Admits the request to an evaluation slot, waiting in the queue if need be.
pub(crate) async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let slots = state.slots();
    let Ok(place) = slots.places.clone().try_acquire_owned() else {
        state.telemetry().overloaded();
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Overloaded,
            format!(
                "the server is busy: {} evaluations running and {} waiting; retry in {RETRY_AFTER_SECS} s",
                slots.running(),
                slots.waiting()
            ),
        )
        .retry_after(RETRY_AFTER_SECS)
        .into_response();
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
