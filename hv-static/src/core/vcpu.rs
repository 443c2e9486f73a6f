//! Virtual CPUs: their power state (changed by PSCI from other vCPUs of the same partition) and their saved
//! context (everything a vCPU owns, so it can be stopped, restarted, or later time-shared).

use spin::Mutex;

use crate::arch::{El1Regs, FpRegs};
use crate::config::{PartitionConfig, VcpuConfig, NUM_PARTITIONS, NUM_VCPUS, SYSTEM};
use crate::hw::gic::lr::Lr;

/// Names a vCPU: partition index and vCPU index within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuRef {
    pub part: usize,
    pub idx: usize,
}

impl VcpuRef {
    pub fn partition(&self) -> &'static PartitionConfig {
        &SYSTEM.partitions[self.part]
    }

    pub fn config(&self) -> &'static VcpuConfig {
        &self.partition().vcpus[self.idx]
    }

    pub fn pcpu(&self) -> usize {
        self.config().pcpu
    }

    /// Index into the flat per-vCPU arrays: a table lookup, not a sum over the partitions before it (it is on
    /// every trap's path: the exit counter, the current vCPU).
    pub fn global(&self) -> usize {
        FIRST_GLOBAL.get(self.part).map_or(0, |first| first + self.idx)
    }

    /// The vCPU with flat index `g` (the inverse of [`VcpuRef::global`]).
    #[allow(clippy::panic, reason = "flat indices come only from the hypervisor's own per-CPU records")]
    pub fn from_global(g: usize) -> VcpuRef {
        match BY_GLOBAL.get(g) {
            Some(&v) => v,
            None => panic!("no vCPU with flat index {g}"),
        }
    }
}

/// Per partition: the flat index of its vCPU 0.
static FIRST_GLOBAL: [usize; NUM_PARTITIONS] = {
    let mut first = [0; NUM_PARTITIONS];
    let mut p = 1;
    while p < NUM_PARTITIONS {
        first[p] = first[p - 1] + SYSTEM.partitions[p - 1].vcpus.len();
        p += 1;
    }
    first
};

/// Per flat index: the vCPU.
static BY_GLOBAL: [VcpuRef; NUM_VCPUS] = {
    let mut all = [VcpuRef { part: 0, idx: 0 }; NUM_VCPUS];
    let (mut p, mut g) = (0, 0);
    while p < NUM_PARTITIONS {
        let mut idx = 0;
        while idx < SYSTEM.partitions[p].vcpus.len() {
            all[g] = VcpuRef { part: p, idx };
            idx += 1;
            g += 1;
        }
        p += 1;
    }
    all
};

/// PSCI's view of a vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    Off,
    /// Started (partition boot, `boot` = true, `context` = device tree) or CPU_ON accepted (`context` = the
    /// caller's context ID); the vCPU enters at `entry` when its CPU next looks.
    OnPending {
        entry: u64,
        context: u64,
        boot: bool,
    },
    On,
}

static POWER: [Mutex<Power>; NUM_VCPUS] = [const { Mutex::new(Power::Off) }; NUM_VCPUS];

pub fn power(v: VcpuRef) -> Power {
    *POWER[v.global()].lock()
}

/// Atomically applies `f` to the vCPU's power state.
pub fn update_power<R>(v: VcpuRef, f: impl FnOnce(&mut Power) -> R) -> R {
    f(&mut POWER[v.global()].lock())
}

/// Everything a vCPU owns besides its general-purpose registers (those live in its frame: `arch::stacks`).
pub struct Context {
    pub el1: El1Regs,
    pub fp: FpRegs,
    /// Virtual CPU interface control, VMCR and every active-priority register.
    pub gic_if: crate::hw::gic::CpuIf,
    /// Its list registers, where `lrs_used` has a bit; the others are empty (and not kept up to date).
    pub lrs: [Lr; 16],
    /// Which of `lrs` hold something: a switch moves only those (issue 15), not all sixteen.
    pub lrs_used: u16,
    /// Whether its virtual timer's physical interrupt was active (taken, not yet completed by the guest through
    /// the list register's HW link) when it was descheduled: that state is per CPU, so it leaves with the vCPU.
    pub vtimer_active: bool,
}

impl Context {
    pub const fn empty() -> Self {
        Self {
            el1: El1Regs::ZERO,
            fp: FpRegs::ZERO,
            gic_if: crate::hw::gic::CpuIf::EMPTY,
            lrs: [Lr::EMPTY; 16],
            lrs_used: 0,
            vtimer_active: false,
        }
    }
}

static CONTEXT: [Mutex<Context>; NUM_VCPUS] = [const { Mutex::new(Context::empty()) }; NUM_VCPUS];

pub fn context(v: VcpuRef) -> spin::MutexGuard<'static, Context> {
    CONTEXT[v.global()].lock()
}
