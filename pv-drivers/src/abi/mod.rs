//! The guest side of hv-static's hypervisor ABI (docs/guest-abi.md, "Hypercalls" and "hv-static vendor calls").

#[cfg(test)]
mod fake;
pub mod hv;
pub mod psci;
pub mod smccc;
