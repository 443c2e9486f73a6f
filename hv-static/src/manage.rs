//! The manager calls (docs/guest-abi.md, ABI 1.4): a partition given `manages = [...]` in the config observes the
//! partitions it names (`HV_PARTITION_INFO`, which any partition may also ask about itself) and stops, starts or
//! restarts them (`HV_PARTITION_CONTROL`). Everything else is refused with `DENIED`: a partition without the right
//! learns nothing of the others, not even whether they run.

use hv_plan::abi::hv::{self, control, info};

use crate::config::SYSTEM;
use crate::core::partition::{self, Cause, Life, StopReason};
use crate::core::{percpu, vcpu::VcpuRef};

/// Whether partition `me` may control `part`.
fn manages(me: usize, part: usize) -> bool {
    SYSTEM.partitions[me].manages.contains(&part)
}

/// `part`, as the caller names it (a guest's value: anything), if it is `me` or, with `managed`, a partition `me`
/// manages. Anything else, an id that exists or not, is `DENIED` alike: a partition without the right cannot even
/// count the others.
fn allowed(me: usize, part: u64, itself: bool) -> Result<usize, i32> {
    usize::try_from(part).ok().filter(|&p| (itself && p == me) || (p != me && manages(me, p))).ok_or(hv::DENIED)
}

/// `HV_PARTITION_INFO`: item `item` of partition `part`'s state, for partition `me`.
pub fn info(me: usize, part: u64, item: u64) -> Result<u64, i32> {
    let part = allowed(me, part, true)?;
    let h = partition::health(part);
    Ok(match u32::try_from(item).unwrap_or(u32::MAX) {
        info::STATE => match partition::life(part) {
            Life::Stopped => info::STOPPED,
            Life::Running => info::RUNNING,
            Life::Stopping => info::STOPPING,
            Life::Restarting => info::RESTARTING,
        },
        info::RESTARTS => h.restarts.into(),
        info::LAST_CAUSE => match h.last_cause {
            Cause::None => info::CAUSE_NONE,
            Cause::Fault => info::CAUSE_FAULT,
            Cause::Watchdog => info::CAUSE_WATCHDOG,
            Cause::Reset => info::CAUSE_RESET,
            Cause::PowerOff => info::CAUSE_POWER_OFF,
            Cause::Manager => info::CAUSE_MANAGER,
        },
        info::FAULT_PC => h.last_pc,
        info::FAULT_ADDRESS => h.last_addr,
        info::EXITS => {
            let vcpus = SYSTEM.partitions[part].vcpus.len();
            (0..vcpus).map(|idx| u64::from(percpu::exits(VcpuRef { part, idx }))).fold(0, u64::wrapping_add)
        }
        _ => return Err(hv::INVALID_PARAMETERS),
    })
}

/// `HV_PARTITION_CONTROL`: operation `op` on partition `part`, asked by partition `me`. Returns the call's result.
pub fn control(me: usize, part: u64, op: u64) -> i32 {
    let part = match allowed(me, part, false) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let done = match u32::try_from(op).unwrap_or(u32::MAX) {
        control::STOP => partition::stop(part, StopReason::Manager),
        control::START => partition::start_stopped(part),
        control::RESTART => partition::restart(part, Cause::Manager),
        _ => return hv::INVALID_PARAMETERS,
    };
    if done {
        hv::SUCCESS
    } else {
        hv::ALREADY
    }
}
