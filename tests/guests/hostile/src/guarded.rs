//! Accesses whose fault the guest expects: natively, or if a hypervisor injected an abort instead of containing
//! the partition, the guest's own handler takes it and the probe goes on (and says so); any other fault still stops
//! the vCPU with guest-rt's report.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use guest_rt::exception::{self, Action, Fault};
use guest_rt::{arch, MAX_CPUS};
use spin::Mutex;

static PROBING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// Spin locks, not critical sections: each vCPU uses only its own slot (from `run`, and from the fault hook of an
/// access made outside the lock), so nothing contends, whereas a critical section's one lock for every vCPU would
/// make the vCPUs' probes wait for each other.
static LAST: [Mutex<Option<Fault>>; MAX_CPUS] = [const { Mutex::new(None) }; MAX_CPUS];
/// Faults taken inside the guest over the whole run (every vCPU).
static FAULTS: AtomicU64 = AtomicU64::new(0);

/// Installs the hook; call once, before the first [`run`].
pub fn install() {
    exception::set_fault_hook(on_fault);
}

/// Runs `access` (one `crate::access` call) and returns its result with the fault it took in the guest, if any.
pub fn run<T>(access: impl FnOnce() -> T) -> (T, Option<Fault>) {
    let cpu = arch::cpu_index() % MAX_CPUS;
    *LAST[cpu].lock() = None;
    PROBING[cpu].store(true, Ordering::SeqCst);
    let value = access();
    PROBING[cpu].store(false, Ordering::SeqCst);
    let fault = LAST[cpu].lock().take();
    (value, fault)
}

/// Faults the guest took itself so far.
pub fn faults() -> u64 {
    FAULTS.load(Ordering::Relaxed)
}

fn on_fault(fault: &Fault) -> Action {
    let cpu = arch::cpu_index() % MAX_CPUS;
    if !PROBING[cpu].load(Ordering::SeqCst) {
        return Action::Halt;
    }
    FAULTS.fetch_add(1, Ordering::Relaxed);
    *LAST[cpu].lock() = Some(*fault);
    Action::SkipInstruction
}
