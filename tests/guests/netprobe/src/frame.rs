//! Ethernet frames as netprobe builds and reads them (without the FCS, which virtio-net never carries): MAC
//! addresses, the probe's own frames on EtherType 0x88B5 (IEEE 802 local experimental EtherType 1), and the ARP
//! request/reply the uplink role exchanges with QEMU's user-mode network.
//!
//! Probe frames: `dst src 0x88B5 payload`, where the payload starts with a tag:
//! - `HELLO`: broadcast by `ping` to find its peer (the rest of the frame is zero padding);
//! - `HELLO-ACK`: `pong`'s unicast answer, from which `ping` learns the peer's MAC;
//! - `ECHO`: `ping`'s numbered test frames, see [`crate::echo`]; `pong` sends them back unchanged.

use core::fmt;

/// Bytes of an Ethernet header: destination, source, EtherType.
pub const HEADER_LEN: usize = 14;
/// The shortest Ethernet frame (64 bytes on the wire less the 4-byte FCS); shorter frames are zero-padded.
pub const MIN_FRAME: usize = 60;
/// The longest frame without a VLAN tag: a 1500-byte MTU plus the header.
pub const MAX_FRAME: usize = 1514;

/// IEEE 802 local experimental EtherType 1: netprobe's own frames.
pub const ETHERTYPE_PROBE: u16 = 0x88B5;
pub const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV4: u16 = 0x0800;

/// The payload tag of a broadcast hello.
pub const HELLO: &[u8] = b"HELLO";
/// The payload tag of a hello's answer. It starts with [`HELLO`] too, but is never broadcast.
pub const HELLO_ACK: &[u8] = b"HELLO-ACK";

/// A 48-bit MAC address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const BROADCAST: Mac = Mac([0xff; 6]);

    /// Whether the group (I/G) bit is set: broadcast or multicast.
    pub const fn is_group(&self) -> bool {
        self.0[0] & 1 != 0
    }

    /// `52:54:00:12:34:56` (or with `-`), case-insensitive: six two-digit hex bytes.
    pub fn parse(text: &str) -> Option<Mac> {
        let mut mac = [0u8; 6];
        let mut parts = text.split([':', '-']);
        for byte in &mut mac {
            let part = parts.next()?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            *byte = u8::from_str_radix(part, 16).ok()?;
        }
        parts.next().is_none().then_some(Mac(mac))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// A received frame's header and payload (everything after the EtherType, padding included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub dst: Mac,
    pub src: Mac,
    pub ethertype: u16,
    pub payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// `None` for anything shorter than a header.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() < HEADER_LEN {
            return None;
        }
        Some(Frame {
            dst: mac_at(bytes, 0),
            src: mac_at(bytes, 6),
            ethertype: u16::from_be_bytes([bytes[12], bytes[13]]),
            payload: &bytes[HEADER_LEN..],
        })
    }

    pub fn is_probe(&self) -> bool {
        self.ethertype == ETHERTYPE_PROBE
    }

    /// A hello `pong` answers: broadcast, probe EtherType, payload starting with `HELLO` but not `HELLO-ACK`.
    pub fn is_hello(&self) -> bool {
        self.dst == Mac::BROADCAST
            && self.is_probe()
            && self.payload.starts_with(HELLO)
            && !self.payload.starts_with(HELLO_ACK)
    }

    /// A hello's answer addressed to `me`.
    pub fn is_hello_ack_for(&self, me: Mac) -> bool {
        self.dst == me && self.is_probe() && self.payload.starts_with(HELLO_ACK)
    }
}

fn mac_at(bytes: &[u8], at: usize) -> Mac {
    let mut mac = [0; 6];
    mac.copy_from_slice(&bytes[at..at + 6]);
    Mac(mac)
}

/// Writes the header into `buf` (at least [`HEADER_LEN`] bytes).
pub fn write_header(buf: &mut [u8], dst: Mac, src: Mac, ethertype: u16) {
    buf[0..6].copy_from_slice(&dst.0);
    buf[6..12].copy_from_slice(&src.0);
    buf[12..14].copy_from_slice(&ethertype.to_be_bytes());
}

/// Builds `dst src 0x88B5 tag` zero-padded to [`MIN_FRAME`] in `buf`; the frame's length.
fn tagged(buf: &mut [u8], dst: Mac, src: Mac, tag: &[u8]) -> usize {
    let len = (HEADER_LEN + tag.len()).max(MIN_FRAME);
    buf[..len].fill(0);
    write_header(buf, dst, src, ETHERTYPE_PROBE);
    buf[HEADER_LEN..HEADER_LEN + tag.len()].copy_from_slice(tag);
    len
}

/// A broadcast hello from `src`, in `buf` (at least [`MIN_FRAME`] bytes); its length.
pub fn hello(buf: &mut [u8], src: Mac) -> usize {
    tagged(buf, Mac::BROADCAST, src, HELLO)
}

/// The unicast answer to a hello from `to`; its length.
pub fn hello_ack(buf: &mut [u8], src: Mac, to: Mac) -> usize {
    tagged(buf, to, src, HELLO_ACK)
}

/// Turns the received frame in `buf` around in place for an echo: its source becomes its destination and `me` its
/// source; the payload is left as it is.
pub fn turn_around(buf: &mut [u8], me: Mac) {
    buf.copy_within(6..12, 0);
    buf[6..12].copy_from_slice(&me.0);
}

/// An IPv4 address.
pub type Ipv4 = [u8; 4];

/// An ARP request from (`mac`, `ip`) asking who has `target`, broadcast, padded to [`MIN_FRAME`]; its length.
pub fn arp_request(buf: &mut [u8], mac: Mac, ip: Ipv4, target: Ipv4) -> usize {
    buf[..MIN_FRAME].fill(0);
    write_header(buf, Mac::BROADCAST, mac, ETHERTYPE_ARP);
    let arp = &mut buf[HEADER_LEN..HEADER_LEN + 28];
    arp[0..2].copy_from_slice(&1u16.to_be_bytes()); // hardware type: Ethernet
    arp[2..4].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    arp[4] = 6;
    arp[5] = 4;
    arp[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    arp[8..14].copy_from_slice(&mac.0);
    arp[14..18].copy_from_slice(&ip);
    // Target hardware address (18..24) unknown: zero.
    arp[24..28].copy_from_slice(&target);
    MIN_FRAME
}

/// The sender's hardware address when `frame` is an ARP reply telling `me` where `target` is.
pub fn arp_reply_from(frame: &Frame, me: Mac, target: Ipv4) -> Option<Mac> {
    let arp = frame.payload.get(..28)?;
    let ok = frame.ethertype == ETHERTYPE_ARP
        && (frame.dst == me || frame.dst == Mac::BROADCAST)
        && arp[0..8] == [0, 1, 0x08, 0x00, 6, 4, 0, 2]
        && arp[14..18] == target
        && arp[18..24] == me.0;
    ok.then(|| mac_at(arp, 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = Mac([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    const B: Mac = Mac([0x02, 0, 0, 0, 0, 0x0b]);

    #[test]
    fn macs_parse_and_print() {
        assert_eq!(Mac::parse("52:54:00:12:34:56"), Some(A));
        assert_eq!(Mac::parse("52-54-00-12-34-56"), Some(A));
        assert_eq!(Mac::parse("FF:ff:FF:ff:FF:ff"), Some(Mac::BROADCAST));
        for bad in
            ["", "52:54:00:12:34", "52:54:00:12:34:56:78", "52:54:0:12:34:56", "52:54:00:12:34:5g", "+2:54:00:12:34:56"]
        {
            assert_eq!(Mac::parse(bad), None, "{bad:?}");
        }
        assert_eq!(A.to_string(), "52:54:00:12:34:56");
        assert_eq!(Mac::BROADCAST.to_string(), "ff:ff:ff:ff:ff:ff");
        assert!(Mac::BROADCAST.is_group() && Mac([0x01, 0, 0x5e, 0, 0, 1]).is_group() && !A.is_group());
    }

    #[test]
    fn hello_and_ack_are_told_apart() {
        let mut buf = [0xaa; 100];
        let len = hello(&mut buf, A);
        assert_eq!(len, MIN_FRAME);
        assert_eq!(&buf[..14], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x88, 0xb5]);
        assert_eq!(&buf[14..19], b"HELLO");
        assert!(buf[19..60].iter().all(|&b| b == 0), "padded with zeros");
        let f = Frame::parse(&buf[..len]).unwrap();
        assert!(f.is_hello() && !f.is_hello_ack_for(A) && !f.is_hello_ack_for(B));

        let len = hello_ack(&mut buf, B, A);
        let f = Frame::parse(&buf[..len]).unwrap();
        assert_eq!((f.dst, f.src, len), (A, B, MIN_FRAME));
        assert!(!f.is_hello(), "an ack is no hello");
        assert!(f.is_hello_ack_for(A) && !f.is_hello_ack_for(B));

        // A broadcast ack (not something pong sends) is not a hello either.
        write_header(&mut buf, Mac::BROADCAST, B, ETHERTYPE_PROBE);
        assert!(!Frame::parse(&buf[..len]).unwrap().is_hello());
        // Nor is a unicast hello or one with another EtherType.
        hello(&mut buf, A);
        buf[..6].copy_from_slice(&B.0);
        assert!(!Frame::parse(&buf[..60]).unwrap().is_hello());
        hello(&mut buf, A);
        buf[13] = 0xb6;
        assert!(!Frame::parse(&buf[..60]).unwrap().is_hello());
    }

    #[test]
    fn short_frames_do_not_parse() {
        assert_eq!(Frame::parse(&[0; 13]), None);
        let f = Frame::parse(&[0; 14]).unwrap();
        assert_eq!((f.ethertype, f.payload.len()), (0, 0));
    }

    #[test]
    fn turning_around_swaps_addresses_only() {
        let mut buf = [0u8; 64];
        write_header(&mut buf, B, A, ETHERTYPE_PROBE);
        buf[14..].iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let before = buf;
        turn_around(&mut buf, B);
        let f = Frame::parse(&buf).unwrap();
        assert_eq!((f.dst, f.src, f.ethertype), (A, B, ETHERTYPE_PROBE));
        assert_eq!(buf[12..], before[12..]);
    }

    #[test]
    fn arp_request_and_reply() {
        let me = A;
        let mut buf = [0xaa; 64];
        let len = arp_request(&mut buf, me, [10, 0, 2, 15], [10, 0, 2, 2]);
        assert_eq!(len, 60);
        assert_eq!(
            &buf[..42],
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06, // Ethernet
                0, 1, 8, 0, 6, 4, 0, 1, // Ethernet/IPv4, request
                0x52, 0x54, 0, 0x12, 0x34, 0x56, 10, 0, 2, 15, // sender
                0, 0, 0, 0, 0, 0, 10, 0, 2, 2, // target
            ][..]
        );
        assert!(buf[42..60].iter().all(|&b| b == 0));

        // The reply as QEMU's user-mode network sends it.
        let gateway = Mac([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
        let mut reply = [0u8; 60];
        write_header(&mut reply, me, gateway, ETHERTYPE_ARP);
        reply[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
        reply[22..28].copy_from_slice(&gateway.0);
        reply[28..32].copy_from_slice(&[10, 0, 2, 2]);
        reply[32..38].copy_from_slice(&me.0);
        reply[38..42].copy_from_slice(&[10, 0, 2, 15]);
        let f = Frame::parse(&reply).unwrap();
        assert_eq!(arp_reply_from(&f, me, [10, 0, 2, 2]), Some(gateway));
        assert_eq!(arp_reply_from(&f, me, [10, 0, 2, 3]), None, "another address");
        assert_eq!(arp_reply_from(&f, B, [10, 0, 2, 2]), None, "for someone else");
        assert_eq!(arp_reply_from(&Frame::parse(&buf[..len]).unwrap(), me, [10, 0, 2, 2]), None, "a request");
        assert_eq!(arp_reply_from(&Frame::parse(&reply[..40]).unwrap(), me, [10, 0, 2, 2]), None, "truncated");
    }
}
