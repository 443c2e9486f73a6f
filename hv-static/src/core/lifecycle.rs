//! A partition's life as one state machine: `Stopped`, `Running`, and two transitions, `Stopping` and
//! `Restarting`, of which only one can be under way at a time.
//!
//! Every event that ends a partition's run (a vCPU's SYSTEM_OFF or SYSTEM_RESET, a fault) must first *claim* the
//! partition, an atomic compare-and-swap from `Running`. Several vCPUs of one partition may raise such events at
//! the same instant on different CPUs; exactly one claim succeeds and that CPU carries the transition out. The others
//! lose: their own vCPU is being stopped anyway, so they park it and leave. This is what keeps two vCPUs that call
//! SYSTEM_RESET together from each waiting for the other to leave the guest (a hang that took both CPUs).
//!
//! Pure logic over one atomic, so the interleavings are tested on the host with real threads.

use core::sync::atomic::{AtomicU8, Ordering};

/// Why a partition stops.
#[derive(Clone, Copy, Debug)]
pub enum StopReason {
    Fault,
    PowerOff,
    /// A partition that manages it asked.
    Manager,
}

/// Where a partition is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Life {
    /// Not running; its vCPUs are off (at boot, after SYSTEM_OFF or a fault under the `stop` policy).
    Stopped = 0,
    /// Its vCPUs run (those powered on).
    Running = 1,
    /// A CPU is stopping it.
    Stopping = 2,
    /// A CPU is stopping it to start it again.
    Restarting = 3,
}

impl Life {
    fn from_u8(v: u8) -> Life {
        match v {
            1 => Life::Running,
            2 => Life::Stopping,
            3 => Life::Restarting,
            _ => Life::Stopped,
        }
    }
}

/// What ends or restarts a partition's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// To `Stopped`.
    Stop,
    /// Through `Restarting` back to `Running`.
    Restart,
}

/// One partition's state.
pub struct Lifecycle(AtomicU8);

impl Lifecycle {
    pub const fn new() -> Lifecycle {
        Lifecycle(AtomicU8::new(Life::Stopped as u8))
    }

    pub fn get(&self) -> Life {
        Life::from_u8(self.0.load(Ordering::Acquire))
    }

    /// Claims a running partition for `t`. `true` for exactly one of any number of concurrent claims; the caller
    /// must then [`finish`](Self::finish) it. `false` when the partition is not running or another transition has
    /// it: nothing is left for this caller to do but park its own vCPU.
    pub fn claim(&self, t: Transition) -> bool {
        let to = match t {
            Transition::Stop => Life::Stopping,
            Transition::Restart => Life::Restarting,
        };
        self.0.compare_exchange(Life::Running as u8, to as u8, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Claims a stopped partition to start it (at boot, or a restart requested from outside). Like [`claim`].
    pub fn claim_start(&self) -> bool {
        self.0
            .compare_exchange(Life::Stopped as u8, Life::Restarting as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Turns the restart this CPU claimed into a stop (the fault policy's budget is spent): `Restarting` →
    /// `Stopping`, to be [`finish`](Self::finish)ed as a stop.
    pub fn stop_instead(&self) {
        let _ =
            self.0.compare_exchange(Life::Restarting as u8, Life::Stopping as u8, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Ends the transition this CPU claimed: `Stopping` → `Stopped`, `Restarting` → `Running`. A call without a
    /// claim changes nothing.
    pub fn finish(&self) {
        let _ = self.0.compare_exchange(Life::Stopping as u8, Life::Stopped as u8, Ordering::AcqRel, Ordering::Acquire);
        let _ =
            self.0.compare_exchange(Life::Restarting as u8, Life::Running as u8, Ordering::AcqRel, Ordering::Acquire);
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Barrier};

    #[test]
    fn one_claim_at_a_time() {
        let l = Lifecycle::new();
        assert_eq!(l.get(), Life::Stopped);
        assert!(!l.claim(Transition::Stop), "a stopped partition cannot be stopped again");
        assert!(l.claim_start());
        assert!(!l.claim_start() && !l.claim(Transition::Restart), "a start is under way");
        l.finish();
        assert_eq!(l.get(), Life::Running);
        assert!(l.claim(Transition::Restart));
        assert!(!l.claim(Transition::Stop) && !l.claim(Transition::Restart));
        assert_eq!(l.get(), Life::Restarting);
        l.finish();
        assert_eq!(l.get(), Life::Running);
        assert!(l.claim(Transition::Restart));
        l.stop_instead();
        assert_eq!(l.get(), Life::Stopping, "a restart whose budget is spent stops");
        l.finish();
        assert_eq!(l.get(), Life::Stopped);
        l.stop_instead();
        assert_eq!(l.get(), Life::Stopped, "only a restart under way turns into a stop");
        assert!(l.claim_start());
        l.finish();
        assert!(l.claim(Transition::Stop));
        l.finish();
        assert_eq!(l.get(), Life::Stopped);
        l.finish();
        assert_eq!(l.get(), Life::Stopped, "finish without a claim changes nothing");
    }

    /// Any mix of SYSTEM_RESET, SYSTEM_OFF and faults raised at the same instant by several vCPUs, over many rounds:
    /// each round exactly one wins, and the state it leaves is the one its transition ends in.
    #[test]
    fn concurrent_events_resolve_to_one_transition() {
        const VCPUS: usize = 4;
        const ROUNDS: usize = 2000;
        let life = Arc::new(Lifecycle::new());
        assert!(life.claim_start());
        life.finish();
        for round in 0..ROUNDS {
            let start = Arc::new(Barrier::new(VCPUS));
            // The winner finishes only once every vCPU has raised its event, as hv-static's winner does (it
            // waits for the others to leave the guest).
            let raised = Arc::new(Barrier::new(VCPUS));
            let winners = Arc::new(AtomicUsize::new(0));
            let won_restart = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..VCPUS)
                .map(|cpu| {
                    let (life, start, raised, winners, won_restart) =
                        (life.clone(), start.clone(), raised.clone(), winners.clone(), won_restart.clone());
                    std::thread::spawn(move || {
                        // A different mix every round: (round, cpu) picks reset, power-off or fault.
                        let t = if (round * 7 + cpu * 3) % 3 == 0 { Transition::Restart } else { Transition::Stop };
                        start.wait();
                        let won = life.claim(t);
                        raised.wait();
                        if won {
                            winners.fetch_add(1, Ordering::SeqCst);
                            if t == Transition::Restart {
                                won_restart.fetch_add(1, Ordering::SeqCst);
                            }
                            life.finish();
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(winners.load(Ordering::SeqCst), 1, "round {round}: one transition");
            let expect = if won_restart.load(Ordering::SeqCst) == 1 { Life::Running } else { Life::Stopped };
            assert_eq!(life.get(), expect, "round {round}");
            if expect == Life::Stopped {
                assert!(life.claim_start());
                life.finish();
            }
        }
    }
}
