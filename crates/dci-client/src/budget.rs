//! A retry budget: retries are paid from tokens that requests earn, so that
//! a registry failing most requests is not sent each of them several times
//! (its load and the caller's wait would multiply), while a registry failing
//! now and then is retried as before.

use std::sync::Mutex;

/// Tokens of one client, in retries.
#[derive(Debug)]
pub(crate) struct RetryBudget {
    tokens: Mutex<f64>,
    ratio: f64,
    cap: f64,
}

impl RetryBudget {
    /// A budget earning `ratio` retries per request, starting with (and never
    /// falling under the earning of) `reserve` retries, holding at most
    /// `reserve` + 100 × `ratio` tokens.
    pub(crate) fn new(ratio: f64, reserve: u32) -> Self {
        let ratio = if ratio.is_finite() { ratio.clamp(0.0, 10.0) } else { 0.0 };
        let reserve = f64::from(reserve);
        RetryBudget { tokens: Mutex::new(reserve), ratio, cap: reserve + 100.0 * ratio }
    }

    /// A request was sent.
    pub(crate) fn deposit(&self) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *tokens = (*tokens + self.ratio).min(self.cap);
    }

    /// Takes one retry's token; false when there is none.
    pub(crate) fn withdraw(&self) -> bool {
        let mut tokens = self.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_bounded_by_the_share_of_requests() {
        let budget = RetryBudget::new(0.2, 3);
        let granted = (0..3).filter(|_| budget.withdraw()).count();
        assert_eq!(granted, 3, "the reserve");
        assert!(!budget.withdraw(), "spent");
        let mut retries = 0;
        for _ in 0..1000 {
            budget.deposit();
            if budget.withdraw() {
                retries += 1;
            }
        }
        assert!((195..=200).contains(&retries), "{retries}");
        for _ in 0..10_000 {
            budget.deposit();
        }
        let saved = (0..1000).filter(|_| budget.withdraw()).count();
        assert_eq!(saved, 23, "at most the reserve and 100 requests' earnings are saved");
    }
}
