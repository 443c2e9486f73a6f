//! Emulated devices behind stage-2 data aborts: the syndrome's access, carried out by the device whose window
//! holds the address (found in the registry, `devices`).

use crate::core::vcpu::VcpuRef;
use crate::devices;
use crate::esr::DataAbort;
use crate::vdev::{Access, Later};

/// Whether `ipa` belongs to one of the partition's emulated devices, without touching it: an access there that
/// the hypervisor cannot carry out (no syndrome) is answered with an abort in the partition, not a fault.
pub fn is_emulated(v: VcpuRef, ipa: u64) -> bool {
    devices::find(v.part, ipa).is_some()
}

/// Performs the access if `ipa` is one of the partition's emulated devices. Returns the value to load for reads,
/// `Some(Ok(0))` for writes, `Some(Err(Later))` when the device left it for the vCPU to repeat, `None` when no device
/// is there (a fault).
pub fn emulate(v: VcpuRef, ipa: u64, d: &DataAbort, write_value: u64) -> Option<Result<u64, Later>> {
    let (device, hit) = devices::find(v.part, ipa)?;
    let access = Access { offset: hit.offset, size: d.size, write: d.write.then_some(write_value) };
    Some(device.access(v.part, v.idx, hit, access))
}
