//! Trapped coprocessor accesses and exceptions reflected back into the partition.

use aarch32_cpu::register::{Sctlr, Vbar};

use super::context::{set_lr_und, set_spsr_und, GuestRegs};
use crate::vcpu::VcpuRef;

/// A trapped CP15 access (only the PL1 physical timer traps, as the partition has none): the partition takes an
/// Undefined Instruction exception, as on hardware without the register.
pub fn emulate_cp15(_v: VcpuRef, regs: &mut GuestRegs, instr_len: u64) {
    inject_undef(regs, instr_len);
}

/// MSR/MRS traps do not exist on ARMv7; kept for the shared trap dispatcher.
pub fn emulate(_v: VcpuRef, regs: &mut GuestRegs, _a: &crate::esr::SysRegAccess) {
    inject_undef(regs, 4);
}

/// Enters the partition's Undefined mode at its vector, with LR and SPSR as the architecture sets them.
pub fn inject_undef(regs: &mut GuestRegs, instr_len: u64) {
    const MODE_UND: u32 = 0x1b;
    const THUMB: u32 = 1 << 5;
    const IRQ_MASK: u32 = 1 << 7;
    // The partition's own SCTLR and VBAR (Hyp mode has its own HSCTLR and HVBAR).
    let sctlr = Sctlr::read();
    let vbar = if sctlr.v() { 0xffff_0000 } else { Vbar::read().0 };
    set_spsr_und(regs.cpsr);
    set_lr_und(regs.pc.wrapping_add(instr_len as u32));
    let thumb_exceptions = sctlr.te();
    regs.cpsr = (regs.cpsr & !(0x1f | THUMB)) | MODE_UND | IRQ_MASK | if thumb_exceptions { THUMB } else { 0 };
    regs.pc = vbar.wrapping_add(4);
}
