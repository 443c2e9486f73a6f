//! The virtual GIC's memory-mapped frames as emulated devices: the distributor, and on GICv3 the redistributors
//! (one 128 KiB frame pair per vCPU). Both act on the partition's one GIC model under its lock; what an access asks
//! for beyond the model (refills, passthrough routing, SGIs) is carried out after the lock is dropped.

use super::glue::{apply, reset, FLAVOR, VGIC};
use super::regs::{Effects, GICD_SIZE_V2, GICD_SIZE_V3, GICR_STRIDE};
use crate::config::{GicVersion, PartitionConfig, SYSTEM};
use crate::core::vcpu::VcpuRef;
use crate::vdev::{offset_in, Access, DeviceKind, Hit, Later, VirtualDevice};

/// The distributor, at the partition's `vdev.gicd`.
pub struct Distributor;

/// The redistributors, from the partition's `vdev.gicr` (GICv3 only; 0 there on GICv2).
pub struct Redistributors;

impl VirtualDevice for Distributor {
    fn find(&self, p: &PartitionConfig, ipa: u64) -> Option<Hit> {
        let size = match SYSTEM.gic.version {
            GicVersion::V3 => GICD_SIZE_V3,
            GicVersion::V2 => GICD_SIZE_V2,
        };
        offset_in(ipa, p.vdev.gicd, size).map(|offset| Hit { instance: 0, offset })
    }

    fn access(&self, part: usize, vcpu: usize, _instance: usize, a: Access) -> Result<u64, Later> {
        let v = VcpuRef { part, idx: vcpu };
        let mut fx = Effects::default();
        let value = VGIC[part].lock().gicd_access(FLAVOR, vcpu, a, &mut fx);
        apply(v, fx);
        Ok(value)
    }

    /// The GIC's own interrupts are SGIs (edge) and hardware-backed ones the physical GIC tracks: none resampled.
    fn resample(&self, _part: usize, _intid: u32) -> bool {
        false
    }

    /// The whole model (distributor and redistributors) returns to reset, hardware-backed interrupts marked.
    fn reset(&self, part: usize) {
        reset(part);
    }

    fn kind(&self) -> DeviceKind {
        DeviceKind::GicDistributor
    }
}

impl VirtualDevice for Redistributors {
    fn find(&self, p: &PartitionConfig, ipa: u64) -> Option<Hit> {
        if p.vdev.gicr == 0 {
            return None;
        }
        offset_in(ipa, p.vdev.gicr, p.vcpus.len() as u64 * GICR_STRIDE).map(|offset| Hit { instance: 0, offset })
    }

    /// Any vCPU may access any redistributor of its own partition.
    fn access(&self, part: usize, vcpu: usize, _instance: usize, a: Access) -> Result<u64, Later> {
        let v = VcpuRef { part, idx: vcpu };
        let mut fx = Effects::default();
        let value = VGIC[part].lock().gicr_access(a, &mut fx);
        apply(v, fx);
        Ok(value)
    }

    fn resample(&self, _part: usize, _intid: u32) -> bool {
        false
    }

    /// Reset with the distributor, which owns the one model.
    fn reset(&self, _part: usize) {}

    fn kind(&self) -> DeviceKind {
        DeviceKind::GicRedistributors
    }
}
