//! The runtime budget every evaluation runs under (see [`crate::rules::cost`] for
//! the units and the static estimate, and [`crate::engine::metered`] for what each
//! function charges).
//!
//! The meter of the evaluation running on a thread is a thread-local cell:
//! [`Allowance::start`] sets it, every charge adds to it, and the first
//! charge past the budget stops the evaluation: that charge fails, and so
//! does every later one. Work is charged *before* it is done (a loop's
//! iteration before its body, a function before it walks or builds), so an
//! error or an unknown value met inside the work does not skip the meter,
//! and no operation runs longer than the budget it was left. The batch's
//! cancellation is checked at each loop iteration and each metered call.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cel::ExecutionError;
use cel::FunctionContext;
use cel::common::types::CelBool;
use cel::common::value::{BuiltinRef, CowVal, Val};

use crate::engine::pool::INTERACTIVE_ALLOTMENT;
use crate::names::{BUDGET_FN, BYTES_PER_STEP, ITEM_BYTES};

/// A flag that stops evaluations: set it and every evaluation that checks it
/// ends with `cancelled`. Clones share the flag.
#[derive(Clone, Debug, Default)]
pub struct Cancellation(Arc<AtomicBool>);

impl Cancellation {
    /// A flag not yet set.
    pub fn new() -> Self {
        Cancellation::default()
    }
    /// Stops every evaluation that watches this flag.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether [`Cancellation::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl PartialEq for Cancellation {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Cancellation {}

/// Why an evaluation was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// It would pass its budget of steps.
    Steps(u64),
    /// It would build more bytes than its budget.
    Bytes(u64),
    /// The costly evaluations of its batch have taken their budget of steps.
    BatchSteps(u64),
    /// Its request was cancelled.
    Cancelled,
}

/// Evaluations of fewer steps are not counted against their batch's budget
/// ([`Limits::max_batch_steps`](crate::Limits::max_batch_steps)): counting each
/// would make every evaluation write one counter shared by every core.
pub const BATCH_COUNTED_FROM: u64 = 1_000;

/// What the evaluation running on a thread has used, and may use.
#[derive(Clone, Copy, Debug, Default)]
struct Meter {
    /// The steps its decision had taken when it started.
    initial: u64,
    steps: u64,
    bytes: u64,
    max_steps: u64,
    max_bytes: u64,
    stop: Option<Stop>,
}

thread_local! {
    /// The meter of the evaluation running on this thread.
    static METER: Cell<Meter> = const {
        Cell::new(Meter { initial: 0, steps: 0, bytes: 0, max_steps: u64::MAX, max_bytes: u64::MAX, stop: None })
    };
}

/// Charges the evaluation running on this thread; an error once it is past
/// its budget (and for every charge after that).
fn charge(steps: u64, bytes: u64) -> Result<(), ExecutionError> {
    METER.with(|cell| {
        let mut meter = cell.get();
        if let Some(stop) = meter.stop {
            return Err(stop_error(stop));
        }
        meter.steps = meter.steps.saturating_add(steps);
        meter.bytes = meter.bytes.saturating_add(bytes);
        if meter.steps > meter.max_steps {
            meter.stop = Some(Stop::Steps(meter.max_steps));
        } else if meter.bytes > meter.max_bytes {
            meter.stop = Some(Stop::Bytes(meter.max_bytes));
        }
        cell.set(meter);
        meter.stop.map_or(Ok(()), |stop| Err(stop_error(stop)))
    })
}

/// JSON bytes a step parses: parsing a list or an object and building its
/// values costs about eight times walking a string (`examples/budget_time.rs`).
const PARSED_BYTES_PER_STEP: u64 = 8;

/// Charges the reading of a field whose JSON text is `raw`: one step per
/// [`BYTES_PER_STEP`] bytes walked; a list, an object or a string with
/// escapes is parsed on every read (a list or object at one step per
/// [`PARSED_BYTES_PER_STEP`]), and builds its bytes (a plain string is lent
/// from the data).
pub(crate) fn charge_read(raw: &str) -> Result<(), ExecutionError> {
    let steps = raw.len() as u64 / BYTES_PER_STEP;
    match raw.as_bytes().first() {
        Some(b'[' | b'{') => charge(raw.len() as u64 / PARSED_BYTES_PER_STEP, raw.len() as u64),
        Some(b'"') if raw.contains('\\') => charge(steps, raw.len() as u64),
        Some(b'"') if steps > 0 => charge(steps, 0),
        _ => Ok(()),
    }
}

/// The budget of the evaluations of one batch, and their cancellation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Allowance {
    pub(crate) steps: u64,
    pub(crate) bytes: u64,
    pub(crate) cancel: Cancellation,
    /// The steps the batch's costly evaluations may take together, and have taken.
    pub(crate) batch_steps: u64,
    pub(crate) batch_spent: Arc<AtomicU64>,
    /// For a batch on the interactive pool, the steps all its evaluations have taken.
    pub(crate) lane_spent: Option<Arc<AtomicU64>>,
    /// Told when those pass [`INTERACTIVE_ALLOTMENT`].
    pub(crate) lane_change: LaneChange,
}

/// Tells its watchers, once, that a batch left the small callers' pool for
/// the bulk pool. Clones share it.
#[derive(Clone, Debug, Default)]
pub struct LaneChange(Arc<(AtomicBool, tokio::sync::Notify)>);

impl LaneChange {
    fn moved(&self) {
        if !self.0.0.swap(true, Ordering::Relaxed) {
            self.0.1.notify_waiters();
        }
    }

    /// Whether the batch has moved to the bulk pool.
    pub fn has_moved(&self) -> bool {
        self.0.0.load(Ordering::Relaxed)
    }

    /// Returns once the batch has moved to the bulk pool (never, if it does not).
    pub async fn wait(&self) {
        let notified = self.0.1.notified();
        if self.has_moved() {
            return;
        }
        notified.await;
    }
}

impl PartialEq for LaneChange {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for LaneChange {}

impl Allowance {
    /// Starts metering an evaluation on this thread, under this allowance,
    /// counting the steps its decision has already taken (`spent`): bytes are
    /// per evaluation (they are freed after it), steps add up across the
    /// phases that evaluate one decision.
    ///
    /// Once the batch's costly evaluations have taken the batch's budget, an
    /// evaluation stops at its first charge (one that charges nothing, a plain
    /// comparison say, still ends).
    pub(crate) fn start(&self, spent: Option<&AtomicU64>) {
        let steps = spent.map_or(0, |spent| spent.load(Ordering::Relaxed));
        let stop = (self.batch_spent.load(Ordering::Relaxed) >= self.batch_steps)
            .then_some(Stop::BatchSteps(self.batch_steps));
        METER.with(|cell| {
            cell.set(Meter {
                initial: steps,
                steps,
                max_steps: self.steps,
                max_bytes: self.bytes,
                stop,
                ..Meter::default()
            });
        });
    }

    /// Stops the evaluation on this thread when its batch was cancelled.
    fn notice_cancellation(&self) {
        if self.cancel.is_cancelled() {
            METER.with(|cell| {
                let mut meter = cell.get();
                meter.stop = meter.stop.or(Some(Stop::Cancelled));
                cell.set(meter);
            });
        }
    }

    /// Charges work about to be done: an error once past the budget, or once the batch is cancelled.
    pub(crate) fn spend(&self, steps: u64, bytes: u64) -> Result<(), ExecutionError> {
        self.notice_cancellation();
        charge(steps, bytes)
    }

    /// Records the steps taken so far on the decision's account, and those of
    /// a costly evaluation on the batch's.
    pub(crate) fn record(&self, spent: Option<&AtomicU64>) {
        let meter = METER.with(Cell::get);
        if let Some(spent) = spent {
            spent.store(meter.steps, Ordering::Relaxed);
        }
        let taken = meter.steps.saturating_sub(meter.initial);
        if taken >= BATCH_COUNTED_FROM {
            self.batch_spent.fetch_add(taken, Ordering::Relaxed);
        }
        if let Some(lane) = &self.lane_spent {
            let before = lane.fetch_add(taken, Ordering::Relaxed);
            if before <= INTERACTIVE_ALLOTMENT && before.saturating_add(taken) > INTERACTIVE_ALLOTMENT {
                self.lane_change.moved();
            }
        }
    }

    /// For a batch on the interactive pool, the steps its evaluations have taken.
    pub(crate) fn lane_spent(&self) -> Option<u64> {
        self.lane_spent.as_ref().map(|spent| spent.load(Ordering::Relaxed))
    }

    /// The [`BUDGET_FN`] implementation, `@budget(range, bytes per item)`:
    /// before a loop starts, charges its range's length times the bytes each
    /// iteration builds, and the copy of each element into the loop variable.
    pub(crate) fn charge_loop<'c, 'v>(
        &self,
        call: &mut FunctionContext<'c, 'v>,
    ) -> Result<CowVal<'c, 'v>, ExecutionError> {
        let (Some(range), Some(per_item)) = (call.args.first(), call.args.get(1)) else {
            return Err(call.error("takes a range and a cost"));
        };
        let items = range.as_sizer().map_or(0, |sizer| u64::try_from(*sizer.size().inner()).unwrap_or(0));
        let copied = weigh(range.as_ref());
        self.spend(copied.items, items.saturating_mul(number(per_item)).saturating_add(copied.copy_bytes()))?;
        Ok(call.args.swap_remove(0))
    }

    /// The [`TICK_FN`](crate::names::TICK_FN) implementation, `@tick(steps)`:
    /// charges one iteration's steps before its work is done, and is `true`.
    pub(crate) fn tick<'c, 'v>(&self, call: &mut FunctionContext<'c, 'v>) -> Result<CowVal<'c, 'v>, ExecutionError> {
        self.spend(call.args.first().map_or(1, number), 0)?;
        Ok(boolean(true))
    }
}

/// A cost written in the expression (a literal int).
fn number(value: &CowVal<'_, '_>) -> u64 {
    value.downcast_ref::<cel::common::types::CelInt>().map_or(0, |n| u64::try_from(*n.inner()).unwrap_or(0))
}

/// The error a stopped evaluation ends with.
pub(crate) fn stop_error(stop: Stop) -> ExecutionError {
    ExecutionError::function_error(BUDGET_FN, stop.message())
}

/// Why the evaluation that ended with `error` was stopped, if it was.
pub(crate) fn as_stop(error: &ExecutionError) -> Option<Stop> {
    match error {
        ExecutionError::FunctionError { function, .. } if function == BUDGET_FN => stopped(),
        _ => None,
    }
}

impl Stop {
    /// The code of the decision's error.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Stop::Steps(_) | Stop::Bytes(_) | Stop::BatchSteps(_) => "budget_exceeded",
            Stop::Cancelled => "cancelled",
        }
    }

    /// What happened, for the decision's error message.
    pub(crate) fn message(self) -> String {
        match self {
            Stop::Steps(limit) => format!("the evaluation would take more than {limit} steps (max_steps)"),
            Stop::Bytes(limit) => format!("the evaluation would build more than {limit} bytes (max_bytes)"),
            Stop::BatchSteps(limit) => format!(
                "the costly evaluations of this batch have taken more than {limit} steps together (max_batch_steps)"
            ),
            Stop::Cancelled => "the evaluation was cancelled".to_owned(),
        }
    }
}

/// Why the evaluation metered on this thread was stopped, if it was.
pub(crate) fn stopped() -> Option<Stop> {
    METER.with(|meter| meter.get().stop)
}

/// The size of a value for metering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Weight {
    /// List and map entries, at every depth.
    pub(crate) items: u64,
    /// Bytes of strings and bytes, at every depth.
    pub(crate) bytes: u64,
    /// Of those, the bytes a copy of the value allocates again (strings
    /// lent from the data are copied as a pointer).
    pub(crate) owned_bytes: u64,
}

impl Weight {
    /// Steps to walk the value once.
    pub(crate) fn walk_steps(self) -> u64 {
        self.items.saturating_add(self.bytes / BYTES_PER_STEP)
    }
    /// Bytes a copy of the value builds.
    pub(crate) fn copy_bytes(self) -> u64 {
        self.owned_bytes.saturating_add(self.items.saturating_mul(ITEM_BYTES))
    }
}

/// The [`Weight`] of `value`, walked without recursion (values from the data
/// may nest deeply).
pub(crate) fn weigh(value: &dyn Val) -> Weight {
    let mut weight = Weight::default();
    let mut pending: Vec<&dyn Val> = vec![value];
    while let Some(value) = pending.pop() {
        match value.as_builtin() {
            BuiltinRef::String(text) => {
                let len = text.inner().len() as u64;
                weight.bytes = weight.bytes.saturating_add(len);
                if text.as_borrowed().is_none() {
                    weight.owned_bytes = weight.owned_bytes.saturating_add(len);
                }
            }
            BuiltinRef::Bytes(bytes) => {
                let len = bytes.inner().len() as u64;
                weight.bytes = weight.bytes.saturating_add(len);
                if bytes.as_borrowed().is_none() {
                    weight.owned_bytes = weight.owned_bytes.saturating_add(len);
                }
            }
            BuiltinRef::List(list) => {
                weight.items = weight.items.saturating_add(list.inner().len() as u64);
                pending.extend(list.inner().iter().map(|item| item.as_ref()));
            }
            BuiltinRef::Map(map) => {
                weight.items = weight.items.saturating_add(map.inner().len() as u64);
                for (key, item) in map.inner() {
                    pending.push(key.inner());
                    pending.push(item.as_ref());
                }
            }
            BuiltinRef::Optional(optional) => pending.extend(optional.inner()),
            _ => {}
        }
    }
    weight
}

/// A boolean result, lent from a constant: no allocation.
pub(crate) fn boolean<'c, 'v>(value: bool) -> CowVal<'c, 'v> {
    static TRUE: CelBool = CelBool::TRUE;
    static FALSE: CelBool = CelBool::FALSE;
    CowVal::Borrowed(if value { &TRUE } else { &FALSE })
}
