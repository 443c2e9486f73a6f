//! Ethernet between partitions: the pure logic of hv-static's virtual switch, apart from any device model.
//!
//! Each partition's virtio-net device ([`crate::virtio::net`]) is one port. What a partition transmits goes to
//! [`Switch::forward`], which learns where the source MAC lives and answers with the ports the frame must reach; the
//! hypervisor copies it into each of those ports' inboxes ([`FrameRing`]) and kicks their receive queues.
//!
//! Why it is split this way: the switch and the rings hold no references to devices or to guest memory, so the
//! hypervisor decides the locking and the copying, and everything here is tested on the host. Like the rest of the
//! crate: no heap, no `unsafe`, every capacity a const generic.
//!
//! Frames are Ethernet II frames without preamble or FCS (what virtio-net carries): destination MAC, source MAC,
//! EtherType, payload. The switch looks at the two addresses only; it neither parses nor filters anything else.

pub mod frames;
pub mod switch;

pub use frames::{FrameRing, PushError};
pub use switch::{PortSet, PortSetIter, Switch};

/// Bytes of an Ethernet header (destination, source, EtherType): a frame shorter than this has no addresses and is
/// never forwarded.
pub const FRAME_MIN: usize = 14;

/// Largest frame at an MTU of 1500: header plus payload, no FCS (virtio-net neither adds nor expects one), no VLAN
/// tag (the MTU is what the partitions are told, and they do not tag).
pub const FRAME_MAX: usize = 1514;

/// An Ethernet (EUI-48) address.
pub type Mac = [u8; 6];

/// The broadcast address.
pub const BROADCAST: Mac = [0xFF; 6];

/// Whether `mac` is a group (multicast or broadcast) address: the I/G bit, the least significant bit of the first
/// octet (IEEE 802 transmits it first).
pub const fn is_multicast(mac: &Mac) -> bool {
    mac[0] & 1 != 0
}

/// The destination address of `frame`, if it has a whole header.
pub fn destination(frame: &[u8]) -> Option<Mac> {
    if frame.len() < FRAME_MIN {
        return None;
    }
    frame.get(0..6)?.try_into().ok()
}

/// The source address of `frame`, if it has a whole header.
pub fn source(frame: &[u8]) -> Option<Mac> {
    if frame.len() < FRAME_MIN {
        return None;
    }
    frame.get(6..12)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_group_bit() {
        let frame: Vec<u8> = (0..FRAME_MIN as u8).collect();
        assert_eq!(destination(&frame), Some([0, 1, 2, 3, 4, 5]));
        assert_eq!(source(&frame), Some([6, 7, 8, 9, 10, 11]));
        assert_eq!(source(&frame[..13]), None, "no EtherType: not a frame");
        assert_eq!(destination(&frame[..13]), None);
        assert!(is_multicast(&BROADCAST));
        assert!(is_multicast(&[0x01, 0x00, 0x5E, 0, 0, 1]), "IPv4 multicast");
        assert!(is_multicast(&[0x33, 0x33, 0, 0, 0, 1]), "IPv6 multicast");
        assert!(!is_multicast(&[0x02, 0, 0, 0, 0, 1]), "locally administered unicast");
        assert!(!is_multicast(&[0; 6]));
    }
}
