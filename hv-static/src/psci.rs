//! PSCI 1.1 for partitions: each call acts on the calling partition's vCPUs only.

use crate::partition::{self, StopReason};
use crate::percpu::{self, req};
use crate::vcpu::{self, Power, VcpuRef};

pub const VERSION: u32 = 0x8400_0000;
pub const CPU_SUSPEND_32: u32 = 0x8400_0001;
pub const CPU_OFF: u32 = 0x8400_0002;
pub const CPU_ON_32: u32 = 0x8400_0003;
pub const AFFINITY_INFO_32: u32 = 0x8400_0004;
pub const SYSTEM_OFF: u32 = 0x8400_0008;
pub const SYSTEM_RESET: u32 = 0x8400_0009;
pub const FEATURES: u32 = 0x8400_000A;
pub const CPU_SUSPEND_64: u32 = 0xC400_0001;
pub const CPU_ON_64: u32 = 0xC400_0003;
pub const AFFINITY_INFO_64: u32 = 0xC400_0004;

pub const SUCCESS: i64 = 0;
pub const NOT_SUPPORTED: i64 = -1;
pub const INVALID_PARAMETERS: i64 = -2;
pub const DENIED: i64 = -3;
pub const ALREADY_ON: i64 = -4;
pub const ON_PENDING: i64 = -5;

/// The SMCCC_VERSION function ID (answered by `hypercall`).
const SMCCC_VERSION: u32 = 0x8000_0000;

/// PSCI 1.1.
const PSCI_VERSION: i64 = 0x1_0001;

/// What the trap handler must do after a PSCI call.
pub enum Outcome {
    /// Return this value in x0 and resume the vCPU.
    Return(i64),
    /// The calling vCPU no longer runs (CPU_OFF, SYSTEM_OFF, SYSTEM_RESET).
    Park,
}

pub fn is_psci(fid: u32) -> bool {
    matches!(fid & 0xbfff_ffe0, 0x8400_0000)
}

pub fn call(me: VcpuRef, fid: u32, a1: u64, a2: u64, a3: u64) -> Outcome {
    let ret = match fid {
        VERSION => PSCI_VERSION,
        FEATURES => features(a1 as u32),
        CPU_ON_32 | CPU_ON_64 => cpu_on(me, a1, a2, a3),
        // A standby that wakes at once is a valid suspend: PSCI lets a suspended CPU resume at any time. The
        // partition keeps its CPU either way (pinned), so there is nothing to gain by really stopping it.
        CPU_SUSPEND_32 | CPU_SUSPEND_64 => SUCCESS,
        AFFINITY_INFO_32 | AFFINITY_INFO_64 => affinity_info(me, a1, a2),
        CPU_OFF => {
            vcpu::update_power(me, |s| *s = Power::Off);
            return Outcome::Park;
        }
        SYSTEM_OFF => {
            let _ = partition::stop(me.part, StopReason::PowerOff);
            return Outcome::Park;
        }
        SYSTEM_RESET => {
            partition::reset(me.part);
            return Outcome::Park;
        }
        _ => NOT_SUPPORTED,
    };
    Outcome::Return(ret)
}

fn features(fid: u32) -> i64 {
    match fid {
        VERSION | CPU_SUSPEND_32 | CPU_SUSPEND_64 | CPU_OFF | CPU_ON_32 | CPU_ON_64 | AFFINITY_INFO_32
        | AFFINITY_INFO_64 | SYSTEM_OFF | SYSTEM_RESET | FEATURES => SUCCESS,
        // SMCCC 1.1 is discovered through PSCI_FEATURES(SMCCC_VERSION).
        SMCCC_VERSION => SUCCESS,
        _ => NOT_SUPPORTED,
    }
}

/// The vCPU of `me`'s partition whose MPIDR affinity is `mpidr`.
fn find(me: VcpuRef, mpidr: u64) -> Option<VcpuRef> {
    const AFF: u64 = 0xff_00ff_ffff;
    me.partition().vcpus.iter().position(|v| v.mpidr & AFF == mpidr & AFF).map(|idx| VcpuRef { part: me.part, idx })
}

fn cpu_on(me: VcpuRef, mpidr: u64, entry: u64, context: u64) -> i64 {
    let Some(target) = find(me, mpidr) else { return INVALID_PARAMETERS };
    let ret = vcpu::update_power(target, |s| match *s {
        // Checked under the target's power lock, which a stop or restart takes after claiming the partition: a
        // CPU_ON racing with them either lands before (and is undone) or sees the partition leaving and is refused.
        _ if partition::run_state(me.part) != partition::RunState::Running => DENIED,
        Power::On => ALREADY_ON,
        Power::OnPending { .. } => ON_PENDING,
        Power::Off => {
            *s = Power::OnPending { entry, context, boot: false };
            SUCCESS
        }
    });
    if ret == SUCCESS {
        percpu::post(target.pcpu(), req::START);
    }
    ret
}

fn affinity_info(me: VcpuRef, mpidr: u64, level: u64) -> i64 {
    if level != 0 {
        return INVALID_PARAMETERS;
    }
    match find(me, mpidr).map(vcpu::power) {
        None => INVALID_PARAMETERS,
        Some(Power::On) => 0,
        Some(Power::Off) => 1,
        Some(Power::OnPending { .. }) => 2,
    }
}
