//! What differs between architectures. Each port provides the same names:
//!
//! - `cpu_index()`, `mpidr()`: who the calling vCPU is;
//! - `enable_irqs()`, `mask_irqs()` (which [`crate::critical`] and [`crate::irq::wait_until`] build on),
//!   `wait_for_interrupt()`, `halt()`, `write_barrier()`;
//! - `secondary_entry()`: the address given to PSCI `CPU_ON`;
//! - `timer`: the virtual generic timer's registers;
//! - `gicv3` (AArch64 only): the GICv3 CPU interface's system registers; ARMv7 guests drive GICv2 only, whose CPU
//!   interface is memory-mapped;
//! - `probe`: single-instruction loads and stores that a fault hook can step over;
//!
//! plus the boot code and exception vectors, which call [`crate::rt`] and [`crate::exception`]/[`crate::irq`].
//! On the host a stub with the same names lets the shared code and the guests compile; nothing in it runs.

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod aarch64;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use aarch64::*;

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod armv7;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub use armv7::*;

#[cfg(not(target_os = "none"))]
mod host;
#[cfg(not(target_os = "none"))]
pub use host::*;

/// The ARMv7 fault-status names are pure code: unit-tested on the host.
#[cfg(test)]
#[path = "armv7/fsr.rs"]
mod armv7_fsr;

#[cfg(all(target_os = "none", not(any(target_arch = "aarch64", target_arch = "arm"))))]
compile_error!("guest-rt has no port for this architecture (there are arch/aarch64 and arch/armv7)");
