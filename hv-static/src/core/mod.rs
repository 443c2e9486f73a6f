//! What hv-static is made of, independent of any one virtual device: partitions and their lifecycle, vCPUs and their
//! contexts, per-CPU state and mailboxes, the cyclic scheduler, stage-2 tables, the shared console and the event
//! trace. Built on the hardware layers below (`arch`, `hw`); the virtual devices above (`vdev`) are reached only
//! through hooks the entry layer registers.

// Whether the board's RAM banks cover the layout's RAM: checked at boot, tested on the host.
pub mod board_ram;
pub mod console;
// What hv-static remembers of each partition's health (restarts, the restart budget, the last fault).
pub mod health;
pub mod lifecycle;
// Whether the boot loader put the partitions' images in place: a command-line word, parsed and tested on the host.
pub mod preload;
// A restart's work in bounded steps.
pub mod restart;
pub mod sched;
pub mod stage2;
// The event trace (feature `trace`): macros that are empty without it; the ring format builds on the host for tests.
pub mod trace;

#[cfg(target_os = "none")]
pub mod fp;
#[cfg(target_os = "none")]
pub mod halt;
#[cfg(target_os = "none")]
pub mod partition;
#[cfg(target_os = "none")]
pub mod percpu;
#[cfg(target_os = "none")]
pub mod vcpu;
