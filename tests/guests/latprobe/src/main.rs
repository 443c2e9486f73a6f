//! guest-latprobe: latencies of hv-static's paths as a bare-metal guest sees them, under QEMU's
//! `-icount shift=0,align=off,sleep=off` (one instruction = one nanosecond of guest time, every run the same), and
//! the same binary on QEMU alone for the native baseline. AArch64 (GICv2, GICv3) and ARMv7 (GICv2).
//!
//! Bootargs: `role=main` (the default), `role=peer` or `role=window`; `events=N` samples per measurement (default
//! 10000, at most 20000); `skip=EVENT,...` leaves measurements out; `done=off` calls PSCI SYSTEM_OFF at the end.
//!
//! - `main` (one or two vCPUs) measures, in this order: `hvc` (an HV_CPU_EXITS round trip), `gicd` (a write to
//!   GICD_ISENABLER enabling its PL031's SPI again), `uart` (a read of the PL011's UARTFR), `timer` (virtual timer
//!   due → handler), `sgi` (vCPU 0 → vCPU 1), `doorbell` (a peer partition's HV_CHANNEL_SIGNAL → handler, with
//!   channels `lat-req` and `lat-resp`), `device` (the passed-through PL031's alarm → handler; needs QEMU's
//!   `-rtc clock=vm`). [`events`] says exactly what each brackets. Without a hypervisor (no `/hypervisor` node)
//!   `hvc` and `doorbell` are skipped.
//! - `peer` answers `main`'s doorbells.
//! - `window` (in a cyclic pool) measures how late its first instruction runs after each window start.
//!
//! Output (tests/src/latency.rs parses it):
//! - `latprobe: partition <name>, role <role>, gic <v2|v3>, counter <Hz> Hz (<ns> ns per tick), events <N>`
//! - `latprobe: stamp calibration <k> ns (...)`
//! - per measurement `lat: <event> n=<N> min=<a> median=<b> p99=<c> max=<d> ns`, or `lat: <event> skipped (<why>)`
//! - `latprobe: done`
//!
//! Timestamps are finer than the counter's 16 ns tick ([`clock`]); [`stats`] and the window arithmetic are pure and
//! unit-tested on the host.
#![cfg_attr(target_os = "none", no_std, no_main)]

mod channels;
mod clock;
mod events;
mod guest;
mod stats;
mod window;

#[cfg(not(target_os = "none"))]
fn main() {
    println!("guest-latprobe is a bare-metal guest: build it with --target aarch64-unknown-none or armv7a-none-eabi");
}
