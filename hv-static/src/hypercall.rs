//! SMCCC 1.1 dispatch for HVC and trapped SMC: the architecture calls, PSCI, and hv-static's vendor-specific
//! hypervisor calls (docs/guest-abi.md, "hv-static vendor calls"); every other function ID answers NOT_SUPPORTED,
//! as the guest ABI promises.

use crate::arch::GuestRegs;
use crate::psci::{self, Outcome};
use crate::vcpu::VcpuRef;
use crate::{channel, percpu, sched};

const SMCCC_VERSION: u32 = 0x8000_0000;
const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
const SMCCC_VERSION_1_1: i64 = 0x1_0001;
/// The calling vCPU's cyclic schedule: frame length and origin in counter ticks.
const HV_SCHED_FRAME: u32 = 0x8600_0010;
/// The calling vCPU's n-th window in its frame, in ticks from the frame start.
const HV_SCHED_WINDOW: u32 = 0x8600_0011;
/// Entries into hv-static from the calling vCPU so far (this call included).
const HV_CPU_EXITS: u32 = 0x8600_0012;
/// Rings the doorbells of the other members of the calling partition's n-th channel.
const HV_CHANNEL_SIGNAL: u32 = 0x8600_0013;

/// SMCCC bit 30 of a function ID: set for the SMC64/HVC64 calling convention.
const SMC64: u32 = 1 << 30;

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
            SMCCC_VERSION => SMCCC_VERSION_1_1,
            SMCCC_ARCH_FEATURES => match arg(fid, regs, 1) as u32 {
                SMCCC_VERSION | SMCCC_ARCH_FEATURES => 0,
                _ => psci::NOT_SUPPORTED,
            },
            HV_SCHED_FRAME => match sched::frame_info(me.pcpu()) {
                Some((frame, t0)) => {
                    regs.set(1, frame);
                    regs.set(2, t0 & 0xffff_ffff);
                    regs.set(3, t0 >> 32);
                    0
                }
                None => psci::NOT_SUPPORTED,
            },
            HV_SCHED_WINDOW => match sched::window(me, arg(fid, regs, 1) as usize) {
                Some((start, end)) => {
                    regs.set(1, start);
                    regs.set(2, end);
                    0
                }
                None if sched::schedule(me.pcpu()).is_some() => psci::INVALID_PARAMETERS,
                None => psci::NOT_SUPPORTED,
            },
            HV_CPU_EXITS => {
                regs.set(1, percpu::exits(me) as u64);
                0
            }
            HV_CHANNEL_SIGNAL => {
                if channel::signal(me, arg(fid, regs, 1) as usize) {
                    0
                } else {
                    psci::INVALID_PARAMETERS
                }
            }
            _ => psci::NOT_SUPPORTED,
        }
    };
    // Negative codes are sign-extended to the register width (`set` truncates on 32-bit partitions).
    regs.set(0, ret as u64);
    true
}
