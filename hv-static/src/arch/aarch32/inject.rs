//! Exceptions hv-static makes an ARMv7 partition take in its own PL1 modes, as the CPU would have raised them there:
//! an Undefined Instruction for a register it does not implement, a synchronous external abort for an access to an
//! emulated device the hypervisor cannot carry out. The partition's PL1 registers (SCTLR, VBAR, TTBCR, DFSR, DFAR
//! and the banked registers of each mode; Hyp mode has its own HSCTLR and HVBAR) are live in the CPU while it
//! traps, so they are read and written in place.

use aarch32_cpu::register::{Dfar, Dfsr, Sctlr, SysRegRead, SysRegWrite, Vbar};

use super::context::{set_lr_abt, set_lr_und, set_spsr_abt, set_spsr_und, GuestRegs};
use super::regs::Ttbcr;
use crate::hwstate;

/// Offsets in the vector table (Arm ARM DDI 0406C B1.8.1).
const VECTOR_UNDEF: u32 = 0x04;
const VECTOR_DATA_ABORT: u32 = 0x10;

/// Enters the partition's Undefined mode at its vector, with LR, SPSR and CPSR as the architecture sets them.
pub fn undef(regs: &mut GuestRegs, _instr_len: u64) {
    let sctlr = Sctlr::read().raw_value();
    let (cpsr, lr_offset) = hwstate::aarch32_undef_entry(regs.cpsr, sctlr);
    set_spsr_und(regs.cpsr);
    set_lr_und(regs.pc.wrapping_add(lr_offset));
    regs.cpsr = cpsr;
    regs.pc = hwstate::aarch32_vector_base(sctlr, Vbar::read().0).wrapping_add(VECTOR_UNDEF);
}

/// Makes the partition take a synchronous external abort on its data access at virtual address `va` (HDFAR of the
/// trap), a store if `write`, as if the device had answered the bus transaction with an error: DFSR in the format
/// of its translation regime (TTBCR.EAE), DFAR = `va`, Abort mode with LR_abt = the instruction + 8 and SPSR_abt =
/// the interrupted CPSR, at its data abort vector. `_trap_esr` (HSR) is not needed: the LR offset of a data abort
/// does not depend on the instruction's length.
pub fn data_abort(regs: &mut GuestRegs, _trap_esr: u64, va: u64, write: bool) {
    const TTBCR_EAE: u32 = 1 << 31;
    let sctlr = Sctlr::read().raw_value();
    let lpae = Ttbcr::read_raw() & TTBCR_EAE != 0;
    // SAFETY: the partition's own fault status and address registers; they only tell its abort handler what
    // happened and affect nothing else.
    unsafe {
        Dfsr::write_raw(crate::esr::injected_data_abort_dfsr(lpae, write));
        Dfar::write_raw(va as u32);
    }
    set_spsr_abt(regs.cpsr);
    set_lr_abt(regs.pc.wrapping_add(8));
    regs.cpsr = hwstate::aarch32_abort_entry(regs.cpsr, sctlr);
    regs.pc = hwstate::aarch32_vector_base(sctlr, Vbar::read().0).wrapping_add(VECTOR_DATA_ABORT);
}
