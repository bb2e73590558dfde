//! CPU work on rayon, awaited without blocking a tokio worker.
//!
//! Two pools: rayon's global pool for batches, and a pool of one thread for
//! small jobs (a one-beneficiary evaluation, a short request's parsing). A
//! rayon worker takes work sent from outside its pool only once its own
//! queue is empty, so on one pool a small job would wait behind a large
//! batch; on a pool of its own it runs at once, the operating system sharing
//! the CPU between the pools' threads.

use std::sync::OnceLock;

/// Which pool a job runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Small, latency-sensitive work: a pool of its own.
    Interactive,
    /// Batches: rayon's global pool, every core.
    Bulk,
}

impl Lane {
    /// The lane for work over `items` items: [`Lane::Interactive`] up to
    /// [`INTERACTIVE_ITEMS`].
    pub fn for_items(items: usize) -> Lane {
        if items <= INTERACTIVE_ITEMS { Lane::Interactive } else { Lane::Bulk }
    }

    /// The lane for `items` evaluations estimated at `steps` in all:
    /// [`Lane::Interactive`] up to [`INTERACTIVE_ITEMS`] and [`INTERACTIVE_STEPS`].
    pub fn for_evaluations(items: usize, steps: u64) -> Lane {
        if items <= INTERACTIVE_ITEMS && steps <= INTERACTIVE_STEPS { Lane::Interactive } else { Lane::Bulk }
    }
}

impl Lane {
    /// The lane of a batch of `rules` over `beneficiaries`: [`Lane::for_evaluations`] of their
    /// count and their estimated steps together.
    pub fn for_rules(rules: &[crate::Rule], beneficiaries: usize) -> Lane {
        let steps: u64 = rules.iter().map(|rule| rule.estimate().steps).fold(0, u64::saturating_add);
        let evaluations = rules.len().saturating_mul(beneficiaries);
        Lane::for_evaluations(evaluations, steps.saturating_mul(beneficiaries as u64))
    }
}

/// The most items (beneficiaries × rules, or lines) a job on [`Lane::Interactive`] has.
pub const INTERACTIVE_ITEMS: usize = 64;

/// The most estimated steps (see `Limits::max_steps`) of the evaluations of an
/// interactive batch, all together.
pub const INTERACTIVE_STEPS: u64 = 100_000;

/// The most steps the evaluations of a batch on [`Lane::Interactive`] take
/// together before the batch moves to [`Lane::Bulk`]: ten times what the
/// lane admits by estimate, about a tenth of a second of one core
/// (`examples/budget_time.rs`). A batch over data larger than the estimate
/// assumed is answered all the same, off the small callers' thread.
pub const INTERACTIVE_ALLOTMENT: u64 = 10 * INTERACTIVE_STEPS;

fn interactive_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new().num_threads(1).thread_name(|_| "elig-interactive".into()).build().ok()
    })
    .as_ref()
}

/// Runs `job` on `lane`'s pool; a panic in it resumes in the caller.
pub async fn on_pool<T: Send + 'static>(lane: Lane, job: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let task = move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let _ = sender.send(result);
    };
    match (lane, interactive_pool()) {
        (Lane::Interactive, Some(pool)) => pool.spawn(task),
        _ => rayon::spawn(task),
    }
    match receiver.await {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the rayon pool dropped a job"),
    }
}
