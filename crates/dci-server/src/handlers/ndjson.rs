//! Streamed evaluation: the request body is split into lines as it arrives,
//! grouped into chunks of `ndjson_chunk`, read on the rayon pool and fed to
//! [`dci_eligibility::stream::evaluate_lines`] through bounded channels; its
//! rendered decisions are the response body. At most a few chunks are in
//! memory at once, whatever the length of the batch.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, BodyDataStream, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use dci_eligibility::MemberReading;
use dci_eligibility::io::{Format, Line, parse_line_reading};
use dci_eligibility::stream::{Input, Rendered, StreamStats, evaluate_lines, member_reading};
use dci_eligibility::{Beneficiary, BeneficiaryError};
use futures::StreamExt;
use rayon::prelude::*;
use tokio::sync::{mpsc, oneshot};

use crate::access::Scope;
use crate::api::{EvaluateLine, EvaluateOptions, Summary, SummaryLine};
use crate::body::is_timeout;
use crate::config::ServerLimits;
use crate::error::{ApiError, ErrorCode};
use crate::handlers::{Asker, CancelOnDrop};
use crate::handlers::{check_members, explained_chunk, prepare, read_object, today};
use crate::pool::{Lane, on_pool};
use crate::slots::Receiving;
use crate::state::AppState;

/// A partial chunk is evaluated when no more input arrives for this long (so that a client
/// sending a few lines and waiting gets its answers).
const FLUSH_AFTER: Duration = Duration::from_millis(200);

enum Next {
    Line(Line),
    /// No input for the wait given.
    Idle,
    End,
}

/// Splits a body into lines as it arrives, never holding more than one line (at most
/// `max_line_bytes`) plus one frame.
struct Lines {
    body: BodyDataStream,
    buffer: BytesMut,
    /// Bytes of `buffer` already searched for a newline.
    scanned: usize,
    /// Lines consumed so far.
    number: usize,
    max: usize,
    /// Skipping the rest of an overlong line.
    skipping: bool,
    ended: bool,
}

impl Lines {
    fn new(body: Body, max: usize) -> Self {
        Lines {
            body: body.into_data_stream(),
            buffer: BytesMut::new(),
            scanned: 0,
            number: 0,
            max,
            skipping: false,
            ended: false,
        }
    }

    fn too_long(&self, number: usize) -> Line {
        Line::Unreadable(number, format!("the line is longer than {} bytes (max_line_bytes)", self.max))
    }

    /// A complete line's bytes (newline excluded) → a line, or `None` when blank.
    fn finish(&mut self, raw: &[u8]) -> Option<Line> {
        self.number += 1;
        if std::mem::take(&mut self.skipping) || raw.len() > self.max {
            return Some(self.too_long(self.number));
        }
        match std::str::from_utf8(raw) {
            Ok(text) if text.trim().is_empty() => None,
            Ok(text) => Some(Line::Text(self.number, text.trim().to_owned())),
            Err(_) => Some(Line::Unreadable(self.number, "the line is not UTF-8 text".to_owned())),
        }
    }

    /// The next non-blank line; with `wait`, gives up after that long without input.
    async fn next(&mut self, wait: Option<Duration>) -> Result<Next, axum::Error> {
        loop {
            if let Some(offset) = self.buffer[self.scanned..].iter().position(|&b| b == b'\n') {
                let raw = self.buffer.split_to(self.scanned + offset + 1);
                self.scanned = 0;
                match self.finish(&raw[..raw.len() - 1]) {
                    Some(line) => return Ok(Next::Line(line)),
                    None => continue,
                }
            }
            self.scanned = self.buffer.len();
            if self.skipping || self.buffer.len() > self.max {
                self.skipping = true;
                self.buffer.clear();
                self.scanned = 0;
            }
            if self.ended {
                if self.skipping || !self.buffer.is_empty() {
                    let raw = std::mem::take(&mut self.buffer);
                    self.scanned = 0;
                    if let Some(line) = self.finish(&raw) {
                        return Ok(Next::Line(line));
                    }
                }
                return Ok(Next::End);
            }
            let frame = match wait {
                Some(wait) => match tokio::time::timeout(wait, self.body.next()).await {
                    Ok(frame) => frame,
                    Err(_) => return Ok(Next::Idle),
                },
                None => self.body.next().await,
            };
            match frame {
                None => self.ended = true,
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(error)) => return Err(error),
            }
        }
    }
}

/// Reads and checks one line (CPU: on the pool), its members as `reading` says.
fn read_line(line: Line, max_members: usize, reading: MemberReading) -> Result<Beneficiary, BeneficiaryError> {
    check_members(parse_line_reading(&line, reading), max_members, || "members".to_owned())
        .map_err(|error| error.at_line(line.number()))
}

/// Reads the rest of the body in chunks and sends them, read, to the evaluation. Returns the
/// error that cut the input short, if any.
async fn read_chunks(
    mut lines: Lines,
    input: mpsc::Sender<Input>,
    chunk: usize,
    max_members: usize,
    reading: MemberReading,
    gate: impl AsyncFn(&[Result<Beneficiary, BeneficiaryError>]) -> Result<(), ApiError>,
) -> Option<ApiError> {
    let mut pending: Vec<Line> = Vec::new();
    loop {
        let next = lines.next((!pending.is_empty()).then_some(FLUSH_AFTER)).await;
        let (flush, outcome) = match next {
            Ok(Next::Line(line)) => {
                pending.push(line);
                (pending.len() >= chunk, None)
            }
            Ok(Next::Idle) => (true, None),
            Ok(Next::End) => (true, Some(None)),
            Err(error) => (true, Some(Some(read_error(&error)))),
        };
        if flush && !pending.is_empty() {
            let batch = std::mem::take(&mut pending);
            let items: Vec<Result<Beneficiary, BeneficiaryError>> = on_pool(Lane::Bulk, move || {
                batch.into_par_iter().map(|line| read_line(line, max_members, reading)).collect()
            })
            .await;
            // The key's lookup bound and the audit record come before the chunk reads any fact.
            if let Err(error) = gate(&items).await {
                return Some(error);
            }
            if input.send(Input::Items(items)).await.is_err() {
                return None; // the evaluation stopped: the client went away
            }
        }
        if let Some(outcome) = outcome {
            return outcome;
        }
    }
}

fn read_error(error: &axum::Error) -> ApiError {
    if is_timeout(error) {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Timeout,
            "the request body stopped arriving; input ends here",
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("the request body could not be read ({error}); input ends here"),
        )
    }
}

/// Streams the evaluation of an NDJSON body. Errors in the options line are answered as
/// ordinary JSON errors; once the first result line is sent, problems become lines.
pub(crate) async fn evaluate(
    state: AppState,
    asker: Asker,
    body: Body,
    received: Option<Receiving>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let today = today();
    let limits = state.limits().clone();
    let mut lines = Lines::new(body, limits.max_line_bytes);
    let (number, text) = options_line(&mut lines, &limits).await?;
    let compiler = state.engine().compiler().clone();
    let prepare_limits = limits.clone();
    let (rules, options) = on_pool(Lane::Interactive, move || {
        let options: EvaluateOptions = read_object(text.as_bytes(), number - 1)?;
        prepare(&compiler, options, &prepare_limits, today)
    })
    .await?;
    if options.explain {
        asker.caller.require(Scope::Explain, "`\"explain\": true` (clause values and reasons)")?;
    }
    let options = dci_eligibility::EvaluationOptions { withhold_values: !asker.caller.may(Scope::Explain), ..options };
    // A stream's length is not known: it is costly work, in the bulk lane, and each of its chunks
    // runs on the bulk pool however small.
    let held = state.admit(Lane::Bulk, received).await?;
    let options = dci_eligibility::EvaluationOptions { lane: Some(Lane::Bulk), ..options };

    let (input_sender, input) = mpsc::channel::<Input>(1);
    let (output, rendered) = mpsc::channel::<Rendered>(1);
    let (tail_sender, tail) = oneshot::channel::<Vec<u8>>();
    let engine = state.engine().clone();
    let telemetry = state.telemetry().clone();
    let gate_state = state.clone();
    // The response's body cancels the work when it is dropped unsent (the client went away);
    // the work keeps the evaluation slot until it has stopped.
    let cancel_on_drop = CancelOnDrop(options.cancel.clone());
    tokio::spawn(async move {
        let _held = held;
        // A client that stops reading the response would hold the evaluation slot for ever:
        // when no chunk has been taken for `request_timeout_secs`, the work is stopped.
        let taken = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mark = taken.clone();
        let idle = limits.request_timeout().as_secs().max(1);
        let chunk = if options.explain { explained_chunk(&rules, &limits) } else { limits.ndjson_chunk };
        // Each chunk is counted against the key's lookup bound and audited before it is decided.
        let (gate_rules, as_of) = (rules.clone(), options.as_of);
        let gate = async move |items: &[Result<Beneficiary, BeneficiaryError>]| {
            asker.admit(&gate_state, &gate_rules, as_of, items.iter().filter_map(|item| item.as_ref().ok())).await
        };
        let members = member_reading(&rules);
        let reading = read_chunks(lines, input_sender, chunk, limits.max_members, members, gate);
        let evaluating = evaluate_lines(&engine, &rules, &options, Format::Ndjson, input, output, move |_| {
            mark.store(started.elapsed().as_secs(), std::sync::atomic::Ordering::Relaxed);
        });
        let (cut_short, stats) = tokio::select! {
            done = async { tokio::join!(reading, evaluating) } => done,
            () = until_stalled(&taken, started, idle) => {
                options.cancel.cancel();
                tracing::warn!(idle_secs = idle, "the NDJSON response was not read: evaluation stopped");
                return;
            }
        };
        telemetry.record(&stats.batch);
        let _ = tail_sender.send(tail_lines(cut_short, &stats, options.as_of, started));
    });

    Ok(streamed(rendered, tail, cancel_on_drop))
}

/// Ends when no chunk has been taken (`taken`: seconds after `started`) for more than `idle` seconds.
async fn until_stalled(taken: &std::sync::atomic::AtomicU64, started: Instant, idle: u64) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let last = taken.load(std::sync::atomic::Ordering::Relaxed);
        if started.elapsed().as_secs().saturating_sub(last) > idle {
            return;
        }
    }
}

/// The stream's last lines: the error that cut the input short, if any, then the summary.
fn tail_lines(cut_short: Option<ApiError>, stats: &StreamStats, as_of: chrono::NaiveDate, started: Instant) -> Vec<u8> {
    let mut lines = cut_short.map(|error| error.to_line()).unwrap_or_default();
    let summary = Summary::of_stream(stats, as_of, started.elapsed().as_millis() as u64);
    let _ = serde_json::to_writer(&mut lines, &EvaluateLine::Summary(SummaryLine { summary }));
    lines.push(b'\n');
    lines
}

/// The first line: the options object, arriving within the body read timeout.
async fn options_line(lines: &mut Lines, limits: &ServerLimits) -> Result<(usize, String), ApiError> {
    // The options line is a small JSON object, bounded like a JSON body; the lines after it stream.
    let allowed = limits.body_read_timeout_secs.min(limits.request_timeout_secs);
    let Ok(first) = tokio::time::timeout(std::time::Duration::from_secs(allowed), lines.next(None)).await else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Timeout,
            format!("the options line took longer than {allowed} s to arrive (body_read_timeout_secs)"),
        ));
    };
    match first {
        Ok(Next::Line(Line::Text(number, text))) => Ok((number, text)),
        Ok(Next::Line(Line::Unreadable(number, problem))) => {
            Err(ApiError::invalid("options", format!("line {number} (options): {problem}")))
        }
        Ok(Next::End | Next::Idle) => Err(ApiError::invalid(
            "options",
            "empty body: the first line must be the options object {\"rules\" | \"rule\", \"as_of\"?, \"explain\"?}",
        )),
        Err(error) => Err(read_error(&error)),
    }
}

/// The response: the result chunks as they are rendered, then the tail (the
/// summary line, or the error that cut the stream short).
fn streamed(
    mut rendered: mpsc::Receiver<Rendered>,
    tail: oneshot::Receiver<Vec<u8>>,
    cancel_on_drop: CancelOnDrop,
) -> Response {
    let results = futures::stream::poll_fn(move |cx| rendered.poll_recv(cx)).map(move |chunk| {
        let _cancel_on_drop = &cancel_on_drop;
        Ok::<Bytes, Infallible>(Bytes::from(chunk.bytes))
    });
    let end = futures::stream::once(async move {
        Ok::<Bytes, Infallible>(Bytes::from(tail.await.unwrap_or_else(|_| {
            ApiError::internal("the evaluation stopped unexpectedly; the results above are incomplete").to_line()
        })))
    });
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(results.chain(end)),
    )
        .into_response()
}
