//! `hvchan ping` and `hvchan pong`: numbered, checksummed messages echoed back, to prove a channel end to end.
//!
//! A ping message is `[sequence u32 LE][FNV-1a of the body u32 LE][body]`, its body 8 to 127 bytes that follow
//! from the sequence number. Pong checks each (sequence in order, checksum right) and sends it back unchanged;
//! ping checks each echo is byte for byte what it sent. Both print the same summary checksum over all messages.

use std::fmt;
use std::time::Duration;

use crate::channel::{self, Channel};

/// The longest ping message.
pub const MESSAGE_MAX: usize = 8 + 127;

/// FNV-1a, 32 bits: cheap, and any flipped byte changes it.
pub fn fnv1a(seed: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(seed, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// FNV-1a's starting value.
pub const FNV_SEED: u32 = 0x811c_9dc5;

/// Message `seq`.
pub fn message(seq: u32) -> Vec<u8> {
    let len = 8 + (seq as usize * 13) % 120;
    let body: Vec<u8> = (0..len).map(|k| (seq as usize).wrapping_mul(31).wrapping_add(k * 7) as u8).collect();
    let mut msg = Vec::with_capacity(8 + len);
    msg.extend_from_slice(&seq.to_le_bytes());
    msg.extend_from_slice(&fnv1a(FNV_SEED, &body).to_le_bytes());
    msg.extend_from_slice(&body);
    msg
}

/// What went wrong in a ping or pong run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Channel(#[from] channel::Error),
    #[error("message {seq}: {what}")]
    Mismatch { seq: u32, what: Mismatch },
}

#[derive(Debug, PartialEq, Eq)]
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

/// Checks that `msg` is a well-formed ping message number `seq`.
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

/// The summary of a successful run: messages and the checksum over all of them, the same on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub count: u32,
    pub checksum: u32,
}

/// Stale echoes dropped before a run, at most: more than a ring can hold of the smallest message.
const STALE_MAX: usize = 1 << 16;

/// Sends `count` messages, waiting at most `timeout` for each echo. Echoes left from an earlier run are dropped
/// first.
pub fn ping(channel: &mut Channel, count: u32, timeout: Duration) -> Result<Summary, Error> {
    let mut buf = vec![0; MESSAGE_MAX];
    channel.listen()?;
    for _ in 0..STALE_MAX {
        if channel.recv(&mut buf, Duration::ZERO).is_err() {
            break;
        }
    }
    let mut checksum = FNV_SEED;
    for seq in 0..count {
        let msg = message(seq);
        channel.send(&msg, timeout)?;
        let n = channel.recv(&mut buf, timeout)?;
        let echo = &buf[..n];
        if n != msg.len() {
            return Err(Error::Mismatch { seq, what: Mismatch::Length { got: n, want: msg.len() } });
        }
        if let Some(at) = echo.iter().zip(&msg).position(|(a, b)| a != b) {
            return Err(Error::Mismatch { seq, what: Mismatch::Differs { at } });
        }
        checksum = fnv1a(checksum, echo);
    }
    Ok(Summary { count, checksum })
}

/// Echoes `count` messages back, waiting at most `timeout` for each.
pub fn pong(channel: &mut Channel, count: u32, timeout: Duration) -> Result<Summary, Error> {
    let mut buf = vec![0; MESSAGE_MAX];
    let mut checksum = FNV_SEED;
    for seq in 0..count {
        let n = channel.recv(&mut buf, timeout)?;
        check(seq, &buf[..n]).map_err(|what| Error::Mismatch { seq, what })?;
        channel.send(&buf[..n], timeout)?;
        checksum = fnv1a(checksum, &buf[..n]);
    }
    Ok(Summary { count, checksum })
}
