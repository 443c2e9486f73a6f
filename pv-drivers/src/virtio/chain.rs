//! A descriptor chain the queue has popped and validated, and cursors that copy bytes through it.
//!
//! [`Queue::pop`](super::queue::Queue::pop) resolves the whole chain up front (direct and indirect descriptors
//! alike) into a fixed array, so that a device sees only checked buffers: each one inside guest RAM, all
//! device-readable ones before all device-writable ones, at most [`CHAIN_LEN_MAX`] of them and at most `u32::MAX`
//! bytes in all. Nothing is allocated: the array lives in the chain value, on the caller's stack.

use core::fmt;

use super::memory::{GuestMemory, MemError};

/// Most buffers (descriptors other than the one naming an indirect table) in one chain.
///
/// It bounds the work and stack a chain costs (16 bytes a buffer), and bounds how long a looping chain is walked.
/// Devices size what they advertise from it: virtio-blk offers `seg_max` = this minus its header and status
/// buffers, and Linux then never builds a longer chain.
pub const CHAIN_LEN_MAX: usize = 64;

/// One guest buffer of a chain: `len` bytes at guest-physical `addr`, already checked to lie inside guest RAM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    pub addr: u64,
    pub len: u32,
    /// Device-writable (`VIRTQ_DESC_F_WRITE`); otherwise device-readable.
    pub writable: bool,
}

/// A validated descriptor chain: the head index (which goes back in the used ring) and its buffers in order.
#[derive(Clone, Debug)]
pub struct DescriptorChain {
    head: u16,
    descriptors: [Descriptor; CHAIN_LEN_MAX],
    count: usize,
    readable: usize,
    readable_len: u32,
    writable_len: u32,
}

impl DescriptorChain {
    pub(super) fn new(head: u16) -> Self {
        Self {
            head,
            descriptors: [Descriptor::default(); CHAIN_LEN_MAX],
            count: 0,
            readable: 0,
            readable_len: 0,
            writable_len: 0,
        }
    }

    /// Appends a buffer. The queue has checked the direction order, the count and the address; the totals are
    /// checked here because they are the chain's own invariant.
    pub(super) fn push(&mut self, descriptor: Descriptor) -> Result<(), PushError> {
        if self.count == CHAIN_LEN_MAX {
            return Err(PushError::TooLong);
        }
        if !descriptor.writable && self.count > self.readable {
            return Err(PushError::ReadableAfterWritable);
        }
        let total = u64::from(self.readable_len) + u64::from(self.writable_len) + u64::from(descriptor.len);
        if total > u64::from(u32::MAX) {
            return Err(PushError::TooLarge);
        }
        if descriptor.writable {
            self.writable_len += descriptor.len;
        } else {
            self.readable_len += descriptor.len;
            self.readable += 1;
        }
        self.descriptors[self.count] = descriptor;
        self.count += 1;
        Ok(())
    }

    /// The head descriptor's index: what [`Queue::add_used`](super::queue::Queue::add_used) takes.
    pub fn head(&self) -> u16 {
        self.head
    }

    /// All buffers, device-readable ones first.
    pub fn descriptors(&self) -> &[Descriptor] {
        &self.descriptors[..self.count]
    }

    /// The device-readable buffers (the driver's request).
    pub fn readable(&self) -> &[Descriptor] {
        &self.descriptors[..self.readable]
    }

    /// The device-writable buffers (room for the device's answer).
    pub fn writable(&self) -> &[Descriptor] {
        &self.descriptors[self.readable..self.count]
    }

    /// Total bytes of the device-readable buffers.
    pub fn readable_len(&self) -> u32 {
        self.readable_len
    }

    /// Total bytes of the device-writable buffers.
    pub fn writable_len(&self) -> u32 {
        self.writable_len
    }

    /// A cursor over the device-readable bytes.
    pub fn reader(&self) -> ChainReader<'_> {
        ChainReader { cursor: Cursor::new(self.readable(), self.readable_len) }
    }

    /// A cursor over the device-writable bytes.
    pub fn writer(&self) -> ChainWriter<'_> {
        ChainWriter { cursor: Cursor::new(self.writable(), self.writable_len), written: 0 }
    }
}

/// Why a buffer could not join a chain (mapped to a [`QueueError`](super::queue::QueueError) by the queue).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PushError {
    TooLong,
    TooLarge,
    ReadableAfterWritable,
}

/// A copy through a chain that did not fit or did not reach memory. Nothing was copied when this is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainAccessError {
    /// The request wanted `wanted` more bytes than the chain's `remaining`.
    TooShort { wanted: usize, remaining: u32 },
    /// Guest memory refused an access the queue had already checked (guest RAM shrank, or the implementation of
    /// [`GuestMemory::check`] disagrees with its reads and writes).
    Memory(MemError),
}

impl fmt::Display for ChainAccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { wanted, remaining } => {
                write!(f, "{wanted} bytes wanted but the chain has {remaining} left")
            }
            Self::Memory(e) => write!(f, "{e}"),
        }
    }
}

impl From<MemError> for ChainAccessError {
    fn from(e: MemError) -> Self {
        Self::Memory(e)
    }
}

/// A position in a run of buffers, shared by reader and writer.
#[derive(Clone, Debug)]
struct Cursor<'a> {
    descriptors: &'a [Descriptor],
    index: usize,
    offset: u32,
    remaining: u32,
}

impl<'a> Cursor<'a> {
    fn new(descriptors: &'a [Descriptor], total: u32) -> Self {
        Self { descriptors, index: 0, offset: 0, remaining: total }
    }

    /// Checks that `len` bytes remain, then calls `f(gpa, start, piece)` for each piece of them (`start` counts from
    /// the first of the `len` bytes) and advances past them. A failing `f` leaves the cursor where that piece began.
    fn walk(
        &mut self,
        len: usize,
        mut f: impl FnMut(u64, usize, usize) -> Result<(), MemError>,
    ) -> Result<(), ChainAccessError> {
        let too_short = ChainAccessError::TooShort { wanted: len, remaining: self.remaining };
        let len32 = u32::try_from(len).map_err(|_| too_short)?;
        if len32 > self.remaining {
            return Err(too_short);
        }
        let mut done = 0;
        while done < len {
            let d = self.descriptors[self.index];
            let left_here = d.len - self.offset;
            if left_here == 0 {
                self.index += 1;
                self.offset = 0;
                continue;
            }
            let piece = left_here.min(len32 - done as u32);
            // `addr + offset` cannot overflow: the queue checked that `addr + len` lies inside guest RAM.
            f(d.addr + u64::from(self.offset), done, piece as usize)?;
            self.offset += piece;
            self.remaining -= piece;
            done += piece as usize;
        }
        Ok(())
    }
}

/// Reads the device-readable part of a chain in order, across buffer boundaries.
#[derive(Clone, Debug)]
pub struct ChainReader<'a> {
    cursor: Cursor<'a>,
}

impl ChainReader<'_> {
    /// Bytes not yet read.
    pub fn remaining(&self) -> u32 {
        self.cursor.remaining
    }

    /// Fills `buf` with the next `buf.len()` bytes, or fails without reading if fewer remain.
    pub fn read<M: GuestMemory + ?Sized>(&mut self, mem: &M, buf: &mut [u8]) -> Result<(), ChainAccessError> {
        self.cursor.walk(buf.len(), |gpa, start, len| mem.read(gpa, &mut buf[start..start + len]))
    }

    /// Skips `len` bytes.
    pub fn skip(&mut self, len: usize) -> Result<(), ChainAccessError> {
        self.cursor.walk(len, |_, _, _| Ok(()))
    }
}

/// Writes the device-writable part of a chain in order, counting what it wrote (the used element's `len`).
#[derive(Clone, Debug)]
pub struct ChainWriter<'a> {
    cursor: Cursor<'a>,
    written: u32,
}

impl ChainWriter<'_> {
    /// Room not yet written.
    pub fn remaining(&self) -> u32 {
        self.cursor.remaining
    }

    /// Bytes written so far.
    pub fn written(&self) -> u32 {
        self.written
    }

    /// Writes `data` next, or fails without writing if less room remains.
    pub fn write<M: GuestMemory + ?Sized>(&mut self, mem: &mut M, data: &[u8]) -> Result<(), ChainAccessError> {
        let mut written = 0;
        let result = self.cursor.walk(data.len(), |gpa, start, len| {
            mem.write(gpa, &data[start..start + len])?;
            written += len as u32;
            Ok(())
        });
        self.written += written;
        result
    }

    /// Skips `len` bytes of room without writing them (they do not count as written).
    pub fn skip(&mut self, len: usize) -> Result<(), ChainAccessError> {
        self.cursor.walk(len, |_, _, _| Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::virtio::memory::SliceMemory;

    fn chain(descs: &[(u64, u32, bool)]) -> DescriptorChain {
        let mut c = DescriptorChain::new(3);
        for &(addr, len, writable) in descs {
            c.push(Descriptor { addr, len, writable }).unwrap();
        }
        c
    }

    #[test]
    fn push_keeps_direction_order_and_totals() {
        let mut c = chain(&[(0, 4, false), (8, 0, false), (16, 8, true)]);
        assert_eq!(c.readable().len(), 2);
        assert_eq!(c.writable().len(), 1);
        assert_eq!((c.readable_len(), c.writable_len()), (4, 8));
        assert_eq!(c.push(Descriptor { addr: 0, len: 1, writable: false }), Err(PushError::ReadableAfterWritable));
        assert_eq!(c.push(Descriptor { addr: 0, len: u32::MAX, writable: true }), Err(PushError::TooLarge));
        let mut long = DescriptorChain::new(0);
        for _ in 0..CHAIN_LEN_MAX {
            long.push(Descriptor::default()).unwrap();
        }
        assert_eq!(long.push(Descriptor::default()), Err(PushError::TooLong));
    }

    #[test]
    fn reader_and_writer_cross_buffer_boundaries() {
        let mut ram: Vec<u8> = (0..64).collect();
        let mut mem = SliceMemory::new(0x100, &mut ram);
        let c = chain(&[(0x100, 3, false), (0x110, 0, false), (0x120, 5, false), (0x130, 2, true), (0x138, 4, true)]);
        let mut r = c.reader();
        let mut buf = [0; 6];
        r.read(&mem, &mut buf).unwrap();
        assert_eq!(buf, [0, 1, 2, 0x20, 0x21, 0x22]);
        assert_eq!(r.read(&mem, &mut [0; 3]), Err(ChainAccessError::TooShort { wanted: 3, remaining: 2 }));
        r.skip(1).unwrap();
        r.read(&mem, &mut buf[..1]).unwrap();
        assert_eq!(buf[0], 0x24);
        assert_eq!(r.remaining(), 0);

        let mut w = c.writer();
        w.write(&mut mem, &[0xA0, 0xA1, 0xA2]).unwrap();
        w.skip(1).unwrap();
        assert_eq!(w.write(&mut mem, &[0; 3]), Err(ChainAccessError::TooShort { wanted: 3, remaining: 2 }));
        w.write(&mut mem, &[0xB0, 0xB1]).unwrap();
        assert_eq!((w.written(), w.remaining()), (5, 0));
        assert_eq!(&ram[0x30..0x3C], &[0xA0, 0xA1, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0xA2, 0x39, 0xB0, 0xB1]);
    }
}
