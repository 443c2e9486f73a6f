//! hv-static: a static-partitioning hypervisor. Every partition, its memory, CPUs and devices are fixed at build
//! time by the image builder; at boot the hypervisor builds them all, starts them, and from then on only answers
//! traps. See `docs/` at the repository root for the design and the guest ABI.
//!
//! On the host this crate builds as an ordinary program so the architecture-neutral logic (stage-2 tables, trap
//! decoding, the virtual GIC model, console line assembly) runs under `cargo test`.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]
// Nothing a guest controls may stop the hypervisor: no unwrap, expect or panic outside tests. The few places that
// check the hypervisor's own invariants (never a guest's input) allow it one by one, with the reason.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

// ARMv7's decoder of loads and stores without a syndrome lives with its architecture but is also built on the host,
// where its tests run (the rest of `arch/` is bare-metal only).
#[cfg(any(test, target_arch = "arm"))]
#[path = "arch/aarch32/a32_decode.rs"]
mod a32_decode;
mod channel;
mod config;
mod console;
mod esr;
// What hv-static traps, emulates, switches and invalidates of the CPU's architectural state, and how it maps its own
// pages: register arithmetic both architectures use, also built on the host, where its tests run.
#[path = "arch/hwstate.rs"]
mod hwstate;
mod lifecycle;
// Whether the boot loader put the partitions' images in place: a command-line word, parsed and tested on the host.
mod preload;
mod sched;
mod stage2;
// The event trace (feature `trace`): macros that are empty without it; the ring format builds on the host for tests.
mod trace;
// The interface every emulated device implements: a leaf, built on the host too (the virtual GIC's model uses its
// access type).
mod vdev;
mod vgic;
// The emulated PL011's register file is pure logic: on the host it builds alone, for its property tests.
#[cfg(not(target_os = "none"))]
#[path = "vuart/regs.rs"]
mod vuart_regs;

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod devices;
#[cfg(target_os = "none")]
mod fp;
#[cfg(target_os = "none")]
mod gic;
// On the host only the list-register encoding, pure data that the virtual GIC's tests use.
#[cfg(not(target_os = "none"))]
mod gic {
    pub mod lr;
}
#[cfg(target_os = "none")]
mod halt;
#[cfg(target_os = "none")]
mod hostdev;
#[cfg(target_os = "none")]
mod hypercall;
#[cfg(target_os = "none")]
mod irq;
#[cfg(target_os = "none")]
mod mmio;
#[cfg(target_os = "none")]
mod partition;
#[cfg(target_os = "none")]
mod percpu;
#[cfg(target_os = "none")]
mod psci;
#[cfg(target_os = "none")]
mod run;
#[cfg(target_os = "none")]
mod trap;
#[cfg(target_os = "none")]
mod vcpu;
#[cfg(target_os = "none")]
mod virtio;
#[cfg(target_os = "none")]
mod vuart;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hv-static runs on bare metal; build a bootable image with `cargo run -p image-builder -- build`");
}
