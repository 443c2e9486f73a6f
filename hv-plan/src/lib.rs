//! The contract between hv-static, its image builder and its guests, defined once: the guest ABI's numbers
//! ([`abi`]), the guest-physical map every partition sees ([`guest_map`]) and the kinds of things a system plan
//! names ([`system`]: GIC version, console UART, CPU start method, log level, fault policy), and the stage-2
//! geometry and block rule the builder sizes tables by and the hypervisor fills them by ([`stage2`]). A number that
//! both sides use lives here and nowhere else, so a change to one side is a change to both (issue 16).

#![cfg_attr(not(test), no_std)]

pub mod abi;
pub mod guest_map;
pub mod stage2;
pub mod system;
