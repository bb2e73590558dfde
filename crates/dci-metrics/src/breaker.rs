//! A circuit breaker per registry: after repeated failures, stop asking for a
//! cool-down and answer "registry unavailable" at once, so that a dead
//! registry does not multiply timeouts across a million people.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// When the breaker opens and for how long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed lookups (whole chunks whose every lookup failed) that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before one probe is let through.
    pub cool_down_secs: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig { failure_threshold: 3, cool_down_secs: 30 }
    }
}

/// The state of a breaker, as reported to operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests are refused until the cool-down ends.
    Open,
    /// One probe is in flight; its outcome closes or reopens the breaker.
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// A circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        CircuitBreaker { config, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a request may be sent now. When the cool-down has ended, the
    /// first caller is let through as the probe and later callers wait for its outcome.
    pub fn allow(&self) -> bool {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => true,
            State::Open { until } if Instant::now() >= until => {
                *state = State::HalfOpen;
                true
            }
            State::Open { .. } | State::HalfOpen => false,
        }
    }

    /// Records a successful request: the breaker closes.
    pub fn record_success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// Records a failed request: the breaker opens after the threshold, or at once after a failed probe.
    pub fn record_failure(&self) {
        let mut state = self.lock();
        let open = State::Open { until: Instant::now() + Duration::from_secs(self.config.cool_down_secs) };
        *state = match *state {
            State::Closed { failures } if failures + 1 >= self.config.failure_threshold.max(1) => open,
            State::Closed { failures } => State::Closed { failures: failures + 1 },
            State::HalfOpen | State::Open { .. } => open,
        };
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_closes_after_a_good_probe() {
        let breaker = CircuitBreaker::new(BreakerConfig { failure_threshold: 2, cool_down_secs: 0 });
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.record_failure();
        // cool-down 0: the next caller probes at once
        assert!(breaker.allow());
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(!breaker.allow(), "one probe at a time");
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn an_open_breaker_refuses_until_the_cool_down_ends() {
        let breaker = CircuitBreaker::new(BreakerConfig { failure_threshold: 1, cool_down_secs: 3600 });
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.allow());
    }
}
