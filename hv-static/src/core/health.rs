//! What hv-static remembers of each partition's health: how often it was restarted and why, when its recent
//! restarts were (for the `on_fault = "restart"` budget), and the last fault. The console's status view and a
//! managing partition's hypercalls read it; the fault policy decides with it.
//!
//! Pure logic over fixed arrays (the budget's history holds at most `hv_plan::system::MAX_RESTARTS` times, the
//! largest budget a config may give), so the budget's rule is tested on the host.

use hv_plan::system::MAX_RESTARTS;

/// What ended a partition's run (or began its restart), as the status view and the manager ABI report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Cause {
    /// Nothing yet: the partition has run since boot without stopping.
    None = 0,
    /// A stage-2 fault or a trap hv-static does not handle.
    Fault = 1,
    /// Its watchdog expired.
    Watchdog = 2,
    /// The guest asked: PSCI SYSTEM_RESET.
    Reset = 3,
    /// The guest asked: PSCI SYSTEM_OFF.
    PowerOff = 4,
    /// A partition that manages it asked.
    Manager = 5,
}

impl Cause {
    /// As the console says it.
    pub fn name(self) -> &'static str {
        match self {
            Cause::None => "none",
            Cause::Fault => "fault",
            Cause::Watchdog => "watchdog expiry",
            Cause::Reset => "SYSTEM_RESET",
            Cause::PowerOff => "SYSTEM_OFF",
            Cause::Manager => "manager request",
        }
    }
}

const HISTORY: usize = MAX_RESTARTS as usize;

/// One partition's record.
#[derive(Clone, Copy, Debug)]
pub struct Health {
    /// Restarts since boot, whatever their cause.
    pub restarts: u32,
    /// Why it last stopped or restarted.
    pub last_cause: Cause,
    /// The PC and the faulting guest-physical address (0 when the fault had none) of the last fault.
    pub last_pc: u64,
    pub last_addr: u64,
    /// Counter times of the last restarts the fault policy granted, oldest first from `head`.
    granted: [u64; HISTORY],
    head: usize,
    len: usize,
}

impl Health {
    pub const NEW: Health = Health {
        restarts: 0,
        last_cause: Cause::None,
        last_pc: 0,
        last_addr: 0,
        granted: [0; HISTORY],
        head: 0,
        len: 0,
    };

    /// Restarts the fault policy granted within the `window` ticks up to `now` (a restart exactly `window` ticks
    /// ago no longer counts).
    pub fn recent(&self, now: u64, window: u64) -> u32 {
        (0..self.len).filter(|i| now.saturating_sub(self.granted[(self.head + i) % HISTORY]) < window).count() as u32
    }

    /// The fault policy's budget: whether one more restart is allowed at `now`, at most `max` within any `window`
    /// ticks. If so it is recorded (the caller restarts); if not, the caller stops the partition.
    pub fn grant(&mut self, now: u64, max: u32, window: u64) -> bool {
        if self.recent(now, window) >= max.min(MAX_RESTARTS) {
            return false;
        }
        if self.len == HISTORY {
            self.head = (self.head + 1) % HISTORY;
            self.len -= 1;
        }
        self.granted[(self.head + self.len) % HISTORY] = now;
        self.len += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_budget_counts_restarts_within_the_window() {
        let mut h = Health::NEW;
        assert!(h.grant(100, 3, 1000));
        assert!(h.grant(200, 3, 1000));
        assert!(h.grant(300, 3, 1000));
        assert!(!h.grant(400, 3, 1000), "a fourth within 1000 ticks");
        assert!(!h.grant(1099, 3, 1000), "the first still counts at 1099");
        assert!(h.grant(1100, 3, 1000), "the first is 1000 ticks old: out of the window");
        assert_eq!(h.recent(1100, 1000), 3);
    }

    proptest! {
        /// For any times (non-decreasing, as the counter is) and any budget, `grant` says yes exactly when fewer
        /// than `max` earlier grants fall within the window: checked against a plain list of every grant.
        #[test]
        fn grant_matches_a_list_of_every_restart(
            steps in proptest::collection::vec(0u64..500, 1..200),
            max in 1u32..=MAX_RESTARTS,
            window in 1u64..3000,
        ) {
            let mut h = Health::NEW;
            let mut all: Vec<u64> = Vec::new();
            let mut now = 0;
            for step in steps {
                now += step;
                let within = all.iter().filter(|&&t| now - t < window).count() as u32;
                let granted = h.grant(now, max, window);
                prop_assert_eq!(granted, within < max);
                if granted {
                    all.push(now);
                }
            }
        }
    }
}
