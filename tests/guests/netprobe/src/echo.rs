//! The numbered frames `ping` sends and expects back: their lengths, contents and the check of an echo.
//!
//! An echo frame is `peer me 0x88B5 "ECHO" seq(u32, big-endian) pattern...`, [`len`]`(seq)` bytes long (60 to
//! 1514 with the header). Every pattern byte is a function of the sequence number and its offset ([`byte`]), so a
//! frame echoed with another frame's data, shifted, truncated or padded shows as a mismatch.

use crate::frame::{self, Mac, ETHERTYPE_PROBE, HEADER_LEN, MAX_FRAME, MIN_FRAME};

/// The payload tag of an echo frame.
pub const TAG: &[u8] = b"ECHO";
/// Where the pattern starts: after the header, the tag and the sequence number.
const PATTERN_START: usize = HEADER_LEN + 4 + 4;

/// The length of frame `seq`: the shortest and the longest Ethernet frame once every ten frames each (frames 0, 10,
/// ... are 60 bytes; 1, 11, ... are 1514), scattered lengths in between otherwise.
pub fn len(seq: u32) -> usize {
    match seq % 10 {
        0 => MIN_FRAME,
        1 => MAX_FRAME,
        _ => MIN_FRAME + (mix(u64::from(seq) << 32) % (MAX_FRAME - MIN_FRAME + 1) as u64) as usize,
    }
}

/// The byte at `offset` of frame `seq` (only meaningful from the pattern's start on).
pub fn byte(seq: u32, offset: usize) -> u8 {
    mix((u64::from(seq) << 16) ^ offset as u64).to_le_bytes()[0]
}

/// Two rounds of multiply/xor-shift: a fixed scrambling of `x`.
fn mix(x: u64) -> u64 {
    const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut x = x.wrapping_add(1).wrapping_mul(GOLDEN);
    x ^= x >> 31;
    x = x.wrapping_mul(GOLDEN);
    x ^ (x >> 29)
}

/// Builds frame `seq` from `me` to `peer` in `buf` (at least [`MAX_FRAME`] bytes); its length.
pub fn build(buf: &mut [u8], seq: u32, me: Mac, peer: Mac) -> usize {
    let len = len(seq);
    frame::write_header(buf, peer, me, ETHERTYPE_PROBE);
    buf[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(TAG);
    buf[HEADER_LEN + 4..PATTERN_START].copy_from_slice(&seq.to_be_bytes());
    for (offset, b) in buf[..len].iter_mut().enumerate().skip(PATTERN_START) {
        *b = byte(seq, offset);
    }
    len
}

/// The sequence number of an echo frame addressed to `to` (of whatever length and content), or `None` for another
/// frame. On a hub (natively, QEMU's multicast socket network) a sender also receives its own frames, addressed to
/// the peer.
pub fn seq_of(received: &[u8], to: Mac) -> Option<u32> {
    let f = frame::Frame::parse(received)?;
    if f.dst != to || !f.is_probe() || !f.payload.starts_with(TAG) {
        return None;
    }
    let seq = f.payload.get(TAG.len()..TAG.len() + 4)?;
    Some(u32::from_be_bytes(seq.try_into().ok()?))
}

/// How an echo of frame `seq` differs from the frame sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// Received `got` bytes instead of `expected`.
    Length { got: usize, expected: usize },
    /// The first differing byte and how many differ (over the common length).
    Bytes { offset: usize, got: u8, expected: u8, count: usize },
}

/// Compares the echo `received` of frame `seq` (sent from `me` to `peer`) with what `pong` must send back: the same
/// frame with the addresses swapped. A wrong length is reported first, as every byte after it would differ.
pub fn check(received: &[u8], seq: u32, me: Mac, peer: Mac) -> Result<(), Mismatch> {
    let mut expected = [0u8; MAX_FRAME];
    let len = build(&mut expected, seq, peer, me);
    let expected = &expected[..len];
    if received.len() != len {
        return Err(Mismatch::Length { got: received.len(), expected: len });
    }
    let mut differing = received.iter().zip(expected).enumerate().filter(|(_, (g, e))| g != e);
    let Some((offset, (&got, &want))) = differing.next() else {
        return Ok(());
    };
    Err(Mismatch::Bytes { offset, got, expected: want, count: 1 + differing.count() })
}

impl core::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::Length { got, expected } => write!(f, "came back with {got} bytes instead of {expected}"),
            Self::Bytes { offset, got, expected, count } => {
                write!(f, "{count} bytes differ, first at {offset}: got {got:#04x}, expected {expected:#04x}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Mac = Mac([0x52, 0x54, 0, 0, 0, 1]);
    const PEER: Mac = Mac([0x52, 0x54, 0, 0, 0, 2]);

    #[test]
    fn lengths_cover_the_range_including_both_ends() {
        let lens: Vec<usize> = (0..100).map(len).collect();
        assert!(lens.iter().all(|l| (MIN_FRAME..=MAX_FRAME).contains(l)));
        assert_eq!(lens.iter().filter(|&&l| l == MIN_FRAME).count(), 10);
        assert_eq!(lens.iter().filter(|&&l| l == MAX_FRAME).count(), 10);
        assert_eq!((len(0), len(1)), (60, 1514), "both ends from the first two frames on");
        let mut distinct = lens.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 60, "lengths vary: {distinct:?}");
        assert!(lens.iter().any(|&l| l < 400) && lens.iter().any(|&l| l > 1100), "spread: {lens:?}");
    }

    #[test]
    fn values_are_stable() {
        // Fixed so that two builds of netprobe (ping and pong need not be the same build) agree.
        assert_eq!((2..8).map(len).collect::<Vec<_>>(), [211, 819, 573, 1473, 1317, 1389]);
        assert_eq!((0..6).map(|o| byte(7, o)).collect::<Vec<_>>(), [202, 163, 72, 153, 71, 37]);
    }

    #[test]
    fn frames_are_tagged_numbered_and_distinct() {
        let mut a = [0u8; MAX_FRAME];
        let mut b = [0u8; MAX_FRAME];
        let len_a = build(&mut a, 1, ME, PEER);
        assert_eq!(len_a, MAX_FRAME);
        assert_eq!(
            &a[..22],
            &[0x52, 0x54, 0, 0, 0, 2, 0x52, 0x54, 0, 0, 0, 1, 0x88, 0xb5, b'E', b'C', b'H', b'O', 0, 0, 0, 1]
        );
        assert_eq!(seq_of(&a[..len_a], PEER), Some(1));
        assert_eq!(seq_of(&a[..len_a], ME), None, "addressed to the peer");
        let len_b = build(&mut b, 11, ME, PEER);
        assert_eq!(len_b, MAX_FRAME);
        let same = a[22..].iter().zip(&b[22..]).filter(|(x, y)| x == y).count();
        assert!(same < 40, "two frames' patterns agree by chance only: {same} of {}", MAX_FRAME - 22);
        assert_eq!(seq_of(&a[..13], PEER), None);
        a[14] = b'X';
        assert_eq!(seq_of(&a[..len_a], PEER), None, "not an echo frame");
        assert_eq!(seq_of(&b[..20], PEER), None, "truncated sequence number");
    }

    /// What pong sends back for frame `seq`.
    fn echoed(seq: u32) -> Vec<u8> {
        let mut buf = [0u8; MAX_FRAME];
        let len = build(&mut buf, seq, ME, PEER);
        frame::turn_around(&mut buf[..len], PEER);
        buf[..len].to_vec()
    }

    #[test]
    fn a_faithful_echo_passes() {
        for seq in 0..30 {
            assert_eq!(check(&echoed(seq), seq, ME, PEER), Ok(()), "frame {seq}");
        }
    }

    #[test]
    fn corruption_is_reported() {
        let good = echoed(3);
        let mut bad = good.clone();
        bad[100] ^= 0x10;
        bad[200] ^= 0x01;
        let expected = good[100];
        assert_eq!(
            check(&bad, 3, ME, PEER),
            Err(Mismatch::Bytes { offset: 100, got: expected ^ 0x10, expected, count: 2 })
        );
        assert!(
            matches!(check(&good, 4, ME, PEER), Err(Mismatch::Length { .. } | Mismatch::Bytes { .. })),
            "another frame"
        );
        assert_eq!(
            check(&echoed(10), 0, ME, PEER).unwrap_err(),
            Mismatch::Bytes { offset: 21, got: 10, expected: 0, count: check_count(10, 0) }
        );
        assert_eq!(
            check(&good[..good.len() - 1], 3, ME, PEER),
            Err(Mismatch::Length { got: good.len() - 1, expected: good.len() })
        );
        let unswapped = {
            let mut buf = [0u8; MAX_FRAME];
            let len = build(&mut buf, 3, ME, PEER);
            buf[..len].to_vec()
        };
        assert!(
            matches!(check(&unswapped, 3, ME, PEER), Err(Mismatch::Bytes { offset: 5, count: 2, .. })),
            "addresses not swapped (the MACs differ in their last byte)"
        );
        assert_eq!(
            Mismatch::Bytes { offset: 100, got: 0x4a, expected: 0x5a, count: 2 }.to_string(),
            "2 bytes differ, first at 100: got 0x4a, expected 0x5a"
        );
        assert_eq!(Mismatch::Length { got: 59, expected: 60 }.to_string(), "came back with 59 bytes instead of 60");
    }

    /// Bytes in which frame `a`'s echo differs from frame `b`'s (same length).
    fn check_count(a: u32, b: u32) -> usize {
        echoed(a).iter().zip(echoed(b)).filter(|(x, y)| **x != *y).count()
    }
}
