//! Where everything is in a channel's memory (docs/channel-ring.md), and the index arithmetic.
//!
//! The memory is two equal halves; half *i* belongs to member *i*, who alone writes it: the header of the ring it
//! produces into, that ring's data, and its consumer index for the other member's ring. Every header value sits in
//! the low 32 bits of its own 8-byte slot at an 8-aligned offset, read and written as one 8-byte access, so that
//! each is one single-copy atomic word for every [`Memory`](super::Memory) the contract allows (Linux's sram
//! file included: see `memory.rs`).

use core::fmt;

/// `"HVRG"` in memory order: a half whose first word is this has been claimed by its member.
pub const MAGIC: u32 = u32::from_le_bytes(*b"HVRG");
/// The layout version this code writes and accepts.
pub const VERSION: u32 = 1;
/// Bytes of header at the start of each half; the ring's data follows.
pub const HEADER_SIZE: usize = 64;
/// The length word that means "nothing more before the end of the data area: continue at its start".
pub const WRAP: u32 = u32::MAX;
/// Members a ring channel has: member 0 produces into half 0, member 1 into half 1.
pub const MEMBERS: u32 = 2;
/// Smallest data area: a channel smaller than `2 × (HEADER_SIZE + CAPACITY_MIN)` cannot hold a ring.
pub const CAPACITY_MIN: usize = 64;
/// Largest data area used, so that indices (counted modulo twice the capacity) fit a `u32` with room to add.
pub const CAPACITY_MAX: usize = 1 << 30;

/// Byte offsets of the header slots, from the start of a half. Each is an 8-byte slot holding a little-endian
/// `u32` in its low half; the high half is zero (reserved).
pub mod slot {
    /// [`MAGIC`](super::MAGIC), written last when the member claims its half.
    pub const MAGIC: usize = 0x00;
    /// [`VERSION`](super::VERSION) in the low word, the data area's capacity in bytes in the high word: written
    /// once, before the magic, and never changed.
    pub const LAYOUT: usize = 0x08;
    /// The producer index of this half's ring, written only by this half's member.
    pub const PRODUCED: usize = 0x10;
    /// This half's member's consumer index for the *other* half's ring.
    pub const CONSUMED: usize = 0x18;
}

/// A channel that cannot carry a ring, whatever its contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The memory is smaller than two headers and two minimal data areas.
    TooSmall { size: usize, min: usize },
    /// Rings join exactly two members, numbered 0 and 1 (`hv-static,member`).
    NotAMember { member: u32 },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooSmall { size, min } => {
                write!(f, "{size:#x} bytes of channel memory are too few for a ring (at least {min:#x})")
            }
            Self::NotAMember { member } => {
                write!(f, "member {member} has no ring: a ring channel joins members 0 and 1 only")
            }
        }
    }
}

/// The geometry both members compute from the channel's size alone, and this member's place in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    half: usize,
    capacity: u32,
    member: u32,
}

impl Layout {
    /// The rings in `size` bytes of channel memory, seen by `member`.
    pub fn new(size: usize, member: u32) -> Result<Self, LayoutError> {
        if member >= MEMBERS {
            return Err(LayoutError::NotAMember { member });
        }
        let min = 2 * (HEADER_SIZE + CAPACITY_MIN);
        if size < min {
            return Err(LayoutError::TooSmall { size, min });
        }
        // Halves a multiple of 8 so that the second half's slots are 8-aligned too; data areas a multiple of 8
        // so that the largest message (half the capacity) is a whole number of 4-byte units.
        let half = (size / 2) & !7;
        let capacity = (half - HEADER_SIZE).min(CAPACITY_MAX) & !7;
        let capacity = u32::try_from(capacity).map_err(|_| LayoutError::TooSmall { size, min })?;
        Ok(Self { half, capacity, member })
    }

    /// This member's index, 0 or 1.
    pub fn member(&self) -> u32 {
        self.member
    }

    /// Bytes in each ring's data area.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The longest message a ring carries: half its capacity, less the length word. Any message up to this
    /// length fits an empty ring wherever its indices stand (a record never straddles the end of the data area,
    /// so a longer one could wait forever behind the wrap).
    pub fn max_message(&self) -> usize {
        self.capacity as usize / 2 - 4
    }

    /// Offset of half `member`.
    pub fn half(&self, member: u32) -> usize {
        self.half * member as usize
    }

    /// Offset of the half this member writes.
    pub fn own(&self) -> usize {
        self.half(self.member)
    }

    /// Offset of the other member's half.
    pub fn peer(&self) -> usize {
        self.half(1 - self.member)
    }

    /// Offset of the data area of the half at `half`.
    pub fn data(half: usize) -> usize {
        half + HEADER_SIZE
    }

    /// Whether `index` can be an index of these rings: a multiple of 4 below twice the capacity.
    pub fn valid_index(&self, index: u32) -> bool {
        index.is_multiple_of(4) && u64::from(index) < 2 * u64::from(self.capacity)
    }

    /// Where in the data area `index` points.
    pub fn position(&self, index: u32) -> u32 {
        if index >= self.capacity {
            index - self.capacity
        } else {
            index
        }
    }

    /// Bytes between a consumer index and a producer index: what is written and not yet consumed (both indices
    /// valid). More than the capacity means the indices contradict each other.
    pub fn used(&self, produced: u32, consumed: u32) -> u64 {
        let modulus = 2 * u64::from(self.capacity);
        (u64::from(produced) + modulus - u64::from(consumed)) % modulus
    }

    /// `index` moved on by `n` bytes (`n` at most the capacity).
    pub fn advance(&self, index: u32, n: u32) -> u32 {
        let modulus = 2 * u64::from(self.capacity);
        // Below 2^31 (CAPACITY_MAX), so the conversion back cannot fail.
        u32::try_from((u64::from(index) + u64::from(n)) % modulus).unwrap_or(0)
    }
}

/// Bytes a record of `len` payload bytes takes: the length word and the payload, padded to 4.
pub fn record_size(len: usize) -> usize {
    4 + len.next_multiple_of(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_and_capacity() {
        let l = Layout::new(0x1_0000, 0).unwrap();
        assert_eq!((l.own(), l.peer(), l.capacity(), l.max_message()), (0, 0x8000, 0x8000 - 64, 0x3fe0 - 4));
        let l = Layout::new(0x1_0000 + 13, 1).unwrap();
        assert_eq!((l.own(), l.peer()), (0x8000, 0), "odd sizes round the halves down to 8 bytes");
        assert_eq!(Layout::new(255, 0), Err(LayoutError::TooSmall { size: 255, min: 256 }));
        assert_eq!(Layout::new(256, 2), Err(LayoutError::NotAMember { member: 2 }));
        let l = Layout::new(256, 1).unwrap();
        assert_eq!((l.capacity(), l.max_message()), (64, 28));
        let big = Layout::new(usize::MAX, 0).unwrap();
        assert_eq!(big.capacity() as usize, CAPACITY_MAX);
    }

    #[test]
    fn indices_count_modulo_twice_the_capacity() {
        let l = Layout::new(256, 0).unwrap();
        assert!(l.valid_index(0) && l.valid_index(124) && !l.valid_index(128) && !l.valid_index(2));
        assert_eq!((l.position(60), l.position(64), l.position(124)), (60, 0, 60));
        assert_eq!(l.used(8, 120), 16, "the producer wrapped the index, the consumer not yet");
        assert_eq!(l.used(64, 0), 64, "full");
        assert_eq!(l.advance(120, 12), 4);
        assert_eq!((record_size(0), record_size(1), record_size(4), record_size(5)), (4, 8, 8, 12));
    }
}
