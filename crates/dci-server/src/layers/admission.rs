//! Evaluation slots: at most `max_concurrent_evaluations` evaluations run at
//! once and at most `max_queued` wait for a slot; beyond that, 503 `overloaded`
//! with `Retry-After`. A streamed response keeps its slot until its body is sent.

use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::Semaphore;

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
}

impl Slots {
    pub(crate) fn new(concurrent: usize, queued: usize) -> Self {
        Slots {
            places: Arc::new(Semaphore::new(concurrent + queued)),
            running: Arc::new(Semaphore::new(concurrent)),
            concurrent,
            queued,
        }
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
    let response = next.run(request).await;
    hold_until_sent(response, (place, slot))
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
