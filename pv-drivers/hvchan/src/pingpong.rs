//! `hvchan ping` and `hvchan pong`: numbered, checksummed messages echoed back, to prove a channel end to end.
//!
//! The messages are `pv_drivers::ring::echo`'s, which bare-metal guests speak too. Pong checks each (sequence in
//! order, checksum right) and sends it back unchanged; ping checks each echo is byte for byte what it sent. Both
//! print the same summary checksum over all messages.

use std::time::Duration;

use crate::channel::{self, Channel};

pub use pv_drivers::ring::echo::{check, fnv1a, Mismatch, FNV_SEED, MESSAGE_MAX};

/// Message `seq` (the echo protocol of `pv_drivers::ring::echo`).
pub fn message(seq: u32) -> Vec<u8> {
    let mut buf = [0; MESSAGE_MAX];
    let n = pv_drivers::ring::echo::message(seq, &mut buf);
    buf[..n].to_vec()
}

/// What went wrong in a ping or pong run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Channel(#[from] channel::Error),
    #[error("message {seq}: {what}")]
    Mismatch { seq: u32, what: Mismatch },
}

/// The summary of a successful run: messages and the checksum over all of them, the same on both sides, and (for
/// ping) each round trip's shortest, mean and longest time, from sending a message to holding its echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub count: u32,
    pub checksum: u32,
    pub round_trip: Option<RoundTrip>,
}

/// Round-trip times, in nanoseconds of the monotonic clock (virtual time under QEMU's `-icount`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundTrip {
    pub min_ns: u64,
    pub avg_ns: u64,
    pub max_ns: u64,
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
    let (mut min, mut max, mut sum) = (u64::MAX, 0u64, 0u64);
    for seq in 0..count {
        let msg = message(seq);
        let t0 = std::time::Instant::now();
        channel.send(&msg, timeout)?;
        let n = channel.recv(&mut buf, timeout)?;
        let dt = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        (min, max, sum) = (min.min(dt), max.max(dt), sum.saturating_add(dt));
        let echo = &buf[..n];
        if n != msg.len() {
            return Err(Error::Mismatch { seq, what: Mismatch::Length { got: n, want: msg.len() } });
        }
        if let Some(at) = echo.iter().zip(&msg).position(|(a, b)| a != b) {
            return Err(Error::Mismatch { seq, what: Mismatch::Differs { at } });
        }
        checksum = fnv1a(checksum, echo);
    }
    let round_trip = (count > 0).then(|| RoundTrip { min_ns: min, avg_ns: sum / u64::from(count), max_ns: max });
    Ok(Summary { count, checksum, round_trip })
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
    Ok(Summary { count, checksum, round_trip: None })
}
