//! SMCCC 1.1 dispatch for HVC and trapped SMC: the architecture calls, PSCI, and nothing else (every other
//! function ID answers NOT_SUPPORTED, as the guest ABI promises).

use crate::arch::GuestRegs;
use crate::psci::{self, Outcome};
use crate::vcpu::VcpuRef;

const SMCCC_VERSION: u32 = 0x8000_0000;
const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
const SMCCC_VERSION_1_1: i64 = 0x1_0001;

/// Handles the call in `regs` (function ID in x0, arguments in x1-x3). Returns false when the vCPU must stop
/// running (it powered itself or its partition off).
pub fn dispatch(me: VcpuRef, regs: &mut GuestRegs) -> bool {
    let fid = regs.get(0) as u32;
    let ret = if psci::is_psci(fid) {
        match psci::call(me, fid, regs.get(1), regs.get(2), regs.get(3)) {
            Outcome::Return(r) => r,
            Outcome::Park => return false,
        }
    } else {
        match fid {
            SMCCC_VERSION => SMCCC_VERSION_1_1,
            SMCCC_ARCH_FEATURES => match regs.get(1) as u32 {
                SMCCC_VERSION | SMCCC_ARCH_FEATURES => 0,
                _ => psci::NOT_SUPPORTED,
            },
            _ => psci::NOT_SUPPORTED,
        }
    };
    // Negative codes are sign-extended to the register width (`set` truncates on 32-bit partitions).
    regs.set(0, ret as u64);
    true
}
