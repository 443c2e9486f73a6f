//! The consuming side: takes records from the ring in the other member's half, and publishes how far it got in
//! its own half.

use super::error::{Corruption, Error, Field};
use super::header::{self, check_half, read_index, write_index, HalfState};
use super::layout::{record_size, Layout, WRAP};
use super::memory::{Fence, Memory};

/// Receives messages from the ring the other member produces into (its half). One receiver per member at a time:
/// the consumer index has a single writer.
#[derive(Debug)]
pub struct Receiver<M> {
    mem: M,
    layout: Layout,
}

impl<M: Memory> Receiver<M> {
    /// The receiver of member `member` (0 or 1) of the channel in `mem`; claims the member's half if it is fresh
    /// (the consumer index lives there, so the member must be able to write the channel).
    pub fn new(mem: M, member: u32) -> Result<Self, Error<M::Error>> {
        let layout = Layout::new(mem.size(), member)?;
        header::claim(&mem, &layout)?;
        Ok(Self { mem, layout })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The longest message the other member can send.
    pub fn max_message(&self) -> usize {
        self.layout.max_message()
    }

    /// Takes the next message into `buf` and returns its length, or `None` when the ring is empty (or the other
    /// member has not claimed its half yet). With [`Error::BufferTooSmall`] the message stays in the ring.
    ///
    /// Every value read from the other member's half is checked before it is used: a corrupt header, index or
    /// record length is an [`Error::Corrupt`], never a panic, an access outside the ring, or a message longer
    /// than [`Receiver::max_message`].
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error<M::Error>> {
        let l = self.layout;
        let peer = 1 - l.member();
        if check_half(&self.mem, &l, peer)? == HalfState::Unclaimed {
            return Ok(None);
        }
        let produced = read_index(&self.mem, &l, peer, Field::Produced)?;
        // Nothing the index publishes is read before the index.
        self.mem.fence(Fence::Acquire);
        let consumed = read_index(&self.mem, &l, l.member(), Field::Consumed)?;
        let mut used = l.used(produced, consumed);
        if used > u64::from(l.capacity()) {
            return Err(Corruption::Indices { produced, consumed }.into());
        }
        let data = Layout::data(l.peer());
        let mut index = consumed;
        // At most one wrap marker before a record: the producer never writes one at the start of the data area.
        for _ in 0..2 {
            if used == 0 {
                return Ok(None);
            }
            let at = l.position(index);
            let word = self.read_u32(data + at as usize)?;
            if word == WRAP {
                let skip = l.capacity() - at;
                if at == 0 || u64::from(skip) >= used {
                    return Err(Corruption::Wrap { at }.into());
                }
                index = l.advance(index, skip);
                used -= u64::from(skip);
                continue;
            }
            let len = word as usize;
            let size = record_size(len.min(l.max_message() + 1)) as u64;
            let tail = u64::from(l.capacity() - at);
            if len > l.max_message() || size > used || size > tail {
                return Err(Corruption::Length { at, len: word }.into());
            }
            let Some(out) = buf.get_mut(..len) else { return Err(Error::BufferTooSmall { needed: len }) };
            self.mem.read(data + at as usize + 4, out).map_err(Error::Memory)?;
            // The record is read before the index that lets the producer overwrite it. `size` is at most half
            // the capacity, so a u32.
            self.mem.fence(Fence::Release);
            let size = u32::try_from(size).map_err(|_| Corruption::Length { at, len: word })?;
            write_index(&self.mem, &l, Field::Consumed, l.advance(index, size))?;
            return Ok(Some(len));
        }
        // A second wrap marker right after the first, at the start of the data area.
        Err(Corruption::Wrap { at: 0 }.into())
    }

    fn read_u32(&self, offset: usize) -> Result<u32, Error<M::Error>> {
        let mut b = [0; 4];
        self.mem.read(offset, &mut b).map_err(Error::Memory)?;
        Ok(u32::from_le_bytes(b))
    }
}
