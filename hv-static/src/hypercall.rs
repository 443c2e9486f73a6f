//! SMCCC 1.1 dispatch for HVC and trapped SMC: the architecture calls, PSCI, and hv-static's vendor-specific
//! hypervisor calls (docs/guest-abi.md, "hv-static vendor calls"); every other function ID answers NOT_SUPPORTED,
//! as the guest ABI promises.

use crate::arch::GuestRegs;
use crate::core::vcpu::VcpuRef;
use crate::psci::{self, Outcome};
use crate::{core::percpu, core::sched, manage, vdev::channel};

use hv_plan::abi::hv::{
    self, HV_CHANNEL_SIGNAL, HV_CPU_EXITS, HV_PARTITION_CONTROL, HV_PARTITION_INFO, HV_SCHED_FRAME, HV_SCHED_WINDOW,
};
use hv_plan::abi::smccc::{self, SMC64, SMCCC_ARCH_FEATURES, SMCCC_VERSION};

// The vendor calls' results as x0 carries them (sign-extended on AArch64).
const HV_SUCCESS: i64 = hv::SUCCESS as i64;
const HV_NOT_SUPPORTED: i64 = hv::NOT_SUPPORTED as i64;
const HV_INVALID_PARAMETERS: i64 = hv::INVALID_PARAMETERS as i64;

/// Argument `n` of call `fid`. An SMC32/HVC32 call passes its arguments in W1-W7 (SMCCC §2.6): what the upper
/// halves of X1-X7 hold is not part of the call, and a caller may leave anything there (an AArch64 guest's
/// compiler does), so it is cut off here, once, for every call. On AArch32 partitions registers are 32 bits.
fn arg(fid: u32, regs: &GuestRegs, n: u8) -> u64 {
    let x = regs.get(n);
    if fid & SMC64 == 0 {
        x & 0xffff_ffff
    } else {
        x
    }
}

/// Handles the call in `regs` (function ID in w0, arguments in x1-x3 or w1-w3, see [`arg`]). Returns false when
/// the vCPU must stop running (it powered itself or its partition off).
pub fn dispatch(me: VcpuRef, regs: &mut GuestRegs) -> bool {
    let fid = regs.get(0) as u32;
    let ret = if psci::is_psci(fid) {
        match psci::call(me, fid, arg(fid, regs, 1), arg(fid, regs, 2), arg(fid, regs, 3)) {
            Outcome::Return(r) => r,
            Outcome::Park => return false,
        }
    } else {
        match fid {
            SMCCC_VERSION => smccc::VERSION_1_1.into(),
            SMCCC_ARCH_FEATURES => match arg(fid, regs, 1) as u32 {
                SMCCC_VERSION | SMCCC_ARCH_FEATURES => 0,
                _ => smccc::NOT_SUPPORTED.into(),
            },
            HV_SCHED_FRAME => match sched::frame_info(me.pcpu()) {
                Some((frame, t0)) => {
                    regs.set(1, frame);
                    regs.set(2, t0 & 0xffff_ffff);
                    regs.set(3, t0 >> 32);
                    HV_SUCCESS
                }
                None => HV_NOT_SUPPORTED,
            },
            HV_SCHED_WINDOW => match sched::window(me, arg(fid, regs, 1) as usize) {
                Some((start, end)) => {
                    regs.set(1, start);
                    regs.set(2, end);
                    HV_SUCCESS
                }
                None if sched::schedule(me.pcpu()).is_some() => HV_INVALID_PARAMETERS,
                None => HV_NOT_SUPPORTED,
            },
            HV_CPU_EXITS => {
                regs.set(1, percpu::exits(me) as u64);
                HV_SUCCESS
            }
            HV_PARTITION_INFO => match manage::info(me.part, arg(fid, regs, 1), arg(fid, regs, 2)) {
                Ok(value) => {
                    regs.set(1, value & 0xffff_ffff);
                    regs.set(2, value >> 32);
                    HV_SUCCESS
                }
                Err(e) => e.into(),
            },
            HV_PARTITION_CONTROL => manage::control(me.part, arg(fid, regs, 1), arg(fid, regs, 2)).into(),
            HV_CHANNEL_SIGNAL => {
                if channel::signal(me, arg(fid, regs, 1) as usize) {
                    HV_SUCCESS
                } else {
                    HV_INVALID_PARAMETERS
                }
            }
            _ => smccc::NOT_SUPPORTED.into(),
        }
    };
    // Negative codes are sign-extended to the register width (`set` truncates on 32-bit partitions).
    regs.set(0, ret as u64);
    true
}
