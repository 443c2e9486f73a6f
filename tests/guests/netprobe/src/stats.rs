//! Counting and timing, kept pure so that it is tested on the host: round-trip statistics, the watcher's frame
//! classes, and a periodic deadline on the virtual counter.

use crate::frame::Frame;

/// Minimum, mean and maximum of round-trip times, in counter ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rtt {
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Rtt {
    pub fn add(&mut self, ticks: u64) {
        self.min = if self.count == 0 { ticks } else { self.min.min(ticks) };
        self.max = self.max.max(ticks);
        self.sum += u128::from(ticks);
        self.count += 1;
    }

    /// (min, mean rounded down, max), or `None` before the first sample.
    pub fn summary(&self) -> Option<(u64, u64, u64)> {
        let mean = u64::try_from(self.sum.checked_div(u128::from(self.count))?).unwrap_or(u64::MAX);
        Some((self.min, mean, self.max))
    }
}

/// What `watch` has seen: frames to a group address (broadcast or multicast: the I/G bit) and to an individual one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub broadcast: u64,
    pub unicast: u64,
}

impl Seen {
    pub fn count(&mut self, frame: &Frame) {
        if frame.dst.is_group() {
            self.broadcast += 1;
        } else {
            self.unicast += 1;
        }
    }
}

/// A deadline every `period` counter ticks; missed periods are skipped rather than caught up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Every {
    period: u64,
    next: u64,
}

impl Every {
    pub fn new(now: u64, period: u64) -> Self {
        Self { period, next: now.saturating_add(period) }
    }

    /// Whether the deadline has passed at `now`; if so the next one is set.
    pub fn due(&mut self, now: u64) -> bool {
        if now < self.next {
            return false;
        }
        self.next = guest_rt::timer::next_deadline(self.next, self.period, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{self, Mac};

    #[test]
    fn rtt_min_mean_max() {
        let mut rtt = Rtt::default();
        assert_eq!(rtt.summary(), None);
        for t in [30, 10, 20, 41] {
            rtt.add(t);
        }
        assert_eq!(rtt.summary(), Some((10, 25, 41)));
        let mut big = Rtt::default();
        big.add(u64::MAX);
        big.add(u64::MAX);
        assert_eq!(big.summary(), Some((u64::MAX, u64::MAX, u64::MAX)), "no overflow");
    }

    #[test]
    fn frames_are_classed_by_destination() {
        let mut seen = Seen::default();
        let mut buf = [0u8; 60];
        frame::hello(&mut buf, Mac([2, 0, 0, 0, 0, 1]));
        seen.count(&Frame::parse(&buf).unwrap());
        frame::write_header(&mut buf, Mac([0x01, 0, 0x5e, 0, 0, 1]), Mac([2, 0, 0, 0, 0, 1]), 0x0800);
        seen.count(&Frame::parse(&buf).unwrap());
        frame::write_header(&mut buf, Mac([2, 0, 0, 0, 0, 2]), Mac([2, 0, 0, 0, 0, 1]), 0x88b5);
        seen.count(&Frame::parse(&buf).unwrap());
        assert_eq!(seen, Seen { broadcast: 2, unicast: 1 });
    }

    #[test]
    fn periodic_deadlines() {
        let mut every = Every::new(1_000, 100);
        assert!(!every.due(1_099));
        assert!(every.due(1_100));
        assert!(!every.due(1_150));
        assert!(every.due(1_210), "late");
        assert!(!every.due(1_299), "still on the grid");
        assert!(every.due(1_950), "far behind");
        assert!(!every.due(2_000), "missed periods skipped");
        assert!(every.due(2_050));
    }
}
