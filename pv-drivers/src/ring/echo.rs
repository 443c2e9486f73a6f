//! The echo protocol both ends of a ping-pong test speak (`hvchan ping`/`pong` on Linux, `tests/guests/chanprobe`
//! `role=echo` on bare metal), so that either can face the other: numbered, checksummed messages echoed back.
//!
//! Message `seq` is `[seq u32 LE][FNV-1a of the body u32 LE][body]`, its body 8 to 127 bytes that follow from the
//! sequence number. The echoing side checks each (sequence in order, checksum right) and sends it back unchanged;
//! both sides fold every message into one FNV-1a summary checksum and print it, so a test compares the two.

use core::fmt;

/// The longest message.
pub const MESSAGE_MAX: usize = 8 + 127;

/// FNV-1a's starting value.
pub const FNV_SEED: u32 = 0x811c_9dc5;

/// FNV-1a, 32 bits, continued from `seed`: cheap, and any flipped byte changes it.
pub fn fnv1a(seed: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(seed, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// Writes message `seq` into `buf` and returns its length.
pub fn message(seq: u32, buf: &mut [u8; MESSAGE_MAX]) -> usize {
    let len = 8 + (seq as usize * 13) % 120;
    for (k, b) in buf[8..8 + len].iter_mut().enumerate() {
        *b = (seq as usize).wrapping_mul(31).wrapping_add(k * 7) as u8;
    }
    let sum = fnv1a(FNV_SEED, &buf[8..8 + len]);
    buf[..4].copy_from_slice(&seq.to_le_bytes());
    buf[4..8].copy_from_slice(&sum.to_le_bytes());
    8 + len
}

/// How a message is not the one expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    Short(usize),
    Sequence(u32),
    Checksum { got: u32, want: u32 },
    Differs { at: usize },
    Length { got: usize, want: usize },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Short(n) => write!(f, "only {n} bytes"),
            Self::Sequence(got) => write!(f, "carries sequence number {got}"),
            Self::Checksum { got, want } => write!(f, "body checksum {got:#010x}, header says {want:#010x}"),
            Self::Differs { at } => write!(f, "echo differs at byte {at}"),
            Self::Length { got, want } => write!(f, "echo has {got} bytes, not {want}"),
        }
    }
}

/// Checks that `msg` is a well-formed message number `seq`.
pub fn check(seq: u32, msg: &[u8]) -> Result<(), Mismatch> {
    let (Some(head), Some(body)) = (msg.get(..8), msg.get(8..)) else { return Err(Mismatch::Short(msg.len())) };
    let got_seq = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    if got_seq != seq {
        return Err(Mismatch::Sequence(got_seq));
    }
    let want = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let got = fnv1a(FNV_SEED, body);
    if got != want {
        return Err(Mismatch::Checksum { got, want });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_check_and_corruption_is_named() {
        let mut buf = [0; MESSAGE_MAX];
        let n = message(3, &mut buf);
        assert_eq!(n, 8 + 8 + 39);
        assert_eq!(check(3, &buf[..n]), Ok(()));
        assert_eq!(check(4, &buf[..n]), Err(Mismatch::Sequence(3)));
        buf[20] ^= 1;
        assert!(matches!(check(3, &buf[..n]), Err(Mismatch::Checksum { .. })));
        assert_eq!(check(0, &[0; 7]), Err(Mismatch::Short(7)));
        for seq in 0..500 {
            assert!(message(seq, &mut buf) <= MESSAGE_MAX);
        }
    }
}
