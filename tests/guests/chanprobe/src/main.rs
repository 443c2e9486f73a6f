//! guest-chanprobe: exercises hv-static's shared-memory channels (docs/guest-abi.md): the `channel@` nodes under
//! `/hypervisor`, their memory, and the doorbells rung with `HV_CHANNEL_SIGNAL`.
//!
//! Roles (bootargs `role=`):
//! - `ping`: writes message 1, 2, .. `rounds` into its `tx` channel ([`protocol`]), rings it, and sleeps until
//!   the answer is in its `rx` channel. It never enables a timer: WFI ends only on an interrupt, so a doorbell that
//!   did not arrive hangs the run.
//! - `pong`: sleeps until each message is in its `rx` channel, checks it, writes the answer into its `tx` channel
//!   and rings that.
//! - `rowrite`: on its first read-only channel (or `rx=`): reads it, rings it (a reader may ring), rings an index
//!   past its channels (refused), then writes it. hv-static must stop the partition at that write.
//!
//! Other bootargs: `rounds=N` (default 100), `tx=<label>` (default: the first read-write channel), `rx=<label>`
//! (default: the first other channel).
//!
//! Output (integration tests match these lines):
//! - `chanprobe: partition <name>, role <role>, <n> channel(s)`, or `chanprobe: bad bootargs: <why>`;
//! - per channel: `chan: channel <i> `<label>` at 0x<ipa> size 0x<size> r|rw doorbell <intid>`;
//! - `ping`: `chan: round trip ticks min <a> avg <b> max <c> (counter <f> Hz)` then `CHAN-OK rounds=<n>
//!   doorbells=<d>` (doorbell interrupts taken); `pong`: `CHAN-OK rounds=<n> doorbells=<d>`; or, at the first
//!   problem, `CHAN-FAIL <what>`;
//! - `rowrite`: `rowrite: channel <label> reads 0x<word>`, `rowrite: rang channel <label>: ok`, `rowrite: ring of
//!   channel <n> refused: INVALID_PARAMETERS (-2)`, `rowrite: writing channel <label> at 0x<ipa>`, and never
//!   `rowrite: ESCAPED ...`;
//! - `chanprobe: done`, then WFI forever.
//!
//! [`channels`], [`protocol`] and [`config`] are pure and unit-tested on the host.
#![cfg_attr(target_os = "none", no_std, no_main)]

mod channels;
mod config;
mod guest;
mod protocol;

#[cfg(not(target_os = "none"))]
fn main() {
    println!("guest-chanprobe is a bare-metal guest: build it with --target aarch64-unknown-none or armv7a-none-eabi");
}
