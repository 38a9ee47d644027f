//! Request-rate surge detection: a resource's request rate against its own baseline, as Shield
//! detects application layer events by their deviation from a resource's usual traffic. Pure:
//! the server hands in each second's count.
//!
//! The rate over the last [`WINDOW_SECS`] seconds is a surge when it reaches both the configured
//! floor (`min_per_second`) and `factor` times the baseline. The baseline is the mean of the
//! seconds seen (a plain one for the first [`LEARN_SECS`], then exponentially weighted with that
//! time constant), leaving out seconds that were themselves `factor` times over it, so an attack
//! does not teach itself. The first [`WINDOW_SECS`] seconds only learn.
//! Shield Advanced learns a resource's baseline before it detects application layer events:
//! <https://docs.aws.amazon.com/waf/latest/developerguide/ddos-automatic-app-layer-response-caveats.html>.

use std::collections::VecDeque;

/// The seconds a rate is measured over.
pub const WINDOW_SECS: usize = 10;
/// The seconds of traffic a baseline is learnt from before it counts.
pub const LEARN_SECS: u64 = 300;

/// The detector's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// A surge is at least this many requests per second…
    pub min_per_second: u64,
    /// …and at least this many times the baseline, once learnt.
    pub factor: f64,
}

/// One resource's traffic, second by second.
#[derive(Debug, Clone, Default)]
pub struct Detector {
    window: VecDeque<u64>,
    baseline: f64,
    learnt: u64,
}

/// A second of a surge: the requests that arrived in it, and the window's rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Surging {
    pub requests: u64,
    pub per_second: u64,
}

impl Detector {
    /// Takes a second's requests; `Some` while the rate is a surge.
    pub fn second(&mut self, limits: Limits, requests: u64) -> Option<Surging> {
        self.window.push_back(requests);
        while self.window.len() > WINDOW_SECS {
            self.window.pop_front();
        }
        let total: u64 = self.window.iter().sum();
        let per_second = total / WINDOW_SECS as u64;
        #[expect(clippy::cast_precision_loss, reason = "request rates far below 2^52")]
        let (rate, seen) = (per_second as f64, requests as f64);
        let warm = self.learnt >= WINDOW_SECS as u64;
        let surging = warm && per_second >= limits.min_per_second.max(1) && rate >= limits.factor * self.baseline;
        // A second far above the baseline is not learnt, so an attack does not teach itself.
        if !warm || seen < limits.factor * self.baseline.max(1.0) {
            // A plain mean while learning, then an exponentially weighted one.
            #[expect(clippy::cast_precision_loss, reason = "seconds far below 2^52")]
            let weight = (self.learnt + 1).min(LEARN_SECS) as f64;
            self.baseline += (seen - self.baseline) / weight;
            self.learnt = self.learnt.saturating_add(1);
        }
        surging.then_some(Surging { requests, per_second })
    }

    /// The learnt requests per second.
    pub fn baseline(&self) -> f64 {
        self.baseline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { min_per_second: 100, factor: 5.0 };

    #[test]
    fn a_burst_is_a_surge_once_its_rate_is_over_the_floor_and_the_baseline() {
        let mut d = Detector::default();
        assert!((0..20).all(|_| d.second(LIMITS, 50).is_none()));
        // 400/s against 50/s: the 10-second rate passes 5 × 50 in its sixth second.
        let surged: Vec<Option<Surging>> = (0..8).map(|_| d.second(LIMITS, 400)).collect();
        assert_eq!(surged.iter().position(Option::is_some), Some(5), "{surged:?}");
        assert_eq!(surged[5], Some(Surging { requests: 400, per_second: 260 }));
        // Under the floor, however many times the baseline, is no surge.
        let mut quiet = Detector::default();
        assert!((0..20).all(|_| quiet.second(LIMITS, 1).is_none()));
        assert!((0..20).all(|_| quiet.second(LIMITS, 90).is_none()));
    }

    #[test]
    fn steady_traffic_is_learnt_and_only_a_multiple_of_it_surges() {
        let mut d = Detector::default();
        for _ in 0..LEARN_SECS + 600 {
            assert_eq!(d.second(LIMITS, 300), None, "steady traffic over the floor is no surge");
        }
        assert!((d.baseline() - 300.0).abs() < 15.0, "{}", d.baseline());
        // Twice the usual is busy, not a surge.
        assert!((0..30).all(|_| d.second(LIMITS, 600).is_none()));
        // Ten times the usual is.
        let first = (0..30).position(|_| d.second(LIMITS, 3000).is_some());
        assert!(first.is_some_and(|s| s < WINDOW_SECS), "{first:?}");
        // The surge does not raise the baseline much.
        let before = d.baseline();
        assert!((0..60).all(|_| d.second(LIMITS, 3000).is_some()));
        assert!((d.baseline() - before).abs() < f64::EPSILON, "a surge is not learnt");
    }
}
