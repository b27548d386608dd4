//! When to look again: after success, a jittered resync; after a failure, exponential backoff
//! with jitter that honours `Retry-After`; after a failure a person must fix, slowly.

use std::time::Duration;

use crate::admin_api::ErrorClass;

const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(300);

/// `jitter` is a sample in [0, 1): callers pass `rand::random()`, tests a constant.
pub fn resync_delay(period: Duration, jitter: f64) -> Duration {
    // ±10 %, so resources created together do not resync together forever.
    period.mul_f64(0.9 + 0.2 * jitter)
}

/// The delay before attempt `attempt + 1` after a transient failure.
pub fn backoff_delay(attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    let exponential = BACKOFF_BASE
        .saturating_mul(1_u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    // Full jitter over the upper half: spreads retries without ever retrying at once.
    let jittered = exponential.mul_f64(0.5 + 0.5 * jitter);
    jittered.max(retry_after.unwrap_or_default())
}

/// Errors that retrying cannot cure are retried only slowly (a change to the resource or its
/// Secret wakes the reconcile anyway).
pub fn is_permanent(class: ErrorClass) -> bool {
    matches!(
        class,
        ErrorClass::Invalid
            | ErrorClass::Forbidden
            | ErrorClass::Unauthorized
            | ErrorClass::Internal
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        assert_eq!(backoff_delay(0, None, 1.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(3, None, 1.0), Duration::from_secs(8));
        assert_eq!(backoff_delay(3, None, 0.0), Duration::from_secs(4));
        assert_eq!(backoff_delay(30, None, 1.0), BACKOFF_CAP);
        assert_eq!(
            backoff_delay(0, Some(Duration::from_secs(7)), 0.0),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn resync_is_jittered_around_the_period() {
        let period = Duration::from_secs(100);
        assert_eq!(resync_delay(period, 0.0), Duration::from_secs(90));
        assert_eq!(resync_delay(period, 0.5), Duration::from_secs(100));
        assert!(resync_delay(period, 0.999) < Duration::from_secs(110));
    }
}
