//! Trapped system-register accesses; those to registers that do not exist for the partition are reflected back
//! as an Undefined Instruction exception (`inject::undef`).
//!
//! What traps and why is `hwstate`'s: debug and PMU registers (MDCR_EL2) read as a CPU without them and ignore
//! writes, ACTLR_EL1 (HCR_EL2.TACR) reads the CPU's value and ignores writes, IMPLEMENTATION DEFINED registers
//! (HCR_EL2.TIDCP) and anything else are undefined.

use aarch64_cpu::registers::{Readable, ACTLR_EL1};
use core::arch::asm;

use super::context::GuestRegs;
use super::inject;
use crate::esr::SysRegAccess;
use crate::hwstate::{self, Access};

/// `ICC_SGI1R_EL1`: a GICv3 guest sending an SGI (trapped because HCR_EL2.IMO is set).
pub const ICC_SGI1R_EL1: u32 = SysRegAccess::key(3, 0, 12, 11, 5);
/// `ICC_ASGI1R_EL1` and `ICC_SGI0R_EL1`: the other SGI generators (group 0 / alias): accepted and ignored.
pub const ICC_ASGI1R_EL1: u32 = SysRegAccess::key(3, 0, 12, 11, 6);
pub const ICC_SGI0R_EL1: u32 = SysRegAccess::key(3, 0, 12, 11, 7);

/// A trapped MSR/MRS other than an `ICC_SGI1R_EL1` write (an SGI, which the virtual GIC sends: the trap dispatcher
/// hands it there): the registers `hwstate::aarch64_access` names are emulated, the other SGI generators ignored,
/// anything else does not exist for the partition.
pub fn emulate(regs: &mut GuestRegs, a: &SysRegAccess) {
    match a.encoding() {
        ICC_ASGI1R_EL1 | ICC_SGI0R_EL1 if !a.read => regs.advance(4),
        _ => match hwstate::aarch64_access(a.op0, a.op1, a.crn, a.crm, a.op2) {
            Access::Undefined => inject::undef(regs),
            access => {
                if a.read {
                    regs.set(a.rt, read_value(access));
                }
                regs.advance(4);
            }
        },
    }
}

/// What a read of an emulated register returns.
fn read_value(access: Access) -> u64 {
    match access {
        Access::Value(v) => v,
        Access::Actlr => ACTLR_EL1.get(),
        Access::Pmcr => {
            let pmcr: u64;
            // SAFETY: reading PMCR_EL0 at EL2 has no side effect. It exists: without a PMU the partition's access
            // would have been undefined at EL1 instead of trapping here.
            unsafe { asm!("mrs {}, pmcr_el0", out(reg) pmcr, options(nomem, nostack)) };
            hwstate::guest_pmcr(pmcr)
        }
        Access::Undefined => 0,
    }
}

/// A trapped AArch32 coprocessor access (from a 32-bit EL0 of the partition: debug registers it may reach through
/// the DCC, IMPLEMENTATION DEFINED registers): undefined, as without it. One that failed its condition is skipped,
/// as the CPU would have.
pub fn emulate_cp15(regs: &mut GuestRegs, instr_len: u64) {
    let (esr, _, _) = super::trap_syndrome();
    let cond = hwstate::syndrome_condition(esr as u32 & 0x1ff_ffff);
    if cond.is_some_and(|c| !hwstate::condition_passed(c, regs.pstate as u32)) {
        regs.advance(instr_len);
        regs.pstate = (regs.pstate & !0xffff_ffff) | hwstate::it_advance(regs.pstate as u32) as u64;
        return;
    }
    inject::undef(regs);
}
