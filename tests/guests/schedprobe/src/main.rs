//! guest-schedprobe: measures hv-static's cyclic (time-partitioned) scheduler from inside a partition, on AArch64
//! and ARMv7. It asks the hypervisor for its schedule (docs/guest-abi.md, "hv-static vendor calls"), then busy-polls
//! the virtual counter with interrupts masked, no WFI and no console output: a jump between two reads larger than a
//! threshold means the vCPU was descheduled, and the read after it is the start of a window, to be compared with
//! when the schedule says that window starts.
//!
//! Bootargs: `role=window` (the default), `role=pinned` or `role=soak` (heartbeats beside cross-CPU traffic for
//! soak tests: see [`soak`] for its own bootargs and output); `frames=N` frames to measure (default 1000);
//! `frame_us=N` the pinned role's frame in microseconds (default 1000); `done=off` to call PSCI SYSTEM_OFF at the
//! end instead of idling in WFI.
//!
//! Output (integration tests match these lines):
//! - `schedprobe: partition <name>, role <role>, counter <Hz> Hz`
//! - role `window`:
//!   - `schedprobe: not in a cyclic pool` when HV_SCHED_FRAME answers NOT_SUPPORTED (and nothing is measured);
//!   - `schedprobe: frame <F> ticks, T0 0x<hex>, windows [<s>..<e>, ...]` (the vCPU's windows, ticks from the
//!     frame start);
//!   - `schedprobe: threshold <T> ticks, measuring <N> frames` (and, when a gap is too short to see,
//!     `schedprobe: <k> window start(s) after gaps under <2T> ticks are not measured`);
//!   - `sched: windows=<count> frames=<N> deviation min=<a> max=<b> mean=<c> ticks; drift=<d> ticks over <N>
//!     frames`: `count` window starts seen, deviation = observed - scheduled start in ticks (mean and drift with one
//!     decimal; `n/a` without samples), drift = mean deviation over the last tenth of the frames minus over the
//!     first tenth (0 when the hypervisor switches on absolute deadlines);
//!   - `sched: missed=<m> unexpected=<u>`: scheduled starts not seen; jumps that were no scheduled start.
//! - role `pinned`: `pinned: hv entries during run=<n> over <elapsed> ticks` (entries into hv-static on the
//!   vCPU's physical CPU while it spun for `frames × frame_us`) and `pinned: longest gap between counter reads
//!   <g> ticks`, or `pinned: HV_CPU_EXITS not supported`.
//! - `schedprobe: done`, then WFI forever (or SYSTEM_OFF with `done=off`).
//!
//! The measurement logic ([`schedule`], [`measure`], [`stats`]) is pure and unit-tested on the host with
//! synthetic counter traces.
#![cfg_attr(target_os = "none", no_std, no_main)]

mod guest;
mod measure;
mod pinned;
mod schedule;
mod soak;
mod stats;
mod window;

#[cfg(not(target_os = "none"))]
fn main() {
    println!("guest-schedprobe is a bare-metal guest: build it with --target aarch64-unknown-none or armv7a-none-eabi");
}
