//! The guest side of hv-static's hypervisor ABI (docs/guest-abi.md, "Hypercalls").

pub mod psci;
pub mod smccc;
