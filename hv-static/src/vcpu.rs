//! Virtual CPUs: their power state (changed by PSCI from other vCPUs of the same partition) and their saved
//! context (everything a vCPU owns, so it can be stopped, restarted, or later time-shared).

use spin::Mutex;

use crate::arch::{El1Regs, FpRegs, GuestRegs};
use crate::config::{PartitionConfig, VcpuConfig, NUM_VCPUS, SYSTEM};
use crate::vgic::lr::Lr;

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

    /// Index into the flat per-vCPU arrays.
    pub fn global(&self) -> usize {
        SYSTEM.partitions[..self.part].iter().map(|p| p.vcpus.len()).sum::<usize>() + self.idx
    }

    /// The vCPU with flat index `g` (the inverse of [`VcpuRef::global`]).
    #[allow(clippy::panic, reason = "flat indices come only from the hypervisor's own per-CPU records")]
    pub fn from_global(mut g: usize) -> VcpuRef {
        for (part, p) in SYSTEM.partitions.iter().enumerate() {
            if g < p.vcpus.len() {
                return VcpuRef { part, idx: g };
            }
            g -= p.vcpus.len();
        }
        panic!("no vCPU with flat index {g}")
    }
}

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

/// Everything a vCPU owns besides its general-purpose registers while it runs (those live in the trap frame).
pub struct Context {
    pub regs: GuestRegs,
    pub el1: El1Regs,
    pub fp: FpRegs,
    /// Virtual CPU interface control, VMCR and every active-priority register.
    pub gic_if: crate::gic::CpuIf,
    pub lrs: [Lr; 16],
    /// Whether its virtual timer's physical interrupt was active (taken, not yet completed by the guest through
    /// the list register's HW link) when it was descheduled: that state is per CPU, so it leaves with the vCPU.
    pub vtimer_active: bool,
}

impl Context {
    pub const fn empty() -> Self {
        Self {
            regs: GuestRegs::ZERO,
            el1: El1Regs::ZERO,
            fp: FpRegs::ZERO,
            gic_if: crate::gic::CpuIf::EMPTY,
            lrs: [Lr::EMPTY; 16],
            vtimer_active: false,
        }
    }

    /// A vCPU at power-on: boot-protocol registers, reset EL1 state, clean FP and interrupt state.
    pub fn power_on(entry: u64, context: u64, boot: bool) -> Self {
        let regs = if boot { GuestRegs::boot(entry, context) } else { GuestRegs::cpu_on(entry, context) };
        Self { regs, el1: El1Regs::reset(), ..Self::empty() }
    }
}

static CONTEXT: [Mutex<Context>; NUM_VCPUS] = [const { Mutex::new(Context::empty()) }; NUM_VCPUS];

pub fn context(v: VcpuRef) -> spin::MutexGuard<'static, Context> {
    CONTEXT[v.global()].lock()
}
