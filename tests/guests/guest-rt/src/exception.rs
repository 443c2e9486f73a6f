//! What happens when a guest faults: by default the fault is printed and the vCPU stops, so a bug in a guest shows
//! up on the console instead of as silence. A guest that faults on purpose (an isolation probe) installs a hook.

use core::fmt;

use spin::Once;

use crate::{arch, console};

/// A synchronous exception, in the architecture's own terms.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    /// Which vector took it.
    pub what: &'static str,
    /// The exception class (AArch64) or fault status (ARMv7), named.
    pub class: &'static str,
    /// The register [`Fault::syndrome`] was read from: `ESR` on AArch64, `DFSR`/`IFSR` on ARMv7 (`insn` there for
    /// an undefined instruction, whose encoding it then holds); empty when there is none.
    pub syndrome_name: &'static str,
    pub syndrome: u64,
    /// The register [`Fault::address`] was read from: `FAR` on AArch64, `DFAR`/`IFAR` on ARMv7; empty when the
    /// exception has no address.
    pub address_name: &'static str,
    /// The faulting address, meaningful for aborts.
    pub address: u64,
    /// Where it happened: the faulting instruction (the interrupted one for an asynchronous exception).
    pub pc: u64,
}

/// What the architecture calls the register holding [`Fault::pc`]. On ARMv7 the vectors compute it from the
/// exception mode's LR.
const PC_NAME: &str = if cfg!(target_arch = "arm") { "PC" } else { "ELR" };

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
    console::emergency(format_args!("guest-rt: cpu{cpu}: {fault}; cpu{cpu} halted\n"));
    arch::halt()
}

/// `<what>: <class> (<syndrome register> 0x..) <address register> 0x.. <PC register> 0x..`, leaving out the
/// registers the exception does not have.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.class)?;
        if !self.syndrome_name.is_empty() {
            write!(f, " ({} {:#x})", self.syndrome_name, self.syndrome)?;
        }
        if !self.address_name.is_empty() {
            write!(f, " {} {:#x}", self.address_name, self.address)?;
        }
        write!(f, " {PC_NAME} {:#x}", self.pc)
    }
}

#[cfg(test)]
mod tests {
    use super::Fault;

    #[test]
    fn report_names_the_registers_the_fault_has() {
        let abort = Fault {
            what: "synchronous exception",
            class: "data abort",
            syndrome_name: "ESR",
            syndrome: 0x9600_0010,
            address_name: "FAR",
            address: 0x5000_1000,
            pc: 0x4008_1234,
        };
        assert_eq!(
            std::format!("{abort}"),
            "synchronous exception: data abort (ESR 0x96000010) FAR 0x50001000 ELR 0x40081234"
        );
        let fiq = Fault { what: "FIQ", class: "unexpected exception", syndrome_name: "", address_name: "", ..abort };
        assert_eq!(std::format!("{fiq}"), "FIQ: unexpected exception ELR 0x40081234");
    }
}
