//! Order statistics over a run's samples, in integers (one guest target is soft-float): min, median, 99th
//! percentile and max by the nearest-rank method, so every figure printed is a sample that was measured.

use core::fmt;

/// Samples per measurement at most; `events=N` is capped to it.
pub const MAX_SAMPLES: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub count: usize,
    pub min: i64,
    pub median: i64,
    pub p99: i64,
    pub max: i64,
}

/// The sample of rank `ceil(p/100 × n)` (1-based) in the sorted `sorted`, for `p` in 1..=100.
fn nearest_rank(sorted: &[i32], p: usize) -> i64 {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    i64::from(sorted[rank - 1])
}

/// Sorts `samples` and summarises them; `None` without samples.
pub fn summarize(samples: &mut [i32]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    Some(Summary {
        count: samples.len(),
        min: i64::from(samples[0]),
        median: nearest_rank(samples, 50),
        p99: nearest_rank(samples, 99),
        max: i64::from(samples[samples.len() - 1]),
    })
}

/// Prints the result line of `event` (with the index of the worst sample, to find outliers), or that there was no
/// sample.
pub fn report(event: &str, samples: &mut [i32]) {
    let worst = samples.iter().enumerate().max_by_key(|&(i, v)| (*v, core::cmp::Reverse(i))).map_or(0, |(i, _)| i);
    match summarize(samples) {
        Some(s) => guest_rt::println!("{} (max at event {worst})", Line(event, s)),
        None => guest_rt::println!("lat: {event} skipped (no samples)"),
    }
}

/// A latency in nanoseconds as a sample: clamped into `i32` (±2.1 s is far beyond anything measured here).
pub fn sample(ns: i64) -> i32 {
    i32::try_from(ns).unwrap_or(if ns < 0 { i32::MIN } else { i32::MAX })
}

/// The result line the bench and the smoke test parse: `lat: <event> n=<N> min=<a> median=<b> p99=<c> max=<d> ns`.
pub struct Line<'a>(pub &'a str, pub Summary);

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Line(event, s) = self;
        write!(f, "lat: {event} n={} min={} median={} p99={} max={} ns", s.count, s.min, s.median, s.p99, s.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<i32> = (1..=100).rev().collect();
        let s = summarize(&mut v).unwrap();
        assert_eq!((s.count, s.min, s.median, s.p99, s.max), (100, 1, 50, 99, 100));
        let mut one = [7];
        let s = summarize(&mut one).unwrap();
        assert_eq!((s.min, s.median, s.p99, s.max), (7, 7, 7, 7));
        let mut v: Vec<i32> = (0..10_000).collect();
        let s = summarize(&mut v).unwrap();
        assert_eq!((s.median, s.p99), (4_999, 9_899));
        assert_eq!(summarize(&mut []), None);
    }

    #[test]
    fn lines_and_clamping() {
        let s = Summary { count: 3, min: 1, median: 2, p99: 3, max: 3 };
        assert_eq!(std::format!("{}", Line("timer", s)), "lat: timer n=3 min=1 median=2 p99=3 max=3 ns");
        assert_eq!(sample(-5_000_000_000), i32::MIN);
        assert_eq!(sample(42), 42);
    }
}
