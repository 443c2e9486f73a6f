//! What happens when a guest faults: by default the fault is printed and the vCPU stops, so a bug in a guest shows
//! up on the console instead of as silence. A guest that faults on purpose (an isolation probe) installs a hook.

use spin::Once;

use crate::{arch, console};

/// A synchronous exception, in the architecture's own terms.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    /// Which vector took it.
    pub what: &'static str,
    /// The exception class, named.
    pub class: &'static str,
    /// The syndrome register (ESR_EL1 on AArch64).
    pub syndrome: u64,
    /// The faulting address (FAR_EL1), meaningful for aborts.
    pub address: u64,
    /// Where it happened.
    pub pc: u64,
}

/// What the hook wants done with a synchronous exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Report it and stop the vCPU (the default).
    Halt,
    /// Resume after the faulting instruction. Only sensible for accesses made with `arch::probe`.
    SkipInstruction,
}

static HOOK: Once<fn(&Fault) -> Action> = Once::new();

/// Lets `hook` decide about synchronous exceptions on every vCPU. Set once; later calls are ignored.
pub fn set_fault_hook(hook: fn(&Fault) -> Action) {
    HOOK.call_once(|| hook);
}

/// Called by the vectors for a synchronous exception at the guest's own EL.
pub fn synchronous(fault: &Fault) -> Action {
    if let Some(hook) = HOOK.get() {
        if hook(fault) == Action::SkipInstruction {
            return Action::SkipInstruction;
        }
    }
    report_and_halt(fault)
}

/// Called by the vectors for an exception guest-rt never expects (FIQ, SError, one taken on SP_EL0...).
pub fn unexpected(fault: &Fault) -> ! {
    report_and_halt(fault)
}

fn report_and_halt(fault: &Fault) -> ! {
    let cpu = arch::cpu_index();
    console::emergency(format_args!(
        "guest-rt: cpu{cpu}: {}: {} (ESR {:#x}) FAR {:#x} ELR {:#x}; cpu{cpu} halted\n",
        fault.what, fault.class, fault.syndrome, fault.address, fault.pc
    ));
    arch::halt()
}
