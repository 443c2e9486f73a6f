//! Exceptions hv-static makes an AArch64 partition take at its own EL1, as the CPU would have raised them there:
//! an Undefined Instruction for a register it does not implement, a synchronous external abort for an access to an
//! emulated device the hypervisor cannot carry out. The partition's EL1 system registers are live in the CPU while
//! it traps (they are switched only with the vCPU), so they are written in place.

use aarch64_cpu::registers::{
    Readable, Writeable, ELR_EL1, ESR_EL1, FAR_EL1, ID_AA64MMFR1_EL1, ID_AA64PFR1_EL1, SCTLR_EL1, SPSR_EL1, VBAR_EL1,
};

use super::context::GuestRegs;
use crate::hwstate::{self, Aa64EntryFeatures};

/// Makes the partition take an Undefined Instruction exception (EC 0, "unknown reason") at the instruction in
/// `regs.pc`.
pub fn undef(regs: &mut GuestRegs) {
    const EC_UNKNOWN_IL: u64 = 1 << 25;
    take_sync(regs, EC_UNKNOWN_IL);
}

/// Makes the partition take a synchronous external abort on its data access at virtual address `va` (FAR_EL2 of the
/// trap), a store if `write`, as if the device had answered the bus transaction with an error: the partition's own
/// handler decides what that means (Linux kills the task or oopses), and the hypervisor carries on. `trap_esr` is
/// the trap's ESR_EL2, for the instruction length.
pub fn data_abort(regs: &mut GuestRegs, trap_esr: u64, va: u64, write: bool) {
    let from_el1 = regs.pstate & 1 << 4 == 0 && (regs.pstate >> 2) & 3 == 1;
    FAR_EL1.set(va);
    take_sync(regs, crate::esr::injected_data_abort_esr(from_el1, trap_esr, write));
}

/// Enters the partition's EL1 synchronous vector with `esr`: ELR_EL1 the faulting instruction, SPSR_EL1 the
/// interrupted PSTATE, PSTATE as an exception entry sets it (which depends on SCTLR_EL1 and the CPU's features).
fn take_sync(regs: &mut GuestRegs, esr: u64) {
    let features = Aa64EntryFeatures::from_id_regs(ID_AA64MMFR1_EL1.get(), ID_AA64PFR1_EL1.get());
    ESR_EL1.set(esr);
    ELR_EL1.set(regs.pc);
    SPSR_EL1.set(regs.pstate);
    let vector = hwstate::aarch64_sync_vector(regs.pstate);
    regs.pstate = hwstate::aarch64_exception_pstate(regs.pstate, SCTLR_EL1.get(), features);
    regs.pc = VBAR_EL1.get().wrapping_add(vector);
}
