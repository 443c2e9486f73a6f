//! The contract between hv-static, its image builder and its guests, defined once: the guest ABI's numbers
//! ([`abi`]), the guest-physical map every partition sees ([`guest_map`]), the kinds of things a system plan
//! names ([`system`]: GIC version, console UART, CPU start method, log level, fault policy), the system plan itself
//! ([`plan`]: the typed description the builder decides and hv-static is compiled with, written out as Rust by
//! `bake` with the feature of that name), and the stage-2 geometry and block rule the builder sizes tables by and
//! the hypervisor fills them by ([`stage2`]). A number or a shape that both sides use lives here and nowhere else,
//! so a change to one side is a change to both (issue 16).

#![cfg_attr(not(test), no_std)]

#[cfg(feature = "bake")]
extern crate alloc;

pub mod abi;
#[cfg(feature = "bake")]
pub mod bake;
pub mod guest_map;
pub mod plan;
pub mod stage2;
pub mod system;
