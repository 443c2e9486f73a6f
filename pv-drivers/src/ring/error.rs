//! What can go wrong with a ring: the memory failed, the call cannot be served now, or the shared memory holds
//! something no honest member writes.

use core::fmt;

use super::layout::LayoutError;

/// Which header value a [`Corruption`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// A producer index (`slot::PRODUCED`).
    Produced,
    /// A consumer index (`slot::CONSUMED`).
    Consumed,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Produced => "producer index",
            Self::Consumed => "consumer index",
        })
    }
}

/// Shared memory that no pair of honest members following docs/channel-ring.md can produce. The ring refuses to
/// go on rather than guess; nothing was consumed or published by the call that found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// Half `half`'s first word is neither 0 (unclaimed) nor [`MAGIC`](super::MAGIC).
    Magic { half: u32, found: u32 },
    /// Half `half` was claimed with another layout version.
    Version { half: u32, found: u32 },
    /// Half `half` says its data area is `found` bytes, not the `expected` both members compute.
    Capacity { half: u32, found: u32, expected: u32 },
    /// An index is not a multiple of 4 below twice the capacity.
    Index { half: u32, field: Field, value: u32 },
    /// The producer is more than a whole ring ahead of the consumer.
    Indices { produced: u32, consumed: u32 },
    /// A record at data offset `at` claims `len` bytes: more than a message may have, or more than was published
    /// or fits before the end of the data area.
    Length { at: u32, len: u32 },
    /// A wrap marker where none can be: at the start of the data area, or covering all that was published.
    Wrap { at: u32 },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Magic { half, found } => write!(f, "half {half} has magic {found:#010x}"),
            Self::Version { half, found } => write!(f, "half {half} has layout version {found}"),
            Self::Capacity { half, found, expected } => {
                write!(f, "half {half} claims a capacity of {found:#x} bytes, not {expected:#x}")
            }
            Self::Index { half, field, value } => write!(f, "half {half} has {field} {value:#x}"),
            Self::Indices { produced, consumed } => {
                write!(f, "producer index {produced:#x} is more than a ring ahead of consumer index {consumed:#x}")
            }
            Self::Length { at, len } => write!(f, "the record at data offset {at:#x} claims {len:#x} bytes"),
            Self::Wrap { at } => write!(f, "misplaced wrap marker at data offset {at:#x}"),
        }
    }
}

/// Why a ring operation failed. `E` is the [`Memory`](super::Memory)'s own error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The memory refused an access (an I/O error of the file behind it, say).
    Memory(E),
    /// The channel cannot carry a ring at all.
    Layout(LayoutError),
    /// The message is longer than the ring carries ([`Layout::max_message`](super::Layout::max_message)).
    TooLarge { len: usize, max: usize },
    /// Not enough free space now: try again once the consumer has taken messages.
    Full,
    /// The next message has `needed` bytes, more than the buffer holds; it stays in the ring.
    BufferTooSmall { needed: usize },
    /// The shared memory is corrupt (see [`Corruption`]).
    Corrupt(Corruption),
}

impl<E> From<LayoutError> for Error<E> {
    fn from(e: LayoutError) -> Self {
        Self::Layout(e)
    }
}

impl<E> From<Corruption> for Error<E> {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory(e) => write!(f, "channel memory: {e}"),
            Self::Layout(e) => e.fmt(f),
            Self::TooLarge { len, max } => write!(f, "a {len}-byte message is longer than the ring's {max} bytes"),
            Self::Full => f.write_str("the ring is full"),
            Self::BufferTooSmall { needed } => write!(f, "the next message has {needed} bytes, more than the buffer"),
            Self::Corrupt(c) => write!(f, "corrupt ring: {c}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for Error<E> {}
