//! Streaming evaluation of NDJSON: chunks of lines in, rendered decisions
//! out, so that a list of any length never sits whole in memory. Parsing and
//! rendering run on the rayon pool; while one chunk is evaluated the caller
//! reads the next and writes the previous.

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
    let (parsed_sender, mut parsed) = tokio::sync::mpsc::channel::<Vec<Result<Beneficiary, BeneficiaryError>>>(1);
    let (evaluated_sender, mut evaluated) = tokio::sync::mpsc::channel::<BatchResult>(1);
    let reading = member_reading(rules);
    let parse = async move {
        while let Some(chunk) = input.recv().await {
            let items = chunk.read(reading).await;
            if parsed_sender.send(items).await.is_err() {
                break;
            }
        }
    };
    let evaluate = async move {
        if !ready.await {
            return;
        }
        while let Some(items) = parsed.recv().await {
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
