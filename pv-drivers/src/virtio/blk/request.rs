//! A virtio-blk request in progress, and the budget that bounds how much of it one batch serves.
//!
//! A request is decoded and checked once, when its chain is popped ([`Request::start`]); from then on the device
//! moves its data in steps of at most [`TRANSFER_MAX`] bytes, each one backend call, until the batch's
//! [`Budget`] is spent; the next batch continues at the same byte ([`Request::advance`]). The used element and
//! the status byte are written only when the request is over, so the driver never sees a half-served request as
//! complete.
//!
//! Between batches the device keeps only the chain's head and its progress, and each batch walks the chain again
//! ([`Queue::chain`]), validated like a new one: every buffer inside guest RAM, directions in order. A driver that
//! rewrites the descriptors of an in-flight request breaks §2.7.13 (a chain is the device's until used); what it
//! gets is:
//! - buffers moved, lengths kept: the rest of the data goes to or comes from the new buffers, which are its own
//!   RAM; the header is not read again (type and sector are those of the start);
//! - any buffer length changed, so the chain no longer holds the request the header described: the device needs a
//!   reset ([`Error::Malformed`]), as for a chain that was malformed from the start;
//! - a chain that no longer validates (outside RAM, looping, ...): the queue's error, the device needs a reset.
//!
//! The available ring is not read again for a request in flight: the head was taken when it was popped.
//!
//! [`Queue::chain`]: crate::virtio::Queue::chain

use super::{request_type, status, BackendError, BlockBackend, HEADER_LEN, ID_LEN, REQUEST_DATA_MAX, SECTOR_SIZE};
use crate::virtio::chain::{ChainAccessError, DescriptorChain};
use crate::virtio::device::Error;
use crate::virtio::memory::GuestMemory;

/// Most bytes one backend call moves. A backend whose calls are device round trips (hv-static's board disk, whose
/// request buffer is this big) does a request's data in `len / TRANSFER_MAX` round trips instead of one per sector;
/// 4 KiB is the page size Linux's requests are made of, and keeps that buffer small.
pub const TRANSFER_MAX: usize = 8 * SECTOR_SIZE;

/// Most data bytes one batch (one notification, or one [`MmioTransport::run_pending`] call) of a virtio-blk device
/// moves, whatever the requests: a maximal request (62 × 64 KiB) takes ~62 batches instead of one trap. The bound is
/// a time: how long one guest entry may hold its CPU. Measured on QEMU `virt` under `-icount` (tests/tests/pv.rs,
/// configs/qemu-aarch64-diskload.toml): when a batch from a RAM-backed disk cost ~3.7 instructions per byte (byte
/// copies, a sector per hand-over), 16 KiB held the CPU ~60 µs; with bulk copies and 4 KiB hand-overs a 16 KiB
/// batch delayed a cyclic neighbour's window by ~400 ticks of 16 ns (~6.4 µs, ~0.4 instructions per byte), so 64
/// KiB holds it ~26 µs: less than 16 KiB used to, and a stream of requests moves four times as much per entry.
///
pub const BYTES_PER_BATCH: u32 = 64 * 1024;

const _: () =
    assert!((BYTES_PER_BATCH as usize).is_multiple_of(SECTOR_SIZE) && TRANSFER_MAX.is_multiple_of(SECTOR_SIZE));

/// What is left of one batch's work: data bytes, and backend calls (the backend says how many a batch may make:
/// [`BlockBackend::transfers_per_batch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub bytes: u32,
    pub transfers: u32,
    /// Most bytes of one call: [`TRANSFER_MAX`] or what the backend asks for, whole sectors, at least one.
    pub transfer_max: u32,
}

impl Budget {
    /// A fresh batch's budget for `backend`.
    pub fn for_batch<B: BlockBackend + ?Sized>(backend: &B) -> Self {
        let max = backend.transfer_max().clamp(SECTOR_SIZE, TRANSFER_MAX);
        Self {
            bytes: BYTES_PER_BATCH,
            transfers: backend.transfers_per_batch().max(1),
            transfer_max: (max - max % SECTOR_SIZE) as u32,
        }
    }

    /// Whether no backend call fits any more.
    pub fn spent(&self) -> bool {
        self.bytes == 0 || self.transfers == 0
    }

    /// The size of the next data step for `remaining` bytes of a request: whole sectors, within the bounce buffer
    /// and the budget; 0 when the budget is spent.
    fn step(&self, remaining: u32) -> u32 {
        if self.transfers == 0 {
            return 0;
        }
        let n = remaining.min(self.bytes).min(self.transfer_max);
        n - n % SECTOR_SIZE as u32
    }

    fn charge(&mut self, bytes: u32) {
        self.bytes = self.bytes.saturating_sub(bytes);
        self.transfers = self.transfers.saturating_sub(1);
    }
}

/// What the request asks, as far as it is still to be done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// VIRTIO_BLK_T_IN, checked: `len` bytes from `sector` into the writable buffers.
    Read,
    /// VIRTIO_BLK_T_OUT, checked: `len` bytes after the header onto the disk at `sector`.
    Write,
    Flush,
    GetId,
    /// Nothing to do but answer (a request that failed its checks, or an unknown type).
    Answer(u8),
}

/// One request popped and not yet used: its head, what it asks, and how far the device got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    head: u16,
    /// The chain's lengths when popped: a chain walked again must still have them.
    readable_len: u32,
    writable_len: u32,
    op: Op,
    /// First sector of the data.
    sector: u64,
    /// Data bytes (a multiple of [`SECTOR_SIZE`] for reads and writes that passed the checks).
    len: u32,
    /// Data bytes moved so far: where in the chain's buffers (which segment, which offset) the next step starts.
    /// Until the request ends its status is OK; a failing step ends it at once with IOERR.
    done: u32,
}

impl Request {
    /// Decodes and checks a popped chain. Only a chain with no room for an answer (no 16-byte header, or no
    /// writable status byte) is an error; every other mistake is answered (IOERR, UNSUPP) when the request ends.
    pub fn start<B: BlockBackend + ?Sized>(
        chain: &DescriptorChain,
        backend: &B,
        mem: &dyn GuestMemory,
    ) -> Result<Self, Error> {
        if (chain.readable_len() as usize) < HEADER_LEN {
            return Err(Error::Malformed("virtio-blk request without a 16-byte header"));
        }
        if chain.writable_len() == 0 {
            return Err(Error::Malformed("virtio-blk request without a status byte"));
        }
        let mut header = [0u8; HEADER_LEN];
        chain.reader().read(mem, &mut header)?;
        let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let sector = u64::from_le_bytes([
            header[8], header[9], header[10], header[11], header[12], header[13], header[14], header[15],
        ]);
        // The data room is everything writable but the last byte, which is the status.
        let room = chain.writable_len() - 1;
        let data_out = chain.readable_len() - HEADER_LEN as u32;
        let fits = |len| check_range(backend.capacity_sectors(), sector, len);
        let (op, len) = match kind {
            request_type::VIRTIO_BLK_T_IN if fits(room) => (Op::Read, room),
            // A driver that negotiated VIRTIO_BLK_F_RO does not write (§5.2.6.1); one that does gets IOERR.
            request_type::VIRTIO_BLK_T_OUT if !backend.read_only() && fits(data_out) => (Op::Write, data_out),
            request_type::VIRTIO_BLK_T_IN | request_type::VIRTIO_BLK_T_OUT => {
                (Op::Answer(status::VIRTIO_BLK_S_IOERR), 0)
            }
            request_type::VIRTIO_BLK_T_FLUSH => (Op::Flush, 0),
            request_type::VIRTIO_BLK_T_GET_ID => (Op::GetId, room.min(ID_LEN as u32)),
            _ => (Op::Answer(status::VIRTIO_BLK_S_UNSUPP), 0),
        };
        Ok(Self {
            head: chain.head(),
            readable_len: chain.readable_len(),
            writable_len: chain.writable_len(),
            op,
            sector,
            len,
            done: 0,
        })
    }

    /// The chain's head, which goes back in the used ring.
    pub fn head(&self) -> u16 {
        self.head
    }

    /// Data bytes moved so far.
    pub fn done(&self) -> u32 {
        self.done
    }

    /// Serves as much of the request as `budget` allows, through `chain` (the request's chain as walked for this
    /// batch). Returns the used length (bytes written, status included) once the request is over and its status
    /// byte written, or `None` if the budget ran out first.
    pub fn advance<B: BlockBackend + ?Sized>(
        &mut self,
        chain: &DescriptorChain,
        backend: &mut B,
        id: &[u8; ID_LEN],
        budget: &mut Budget,
        mem: &mut dyn GuestMemory,
    ) -> Result<Option<u32>, Error> {
        if chain.head() != self.head
            || chain.readable_len() != self.readable_len
            || chain.writable_len() != self.writable_len
        {
            return Err(Error::Malformed("virtio-blk request rewritten while in flight: its buffers changed length"));
        }
        let status = match self.op {
            Op::Read | Op::Write => {
                while self.done < self.len {
                    let n = budget.step(self.len - self.done);
                    if n == 0 {
                        return Ok(None);
                    }
                    budget.charge(n);
                    if !self.transfer(chain, backend, n, mem)? {
                        return self.finish(chain, status::VIRTIO_BLK_S_IOERR, mem).map(Some);
                    }
                    self.done += n;
                }
                status::VIRTIO_BLK_S_OK
            }
            Op::Flush => {
                if budget.transfers == 0 {
                    return Ok(None);
                }
                budget.charge(0);
                match backend.flush() {
                    Ok(()) => status::VIRTIO_BLK_S_OK,
                    Err(_) => status::VIRTIO_BLK_S_IOERR,
                }
            }
            Op::GetId => {
                let mut writer = chain.writer();
                writer.write(mem, &id[..self.len as usize])?;
                self.done = self.len;
                status::VIRTIO_BLK_S_OK
            }
            Op::Answer(status) => status,
        };
        self.finish(chain, status, mem).map(Some)
    }

    /// One step of data: `n` bytes at `done`, one backend call. `false` if the backend failed (or handed over
    /// other than `n` bytes); an error if guest memory refused the copy.
    fn transfer<B: BlockBackend + ?Sized>(
        &self,
        chain: &DescriptorChain,
        backend: &mut B,
        n: u32,
        mem: &mut dyn GuestMemory,
    ) -> Result<bool, Error> {
        // `done` is a whole number of sectors below `len`, so this is on the disk (checked at start).
        let sector = self.sector + u64::from(self.done) / SECTOR_SIZE as u64;
        let mut left = n as usize;
        let mut refused: Option<ChainAccessError> = None;
        // Pieces beyond the `n` bytes asked for would run into later data: a backend bug, answered with IOERR.
        let mut take = |len: usize| {
            if len > left {
                return Err(BackendError::Io);
            }
            left -= len;
            Ok(())
        };
        let result = if self.op == Op::Read {
            let mut writer = chain.writer();
            writer.skip(self.done as usize)?;
            backend.read(sector, n as usize, &mut |piece| {
                take(piece.len())?;
                writer.write(mem, piece).map_err(|e| {
                    refused = Some(e);
                    BackendError::Stopped
                })
            })
        } else {
            let mut reader = chain.reader();
            reader.skip(HEADER_LEN + self.done as usize)?;
            backend.write(sector, n as usize, &mut |piece| {
                take(piece.len())?;
                reader.read(mem, piece).map_err(|e| {
                    refused = Some(e);
                    BackendError::Stopped
                })
            })
        };
        if let Some(e) = refused {
            return Err(e.into());
        }
        Ok(result.is_ok() && left == 0)
    }

    /// Writes the status byte (the chain's last writable byte) and returns the used length: the data written into
    /// the chain so far (reads and GET_ID) plus the status byte.
    fn finish(&self, chain: &DescriptorChain, status: u8, mem: &mut dyn GuestMemory) -> Result<u32, Error> {
        let mut writer = chain.writer();
        writer.skip(writer.remaining() as usize - 1)?;
        writer.write(mem, &[status])?;
        let data = if matches!(self.op, Op::Read | Op::GetId) { self.done } else { 0 };
        Ok(data + 1)
    }
}

/// Whether `len` bytes at `sector` are whole sectors, within the request limit and on a disk of `capacity`
/// sectors.
pub fn check_range(capacity: u64, sector: u64, len: u32) -> bool {
    len.is_multiple_of(SECTOR_SIZE as u32)
        && len <= REQUEST_DATA_MAX
        && sector.checked_add(u64::from(len) / SECTOR_SIZE as u64).is_some_and(|end| end <= capacity)
}
