//! Evaluation slots in two lanes, so that small callers never wait behind
//! costly ones.
//!
//! A request's lane follows from its cost, known once its rules are compiled
//! and its beneficiaries counted: estimated steps × beneficiaries, as the
//! engine's own pools choose ([`Lane::for_rules`]). The *interactive* lane
//! (at most 64 evaluations estimated at 100,000 steps in all) has slots and
//! a queue of its own (`max_concurrent_interactive`, `max_queued_interactive`)
//! and runs on the engine's pool for small work; the *bulk* lane
//! (`max_concurrent_evaluations`, `max_queued`) on every core. Beyond a
//! lane's slots and queue: 503 `overloaded` with `Retry-After`. A streamed
//! response keeps its slot until its body is sent; an NDJSON stream is bulk.
//!
//! A JSON body is received whole before its request is prepared and asks for
//! a slot ([`crate::layers::admission::receive`]), so that a slow client holds no slot while its body
//! arrives; at most twice as many bodies as there are slots and places in the
//! queues are received or prepared at once (their memory is bounded), beyond
//! that 503 `overloaded`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::{LaneStatus, LanesStatus};
use crate::config::ServerLimits;
use crate::pool::Lane;

/// Seconds a refused caller is told to wait.
pub(crate) const RETRY_AFTER_SECS: u64 = 2;

/// What is busy, when a request finds no place: answered 503 `overloaded`
/// ([`crate::state::AppState::overloaded`]).
pub(crate) struct Busy(pub(crate) String);

/// The slots and queue places of one lane.
#[derive(Debug)]
struct LaneSlots {
    /// Running and waiting evaluations together.
    places: Arc<Semaphore>,
    /// Running evaluations.
    running: Arc<Semaphore>,
    concurrent: usize,
    queued: usize,
    /// When each running evaluation took its slot, by ticket.
    started: Arc<Mutex<Vec<(u64, Instant)>>>,
}

impl LaneSlots {
    fn new(concurrent: usize, queued: usize) -> Self {
        LaneSlots {
            places: Arc::new(Semaphore::new(concurrent + queued)),
            running: Arc::new(Semaphore::new(concurrent)),
            concurrent,
            queued,
            started: Arc::default(),
        }
    }

    fn running(&self) -> usize {
        self.concurrent - self.running.available_permits().min(self.concurrent)
    }

    fn waiting(&self) -> usize {
        let all = self.concurrent + self.queued;
        (all - self.places.available_permits().min(all)).saturating_sub(self.running())
    }

    fn oldest_age(&self) -> Option<Duration> {
        let started = self.started.lock().ok()?;
        started.iter().map(|(_, at)| at.elapsed()).max()
    }

    fn saturated(&self, limit: Duration) -> bool {
        let Ok(started) = self.started.lock() else { return false };
        started.len() >= self.concurrent && started.iter().all(|(_, at)| at.elapsed() > limit)
    }
}

/// The evaluation slots of both lanes, and the bound on bodies being received.
#[derive(Debug)]
pub(crate) struct Slots {
    interactive: LaneSlots,
    bulk: LaneSlots,
    /// JSON bodies being received or prepared before their requests ask for a slot.
    receiving: Arc<Semaphore>,
    receiving_limit: usize,
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
    /// The lane of the slot.
    pub(crate) lane: Lane,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut started) = self.started.lock() {
            started.retain(|(ticket, _)| *ticket != self.ticket);
        }
    }
}

/// A JSON body received, not yet admitted to a lane: it counts against the bodies received at
/// once until its request has a place in a queue.
#[derive(Clone, Debug)]
pub(crate) struct Receiving(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

impl Slots {
    pub(crate) fn new(limits: &ServerLimits) -> Self {
        let receiving_limit = 2
            * (limits.max_concurrent_evaluations
                + limits.max_queued
                + limits.max_concurrent_interactive
                + limits.max_queued_interactive);
        Slots {
            interactive: LaneSlots::new(limits.max_concurrent_interactive, limits.max_queued_interactive),
            bulk: LaneSlots::new(limits.max_concurrent_evaluations, limits.max_queued),
            receiving: Arc::new(Semaphore::new(receiving_limit)),
            receiving_limit,
            next_ticket: Default::default(),
        }
    }

    fn lane(&self, lane: Lane) -> &LaneSlots {
        match lane {
            Lane::Interactive => &self.interactive,
            Lane::Bulk => &self.bulk,
        }
    }

    /// A place among the bodies being received ([`Busy`] when there is none).
    pub(crate) fn start_receiving(&self) -> Result<Receiving, Busy> {
        match self.receiving.clone().try_acquire_owned() {
            Ok(permit) => Ok(Receiving(Arc::new(permit))),
            Err(_) => Err(Busy(format!("{} request bodies are being received", self.receiving_limit))),
        }
    }

    /// Takes a place in `lane`'s queue ([`Busy`] when there is none), lets `received`
    /// go, then waits for a slot.
    pub(crate) async fn admit(&self, lane: Lane, received: Option<Receiving>) -> Result<Arc<Held>, Busy> {
        let slots = self.lane(lane);
        let Ok(place) = slots.places.clone().try_acquire_owned() else {
            let what =
                format!("{} {} evaluations running and {} waiting", slots.running(), name(lane), slots.waiting());
            return Err(Busy(what));
        };
        drop(received);
        Ok(self.slot(lane, place).await)
    }

    /// A slot of the bulk lane for work already running (moved off the small callers' pool):
    /// `None` while the lane's queue has no place.
    pub(crate) async fn move_to_bulk(&self) -> Option<Arc<Held>> {
        let place = self.bulk.places.clone().try_acquire_owned().ok()?;
        Some(self.slot(Lane::Bulk, place).await)
    }

    /// Waits for a slot of `lane`, holding `place` in its queue.
    async fn slot(&self, lane: Lane, place: OwnedSemaphorePermit) -> Arc<Held> {
        let slots = self.lane(lane);
        // INVARIANT: the slots' semaphores are never closed, so acquiring one can only wait.
        let slot = match slots.running.clone().acquire_owned().await {
            Ok(slot) => slot,
            Err(_) => unreachable!("the evaluation slots are never closed"),
        };
        let ticket = self.next_ticket.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut started) = slots.started.lock() {
            started.push((ticket, Instant::now()));
        }
        Arc::new(Held { _permits: (place, slot), ticket, started: slots.started.clone(), lane })
    }

    /// How long the oldest running evaluation of `lane` has run, if one runs.
    pub(crate) fn oldest_age(&self, lane: Lane) -> Option<Duration> {
        self.lane(lane).oldest_age()
    }

    /// Evaluations of `lane` running now.
    pub(crate) fn running(&self, lane: Lane) -> usize {
        self.lane(lane).running()
    }

    /// Evaluations of `lane` waiting for a slot now.
    pub(crate) fn waiting(&self, lane: Lane) -> usize {
        self.lane(lane).waiting()
    }

    /// Both lanes now; a lane is saturated when every slot is taken by an evaluation that has
    /// run longer than `limit` (new requests of that lane can only wait).
    pub(crate) fn status(&self, limit: Duration) -> LanesStatus {
        let status = |slots: &LaneSlots| LaneStatus {
            running: slots.running(),
            waiting: slots.waiting(),
            slots: slots.concurrent,
            saturated: slots.saturated(limit),
        };
        LanesStatus { interactive: status(&self.interactive), bulk: status(&self.bulk) }
    }
}

/// The name of a lane, in messages and labels.
pub(crate) fn name(lane: Lane) -> &'static str {
    match lane {
        Lane::Interactive => "interactive",
        Lane::Bulk => "bulk",
    }
}
