//! Channel memory for host tests: 32-bit words, each accessed atomically (what the [`Memory`] contract asks, and
//! what two threads sharing it need), refusing and counting any access outside the channel.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::vec::Vec;

use super::memory::{check_range, Memory, OutOfRange};

pub struct WordMemory {
    words: Vec<AtomicU32>,
    size: usize,
    /// Accesses refused: the ring checks every range it derives from shared memory, so any is a bug.
    pub violations: AtomicUsize,
}

impl WordMemory {
    /// `size` zero bytes, as hv-static hands out a channel.
    pub fn new(size: usize) -> Self {
        Self {
            words: (0..size.div_ceil(4)).map(|_| AtomicU32::new(0)).collect(),
            size,
            violations: AtomicUsize::new(0),
        }
    }

    fn byte(&self, at: usize) -> u8 {
        self.words[at / 4].load(Ordering::Relaxed).to_le_bytes()[at % 4]
    }

    /// Overwrites one byte, as a hostile member would.
    pub fn poke(&self, at: usize, value: u8) {
        let shift = 8 * (at % 4);
        let _ = self.words[at / 4].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
            Some((w & !(0xff << shift)) | (u32::from(value) << shift))
        });
    }

    pub fn violations(&self) -> usize {
        self.violations.load(Ordering::Relaxed)
    }

    fn check(&self, offset: usize, len: usize) -> Result<(), OutOfRange> {
        check_range(offset, len, self.size).inspect_err(|_| {
            self.violations.fetch_add(1, Ordering::Relaxed);
        })
    }
}

impl Memory for WordMemory {
    type Error = OutOfRange;

    fn size(&self) -> usize {
        self.size
    }

    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfRange> {
        self.check(offset, buf.len())?;
        let mut i = 0;
        while i < buf.len() {
            let at = offset + i;
            if at.is_multiple_of(4) && buf.len() - i >= 4 {
                buf[i..i + 4].copy_from_slice(&self.words[at / 4].load(Ordering::Relaxed).to_le_bytes());
                i += 4;
            } else {
                buf[i] = self.byte(at);
                i += 1;
            }
        }
        Ok(())
    }

    fn write(&self, offset: usize, data: &[u8]) -> Result<(), OutOfRange> {
        self.check(offset, data.len())?;
        let mut i = 0;
        while i < data.len() {
            let at = offset + i;
            if at.is_multiple_of(4) && data.len() - i >= 4 {
                let word = u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
                self.words[at / 4].store(word, Ordering::Relaxed);
                i += 4;
            } else {
                self.poke(at, data[i]);
                i += 1;
            }
        }
        Ok(())
    }
}
