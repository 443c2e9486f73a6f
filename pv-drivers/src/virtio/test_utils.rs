//! Host-test helpers: guest RAM with guard bands that counts any attempt to touch them, the driver's side of a
//! split virtqueue, laying out rings and chains the way a guest would, and a block backend that meters what each
//! batch asks of it.

use std::cell::Cell;
use std::vec::Vec;

use super::blk::{BackendError, BlockBackend, Sink, Source};
use super::memory::{GuestMemory, MemError};
use super::queue::desc_flags;

/// Bytes of guard band on each side of guest RAM.
pub const GUARD: usize = 256;
/// What guard bands are filled with.
pub const GUARD_BYTE: u8 = 0xA5;

/// Guest RAM at `base`, inside a buffer with guard bands on both sides.
///
/// Unlike [`SliceMemory`](super::memory::SliceMemory) it *counts* reads and writes that reach outside RAM (and
/// refuses them): the device code is meant to check every range (`GuestMemory::check`) before it accesses it, so
/// in these tests an out-of-RAM access attempt is a bug even though a real implementation would refuse it too.
pub struct TestMemory {
    buf: Vec<u8>,
    base: u64,
    violations: Cell<usize>,
}

impl TestMemory {
    pub fn new(base: u64, ram_len: usize) -> Self {
        let mut buf = vec![GUARD_BYTE; ram_len + 2 * GUARD];
        buf[GUARD..GUARD + ram_len].fill(0);
        Self { buf, base, violations: Cell::new(0) }
    }

    pub fn ram_len(&self) -> usize {
        self.buf.len() - 2 * GUARD
    }

    /// Fills `len` bytes at `gpa` with `byte`.
    pub fn write_u8_fill(&mut self, gpa: u64, byte: u8, len: usize) {
        self.write(gpa, &vec![byte; len]).unwrap();
    }

    /// Out-of-RAM accesses attempted so far.
    pub fn violations(&self) -> usize {
        self.violations.get()
    }

    /// Starts counting afresh (after a test's own set-up has poked outside RAM on purpose).
    pub fn forget_violations(&self) {
        self.violations.set(0);
    }

    /// Whether both guard bands are intact.
    pub fn guards_intact(&self) -> bool {
        let end = self.buf.len() - GUARD;
        self.buf[..GUARD].iter().chain(&self.buf[end..]).all(|&b| b == GUARD_BYTE)
    }

    fn range(&self, gpa: u64, len: u64) -> Option<core::ops::Range<usize>> {
        let offset = gpa.checked_sub(self.base)?;
        let end = offset.checked_add(len)?;
        if end > self.ram_len() as u64 {
            return None;
        }
        Some(GUARD + offset as usize..GUARD + end as usize)
    }

    fn violation(&self, gpa: u64, len: u64) -> MemError {
        self.violations.set(self.violations.get() + 1);
        MemError::OutOfBounds { gpa, len }
    }
}

impl GuestMemory for TestMemory {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let range = self.range(gpa, buf.len() as u64).ok_or_else(|| self.violation(gpa, buf.len() as u64))?;
        buf.copy_from_slice(&self.buf[range]);
        Ok(())
    }

    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), MemError> {
        let range = self.range(gpa, data.len() as u64).ok_or_else(|| self.violation(gpa, data.len() as u64))?;
        self.buf[range].copy_from_slice(data);
        Ok(())
    }

    fn check(&self, gpa: u64, len: u64) -> Result<(), MemError> {
        self.range(gpa, len).map(|_| ()).ok_or(MemError::OutOfBounds { gpa, len })
    }
}

/// Where a queue's rings are in guest memory.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub size: u16,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
}

impl Layout {
    /// Rings packed from `at` (16-byte aligned), as Linux lays them out; returns the first free address after.
    pub fn packed(at: u64, size: u16) -> (Self, u64) {
        let n = u64::from(size);
        let desc = at;
        let avail = desc + 16 * n;
        let used = (avail + 6 + 2 * n + 3) & !3;
        let end = (used + 6 + 8 * n + 15) & !15;
        (Self { size, desc, avail, used }, end)
    }
}

/// A chain's buffers as tests write them: (address, length, device-writable).
pub type Buffers<'a> = &'a [(u64, u32, bool)];

/// One descriptor as a test writes it.
#[derive(Clone, Copy, Debug)]
pub struct Desc {
    pub addr: u64,
    pub len: u32,
    pub flags: u16,
    pub next: u16,
}

/// The driver's side of a split virtqueue.
pub struct GuestQueue {
    pub layout: Layout,
    /// Next descriptor-table entry `add_chain` uses.
    pub next_desc: u16,
    pub avail_idx: u16,
    pub used_seen: u16,
}

impl GuestQueue {
    pub fn new(layout: Layout) -> Self {
        Self { layout, next_desc: 0, avail_idx: 0, used_seen: 0 }
    }

    pub fn write_desc(&self, mem: &mut impl GuestMemory, table: u64, index: u16, d: Desc) {
        let at = table + 16 * u64::from(index);
        mem.write_u64(at, d.addr).unwrap();
        mem.write_u32(at + 8, d.len).unwrap();
        mem.write_u16(at + 12, d.flags).unwrap();
        mem.write_u16(at + 14, d.next).unwrap();
    }

    /// Writes `buffers` (address, length, device-writable) as a chain of consecutive table entries and publishes
    /// it; returns the head.
    pub fn add_chain(&mut self, mem: &mut impl GuestMemory, buffers: &[(u64, u32, bool)]) -> u16 {
        let size = self.layout.size;
        let head = self.next_desc;
        for (i, &(addr, len, writable)) in buffers.iter().enumerate() {
            let index = (head + i as u16) % size;
            let last = i + 1 == buffers.len();
            let flags = if writable { desc_flags::WRITE } else { 0 } | if last { 0 } else { desc_flags::NEXT };
            let next = (index + 1) % size;
            self.write_desc(mem, self.layout.desc, index, Desc { addr, len, flags, next });
        }
        self.next_desc = (head + buffers.len() as u16) % size;
        self.publish(mem, head);
        head
    }

    /// Writes `buffers` as an indirect table at `table` and publishes a one-descriptor chain naming it.
    pub fn add_indirect_chain(&mut self, mem: &mut impl GuestMemory, table: u64, buffers: &[(u64, u32, bool)]) -> u16 {
        for (i, &(addr, len, writable)) in buffers.iter().enumerate() {
            let last = i + 1 == buffers.len();
            let flags = if writable { desc_flags::WRITE } else { 0 } | if last { 0 } else { desc_flags::NEXT };
            self.write_desc(mem, table, i as u16, Desc { addr, len, flags, next: i as u16 + 1 });
        }
        let head = self.next_desc;
        let len = 16 * buffers.len() as u32;
        self.write_desc(mem, self.layout.desc, head, Desc { addr: table, len, flags: desc_flags::INDIRECT, next: 0 });
        self.next_desc = (head + 1) % self.layout.size;
        self.publish(mem, head);
        head
    }

    /// Puts `head` in the next available-ring slot and bumps `avail.idx`.
    pub fn publish(&mut self, mem: &mut impl GuestMemory, head: u16) {
        let slot = u64::from(self.avail_idx % self.layout.size);
        mem.write_u16(self.layout.avail + 4 + 2 * slot, head).unwrap();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        mem.write_u16(self.layout.avail + 2, self.avail_idx).unwrap();
    }

    pub fn set_avail_flags(&self, mem: &mut impl GuestMemory, flags: u16) {
        mem.write_u16(self.layout.avail, flags).unwrap();
    }

    /// Used elements (id, len) added since the last call.
    pub fn take_used(&mut self, mem: &impl GuestMemory) -> Vec<(u32, u32)> {
        let used_idx = mem.read_u16(self.layout.used + 2).unwrap();
        let mut out = Vec::new();
        while self.used_seen != used_idx {
            let at = self.layout.used + 4 + 8 * u64::from(self.used_seen % self.layout.size);
            out.push((mem.read_u32(at).unwrap(), mem.read_u32(at + 4).unwrap()));
            self.used_seen = self.used_seen.wrapping_add(1);
        }
        out
    }
}

/// A block backend around another that counts its calls and bytes (tests take differences between batches),
/// may ask for small transfers and few calls per batch (as a disk behind synchronous device requests does), and
/// may fail from a given sector on.
pub struct Metered<B> {
    pub inner: B,
    pub transfer_max: usize,
    pub transfers_per_batch: u32,
    /// `read`/`write` of any sector at or past this fail with `Io`.
    pub fail_from: Option<u64>,
    pub calls: usize,
    pub bytes: u64,
    /// Largest single call seen.
    pub largest: usize,
}

impl<B: BlockBackend> Metered<B> {
    /// No limits of its own: the device's defaults apply.
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            transfer_max: usize::MAX,
            transfers_per_batch: u32::MAX,
            fail_from: None,
            calls: 0,
            bytes: 0,
            largest: 0,
        }
    }

    pub fn limited(inner: B, transfer_max: usize, transfers_per_batch: u32) -> Self {
        Self { transfer_max, transfers_per_batch, ..Self::new(inner) }
    }

    fn count(&mut self, sector: u64, len: usize) -> Result<(), BackendError> {
        self.calls += 1;
        self.bytes += len as u64;
        self.largest = self.largest.max(len);
        let sectors = (len / 512) as u64;
        match self.fail_from {
            Some(bad) if sector.saturating_add(sectors) > bad => Err(BackendError::Io),
            _ => Ok(()),
        }
    }
}

impl<B: BlockBackend> BlockBackend for Metered<B> {
    fn capacity_sectors(&self) -> u64 {
        self.inner.capacity_sectors()
    }

    fn read_only(&self) -> bool {
        self.inner.read_only()
    }

    fn read(&mut self, sector: u64, len: usize, sink: Sink<'_>) -> Result<(), BackendError> {
        self.count(sector, len)?;
        self.inner.read(sector, len, sink)
    }

    fn write(&mut self, sector: u64, len: usize, source: Source<'_>) -> Result<(), BackendError> {
        self.count(sector, len)?;
        self.inner.write(sector, len, source)
    }

    fn flush(&mut self) -> Result<(), BackendError> {
        self.calls += 1;
        self.inner.flush()
    }

    fn transfer_max(&self) -> usize {
        self.transfer_max
    }

    fn transfers_per_batch(&self) -> u32 {
        self.transfers_per_batch
    }
}
