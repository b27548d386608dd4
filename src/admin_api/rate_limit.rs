//! Admin API client: the rate limit.
//!
//! A process-wide limit on the rate of calls: evenly spaced, with a burst of one second's worth.

use std::time::Duration;

use tokio::time::Instant;

/// Spaces calls evenly at `rate` per second, allowing a burst of one second's worth.
#[derive(Debug)]
pub(super) struct RateLimiter {
    interval: Duration,
    burst: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl RateLimiter {
    pub(super) fn new(rate: f64) -> Self {
        let (interval, burst) = (Duration::from_secs_f64(1.0 / rate), Duration::from_secs(1));
        // Start with the burst available.
        let now = Instant::now();
        Self {
            interval,
            burst,
            next: tokio::sync::Mutex::new(now.checked_sub(burst).unwrap_or(now)),
        }
    }

    pub(super) async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let earliest = now.checked_sub(self.burst).unwrap_or(now);
            let slot = (*next).max(earliest);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_calls_after_a_burst() {
        let limiter = RateLimiter::new(10.0);
        let started = Instant::now();
        for _ in 0..30 {
            limiter.acquire().await;
        }
        // 10 calls of burst, then 20 more at 100 ms each.
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1900) && elapsed <= Duration::from_millis(2100),
            "{elapsed:?}"
        );
    }
}
