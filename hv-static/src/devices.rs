//! The emulated devices partitions see, registered once. The trap path finds the device behind a stage-2 data
//! abort here (`mmio`), interrupt completion resamples level interrupts here (boot hands [`resample`] to
//! `vgic::set_resample`), and a partition's start and stop reset and flush its devices here (boot hands [`reset`]
//! and [`stopped`] to `partition::set_device_hooks`): adding a device is one module implementing [`VirtualDevice`]
//! and one line in the `registry!` below.
//!
//! This module sits at the top of the crate, above the devices it names and the core that calls back through it,
//! so neither has to import the other.
//!
//! Dispatch is static: the macro turns the list into an enum and a `match` per operation, so a trapped access calls
//! the device's methods directly, inlined where the compiler sees fit. A table of `&dyn VirtualDevice` cost every
//! trapped register access two indirect calls and ~25 instructions (a GICD write, 320 -> 347 under `-icount`).

use crate::config::SYSTEM;
use crate::vdev::{Access, DeviceKind, Hit, Later, VirtualDevice};
use crate::{vdev::gpio, vdev::vgic, vdev::virtio, vdev::vuart, vdev::watchdog};

/// Declares the registered devices, in the order they are asked: [`Device`], one variant per device, and the
/// operations over all of them.
macro_rules! registry {
    ($($name:ident => $device:expr),* $(,)?) => {
        /// A registered device.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Device {
            $($name),*
        }

        /// The device of partition `part` whose window holds `ipa`, and where in it.
        pub fn find(part: usize, ipa: u64) -> Option<(Device, Hit)> {
            let p = &SYSTEM.partitions[part];
            $(
                if let Some(hit) = $device.find(p, ipa) {
                    return Some((Device::$name, hit));
                }
            )*
            None
        }

        impl Device {
            /// Carries out `access` by vCPU `vcpu` of `part` in the window `find` returned, or leaves it for later.
            pub fn access(self, part: usize, vcpu: usize, hit: Hit, access: Access) -> Result<u64, Later> {
                match self {
                    $(Device::$name => $device.access(part, vcpu, hit.instance, access)),*
                }
            }

            /// The trace's name for it.
            #[cfg_attr(not(feature = "trace"), allow(dead_code, reason = "only the event trace asks"))]
            pub fn kind(self) -> DeviceKind {
                match self {
                    $(Device::$name => $device.kind()),*
                }
            }
        }

        /// The guest of `part` completed emulated interrupt `intid`: its device raises it again if its line is
        /// still high.
        pub fn resample(part: usize, intid: u32) {
            $(
                if $device.resample(part, intid) {
                    return;
                }
            )*
        }

        /// Every device of `part` back to its reset state, before the partition (re)starts.
        pub fn reset(part: usize) {
            $($device.reset(part);)*
        }

        /// Partition `part` stopped: devices holding output for it let it out.
        pub fn stopped(part: usize) {
            $($device.stopped(part);)*
        }
    };
}

// Their windows never overlap in a partition (the image builder lays them out), so the order only decides which is
// asked first: the GIC, whose registers the guest touches most.
registry! {
    Distributor => vgic::Distributor,
    Redistributors => vgic::Redistributors,
    Virtio => virtio::Transports,
    Console => vuart::Console,
    Watchdog => watchdog::Watchdog,
    Gpio => gpio::Gpio,
}

/// The kind of device at `ipa` in partition `part`, for the trace.
#[cfg_attr(not(feature = "trace"), allow(dead_code, reason = "only the event trace asks"))]
pub fn kind_at(part: usize, ipa: u64) -> Option<DeviceKind> {
    find(part, ipa).map(|(d, _)| d.kind())
}
