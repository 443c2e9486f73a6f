//! The EL2 (Hyp) stacks, and where each vCPU's general-purpose registers live.
//!
//! Each CPU has a stack, which its boot code sets up by logical CPU number. A vCPU's registers live in one place for
//! its whole life, its *frame*, at the top of a stack: the exception entry saves them there (it finds the frame
//! just below the SP the vCPU was entered with) and the return to the partition loads them from there. A vCPU that
//! has its CPU to itself (a pinned pool) has its frame at the top of its CPU's stack. Each vCPU of a cyclic pool,
//! which shares its CPU, has a stack of its own, so a window switch moves no registers between frames: it saves
//! nothing, and returns through the next vCPU's frame by moving SP there (issue 15). The hypervisor's work on a
//! vCPU's behalf runs on that vCPU's stack, below its frame, and so does each CPU's boot code on its own stack
//! (its SP starts a frame below the top), which is where it writes a pinned vCPU's first registers.

use crate::arch::GuestRegs;
use crate::config::{NUM_CPUS, NUM_VCPUS, SYSTEM};

/// Each stack: its lowest page is an unmapped guard (an overflow faults instead of corrupting), which leaves 16
/// KiB usable; the deepest path measured (virtio-net) uses about 7.5 KiB.
pub const STACK_SIZE: usize = 20 * 1024;

#[repr(C, align(16))]
pub struct Stack([u8; STACK_SIZE]);

/// Which stack holds each vCPU's frame, by flat vCPU index (partitions in order, their vCPUs in order: as
/// `vcpu::VcpuRef::global`): its CPU's (0..NUM_CPUS) when its CPU is pinned, else one of its own after the CPUs'.
const HOME: [usize; NUM_VCPUS] = {
    let mut home = [0; NUM_VCPUS];
    let (mut p, mut g, mut own) = (0, 0, NUM_CPUS);
    while p < SYSTEM.partitions.len() {
        let vcpus = SYSTEM.partitions[p].vcpus;
        let mut i = 0;
        while i < vcpus.len() {
            let cpu = vcpus[i].pcpu;
            home[g] = if SYSTEM.cpus[cpu].schedule.is_some() {
                own += 1;
                own - 1
            } else {
                cpu
            };
            i += 1;
            g += 1;
        }
        p += 1;
    }
    home
};

/// Stacks: one per CPU, and one per vCPU of a cyclic pool.
pub const NUM_STACKS: usize = {
    let (mut max, mut g) = (NUM_CPUS, 0);
    while g < NUM_VCPUS {
        if HOME[g] + 1 > max {
            max = HOME[g] + 1;
        }
        g += 1;
    }
    max
};

/// Every stack; the boot code indexes the first `NUM_CPUS` by logical CPU number.
#[unsafe(no_mangle)]
pub static mut HV_STACKS: [Stack; NUM_STACKS] = [const { Stack([0; STACK_SIZE]) }; NUM_STACKS];

/// The top of stack `n`, where it starts empty (CPU `n`'s for `n < NUM_CPUS`).
pub fn stack_top(n: usize) -> u64 {
    core::ptr::addr_of!(HV_STACKS) as u64 + ((n + 1) * STACK_SIZE) as u64
}

/// The frame of the vCPU with flat index `g`: where its registers are while it is out of the CPU, and where the
/// exception entry saves them. Only `g`'s own CPU reads or writes it.
#[allow(clippy::panic, reason = "flat indices come only from the hypervisor's own vCPU records")]
pub fn frame(g: usize) -> *mut GuestRegs {
    let Some(&n) = HOME.get(g) else { panic!("no vCPU with flat index {g}") };
    (stack_top(n) as usize - core::mem::size_of::<GuestRegs>()) as *mut GuestRegs
}
