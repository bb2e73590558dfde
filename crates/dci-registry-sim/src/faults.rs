//! Deterministic fault injection, one seeded ChaCha RNG per registry.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{FaultConfig, Misbehaviour, RegistryKind};

/// What to do with one data message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    /// Answer normally, perhaps with rejected items or a wrong signature.
    Serve(ServeFaults),
    /// Answer this HTTP status with an error body (and `Retry-After` for 429 and 503).
    Status { status: u16, retry_after_secs: u64 },
    /// Do not answer for this long (then 504).
    Hang(Duration),
    /// Answer 200 with a body that is not JSON.
    Malformed,
}

/// Faults applied while answering normally.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ServeFaults {
    /// Seed and chance of rejecting each item.
    pub(crate) reject_items: Option<(u64, f64)>,
    /// Sign with a wrong key.
    pub(crate) bad_signature: bool,
    /// Lie or misbehave in the answer.
    pub(crate) misbehaviour: Option<Misbehaviour>,
}

struct State {
    config: FaultConfig,
    rng: ChaCha8Rng,
    fail_next: VecDeque<u16>,
    hang_next: u32,
}

/// The fault injector of one registry.
pub(crate) struct Faults {
    active: AtomicBool,
    seed: u64,
    state: Mutex<State>,
}

fn registry_seed(seed: u64, kind: RegistryKind) -> u64 {
    seed ^ (kind.index() as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Faults {
    pub(crate) fn new(kind: RegistryKind, seed: u64, config: FaultConfig) -> Self {
        let seed = registry_seed(seed, kind);
        let faults = Faults { active: AtomicBool::new(false), seed, state: Mutex::new(State::new(seed, config)) };
        faults.refresh_active();
        faults
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn refresh_active(&self) {
        let state = self.lock();
        let active = !state.config.is_none() || !state.fail_next.is_empty() || state.hang_next > 0;
        self.active.store(active, Ordering::Release);
    }

    /// Replaces the configuration and restarts the RNG from the seed, so that
    /// a run after a change is as reproducible as a run after start.
    pub(crate) fn set(&self, config: FaultConfig) {
        *self.lock() = State::new(self.seed, config);
        self.refresh_active();
    }

    /// The delay to add to any request of the registry.
    pub(crate) fn latency(&self) -> Option<Duration> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.lock();
        let State { config, rng, .. } = &mut *state;
        let jitter = if config.jitter_ms > 0 { rng.random_range(0..=config.jitter_ms) } else { 0 };
        let total = config.latency_ms.saturating_add(jitter);
        (total > 0).then(|| Duration::from_millis(total))
    }

    /// The misbehaviour set, for the endpoints that take no [`Faults::decide`]
    /// (the token endpoint).
    pub(crate) fn misbehaviour(&self) -> Option<Misbehaviour> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.lock().config.misbehaviour.clone()
    }

    /// The fate of one data message.
    pub(crate) fn decide(&self) -> Action {
        if !self.active.load(Ordering::Acquire) {
            return Action::Serve(ServeFaults::default());
        }
        let action = {
            let mut state = self.lock();
            state.decide()
        };
        if !matches!(action, Action::Serve(_)) {
            self.refresh_active();
        }
        action
    }
}

impl State {
    /// The scripted faults move out of the configuration into their queues.
    fn new(seed: u64, mut config: FaultConfig) -> Self {
        State {
            rng: ChaCha8Rng::seed_from_u64(seed),
            fail_next: std::mem::take(&mut config.fail_next).into(),
            hang_next: std::mem::take(&mut config.hang_next),
            config,
        }
    }

    fn decide(&mut self) -> Action {
        let retry_after_secs = self.config.retry_after_secs;
        if let Some(status) = self.fail_next.pop_front() {
            return Action::Status { status, retry_after_secs };
        }
        if self.hang_next > 0 {
            self.hang_next -= 1;
            return Action::Hang(Duration::from_secs(self.config.hang_secs));
        }
        let config = &self.config;
        let exclusive = [
            (config.error_500_rate, Action::Status { status: 500, retry_after_secs }),
            (config.error_503_rate, Action::Status { status: 503, retry_after_secs }),
            (config.error_429_rate, Action::Status { status: 429, retry_after_secs }),
            (config.hang_rate, Action::Hang(Duration::from_secs(config.hang_secs))),
            (config.malformed_rate, Action::Malformed),
        ];
        if exclusive.iter().any(|(rate, _)| *rate > 0.0) {
            let draw: f64 = self.rng.random();
            let mut bound = 0.0;
            for (rate, action) in exclusive {
                bound += rate.clamp(0.0, 1.0);
                if draw < bound {
                    return action;
                }
            }
        }
        let reject_rate = config.reject_item_rate.clamp(0.0, 1.0);
        let bad_rate = config.bad_signature_rate.clamp(0.0, 1.0);
        let reject_items = (reject_rate > 0.0).then(|| (self.rng.random::<u64>(), reject_rate));
        let bad_signature = bad_rate > 0.0 && self.rng.random_bool(bad_rate);
        Action::Serve(ServeFaults { reject_items, bad_signature, misbehaviour: self.config.misbehaviour.clone() })
    }
}

/// Draws, item by item, whether to reject it.
pub(crate) struct ItemRejecter {
    rng: ChaCha8Rng,
    rate: f64,
}

impl ItemRejecter {
    pub(crate) fn new(faults: &ServeFaults) -> Option<Self> {
        faults.reject_items.map(|(seed, rate)| ItemRejecter { rng: ChaCha8Rng::seed_from_u64(seed), rate })
    }

    pub(crate) fn reject(&mut self) -> bool {
        self.rng.random_bool(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(faults: &Faults, n: usize) -> Vec<Action> {
        (0..n).map(|_| faults.decide()).collect()
    }

    #[test]
    fn scripted_faults_come_first_then_normal_service() {
        let config = FaultConfig { fail_next: vec![500, 429], hang_next: 1, hang_secs: 5, ..FaultConfig::default() };
        let faults = Faults::new(RegistryKind::Crvs, 1, config);
        let seen = outcomes(&faults, 4);
        assert_eq!(seen[0], Action::Status { status: 500, retry_after_secs: 1 });
        assert_eq!(seen[1], Action::Status { status: 429, retry_after_secs: 1 });
        assert_eq!(seen[2], Action::Hang(Duration::from_secs(5)));
        assert_eq!(seen[3], Action::Serve(ServeFaults::default()));
        assert!(!faults.active.load(Ordering::Acquire), "nothing left to inject");
    }

    #[test]
    fn random_faults_follow_their_rates_and_the_seed() {
        let config = FaultConfig { error_503_rate: 0.25, malformed_rate: 0.25, ..FaultConfig::default() };
        let a = outcomes(&Faults::new(RegistryKind::Ibr, 42, config.clone()), 2000);
        let b = outcomes(&Faults::new(RegistryKind::Ibr, 42, config.clone()), 2000);
        assert_eq!(a, b, "same seed, same faults");
        let c = outcomes(&Faults::new(RegistryKind::Ibr, 43, config.clone()), 2000);
        assert_ne!(a, c);
        let share = |status: Action| a.iter().filter(|x| **x == status).count() as f64 / 2000.0;
        let unavailable = share(Action::Status { status: 503, retry_after_secs: 1 });
        assert!((0.2..0.3).contains(&unavailable), "{unavailable}");
        assert!((0.2..0.3).contains(&share(Action::Malformed)));

        let faults = Faults::new(RegistryKind::Ibr, 42, config.clone());
        let first = outcomes(&faults, 50);
        faults.set(config);
        assert_eq!(outcomes(&faults, 50), first, "set_faults restarts the sequence");
    }

    #[test]
    fn a_misbehaviour_lasts_while_set_and_scripted_faults_come_first() {
        let misbehaviour = Some(Misbehaviour::NullData);
        let config = FaultConfig { fail_next: vec![503], misbehaviour: misbehaviour.clone(), ..FaultConfig::default() };
        let faults = Faults::new(RegistryKind::Crvs, 3, config);
        assert_eq!(faults.misbehaviour(), misbehaviour);
        let seen = outcomes(&faults, 3);
        assert_eq!(seen[0], Action::Status { status: 503, retry_after_secs: 1 });
        let lying = Action::Serve(ServeFaults { misbehaviour: misbehaviour.clone(), ..ServeFaults::default() });
        assert_eq!(&seen[1..], &[lying.clone(), lying]);
        faults.set(FaultConfig::default());
        assert_eq!(faults.misbehaviour(), None);
        assert_eq!(faults.decide(), Action::Serve(ServeFaults::default()));
    }

    #[test]
    fn latency_is_fixed_plus_bounded_jitter() {
        let faults =
            Faults::new(RegistryKind::Dr, 0, FaultConfig { latency_ms: 10, jitter_ms: 5, ..FaultConfig::default() });
        for _ in 0..100 {
            let latency = faults.latency().unwrap();
            assert!((Duration::from_millis(10)..=Duration::from_millis(15)).contains(&latency));
        }
        assert_eq!(Faults::new(RegistryKind::Dr, 0, FaultConfig::default()).latency(), None);
    }
}
