//! The bench's client policy, kept free of I/O so it can be tested alone:
//! which rejections are worth resubmitting, how long to back off, and which
//! node a sender moves to when its node stops answering.

use std::time::Duration;

/// First backoff after a failure.
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Backoff never grows beyond this.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Whether a transaction refused with `reason` (an error's `data.reason`,
/// `docs/RPC.md`) can still be admitted by sending the same bytes again.
/// Everything not listed here is transient (`senderLimit`, `nonceTooHigh`,
/// `mempoolFull`, `rateLimited`, `internal`, transport errors, ...).
pub(crate) fn retryable(reason: &str) -> bool {
    !matches!(
        reason,
        // The nonce is used: by this very transaction, committed (the
        // follower will see it), or by another one that replaced it.
        "nonceTooLow"
        // Another pending transaction holds the nonce: these bytes cannot
        // get in while it is there, and it commits or expires as nonceTooLow.
        | "nonceInUse"
        // The bytes themselves are wrong: they never will be right.
        | "invalidSignature"
            | "wrongChainId"
            | "txMalformed"
            | "txTruncated"
            | "txTrailingBytes"
            | "txTooLarge"
            | "invalidHex"
            | "oddLengthHex"
            | "wrongLength"
    )
}

/// The wait before retry number `attempt` (1 for the first retry): 100 ms
/// doubling up to 2 s, of which a random part (`jitter` in `[0, 1)`) is
/// taken off so that senders that failed together do not retry together
/// ("equal jitter": between half and all of the step).
pub(crate) fn backoff(attempt: u32, jitter: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    let step = BACKOFF_MIN
        .saturating_mul(1u32 << doublings)
        .min(BACKOFF_MAX);
    step.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
}

/// The node a sender moves to from `current`: the next one round-robin that
/// `live` says is up, or `current` itself when none is (it keeps retrying
/// there, backing off).
pub(crate) fn next_live(current: usize, nodes: usize, live: impl Fn(usize) -> bool) -> usize {
    (1..nodes)
        .map(|k| (current + k) % nodes)
        .find(|&n| live(n))
        .unwrap_or(current)
}

/// Cuts a rejection reason to `max` characters (an ellipsis marks the
/// cut), so one long transport error does not push a table's columns out.
pub(crate) fn short(reason: &str, max: usize) -> String {
    if reason.chars().count() <= max {
        reason.to_string()
    } else {
        let mut s: String = reason.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_rejections_are_retried() {
        for r in ["senderLimit", "nonceTooHigh", "mempoolFull", "rateLimited"] {
            assert!(retryable(r), "{r}");
        }
        assert!(retryable("internal"));
        assert!(retryable("transport error"));
        for r in [
            "nonceTooLow",
            "nonceInUse",
            "invalidSignature",
            "wrongChainId",
        ] {
            assert!(!retryable(r), "{r}");
        }
    }

    #[test]
    fn backoff_doubles_from_100_ms_to_2_s_with_jitter() {
        let ms = |a, j| backoff(a, j).as_millis();
        assert_eq!(
            (1..=7).map(|a| ms(a, 0.0)).collect::<Vec<_>>(),
            vec![100, 200, 400, 800, 1600, 2000, 2000]
        );
        assert_eq!(ms(0, 0.0), 100);
        assert_eq!(ms(u32::MAX, 0.0), 2000);
        // Jitter takes off at most half.
        assert_eq!(ms(3, 0.999_999), 200);
        assert_eq!(ms(3, 0.5), 300);
        assert!((1..=10).all(|a| backoff(a, 0.7) >= BACKOFF_MIN / 2));
    }

    #[test]
    fn a_sender_moves_round_robin_to_the_next_live_node() {
        let live = |down: &'static [usize]| move |n: usize| !down.contains(&n);
        assert_eq!(next_live(1, 4, live(&[])), 2);
        assert_eq!(next_live(3, 4, live(&[])), 0);
        assert_eq!(next_live(1, 4, live(&[2])), 3);
        assert_eq!(next_live(1, 4, live(&[2, 3, 0])), 1);
        assert_eq!(next_live(0, 1, live(&[])), 0);
    }

    #[test]
    fn long_reasons_are_cut_with_an_ellipsis() {
        assert_eq!(short("senderLimit", 20), "senderLimit");
        let cut = short(&"x".repeat(100), 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with('…'));
    }
}
