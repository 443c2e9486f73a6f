//! PSCI 1.1 for partitions: each call acts on the calling partition's vCPUs only.

use crate::core::partition::{self, Cause, StopReason};
use crate::core::percpu::{self, req};
use crate::core::vcpu::{self, Power, VcpuRef};

use hv_plan::abi::psci::{
    self as abi, AFFINITY_INFO_32, AFFINITY_INFO_64, CPU_OFF, CPU_ON_32, CPU_ON_64, CPU_SUSPEND_32, CPU_SUSPEND_64,
    PSCI_FEATURES, PSCI_VERSION, SYSTEM_OFF, SYSTEM_RESET,
};
use hv_plan::abi::smccc::{SMC64, SMCCC_VERSION};

// Results as x0 carries them (sign-extended on AArch64).
pub const SUCCESS: i64 = abi::SUCCESS as i64;
pub const NOT_SUPPORTED: i64 = abi::NOT_SUPPORTED as i64;
pub const INVALID_PARAMETERS: i64 = abi::INVALID_PARAMETERS as i64;
const DENIED: i64 = abi::DENIED as i64;
const ALREADY_ON: i64 = abi::ALREADY_ON as i64;
const ON_PENDING: i64 = abi::ON_PENDING as i64;

/// What the trap handler must do after a PSCI call.
pub enum Outcome {
    /// Return this value in x0 and resume the vCPU.
    Return(i64),
    /// The calling vCPU no longer runs (CPU_OFF, SYSTEM_OFF, SYSTEM_RESET).
    Park,
}

/// Whether `fid` is in PSCI's range of function IDs (0x8400_0000..0x8400_001F, SMC32 or SMC64).
pub fn is_psci(fid: u32) -> bool {
    fid & !(SMC64 | 0x1f) == PSCI_VERSION
}

pub fn call(me: VcpuRef, fid: u32, a1: u64, a2: u64, a3: u64) -> Outcome {
    let ret = match fid {
        PSCI_VERSION => abi::VERSION_1_1.into(),
        PSCI_FEATURES => features(a1 as u32),
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
            let _ = partition::restart(me.part, Cause::Reset);
            return Outcome::Park;
        }
        _ => NOT_SUPPORTED,
    };
    Outcome::Return(ret)
}

fn features(fid: u32) -> i64 {
    match fid {
        PSCI_VERSION | CPU_SUSPEND_32 | CPU_SUSPEND_64 | CPU_OFF | CPU_ON_32 | CPU_ON_64 | AFFINITY_INFO_32
        | AFFINITY_INFO_64 | SYSTEM_OFF | SYSTEM_RESET | PSCI_FEATURES => SUCCESS,
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
        Some(Power::On) => abi::AFFINITY_ON.into(),
        Some(Power::Off) => abi::AFFINITY_OFF.into(),
        Some(Power::OnPending { .. }) => abi::AFFINITY_ON_PENDING.into(),
    }
}
