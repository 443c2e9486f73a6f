//! Runtime for hv-static's bare-metal test guests.
//!
//! A guest binary provides `fn main(&'static Platform) -> !` through [`entry!`] and gets: an arm64 `Image` header
//! (AArch64) or a zImage header (ARMv7, soft-float) and boot code (zeroed bss, one stack per vCPU, FP/SIMD on for
//! AArch64, exception vectors), the facts of its partition read from the device tree ([`dt::Platform`]), a locked
//! PL011 console behind [`println!`], a `critical-section` implementation that is sound with several vCPUs
//! ([`critical`]), the GIC (v2 or v3; v2 only on ARMv7), the virtual timer, an IRQ dispatcher,
//! secondary-vCPU start-up through PSCI, an SP805 watchdog driver ([`watchdog`]), a polled driver for a
//! passed-through PL011 or Cadence UART ([`aux_uart`]), and a synchronous-exception handler that prints the
//! syndrome and stops the vCPU so that a guest bug is visible.
//!
//! Design rules:
//! - Nothing about the platform is assumed: every address and interrupt number comes from the device tree, as
//!   docs/guest-abi.md promises only that.
//! - What differs between AArch64 and ARMv7 (boot assembly, vectors, system registers) lives in [`arch`]; the rest
//!   is shared and compiles on the host, where [`dt`], [`bootargs`] and the register encodings are unit-tested.
//! - No heap. Per-vCPU state is a fixed array of [`MAX_CPUS`] entries indexed by the vCPU index, which each vCPU
//!   learns at entry (0 for the boot vCPU, the PSCI context ID for the others).
#![cfg_attr(not(test), no_std)]

pub mod arch;
pub mod aux_uart;
pub mod bootargs;
pub mod console;
pub mod critical;
pub mod dt;
pub mod exception;
pub mod gic;
pub mod irq;
pub mod rt;
pub mod smp;
pub mod timer;
#[cfg(feature = "virtio")]
pub mod virtio_hal;
pub mod watchdog;

pub use dt::Platform;

/// vCPUs a guest supports; each gets a [`STACK_SIZE`] stack.
pub const MAX_CPUS: usize = 8;
/// Stack per vCPU. Exception frames (800 bytes) and `core::fmt` fit comfortably. It was 16 KiB: netprobe's boot
/// path (the entry's frame, 6.5 KiB with the device tree's `Platform` built in it) plus its `main` (8 KiB of ports)
/// and its `pong` loop reached the end of it once the `Platform` grew by a few fields, and the overflow silently
/// broke the static data below the stack (pong never received a frame). Nothing checks a guest's stack depth, so
/// the margin is wide.
pub const STACK_SIZE: usize = 32 * 1024;
