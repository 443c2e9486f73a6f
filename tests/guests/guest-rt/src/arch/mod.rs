//! What differs between architectures. Each port provides the same names:
//!
//! - `cpu_index()`, `mpidr()`: who the calling vCPU is;
//! - `enable_irqs()`, `IrqGuard`, `wait_for_interrupt()`, `halt()`, `write_barrier()`;
//! - `secondary_entry()`: the address given to PSCI `CPU_ON`;
//! - `timer`: the virtual generic timer's registers;
//! - `gicv3`: the GICv3 CPU interface (system registers on AArch64, CP15 on ARMv7);
//! - `probe`: single-instruction loads and stores that a fault hook can step over;
//!
//! plus the boot code and exception vectors, which call [`crate::rt`] and [`crate::exception`]/[`crate::irq`].
//! On the host a stub with the same names lets the shared code and the guests compile; nothing in it runs.

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod aarch64;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use aarch64::*;

#[cfg(not(target_os = "none"))]
mod host;
#[cfg(not(target_os = "none"))]
pub use host::*;

#[cfg(all(target_os = "none", not(target_arch = "aarch64")))]
compile_error!(
    "guest-rt has no port for this architecture yet (ARMv7 is planned: add arch/armv7 with the names above)"
);
