//! Trapped system-register accesses and exceptions reflected back into the partition.

use aarch64_cpu::registers::{Readable, Writeable, ELR_EL1, ESR_EL1, SPSR_EL1, VBAR_EL1};

use super::context::{GuestRegs, PSTATE_EL1H_MASKED};
use crate::esr::SysRegAccess;
use crate::vcpu::VcpuRef;

/// `ICC_SGI1R_EL1`: a GICv3 guest sending an SGI (trapped because HCR_EL2.IMO is set).
pub const ICC_SGI1R_EL1: u32 = SysRegAccess::key(3, 0, 12, 11, 5);
/// `ICC_ASGI1R_EL1` and `ICC_SGI0R_EL1`: the other SGI generators (group 0 / alias): accepted and ignored.
pub const ICC_ASGI1R_EL1: u32 = SysRegAccess::key(3, 0, 12, 11, 6);
pub const ICC_SGI0R_EL1: u32 = SysRegAccess::key(3, 0, 12, 11, 7);

/// A trapped MSR/MRS: SGI generation on GICv3 is emulated; anything else does not exist for the partition.
pub fn emulate(v: VcpuRef, regs: &mut GuestRegs, a: &SysRegAccess) {
    match a.encoding() {
        ICC_SGI1R_EL1 if !a.read => {
            crate::vgic::send_sgi_v3(v, regs.get(a.rt));
            regs.advance(4);
        }
        ICC_ASGI1R_EL1 | ICC_SGI0R_EL1 if !a.read => regs.advance(4),
        _ => inject_undef(regs),
    }
}

/// A trapped AArch32 coprocessor access (from a 32-bit EL0 of the partition): undefined, as without it.
pub fn emulate_cp15(_v: VcpuRef, regs: &mut GuestRegs, _instr_len: u64) {
    inject_undef(regs);
}

/// Makes the partition take an Undefined Instruction exception at the instruction in `regs.pc`, as the
/// architecture would for a register it does not implement.
pub fn inject_undef(regs: &mut GuestRegs) {
    const EC_UNKNOWN_IL: u64 = 1 << 25;
    let from_el1 = (regs.pstate >> 2) & 3 == 1;
    let on_spx = regs.pstate & 1 == 1;
    let offset = match (from_el1, on_spx) {
        (true, true) => 0x200,
        (true, false) => 0x000,
        (false, _) => 0x400,
    };
    ESR_EL1.set(EC_UNKNOWN_IL);
    ELR_EL1.set(regs.pc);
    SPSR_EL1.set(regs.pstate);
    regs.pc = VBAR_EL1.get() + offset;
    regs.pstate = PSTATE_EL1H_MASKED;
}
