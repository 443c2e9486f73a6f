//! The board's own hardware that hv-static drives: the physical interrupt controller, the console UART, and the
//! board's virtio devices behind host-backed disks and the network uplink. Above `arch`, below everything that
//! knows about partitions.

#[cfg(target_os = "none")]
pub mod gic;
// On the host only the list-register encoding, pure data that the virtual GIC's tests use.
#[cfg(not(target_os = "none"))]
pub mod gic {
    pub mod lr;
}
#[cfg(target_os = "none")]
pub mod hostdev;
pub mod uart;
