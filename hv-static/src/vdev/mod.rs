//! The one interface every emulated device presents to the rest of hv-static: the virtual GIC's distributor and
//! redistributors, the console PL011, the virtio transports, and whatever comes next.
//!
//! A device answers four questions, all per partition: does a guest-physical address fall in one of its windows
//! ([`VirtualDevice::find`]), what does an access there do ([`VirtualDevice::access`], with its width), is a level
//! interrupt the guest just completed still high ([`VirtualDevice::resample`]), and what is its state when the
//! partition (re)starts ([`VirtualDevice::reset`]). The trap path, interrupt completion and partition restart go
//! through the registry in `devices.rs` and nothing else, so adding a device is one file implementing this trait
//! plus one line there (docs/architecture.md walks through an example).
//!
//! Everything a method is given comes from a guest: offsets, widths and values are the guest's, and an access a
//! device does not define reads as zero and writes nothing; no method may panic, loop without bound or wait for
//! another partition. Each device keeps its state per partition and locks only that partition's state, so one
//! partition's accesses never wait on another's.
//!
//! The interface names nothing else of hv-static (partitions and vCPUs are indices), so every device can implement
//! it without reaching above its layer. The devices: the virtual GIC ([`vgic`]), the console PL011 ([`vuart`]), the
//! SP805 watchdog ([`watchdog`]), the virtio-mmio devices ([`virtio`]), the shared-memory channels ([`channel`], mapped memory and a doorbell
//! hypercall rather than a trapped window) and their GPIO lines for stock Linux ([`gpio`]).

pub mod channel;
#[cfg(target_os = "none")]
pub mod gpio;
pub mod vgic;
#[cfg(target_os = "none")]
pub mod virtio;
#[cfg(target_os = "none")]
pub mod vuart;
#[cfg(target_os = "none")]
pub mod watchdog;
// The emulated PL011's register file is pure logic: on the host it builds alone, for its property tests.
#[cfg(not(target_os = "none"))]
#[path = "vuart/regs.rs"]
mod vuart_regs;
// So is the watchdog's.
#[cfg(not(target_os = "none"))]
#[path = "watchdog/regs.rs"]
mod watchdog_regs;
// And the channel GPIO controller's.
#[cfg(not(target_os = "none"))]
#[path = "gpio/regs.rs"]
mod gpio_regs;

/// A guest access to an emulated device: byte offset in the device's window, width in bytes (1, 2, 4 or 8), and
/// the value for writes.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    pub offset: u64,
    pub size: u8,
    pub write: Option<u64>,
}

/// An access a device leaves for later: it did nothing, and the vCPU executes the same instruction again when it
/// next runs. A device answers so when the access would start long work (completing a console line: its copy into
/// the queue and its paid drain, up to ~2,300 instructions) while the CPU's window boundary is already due
/// (`arch::timer::hyp_deadline_passed`): the boundary's interrupt is taken on the way back to the guest, and the
/// next window starts on time instead of after that work. The guest cannot tell: nothing happened yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Later;

/// Where an address falls among a device's windows in one partition: which of the partition's instances of the
/// device (a partition may have several virtio transports; 0 for devices it has one of) and the offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub instance: usize,
    pub offset: u64,
}

use crate::config::PartitionConfig;
pub use crate::core::trace::DeviceKind;

/// An emulated device, for every partition that has it. Implementations are stateless handles (unit structs) over
/// per-partition state the device module owns, registered once in `devices.rs` (which calls them statically).
pub trait VirtualDevice: Sync {
    /// The device's window in partition `p` that holds `ipa`, if any. Only looks: the device sees no access.
    fn find(&self, p: &PartitionConfig, ipa: u64) -> Option<Hit>;

    /// Carries out `access` by vCPU `vcpu` of partition `part` in the window `find` returned as `instance`; returns
    /// the value a read loads (0 for writes), or [`Later`] when it left the access for the vCPU to repeat.
    fn access(&self, part: usize, vcpu: usize, instance: usize, access: Access) -> Result<u64, Later>;

    /// The guest of partition `part` completed interrupt `intid`. A device that owns it and whose level-sensitive
    /// line is still high makes it pending again. Returns whether `intid` is the device's (the search stops there).
    fn resample(&self, part: usize, intid: u32) -> bool;

    /// Partition `part` (re)starts: its state of this device returns to reset, so a new run inherits nothing.
    fn reset(&self, part: usize);

    /// Partition `part` stopped (a fault, a power-off, or on its way to a restart): a device that holds output
    /// on the partition's behalf lets it out. Most hold nothing.
    fn stopped(&self, _part: usize) {}

    /// The trace's name for it.
    #[cfg_attr(not(feature = "trace"), allow(dead_code, reason = "only the event trace asks"))]
    fn kind(&self) -> DeviceKind {
        DeviceKind::Other
    }
}

/// The offset of `ipa` in the window `[base, base + size)`, if it falls there.
pub fn offset_in(ipa: u64, base: u64, size: u64) -> Option<u64> {
    ipa.checked_sub(base).filter(|&off| off < size)
}

#[cfg(test)]
mod tests {
    use super::offset_in;

    #[test]
    fn a_window_holds_its_first_byte_not_its_end_and_nothing_below() {
        assert_eq!(offset_in(0x1000, 0x1000, 0x200), Some(0));
        assert_eq!(offset_in(0x11ff, 0x1000, 0x200), Some(0x1ff));
        assert_eq!(offset_in(0x1200, 0x1000, 0x200), None);
        assert_eq!(offset_in(0xfff, 0x1000, 0x200), None);
        assert_eq!(offset_in(u64::MAX, u64::MAX - 1, 0x200), Some(1));
        assert_eq!(offset_in(0, u64::MAX, 0x200), None);
    }
}
