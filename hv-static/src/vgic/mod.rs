//! The virtual GIC: per-partition state ([`state`]), register emulation ([`regs`]), list-register encodings
//! ([`lr`]), and here the glue to the physical GIC and the other CPUs.

pub mod lr;
pub mod regs;
pub mod state;

#[cfg(target_os = "none")]
mod glue;
#[cfg(target_os = "none")]
mod vdev;
#[cfg(target_os = "none")]
pub use glue::*;
#[cfg(target_os = "none")]
pub use vdev::{Distributor, Redistributors};
