//! Trapped coprocessor accesses; those to registers that do not exist for the partition are reflected back as an
//! Undefined Instruction exception (`inject::undef`).
//!
//! What traps and why is `hwstate`'s: the debug registers (CP14, HDCR.TDA/TDOSA/TDRA) and the PMU (CP15 c9,
//! HDCR.TPM/TPMCR) read as a CPU without them and ignore writes; ACTLR (HCR.TAC) reads the CPU's value and ignores
//! writes; IMPLEMENTATION DEFINED registers (HCR.TIDCP, HSTR.T15), trace registers (HCPTR.TTA) and the PL1 physical
//! timer (the partition has none) are undefined. A trapped instruction that failed its condition is skipped.

use super::context::GuestRegs;
use super::inject;
use crate::hwstate::{self, Access, CpAccess, CpAccess64};

/// HSR exception classes of coprocessor traps.
const EC_CP15_32: u32 = 0x03;
const EC_CP15_64: u32 = 0x04;
const EC_CP14_32: u32 = 0x05;
const EC_CP14_64: u32 = 0x0c;

/// A trapped coprocessor access: emulated as `hwstate` says, or an Undefined Instruction exception in the partition.
pub fn emulate_cp15(regs: &mut GuestRegs, instr_len: u64) {
    let (hsr, _, _) = super::trap_syndrome();
    let (ec, iss) = ((hsr >> 26) as u32 & 0x3f, hsr as u32 & 0x1ff_ffff);
    if hwstate::syndrome_condition(iss).is_some_and(|c| !hwstate::condition_passed(c, regs.cpsr)) {
        regs.advance(instr_len);
        return;
    }
    match ec {
        EC_CP15_32 | EC_CP14_32 => {
            let a = CpAccess::decode(iss);
            let cp = if ec == EC_CP15_32 { 15 } else { 14 };
            match hwstate::aarch32_access(cp, a.opc1, a.crn, a.crm, a.opc2) {
                Access::Undefined => inject::undef(regs, instr_len),
                access => {
                    if a.read {
                        let v = read_value(access);
                        if a.rt == 15 {
                            // MRC to APSR_nzcv: the flags take bits [31:28].
                            regs.cpsr = (regs.cpsr & !0xf000_0000) | (v & 0xf000_0000);
                        } else {
                            regs.set(a.rt, v as u64);
                        }
                    }
                    regs.advance(instr_len);
                }
            }
        }
        EC_CP14_64 | EC_CP15_64 => {
            let a = CpAccess64::decode(iss);
            let cp = if ec == EC_CP15_64 { 15 } else { 14 };
            match hwstate::aarch32_access64(cp, a.opc1, a.crm) {
                Access::Undefined => inject::undef(regs, instr_len),
                access => {
                    if a.read {
                        // Only zeros are emulated for 64-bit registers (DBGDRAR, DBGDSAR: "not valid").
                        let v = read_value(access);
                        regs.set(a.rt, v as u64);
                        regs.set(a.rt2, 0);
                    }
                    regs.advance(instr_len);
                }
            }
        }
        _ => inject::undef(regs, instr_len),
    }
}

/// What a read of an emulated register returns.
fn read_value(access: Access) -> u32 {
    match access {
        Access::Value(v) => v as u32,
        Access::Actlr => super::cpu::actlr(),
        // The PMU exists: without it the partition's access would have been undefined at PL1, not trapped.
        Access::Pmcr => hwstate::guest_pmcr(super::cpu::pmcr() as u64) as u32,
        Access::Undefined => 0,
    }
}

/// MSR/MRS traps do not exist on ARMv7; kept for the shared trap dispatcher.
pub fn emulate(regs: &mut GuestRegs, _a: &crate::esr::SysRegAccess) {
    inject::undef(regs, 4);
}
