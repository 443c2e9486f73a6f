//! guest-hello: the smallest guest that exercises every piece of a partition: console, PSCI, vCPUs, GIC, SGIs
//! and the virtual timer. Runs under hv-static and natively on QEMU `virt` at EL1 (AArch64) or in SVC mode (ARMv7).
//!
//! Output, in order (integration tests match these lines):
//! - `hello from <partition-name> (vcpus=<n>, gic=v3|v2)`
//! - `PSCI version <major>.<minor>` (and `SMCCC version ...` when PSCI_FEATURES reports SMCCC_VERSION)
//! - with more than one vCPU: `cpu<i> up (mpidr 0x...)` from each secondary, `cpu<i> got sgi 1 from cpu0` from
//!   each one vCPU 0 signals, then `affinity ok` when PSCI AFFINITY_INFO reports them all on
//! - `tick <n>` per timer interrupt (`cpu<i> tick <n>` with more than one vCPU), every `tick_ms` (bootargs,
//!   default 100)
//! - when the device tree has an `arm,pl031` RTC (QEMU `virt`; under hv-static, a partition it is passed through
//!   to): `rtc: pl031 at 0x<base> irq <intid>` from vCPU 0, which routes the RTC's SPI to itself, then
//!   `rtc alarm <n> (irq <intid>)` per alarm, one a second; with `rtc_alarms=<M>` the alarm stops after M
//! - when the device tree has a UART besides the console (under hv-static, a SoC UART passed through to the
//!   partition: the first `arm,pl011` that is not the console, else a Cadence `cdns,uart-r1p12`/`xlnx,xuartps`):
//!   `aux uart: pl011|cadence at 0x<base> irq <intid>` from vCPU 0, which writes `hello from <partition-name> on
//!   its own UART` to that UART, routes its SPI to itself and enables its transmit interrupt, then `aux uart irq
//!   <intid>` once when that interrupt arrives; `aux uart: pl011|cadence at 0x<base> has no SPI, not used` without
//!   an interrupt
//! - with `ticks=<N>` in the bootargs, each vCPU stops after N ticks and vCPU 0 prints `hello: done` and calls
//!   PSCI SYSTEM_OFF (with an RTC and `rtc_alarms=<M>`, also only after M alarms); `done=reset` calls
//!   SYSTEM_RESET instead, `done=reset-all` makes every vCPU call SYSTEM_RESET at the same counter value, and
//!   `done=fault` writes where nothing is mapped (a stage-2 fault: the partition's `on_fault` policy applies), and
//!   `done=hang` prints `hello: hanging` and spins with interrupts masked (only a watchdog notices)
//! - with `stamp`: `hello: entered at counter <n> (<Hz> Hz)` (the counter read first thing in `main`) after the
//!   first line, and `hello: faulting at counter <n>` right before `done=fault`'s write (the restart bench)
//! - with `watchdog=<ms>`: `watchdog: started (<ms> ms)` once the partition's SP805 runs for a reset `ms` after the
//!   last feed; vCPU 0 feeds it on every tick
//! - with `done=reset`, `reset-all` or `fault`: `ram: clean` when the run starts (or `ram: left by the previous
//!   run`: hv-static did not scrub the partition's RAM)
//! - never `unexpected irq <intid> on cpu<i>`: an interrupt that vCPU did not enable.
#![cfg_attr(target_os = "none", no_std, no_main)]

mod guest;
mod rtc;

#[cfg(not(target_os = "none"))]
fn main() {
    println!("guest-hello is a bare-metal guest: build it with --target aarch64-unknown-none or armv7a-none-eabi");
}
