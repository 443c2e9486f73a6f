//! guest-hostile: attacks hv-static from inside a partition, to show that whatever a partition does, the
//! hypervisor survives, the other partitions keep their time, and the attacker is contained under its fault
//! policy. The bootargs pick one probe (`probe=NAME`) and its parameters:
//!
//! - `heartbeat` (the victim, not an attacker): `heartbeat: period <ms> ms = <ticks> ticks at <Hz> Hz, doorbell
//!   <intid>`, then `beat <n> at <counter> doorbells <d> exits <e>` every `period_ms` (default 10): the counter
//!   value of the beat, the doorbells of its first channel so far, and its entries into hv-static so far;
//! - `gicd`: every distributor offset (and on GICv3 every offset of its own redistributor frames) at every width
//!   and alignment, read and written with all ones, alternating bits and zero (turning with the offset), `passes`
//!   times; on GICv2 first the accesses that once panicked hv-static (GICD+0x91F halfword, 0x91E word, 0x91C
//!   doubleword). ARMv7 ends with a doubleword (`ldrd`) at 0x91C, which the hypervisor cannot emulate and answers
//!   with an abort in the partition.
//!   `range=FROM-TO` sweeps only those distributor offsets;
//! - `mmio`: the same over its other emulated devices: the PL011, the SP805 watchdog, the PL061 doorbell lines
//!   and each virtio-mmio transport;
//! - `calls`: every documented SMCCC/PSCI/hv-static function ID with hostile arguments (64 sets each), then
//!   `count` random function IDs and arguments (LCG seeded by `seed`), over HVC, SMC and HVC with a non-zero
//!   immediate, each answer checked against docs/guest-abi.md; prints a digest;
//! - `flood` (two vCPUs, a channel shared with the victim): `count` rounds of SGI storms, doorbell floods and a
//!   console flood of escapes, forged prefixes and control characters (`skip=sgi,bell,console` leaves floods out);
//! - `lifecycle` (three vCPUs, a channel of its own): `passes` restarts through racing PSCI calls, then
//!   SYSTEM_OFF during a CPU_ON storm;
//! - `memory`: one `access=read|write|fetch` at `addr=0x...`, or at the first unmapped address from `sweep=0x...` in
//!   steps of `step=0x...`: the hypervisor must stop the partition and name the address;
//! - `unsyndromed`: loads and stores to the emulated distributor that carry no syndrome (AArch64 LDP/STP,
//!   writeback, SIMD; ARMv7 LDRD/STRD, LDM/STM): each must come back as a synchronous external abort in the
//!   partition, which keeps running, and none may reach the device; then `count` more, for the rate limit;
//! - `fpregs`: `count` rounds of a seeded pattern held in every FP/SIMD register across window switches (a
//!   partition sharing its CPU in a cyclic pool): each must come back unchanged, never another partition's;
//! - `gpregs`: the same for the general-purpose registers and the banked and thread registers beside them
//!   (`gpregs.rs`);
//! - `manager` (`target=<id> other=<id>`, a partition that manages `target`): the manager calls (ABI 1.4) checked
//!   against the document, and the target restarted, stopped and started (see `manager.rs`);
//! - `quiet`: a busy loop that never traps, the attackers' stand-in for a baseline run.
//!
//! Output (tests/tests/hostile.rs matches these lines): `hostile: partition <name> probe "<probe>" (vcpus <n>)`
//! first; each attack ends with `hostile: <probe> done (...)`. `then=off` powers off after it, `then=repeat`
//! goes on attacking silently, the default sleeps. Nothing an attacker does may reach another partition: a line
//! with `ESCAPED`, `MISMATCH` or `INCONSISTENT` is a finding.
#![cfg_attr(target_os = "none", no_std, no_main)]
// On the host only the pure modules are built (for their tests); the probes that use them are bare metal.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

mod args;
mod lcg;
mod oracle;

#[cfg(target_os = "none")]
mod access;
#[cfg(target_os = "none")]
mod calls;
#[cfg(target_os = "none")]
mod channels;
#[cfg(target_os = "none")]
mod conduit;
#[cfg(target_os = "none")]
mod flood;
#[cfg(target_os = "none")]
mod fpregs;
#[cfg(target_os = "none")]
mod gicd;
#[cfg(target_os = "none")]
mod gpregs;
#[cfg(target_os = "none")]
mod guarded;
#[cfg(target_os = "none")]
mod guest;
#[cfg(target_os = "none")]
mod heartbeat;
#[cfg(target_os = "none")]
mod lifecycle;
#[cfg(target_os = "none")]
mod manager;
#[cfg(target_os = "none")]
mod memory;
#[cfg(target_os = "none")]
mod mmio;
#[cfg(target_os = "none")]
mod unsyndromed;

pub use args::{Args, Then};

#[cfg(not(target_os = "none"))]
fn main() {
    println!("guest-hostile is a bare-metal guest: build it with --target aarch64-unknown-none or armv7a-none-eabi");
}
