//! Per-physical-CPU data: the vCPU pinned to the CPU, and the mailbox other CPUs use to ask it for something
//! (refill list registers, stop or start its vCPU) before kicking it with an SGI. (Each CPU's stack is the
//! architecture's: `arch::stacks`.)

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::config::{NUM_CPUS, SYSTEM};
use crate::core::vcpu::VcpuRef;

/// Mailbox requests (bit flags).
pub mod req {
    /// New virtual interrupts are pending for this CPU's vCPU.
    pub const REFILL: u32 = 1 << 0;
    /// The vCPU must stop (partition fault, power-off, reset, CPU_OFF).
    pub const STOP: u32 = 1 << 1;
    /// The vCPU was powered on (PSCI CPU_ON, partition start).
    pub const START: u32 = 1 << 2;
    /// A virtio device of the running partition has queue work left from a bounded batch.
    pub const VIRTIO: u32 = 1 << 3;
    /// The deadline of a watchdog homed on this (pinned) CPU moved: its EL2 timer is re-armed.
    pub const WATCHDOG: u32 = 1 << 4;
}

static MAILBOX: [AtomicU32; NUM_CPUS] = [const { AtomicU32::new(0) }; NUM_CPUS];

/// Leaves `flags` for `cpu` and, when it is another CPU, interrupts it. Requests coalesce while pending: when
/// every flag asked for is already waiting, the interrupt that will collect them is already on its way, and none
/// is sent. So a partition ringing a doorbell (or injecting SGIs) in a tight loop costs the receiving CPU at most
/// one interrupt per time it gets round to its mailbox, however fast the sender calls. An empty `flags` always
/// interrupts (the panic handler's halt).
///
/// Why coalescing cannot lose a request: only `take` clears flags, and the receiver runs it after deactivating the
/// kick it took (and at the top of every round of its idle loop). So a flag that is already set is one the
/// receiver has not taken yet: the kick that set it is still pending at its GIC or being handled, and that
/// handler's `take` collects this request too (a CPU posting to itself, which sends no kick, is on its way to its
/// idle loop). That holds only if the receiver cannot see the kick before the flag: the SGI is a system-register
/// write (GICv3) or a Device-memory write (GICv2), which the release of `fetch_or` does not order after the
/// mailbox store, so a DSB comes between them. Without it the receiver may take an empty mailbox on the kick, the
/// flag lands after, and every later request of that kind finds it set and sends no kick at all.
pub fn post(cpu: usize, flags: u32) {
    let Some(mailbox) = MAILBOX.get(cpu) else { return };
    let before = mailbox.fetch_or(flags, Ordering::AcqRel);
    if cpu != crate::arch::cpu::id() && (flags == 0 || before & flags != flags) {
        crate::arch::cpu::dsb();
        crate::hw::gic::send_sgi(cpu, crate::hw::gic::SGI_KICK);
    }
}

/// Leaves `flags` for this CPU and interrupts it, so they are handled as soon as it has re-entered its vCPU: work
/// split into bounded batches continues without holding the CPU for longer at a time.
pub fn defer(flags: u32) {
    let cpu = crate::arch::cpu::id();
    MAILBOX[cpu].fetch_or(flags, Ordering::AcqRel);
    crate::arch::cpu::dsb();
    crate::hw::gic::send_sgi(cpu, crate::hw::gic::SGI_KICK);
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

/// The one vCPU pinned to `cpu` in a pinned pool (`None` on a CPU of a cyclic pool, which has several).
pub fn pinned(cpu: usize) -> Option<VcpuRef> {
    if SYSTEM.cpus[cpu].schedule.is_some() {
        return None;
    }
    PINNED[cpu]
}

/// Per CPU: the vCPU it is running (its global index + 1), or 0 while it is in the hypervisor's idle loop.
static CURRENT: [AtomicUsize; NUM_CPUS] = [const { AtomicUsize::new(0) }; NUM_CPUS];

/// The vCPU of the CPU running this code.
pub fn current() -> Option<VcpuRef> {
    current_on(crate::arch::cpu::id())
}

/// The vCPU `cpu` is running, if any.
pub fn current_on(cpu: usize) -> Option<VcpuRef> {
    match CURRENT[cpu].load(Ordering::Acquire) {
        0 => None,
        g => Some(VcpuRef::from_global(g - 1)),
    }
}

/// Records which vCPU this CPU runs (so a partition reset knows when each of its vCPUs has left, and
/// interrupt delivery knows whether a vCPU is on its CPU right now).
pub fn set_current(v: Option<VcpuRef>) {
    CURRENT[crate::arch::cpu::id()].store(v.map_or(0, |v| v.global() + 1), Ordering::Release);
    if v.is_none() {
        crate::arch::cpu::sev();
    }
}

/// Entries into the hypervisor from partitions, per vCPU (`HV_CPU_EXITS`): traps, interrupts and calls taken while
/// that vCPU ran. Per vCPU, not per physical CPU: a CPU's count would let one partition of a cyclic pool observe how
/// busy its neighbours on the same CPU are.
static EXITS: [AtomicU32; crate::config::NUM_VCPUS] = [const { AtomicU32::new(0) }; crate::config::NUM_VCPUS];

/// The vCPU this CPU ran when it entered the hypervisor from a partition, with that entry counted for it: one load
/// of [`CURRENT`] serves both (every trap and interrupt passes here).
pub fn entered() -> Option<VcpuRef> {
    let g = CURRENT.get(crate::arch::cpu::id())?.load(Ordering::Acquire).checked_sub(1)?;
    // Only this CPU counts for its vCPU (vCPUs are pinned): a load and a store, not an atomic read-modify-write.
    if let Some(counter) = EXITS.get(g) {
        counter.store(counter.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }
    Some(VcpuRef::from_global(g))
}

/// Entries counted for `v` so far.
pub fn exits(v: VcpuRef) -> u32 {
    EXITS.get(v.global()).map_or(0, |c| c.load(Ordering::Relaxed))
}
