//! guest-probe: tries to reach memory outside its partition. Under hv-static the first such access faults at
//! stage 2 and the hypervisor stops the partition, so an `ESCAPED` line must never appear.
//!
//! Output (integration tests match these lines):
//! - `probe: partition <name> ram <base>..<end>`
//! - `probe: reading <addr>` for RAM end + 0x1000, then `probe: writing 0x0` and `probe: writing 0x80000000`
//!   (the RAM bases other partitions would have); bootargs `probe=beyond,low,high` picks and orders them
//! - after each access that completes: `probe: ESCAPED isolation (...)`
//! - after each access that faults inside the guest (natively, or if a hypervisor injected an abort instead of
//!   stopping the partition): `probe: <addr> faulted in the guest (...)`
//! - `probe: done`, then PSCI SYSTEM_OFF.
#![cfg_attr(target_os = "none", no_std, no_main)]

mod guest;

#[cfg(not(target_os = "none"))]
fn main() {
    println!("guest-probe is a bare-metal guest: build it with --target aarch64-unknown-none or armv7a-none-eabi");
}
