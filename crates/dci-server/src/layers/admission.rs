//! Receives a JSON body whole before the handler prepares the request and
//! asks for an evaluation slot (`crate::slots`), so that a slow client holds
//! no slot while its body arrives; at most `receiving_limit` bodies are
//! received or prepared at once, beyond that 503 `overloaded`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::body::{Media, ReceivedBody, media, whole_body};
use crate::state::AppState;

/// Receives a JSON body whole before the handler prepares the request and asks for a slot (see
/// the module documentation); the request carries its [`crate::slots::Receiving`] until then.
pub(crate) async fn receive(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let media = media(request.headers());
    if media.is_err() {
        return next.run(request).await;
    }
    let receiving = match state.slots().start_receiving() {
        Ok(receiving) => receiving,
        Err(busy) => return state.overloaded(busy.0).into_response(),
    };
    if matches!(media, Ok(Media::Ndjson)) {
        // A stream is read as it is evaluated; its options line is read and compiled first.
        request.extensions_mut().insert(receiving);
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let mut reading = Request::new(body);
    // The body limit travels in the extensions.
    *reading.extensions_mut() = parts.extensions.clone();
    let mut request = match whole_body(reading, state.limits()).await {
        // The handler takes the bytes from the extension; the body stays for any other reader.
        Ok(bytes) => {
            let mut request = Request::from_parts(parts, Body::from(bytes.clone()));
            request.extensions_mut().insert(ReceivedBody(bytes));
            request
        }
        Err(error) => return error.into_response(),
    };
    request.extensions_mut().insert(receiving);
    next.run(request).await
}
