//! Per-physical-CPU data: stacks, the vCPU pinned to the CPU, and the mailbox other CPUs use to ask it for
//! something (refill list registers, stop or start its vCPU) before kicking it with an SGI.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::config::{NUM_CPUS, SYSTEM};
use crate::vcpu::VcpuRef;

pub const STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
pub struct Stack([u8; STACK_SIZE]);

/// One stack per CPU; the boot code indexes it by logical CPU number.
#[unsafe(no_mangle)]
pub static mut HV_STACKS: [Stack; NUM_CPUS] = [const { Stack([0; STACK_SIZE]) }; NUM_CPUS];

pub fn stack_top(cpu: usize) -> u64 {
    core::ptr::addr_of!(HV_STACKS) as u64 + ((cpu + 1) * STACK_SIZE) as u64
}

/// Mailbox requests (bit flags).
pub mod req {
    /// New virtual interrupts are pending for this CPU's vCPU.
    pub const REFILL: u32 = 1 << 0;
    /// The vCPU must stop (partition fault, power-off, reset, CPU_OFF).
    pub const STOP: u32 = 1 << 1;
    /// The vCPU was powered on (PSCI CPU_ON, partition start).
    pub const START: u32 = 1 << 2;
}

static MAILBOX: [AtomicU32; NUM_CPUS] = [const { AtomicU32::new(0) }; NUM_CPUS];

/// Leaves `flags` for `cpu` and, when it is another CPU, interrupts it.
pub fn post(cpu: usize, flags: u32) {
    MAILBOX[cpu].fetch_or(flags, Ordering::AcqRel);
    if cpu != crate::arch::cpu::id() {
        crate::gic::send_sgi(cpu, crate::gic::SGI_KICK);
    }
}

pub fn take(cpu: usize) -> u32 {
    MAILBOX[cpu].swap(0, Ordering::AcqRel)
}

/// The vCPU each physical CPU runs (pinned pools: at most one), computed at compile time from the config.
static PINNED: [Option<VcpuRef>; NUM_CPUS] = {
    let mut table = [None; NUM_CPUS];
    let mut p = 0;
    while p < SYSTEM.partitions.len() {
        let vcpus = SYSTEM.partitions[p].vcpus;
        let mut i = 0;
        while i < vcpus.len() {
            table[vcpus[i].pcpu] = Some(VcpuRef { part: p, idx: i });
            i += 1;
        }
        p += 1;
    }
    table
};

pub fn pinned(cpu: usize) -> Option<VcpuRef> {
    PINNED[cpu]
}

/// The vCPU of the CPU running this code.
pub fn current() -> Option<VcpuRef> {
    PINNED[crate::arch::cpu::id()]
}

static IN_GUEST: [AtomicBool; NUM_CPUS] = [const { AtomicBool::new(false) }; NUM_CPUS];

/// Records whether this CPU is running its vCPU (so a partition reset knows when every vCPU has left).
pub fn set_in_guest(on: bool) {
    IN_GUEST[crate::arch::cpu::id()].store(on, Ordering::Release);
    if !on {
        crate::arch::cpu::sev();
    }
}

pub fn in_guest(cpu: usize) -> bool {
    IN_GUEST[cpu].load(Ordering::Acquire)
}
