//! The producing side: appends records to the ring in this member's own half.

use super::error::{Corruption, Error, Field};
use super::header::{self, read_index, write_index};
use super::layout::{record_size, Layout, WRAP};
use super::memory::{Fence, Memory};

/// Sends messages into the ring this member produces into (its own half). One sender per member at a time: the
/// producer index has a single writer.
#[derive(Debug)]
pub struct Sender<M> {
    mem: M,
    layout: Layout,
}

impl<M: Memory> Sender<M> {
    /// The sender of member `member` (0 or 1) of the channel in `mem`; claims the member's half if it is fresh.
    pub fn new(mem: M, member: u32) -> Result<Self, Error<M::Error>> {
        let layout = Layout::new(mem.size(), member)?;
        header::claim(&mem, &layout)?;
        Ok(Self { mem, layout })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The longest message [`Sender::try_send`] takes.
    pub fn max_message(&self) -> usize {
        self.layout.max_message()
    }

    /// Appends `msg` and publishes it, or fails with [`Error::Full`] when the consumer has not yet made room (the
    /// message is then not sent; try again). The caller rings the doorbell afterwards, once for any number of
    /// messages: rings coalesce, and the consumer drains the ring on each.
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), Error<M::Error>> {
        let max = self.max_message();
        if msg.len() > max {
            return Err(Error::TooLarge { len: msg.len(), max });
        }
        let l = self.layout;
        let produced = read_index(&self.mem, &l, l.member(), Field::Produced)?;
        let consumed = read_index(&self.mem, &l, 1 - l.member(), Field::Consumed)?;
        // The consumer read what it consumed before publishing its index: none of this side's writes below, into
        // the space that index frees, may come before the index is read.
        self.mem.fence(Fence::Acquire);
        let used = l.used(produced, consumed);
        let capacity = u64::from(l.capacity());
        if used > capacity {
            return Err(Corruption::Indices { produced, consumed }.into());
        }
        let free = capacity - used;
        let at = l.position(produced);
        let tail = l.capacity() - at;
        // At most half the capacity (checked above), so a u32.
        let size = u32::try_from(record_size(msg.len())).map_err(|_| Error::TooLarge { len: msg.len(), max })?;
        // A record never straddles the end of the data area: when it does not fit before the end, the rest of the
        // data area is skipped (a wrap marker says so) and it goes at the start.
        let (skip, start) = if size <= tail { (0, at) } else { (tail, 0) };
        if u64::from(skip) + u64::from(size) > free {
            return Err(Error::Full);
        }
        let data = Layout::data(l.own());
        if skip > 0 {
            self.write(data + at as usize, &WRAP.to_le_bytes())?;
        }
        let start = data + start as usize;
        // `msg.len()` is at most `max`, itself below 2^31.
        let len = u32::try_from(msg.len()).map_err(|_| Error::TooLarge { len: msg.len(), max })?;
        self.write(start, &len.to_le_bytes())?;
        self.write(start + 4, msg)?;
        let pad = size as usize - 4 - msg.len();
        if pad > 0 {
            self.write(start + 4 + msg.len(), &[0; 3][..pad])?;
        }
        // The record before the index that publishes it.
        self.mem.fence(Fence::Release);
        write_index(&self.mem, &l, Field::Produced, l.advance(produced, skip + size))
    }

    fn write(&self, offset: usize, data: &[u8]) -> Result<(), Error<M::Error>> {
        self.mem.write(offset, data).map_err(Error::Memory)
    }
}
