//! Streaming evaluation of NDJSON: chunks of lines in, rendered decisions
//! out, so that a list of any length never sits whole in memory. Parsing and
//! rendering run on the rayon pool; while one chunk is evaluated the caller
//! reads the next and writes the previous.

use std::collections::VecDeque;

use rayon::prelude::*;
use serde::Serialize;
use tokio::sync::mpsc::{Receiver, Sender};

use crate::data::beneficiary::{Beneficiary, BeneficiaryError, MemberReading};
use crate::data::io::{Format, LineBlock, Writer};
use crate::engine::batch::{Engine, EvaluationOptions};
use crate::engine::pool::{Lane, on_pool};
use crate::report::results::{BatchResult, BatchStats};
use crate::rules::compile::Rule;

/// A chunk of input.
#[derive(Debug)]
pub enum Input {
    /// NDJSON lines, parsed on the rayon pool.
    Lines(LineBlock),
    /// Beneficiaries already read (e.g. from a JSON array).
    Items(Vec<Result<Beneficiary, BeneficiaryError>>),
}

impl Input {
    /// The bytes of NDJSON text the chunk holds (none for items already read).
    pub fn text_len(&self) -> usize {
        match self {
            Input::Lines(block) => block.text_len(),
            Input::Items(_) => 0,
        }
    }

    /// The chunk's beneficiaries, in order: lines parsed on the rayon pool,
    /// their members read as `reading` says.
    pub async fn read(self, reading: MemberReading) -> Vec<Result<Beneficiary, BeneficiaryError>> {
        match self {
            Input::Lines(block) => on_pool(Lane::Bulk, move || block.parse(reading)).await,
            Input::Items(items) => items,
        }
    }
}

/// How to read the members of households for `rules`: members no rule reads
/// are checked, not built.
pub fn member_reading(rules: &[Rule]) -> MemberReading {
    match rules.iter().any(Rule::reads_members) {
        true => MemberReading::Eager,
        false => MemberReading::OnDemand,
    }
}

/// Rendered decisions of one chunk.
#[derive(Debug)]
pub struct Rendered {
    /// The bytes to write.
    pub bytes: Vec<u8>,
    /// Results they hold.
    pub items: usize,
}

/// What a stream did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StreamStats {
    /// Chunks processed.
    pub chunks: usize,
    /// Statistics summed over chunks.
    #[serde(flatten)]
    pub batch: BatchStats,
}

/// Evaluates chunks of input (NDJSON lines or read items) from `input` until it closes, sending
/// rendered decisions (in input order) to `output`. `on_chunk` is told the
/// running totals after each chunk (for progress bars and metrics). Stops
/// early, without error, when `output` is closed or `options.cancel` is set
/// (then only whole chunks were sent, and `chunks` counts them).
///
/// Three stages overlap: while one chunk is evaluated, the next is parsed and
/// the previous rendered (parsing and rendering on the rayon pool).
pub async fn evaluate_lines(
    engine: &Engine,
    rules: &[Rule],
    options: &EvaluationOptions,
    format: Format,
    input: Receiver<Input>,
    output: Sender<Rendered>,
    on_chunk: impl FnMut(&StreamStats),
) -> StreamStats {
    evaluate_lines_when(async { true }, engine, rules, options, format, input, output, on_chunk).await
}

/// Bytes of NDJSON text parsed while waiting for `ready` to evaluate (on top
/// of the channels' few chunks), so that reading goes on while a cache file is
/// restored: counted in the text's bytes, not chunks or lines, so that neither
/// large chunks nor long lines multiply it (at ~490 bytes a household, 65,000
/// of them: about 130 MiB with members read at once). Items already read
/// (a JSON array's) weigh nothing: they are in memory either way.
const PARSED_WHILE_WAITING: usize = 32 << 20;

/// A chunk's beneficiaries, and the bytes of text they were read from.
type Parsed = (Vec<Result<Beneficiary, BeneficiaryError>>, usize);

/// Waits for `ready`, keeping the chunks parsed meanwhile (until their text
/// reaches [`PARSED_WHILE_WAITING`] bytes); `None` if it says `false`.
async fn parse_while_waiting<Chunk>(
    ready: impl Future<Output = bool>,
    parsed: &mut Receiver<(Chunk, usize)>,
) -> Option<VecDeque<(Chunk, usize)>> {
    let mut waiting = VecDeque::new();
    let (mut kept, mut input_open) = (0, true);
    tokio::pin!(ready);
    let go = loop {
        tokio::select! {
            biased;
            go = &mut ready => break go,
            chunk = parsed.recv(), if input_open && kept < PARSED_WHILE_WAITING => match chunk {
                Some((chunk, text_len)) => {
                    kept += text_len;
                    waiting.push_back((chunk, text_len));
                }
                None => input_open = false,
            },
        }
    };
    go.then_some(waiting)
}

/// [`evaluate_lines`], evaluating nothing before `ready` says `true` (input is
/// read and parsed meanwhile), and nothing at all if it says `false`. For
/// work that must finish first, such as restoring a cache snapshot.
#[allow(clippy::too_many_arguments)]
pub async fn evaluate_lines_when(
    ready: impl Future<Output = bool>,
    engine: &Engine,
    rules: &[Rule],
    options: &EvaluationOptions,
    format: Format,
    mut input: Receiver<Input>,
    output: Sender<Rendered>,
    mut on_chunk: impl FnMut(&StreamStats),
) -> StreamStats {
    let (parsed_sender, mut parsed) = tokio::sync::mpsc::channel::<Parsed>(1);
    let (evaluated_sender, mut evaluated) = tokio::sync::mpsc::channel::<BatchResult>(1);
    let reading = member_reading(rules);
    let parse = async move {
        while let Some(chunk) = input.recv().await {
            let text_len = chunk.text_len();
            let items = chunk.read(reading).await;
            if parsed_sender.send((items, text_len)).await.is_err() {
                break;
            }
        }
    };
    let evaluate = async move {
        let Some(mut waiting) = parse_while_waiting(ready, &mut parsed).await else { return };
        loop {
            let (items, _) = match waiting.pop_front() {
                Some(parsed) => parsed,
                None => match parsed.recv().await {
                    Some(parsed) => parsed,
                    None => break,
                },
            };
            if options.cancel.is_cancelled() {
                break;
            }
            let result = engine.evaluate_batch(rules, items, options).await;
            // A chunk cancelled part-way is not sent: what was sent is complete.
            if options.cancel.is_cancelled() {
                break;
            }
            if evaluated_sender.send(result).await.is_err() {
                break;
            }
        }
    };
    let mut stats = StreamStats::default();
    let render = async {
        let mut written = 0usize;
        while let Some(result) = evaluated.recv().await {
            let owned_rules = rules.to_vec();
            let first = written;
            let (bytes, count, batch) = on_pool(Lane::Bulk, move || {
                let count = result.items.len();
                let bytes = result
                    .items
                    .par_chunks(1024)
                    .enumerate()
                    .map(|(i, part)| Writer::<Vec<u8>>::render(format, &owned_rules, part, first + i * 1024))
                    .collect::<Vec<Vec<u8>>>()
                    .concat();
                (bytes, count, result.stats)
            })
            .await;
            stats.batch.absorb(&batch);
            written += count;
            stats.chunks += 1;
            if output.send(Rendered { bytes, items: count }).await.is_err() {
                break;
            }
            on_chunk(&stats);
        }
        // Dropping the receiver stops the earlier stages when the output closed early.
        drop(evaluated);
    };
    tokio::join!(parse, evaluate, render);
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_parsed_while_waiting_are_kept_in_order_up_to_the_bound_in_text_bytes() {
        // Chunks of 5 MB of text each, whatever their number of lines.
        const CHUNK: usize = 5_000_000;
        let (sender, mut parsed) = tokio::sync::mpsc::channel::<(usize, usize)>(32);
        for chunk in 0..20 {
            sender.send((chunk, CHUNK)).await.expect("sent");
        }
        let (go, ready) = tokio::sync::oneshot::channel::<bool>();
        let waiting = tokio::spawn(async move {
            let kept = parse_while_waiting(async { ready.await.unwrap_or(false) }, &mut parsed).await;
            (kept, parsed)
        });
        tokio::task::yield_now().await;
        go.send(true).expect("still waiting");
        let (kept, mut parsed) = waiting.await.expect("joined");
        let kept: Vec<usize> = kept.expect("ready").into_iter().map(|(chunk, _)| chunk).collect();
        let chunks = PARSED_WHILE_WAITING.div_ceil(CHUNK);
        assert_eq!(kept, (0..chunks).collect::<Vec<_>>(), "whole chunks, until their text reaches the bound");
        let next = parsed.recv().await.map(|(chunk, _)| chunk);
        assert_eq!(next, Some(chunks), "the rest wait in the channel, in order");
    }

    #[tokio::test]
    async fn nothing_is_kept_when_ready_at_once_and_nothing_evaluated_when_it_says_no() {
        let (sender, mut parsed) = tokio::sync::mpsc::channel::<(usize, usize)>(4);
        sender.send((7, 100)).await.expect("sent");
        drop(sender);
        let kept = parse_while_waiting(async { true }, &mut parsed).await.expect("ready");
        assert!(kept.is_empty(), "ready at once: the chunk waits in the channel");
        assert_eq!(parsed.recv().await, Some((7, 100)));
        let (sender, mut parsed) = tokio::sync::mpsc::channel::<(usize, usize)>(4);
        sender.send((7, 100)).await.expect("sent");
        drop(sender);
        let (go, ready) = tokio::sync::oneshot::channel::<bool>();
        let waiting =
            tokio::spawn(async move { parse_while_waiting(async { ready.await.unwrap_or(false) }, &mut parsed).await });
        tokio::task::yield_now().await;
        go.send(false).expect("still waiting");
        assert!(waiting.await.expect("joined").is_none(), "not ready: nothing to evaluate");
    }
}
