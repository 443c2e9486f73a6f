//! Architecture-specific code. Everything outside this module is shared by every architecture hv-static runs on.

mod hyp_tables;
pub mod stacks;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

#[cfg(target_arch = "arm")]
mod aarch32;
#[cfg(target_arch = "arm")]
pub use aarch32::*;
