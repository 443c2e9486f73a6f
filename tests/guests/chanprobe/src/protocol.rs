//! What ping and pong write into their channels. Each side writes only the channel it owns (`tx`) and reads the
//! other's (`rx`), 32-bit words at a time (the guest runs with its MMU off, where memory is Device memory and
//! accesses must be aligned):
//!
//! | word | ping's message | pong's answer |
//! |---|---|---|
//! | 0 | sequence number, written last | the sequence number it answers, written last |
//! | 1 | checksum of the payload | the checksum it computed of ping's payload |
//! | 2.. | [`PAYLOAD`] words of [`pattern`]`(seq, k)` | ping's payload, each word inverted |
//!
//! The writer puts a barrier between the body and word 0, the reader one between reading word 0 and the body, so
//! a reader that sees the new sequence number sees the body written before it.

use core::fmt;
use core::sync::atomic::{fence, Ordering};

/// Payload words per message.
pub const PAYLOAD: usize = 64;
/// Words a channel must hold.
pub const WORDS: usize = 2 + PAYLOAD;

/// 32-bit words of shared memory.
pub trait Words {
    fn read(&self, i: usize) -> u32;
    fn write(&mut self, i: usize, v: u32);
}

/// Payload word `k` of message `seq`: differs in every word and every round.
pub const fn pattern(seq: u32, k: usize) -> u32 {
    seq.wrapping_mul(0x9E37_79B9) ^ (k as u32).wrapping_mul(0x85EB_CA6B) ^ 0x5A5A_0000
}

fn checksum(words: impl Iterator<Item = u32>) -> u32 {
    words.fold(0x1234_5678, |acc, w| acc.rotate_left(5) ^ w)
}

/// A message that is not what the protocol expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    Seq { got: u32, want: u32 },
    Word { seq: u32, word: usize, got: u32, want: u32 },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seq { got, want } => write!(f, "sequence number {got}, expected {want}"),
            Self::Word { seq, word, got, want } => {
                write!(f, "round {seq}: word {word} is {got:#010x}, expected {want:#010x}")
            }
        }
    }
}

/// The sequence number in `rx` (read before the body, with a barrier after it).
pub fn seq(rx: &impl Words) -> u32 {
    let s = rx.read(0);
    fence(Ordering::Acquire);
    s
}

/// Publishes word 0 after everything before it.
fn publish(tx: &mut impl Words, seq: u32) {
    fence(Ordering::Release);
    tx.write(0, seq);
}

/// Ping: writes message `seq` into `tx`.
pub fn send(tx: &mut impl Words, seq: u32) {
    for k in 0..PAYLOAD {
        tx.write(2 + k, pattern(seq, k));
    }
    tx.write(1, checksum((0..PAYLOAD).map(|k| pattern(seq, k))));
    publish(tx, seq);
}

fn expect(seq: u32, word: usize, got: u32, want: u32) -> Result<(), Mismatch> {
    if got == want {
        Ok(())
    } else {
        Err(Mismatch::Word { seq, word, got, want })
    }
}

/// Pong: checks message `want` in `rx` and writes its answer into `tx`.
pub fn answer(rx: &impl Words, tx: &mut impl Words, want: u32) -> Result<(), Mismatch> {
    let got = seq(rx);
    if got != want {
        return Err(Mismatch::Seq { got, want });
    }
    for k in 0..PAYLOAD {
        let w = rx.read(2 + k);
        expect(want, 2 + k, w, pattern(want, k))?;
        tx.write(2 + k, !w);
    }
    let sum = checksum((0..PAYLOAD).map(|k| rx.read(2 + k)));
    expect(want, 1, rx.read(1), sum)?;
    tx.write(1, sum);
    publish(tx, want);
    Ok(())
}

/// Ping: checks pong's answer to message `want` in `rx`.
pub fn check_answer(rx: &impl Words, want: u32) -> Result<(), Mismatch> {
    let got = seq(rx);
    if got != want {
        return Err(Mismatch::Seq { got, want });
    }
    for k in 0..PAYLOAD {
        expect(want, 2 + k, rx.read(2 + k), !pattern(want, k))?;
    }
    expect(want, 1, rx.read(1), checksum((0..PAYLOAD).map(|k| pattern(want, k))))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem(Vec<u32>);

    impl Words for Mem {
        fn read(&self, i: usize) -> u32 {
            self.0[i]
        }
        fn write(&mut self, i: usize, v: u32) {
            self.0[i] = v;
        }
    }

    fn mem() -> Mem {
        Mem(vec![0; WORDS])
    }

    #[test]
    fn a_round_trip_checks_out() {
        let (mut ping, mut pong) = (mem(), mem());
        for seq in 1..=3 {
            send(&mut ping, seq);
            assert_eq!(super::seq(&ping), seq);
            answer(&ping, &mut pong, seq).unwrap();
            check_answer(&pong, seq).unwrap();
        }
    }

    #[test]
    fn corruption_and_stale_messages_are_caught() {
        let (mut ping, mut pong) = (mem(), mem());
        send(&mut ping, 7);
        assert_eq!(answer(&ping, &mut pong, 8), Err(Mismatch::Seq { got: 7, want: 8 }));
        ping.0[2 + 5] ^= 1;
        let err = answer(&ping, &mut pong, 7).unwrap_err();
        assert!(matches!(err, Mismatch::Word { seq: 7, word: 7, .. }), "{err:?}");
        send(&mut ping, 7);
        answer(&ping, &mut pong, 7).unwrap();
        pong.0[1] ^= 0x100;
        assert!(matches!(check_answer(&pong, 7), Err(Mismatch::Word { word: 1, .. })));
        assert_eq!(check_answer(&pong, 6), Err(Mismatch::Seq { got: 7, want: 6 }));
        assert_eq!(
            Mismatch::Word { seq: 1, word: 2, got: 0, want: 0xff }.to_string(),
            "round 1: word 2 is 0x00000000, expected 0x000000ff"
        );
    }

    #[test]
    fn patterns_differ_by_round_and_word() {
        assert_ne!(pattern(1, 0), pattern(2, 0));
        assert_ne!(pattern(1, 0), pattern(1, 1));
        assert_ne!(pattern(0, 0), 0, "a zeroed channel is not a valid message");
    }
}
