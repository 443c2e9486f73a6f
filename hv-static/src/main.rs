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

// The layers, lowest first: each imports only from the ones before it (tests/tests/module_cycles.rs checks).
// `config`: the system plan compiled in. `arch/`: per-architecture CPU, MMU, exceptions, trap syndromes. `hw/`: the
// board's hardware hv-static drives (physical GIC, console UART, the board's own virtio devices). `core/`:
// partitions, vCPUs, per-CPU state, scheduling, stage 2, lifecycle, the console service, the event trace. `vdev/`:
// the virtual devices partitions see (virtual GIC, PL011, virtio, channels) behind one interface. And the entry
// layer, the files here: bring-up, trap and interrupt dispatch, hypercalls, PSCI, the device registry. What a lower
// layer needs from a higher one (a device's reset, a typed byte's destination) is handed down by the entry layer.
mod config;

#[cfg(target_os = "none")]
mod arch;
// ARMv7's decoder of loads and stores without a syndrome lives with its architecture but is also built on the host,
// where its tests run (the rest of `arch/` is bare-metal only).
#[cfg(any(test, target_arch = "arm"))]
#[path = "arch/aarch32/a32_decode.rs"]
mod a32_decode;
// Trap syndromes (ESR_EL2 / HSR), decoded on the host too, where their tests run.
#[path = "arch/esr.rs"]
mod esr;
// What hv-static traps, emulates, switches and invalidates of the CPU's architectural state, and how it maps its own
// pages: register arithmetic both architectures use, also built on the host, where its tests run.
#[path = "arch/hwstate.rs"]
mod hwstate;

mod hw;

mod core;

mod vdev;

#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod devices;
#[cfg(target_os = "none")]
mod hypercall;
#[cfg(target_os = "none")]
mod irq;
#[cfg(target_os = "none")]
mod manage;
#[cfg(target_os = "none")]
mod mmio;
#[cfg(target_os = "none")]
mod psci;
#[cfg(target_os = "none")]
mod run;
#[cfg(target_os = "none")]
mod trap;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hv-static runs on bare metal; build a bootable image with `cargo run -p image-builder -- build`");
}
