//! Each CPU's EL2 (Hyp) stack, which the boot and exception entry code set up by logical CPU number.

use crate::config::NUM_CPUS;

/// Each CPU's EL2 stack: its lowest page is an unmapped guard (an overflow faults instead of corrupting), which
/// leaves 16 KiB usable; the deepest path measured (virtio-net) uses about 7.5 KiB.
pub const STACK_SIZE: usize = 20 * 1024;

#[repr(C, align(16))]
pub struct Stack([u8; STACK_SIZE]);

/// One stack per CPU; the boot code indexes it by logical CPU number.
#[unsafe(no_mangle)]
pub static mut HV_STACKS: [Stack; NUM_CPUS] = [const { Stack([0; STACK_SIZE]) }; NUM_CPUS];

/// The top of CPU `cpu`'s stack, where it starts empty.
pub fn stack_top(cpu: usize) -> u64 {
    core::ptr::addr_of!(HV_STACKS) as u64 + ((cpu + 1) * STACK_SIZE) as u64
}
