//! The virtual GIC: per-partition state ([`state`]), register emulation ([`regs`]), and here the glue to the
//! physical GIC and the other CPUs (whose list registers it fills: their encoding is the physical GIC's, `gic::lr`).

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
