//! guest-abiprobe: the guest ABI's conformance probe. It walks docs/guest-abi.md point by point from inside a
//! partition (the hypercalls and their error codes, hv-static's vendor calls, the device tree the partition is
//! given, its memory map and console registers, the Boot section's register promises) and checks each against the
//! number the document gives. Every number is a literal in [`ids`] or next to its check, with a comment naming the
//! table row or paragraph it comes from: the probe is an independent reading of the document, not of `hv-plan`.
//!
//! Roles (bootargs `role=`):
//! - `main` (default): a partition of two or more vCPUs, pinned, with channels. Checks SMCCC and PSCI (every
//!   function of the table, CPU_ON/AFFINITY_INFO/CPU_OFF with its second vCPU), unknown IDs, `SMC #0`, SMC32
//!   upper halves (AArch64), the vendor calls outside a cyclic pool, its own device tree and memory map. Bootargs
//!   `peer=N` (the other partition's `partition-id`) and `partitions=N` (how many the system has, so that `N` is
//!   an id of none).
//! - `peer`: a one-vCPU partition in a cyclic pool sharing a channel with `main`. Checks `HV_SCHED_FRAME` and
//!   `HV_SCHED_WINDOW` inside the pool (bootargs `frame_us=N`, the major frame, and `windows=N`, its windows per
//!   frame), the other vendor calls, and answers `main`'s doorbell through their first channel. It starts only when
//!   `main` has printed all but its doorbell checks (word 2 of their first channel), so that the two never flood
//!   hv-static's console queue together (it drops lines when full), and each line is paced for the same reason.
//!
//! Output, one line per check (tests/tests/abi.rs reads them):
//! - `abi: section <name>` before each group of checks;
//! - `abi ok: <what> = <value>` or `abi FAIL: <what> = <value>, expected <value>`;
//! - `abi note: ...` for what the document leaves open or the probe cannot check without ending its run (not
//!   counted);
//! - last, `abi: <n> checks, <m> failed`.
//!
//! Nothing the hypervisor returns is unwrapped: a wrong answer is a `FAIL` line, a missing one (a vCPU that never
//! starts) a `FAIL` after a timeout. SYSTEM_OFF and SYSTEM_RESET end the partition's run and are only asked about
//! through PSCI_FEATURES; faults (an access outside the map) are left to tests/tests/isolation.rs and hostile.rs.
#![cfg_attr(target_os = "none", no_std, no_main)]

mod boot;
mod call;
mod cpus;
mod guest;
mod ids;
mod memory;
mod psci;
mod report;
mod tree;
mod vendor;

#[cfg(not(target_os = "none"))]
fn main() {
    println!("guest-abiprobe is a bare-metal guest: build it with --target aarch64-unknown-none or armv7a-none-eabi");
}
