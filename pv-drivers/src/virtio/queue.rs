//! The split virtqueue (virtio 1.2 §2.7) as the device sees it: the driver publishes descriptor chains in the
//! available ring, the device hands them back in the used ring.
//!
//! Everything in the three rings is written by the guest and may be malformed or change under the device's feet, so
//! [`Queue::pop`] validates a whole chain before a device sees it, and every malformed thing becomes a
//! [`QueueError`]. The transport answers any such error with DEVICE_NEEDS_RESET (§2.1.2): the device stops using
//! the queue until the driver resets it, and other partitions are never affected.
//!
//! Memory ordering (§2.7.13): the device reads `avail.idx`, then [`Fence::Acquire`], then the ring entries and
//! descriptors that index publishes; it writes used elements, then [`Fence::Release`], then `used.idx`; and after
//! `used.idx`, [`Fence::Full`] before reading `avail.flags` to decide on an interrupt. The queue calls
//! [`GuestMemory::fence`] at exactly those points, so the hypervisor's implementation of that hook is the one place
//! barriers live.
//!
//! Not offered, so not implemented: VIRTIO_F_EVENT_IDX (interrupt suppression is the `VIRTQ_AVAIL_F_NO_INTERRUPT`
//! flag only), packed rings, in-order use.

use core::fmt;

use super::chain::{Descriptor, DescriptorChain, PushError, CHAIN_LEN_MAX};
use super::memory::{Fence, GuestMemory, MemError};

/// Largest queue size a device offers (QueueNumMax). 256 is what Linux and QEMU use for block and network
/// queues; the rings then take 4 KiB + 518 B + 2054 B of guest memory.
pub const QUEUE_SIZE_MAX: u16 = 256;

/// Descriptor flags (§2.7.5).
pub mod desc_flags {
    /// The chain continues at `next`.
    pub const NEXT: u16 = 1;
    /// The buffer is device-writable.
    pub const WRITE: u16 = 2;
    /// The buffer holds a table of descriptors (§2.7.5.3).
    pub const INDIRECT: u16 = 4;
}

/// `avail.flags`: the driver asks not to be interrupted when the device uses a buffer (§2.7.7).
pub const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Bytes in a descriptor table entry.
const DESC_SIZE: u64 = 16;
/// Most entries an indirect table may have: `next` is a `u16`, so later entries could not be reached.
const INDIRECT_ENTRIES_MAX: u64 = 1 << 16;

/// Which of the queue's three areas an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ring {
    /// The descriptor table (QueueDesc).
    Descriptors,
    /// The available ring (QueueDriver).
    Available,
    /// The used ring (QueueDevice).
    Used,
}

/// A malformed queue or chain, named after the driver's mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// The queue was used while not enabled.
    NotReady,
    /// QueueNum is zero, not a power of two, or above QueueNumMax.
    InvalidSize(u16),
    /// A ring address is not aligned as §2.7 requires (16, 2 and 4 bytes).
    Misaligned { ring: Ring, addr: u64 },
    /// A ring does not lie inside guest RAM.
    RingOutsideMemory { ring: Ring, addr: u64 },
    /// `avail.idx` moved more than the queue size past the last chain the device took: the driver cannot have
    /// published that many.
    AvailIdxJump { last_seen: u16, avail_idx: u16 },
    /// An available-ring entry names a descriptor beyond the table.
    HeadOutOfRange(u16),
    /// A `next` field points beyond its table (the queue's own, or an indirect one).
    NextOutOfRange(u16),
    /// A chain comes back to a descriptor it already visited.
    Loop(u16),
    /// A chain has more than [`CHAIN_LEN_MAX`] buffers.
    ChainTooLong,
    /// A chain's buffers add up to more than `u32::MAX` bytes (§2.7.5: forbidden, and not reportable in a used
    /// element).
    ChainTooLarge,
    /// A device-readable buffer follows a device-writable one (§2.7.4.2).
    ReadableAfterWritable,
    /// A buffer does not lie inside guest RAM.
    BufferOutsideMemory { addr: u64, len: u32 },
    /// VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated.
    IndirectNotNegotiated,
    /// VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT (§2.7.5.3.1).
    IndirectWithNext,
    /// VIRTQ_DESC_F_INDIRECT inside an indirect table (§2.7.5.3.1).
    NestedIndirect,
    /// An indirect table whose length is zero, not a multiple of 16, or more than 65536 entries.
    InvalidIndirectTable { len: u32 },
    /// The device tried to return a head beyond the table (a device bug, not the driver's).
    UsedHeadOutOfRange(u16),
    /// An access to a ring failed although the ring had been checked when the queue was enabled.
    Memory(MemError),
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotReady => write!(f, "queue used while not ready"),
            Self::InvalidSize(n) => write!(f, "queue size {n} is not a power of two up to the maximum"),
            Self::Misaligned { ring, addr } => write!(f, "{ring:?} ring at {addr:#x} is misaligned"),
            Self::RingOutsideMemory { ring, addr } => write!(f, "{ring:?} ring at {addr:#x} is outside guest RAM"),
            Self::AvailIdxJump { last_seen, avail_idx } => {
                write!(f, "avail.idx jumped from {last_seen} to {avail_idx}, more than the queue size")
            }
            Self::HeadOutOfRange(i) => write!(f, "available ring names descriptor {i}, beyond the table"),
            Self::NextOutOfRange(i) => write!(f, "descriptor chain continues at {i}, beyond its table"),
            Self::Loop(i) => write!(f, "descriptor chain loops back to {i}"),
            Self::ChainTooLong => write!(f, "descriptor chain has more than {CHAIN_LEN_MAX} buffers"),
            Self::ChainTooLarge => write!(f, "descriptor chain is longer than 4 GiB"),
            Self::ReadableAfterWritable => write!(f, "device-readable buffer after a device-writable one"),
            Self::BufferOutsideMemory { addr, len } => write!(f, "buffer {addr:#x}+{len:#x} is outside guest RAM"),
            Self::IndirectNotNegotiated => write!(f, "indirect descriptor without VIRTIO_F_INDIRECT_DESC"),
            Self::IndirectWithNext => write!(f, "indirect descriptor with VIRTQ_DESC_F_NEXT"),
            Self::NestedIndirect => write!(f, "indirect descriptor inside an indirect table"),
            Self::InvalidIndirectTable { len } => write!(f, "indirect table of {len} bytes"),
            Self::UsedHeadOutOfRange(i) => write!(f, "device returned head {i}, beyond the table"),
            Self::Memory(e) => write!(f, "{e}"),
        }
    }
}

impl From<MemError> for QueueError {
    fn from(e: MemError) -> Self {
        Self::Memory(e)
    }
}

/// A descriptor table entry as the driver wrote it.
struct RawDescriptor {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

impl RawDescriptor {
    fn read<M: GuestMemory + ?Sized>(mem: &M, gpa: u64) -> Result<Self, MemError> {
        let mut b = [0u8; DESC_SIZE as usize];
        mem.read(gpa, &mut b)?;
        Ok(Self {
            addr: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            len: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
            flags: u16::from_le_bytes([b[12], b[13]]),
            next: u16::from_le_bytes([b[14], b[15]]),
        })
    }
}

/// One split virtqueue's device-side state: what the driver configured through the transport, plus the device's
/// two cursors into the rings.
#[derive(Clone, Debug)]
pub struct Queue {
    max_size: u16,
    size: u16,
    ready: bool,
    desc_table: u64,
    avail_ring: u64,
    used_ring: u64,
    indirect: bool,
    /// Free-running count of chains taken from the available ring (compared with `avail.idx`).
    next_avail: u16,
    /// Free-running count of used elements written (the `used.idx` the device publishes).
    next_used: u16,
    /// Chains `pop` may still return before the caller must give the CPU back.
    budget: usize,
    /// Bytes (the buffers' lengths) the chains `pop` returns may still add up to; once spent, `pop` defers like an
    /// exhausted chain budget. The chain that crosses it is still returned: every batch makes progress.
    byte_budget: u64,
    /// `pop` refused a chain because the budget ran out: the queue has work left.
    deferred: bool,
    /// Used elements were added since the last [`Queue::take_interrupt`].
    used_added: bool,
}

impl Queue {
    /// A disabled queue offering `max_size` entries (clamped to [`QUEUE_SIZE_MAX`]; 0 means the queue does not
    /// exist, which drivers see as QueueNumMax = 0).
    pub const fn new(max_size: u16) -> Self {
        let max_size = if max_size > QUEUE_SIZE_MAX { QUEUE_SIZE_MAX } else { max_size };
        Self {
            max_size,
            size: max_size,
            ready: false,
            desc_table: 0,
            avail_ring: 0,
            used_ring: 0,
            indirect: false,
            next_avail: 0,
            next_used: 0,
            budget: usize::MAX,
            byte_budget: u64::MAX,
            deferred: false,
            used_added: false,
        }
    }

    /// Back to the state after [`Queue::new`] (device reset, §2.1.2).
    pub fn reset(&mut self) {
        *self = Self::new(self.max_size);
    }

    /// QueueNumMax.
    pub fn max_size(&self) -> u16 {
        self.max_size
    }

    /// QueueNum: the size the driver chose (checked when the queue is enabled).
    pub fn size(&self) -> u16 {
        self.size
    }

    pub fn set_size(&mut self, size: u16) {
        self.size = size;
    }

    /// QueueReady.
    pub fn ready(&self) -> bool {
        self.ready
    }

    /// QueueDesc: guest-physical address of the descriptor table.
    pub fn desc_table(&self) -> u64 {
        self.desc_table
    }

    pub fn set_desc_table(&mut self, gpa: u64) {
        self.desc_table = gpa;
    }

    /// QueueDriver: guest-physical address of the available ring.
    pub fn avail_ring(&self) -> u64 {
        self.avail_ring
    }

    pub fn set_avail_ring(&mut self, gpa: u64) {
        self.avail_ring = gpa;
    }

    /// QueueDevice: guest-physical address of the used ring.
    pub fn used_ring(&self) -> u64 {
        self.used_ring
    }

    pub fn set_used_ring(&mut self, gpa: u64) {
        self.used_ring = gpa;
    }

    /// Whether VIRTIO_F_INDIRECT_DESC was negotiated: without it an indirect descriptor is an error.
    pub fn set_indirect(&mut self, negotiated: bool) {
        self.indirect = negotiated;
    }

    /// Chains taken so far (free-running, like `avail.idx`).
    pub fn next_avail(&self) -> u16 {
        self.next_avail
    }

    /// Used elements published so far (`used.idx`).
    pub fn next_used(&self) -> u16 {
        self.next_used
    }

    /// Checks what the driver configured and starts using the queue (QueueReady = 1).
    ///
    /// The rings must be aligned (§2.7: 16, 2 and 4 bytes) and lie inside guest RAM, so that later ring accesses
    /// can only fail if guest RAM itself changes. Both cursors start at 0, as the driver's rings do.
    pub fn enable<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> Result<(), QueueError> {
        let size = self.size;
        if size == 0 || !size.is_power_of_two() || size > self.max_size {
            return Err(QueueError::InvalidSize(size));
        }
        let n = u64::from(size);
        let rings = [
            (Ring::Descriptors, self.desc_table, 16, DESC_SIZE * n),
            (Ring::Available, self.avail_ring, 2, 6 + 2 * n),
            (Ring::Used, self.used_ring, 4, 6 + 8 * n),
        ];
        for (ring, addr, align, len) in rings {
            if addr % align != 0 {
                return Err(QueueError::Misaligned { ring, addr });
            }
            mem.check(addr, len).map_err(|_| QueueError::RingOutsideMemory { ring, addr })?;
        }
        self.next_avail = 0;
        self.next_used = 0;
        self.deferred = false;
        self.used_added = false;
        self.ready = true;
        Ok(())
    }

    /// Stops using the queue (QueueReady = 0); the configuration stays readable.
    pub fn disable(&mut self) {
        self.ready = false;
    }

    /// Lets `pop` return at most `chains` more chains; the transport sets this before each batch so a guest cannot
    /// keep the hypervisor busy with one notification.
    pub fn set_budget(&mut self, chains: usize) {
        self.budget = chains;
        self.byte_budget = u64::MAX;
        self.deferred = false;
    }

    /// [`Queue::set_budget`] with a limit on the bytes too: a few large requests cost as much hypervisor time as
    /// many small ones, so both bound a batch.
    pub fn set_budgets(&mut self, chains: usize, bytes: u64) {
        self.set_budget(chains);
        self.byte_budget = bytes;
    }

    /// Whether `pop` stopped because of the budget while chains were still available.
    pub fn deferred(&self) -> bool {
        self.deferred
    }

    /// `avail.idx`, checked against the device's cursor: the number of chains the driver has published and the
    /// device not yet taken.
    fn pending<M: GuestMemory + ?Sized>(&self, mem: &M) -> Result<u16, QueueError> {
        let avail_idx = mem.read_u16(self.avail_ring + 2)?;
        let pending = avail_idx.wrapping_sub(self.next_avail);
        if pending > self.size {
            return Err(QueueError::AvailIdxJump { last_seen: self.next_avail, avail_idx });
        }
        Ok(pending)
    }

    /// Whether the driver has published chains the device has not taken.
    pub fn has_available<M: GuestMemory + ?Sized>(&self, mem: &M) -> Result<bool, QueueError> {
        if !self.ready {
            return Err(QueueError::NotReady);
        }
        Ok(self.pending(mem)? != 0)
    }

    /// Takes the next available chain, validated (see [`DescriptorChain`]), or `None` if there is none or the
    /// budget is spent.
    ///
    /// A chain is the head the available ring names, followed through `next` while VIRTQ_DESC_F_NEXT is set; its
    /// last descriptor may instead name an indirect table (§2.7.5.3), which is then walked from its entry 0 under
    /// the same rules. Loops are caught by remembering the indices visited in the current table; length by
    /// [`CHAIN_LEN_MAX`]. On error the cursor does not move, and the transport resets the device anyway.
    pub fn pop<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> Result<Option<DescriptorChain>, QueueError> {
        if !self.ready {
            return Err(QueueError::NotReady);
        }
        if self.pending(mem)? == 0 {
            return Ok(None);
        }
        if self.budget == 0 || self.byte_budget == 0 {
            self.deferred = true;
            return Ok(None);
        }
        // The ring entry and descriptors were written before the index we just read.
        mem.fence(Fence::Acquire);
        let slot = u64::from(self.next_avail & (self.size - 1));
        let head = mem.read_u16(self.avail_ring + 4 + 2 * slot)?;
        let chain = self.walk(mem, head)?;
        self.next_avail = self.next_avail.wrapping_add(1);
        self.budget -= 1;
        let bytes = u64::from(chain.readable_len()) + u64::from(chain.writable_len());
        self.byte_budget = self.byte_budget.saturating_sub(bytes);
        Ok(Some(chain))
    }

    /// Walks and validates chain `head` again, as [`Queue::pop`] did, without touching the rings: for a device that
    /// keeps only the head of a chain it took and serves it over several batches. The driver may have rewritten the
    /// descriptors meanwhile, so the chain is checked afresh and may differ from the one popped.
    pub fn chain<M: GuestMemory + ?Sized>(&self, mem: &M, head: u16) -> Result<DescriptorChain, QueueError> {
        if !self.ready {
            return Err(QueueError::NotReady);
        }
        self.walk(mem, head)
    }

    fn walk<M: GuestMemory + ?Sized>(&self, mem: &M, head: u16) -> Result<DescriptorChain, QueueError> {
        if head >= self.size {
            return Err(QueueError::HeadOutOfRange(head));
        }
        let mut chain = DescriptorChain::new(head);
        let mut table = self.desc_table;
        let mut entries = u64::from(self.size);
        let mut index = head;
        let mut in_indirect = false;
        // Indices visited in the current table: a chain has at most CHAIN_LEN_MAX buffers plus the one indirect
        // descriptor per table, so this many slots always suffice before the length check fires.
        let mut visited = [0u16; CHAIN_LEN_MAX + 1];
        let mut steps = 0;
        loop {
            if visited[..steps].contains(&index) {
                return Err(QueueError::Loop(index));
            }
            if steps == visited.len() {
                return Err(QueueError::ChainTooLong);
            }
            visited[steps] = index;
            steps += 1;
            // In range: `index < entries`, and the whole table was checked (the queue's at enable, an indirect one
            // below), so this read is inside guest RAM.
            let raw = RawDescriptor::read(mem, table + DESC_SIZE * u64::from(index))?;
            if raw.flags & desc_flags::INDIRECT != 0 {
                if !self.indirect {
                    return Err(QueueError::IndirectNotNegotiated);
                }
                if in_indirect {
                    return Err(QueueError::NestedIndirect);
                }
                if raw.flags & desc_flags::NEXT != 0 {
                    return Err(QueueError::IndirectWithNext);
                }
                let len = u64::from(raw.len);
                if len == 0 || len % DESC_SIZE != 0 || len / DESC_SIZE > INDIRECT_ENTRIES_MAX {
                    return Err(QueueError::InvalidIndirectTable { len: raw.len });
                }
                mem.check(raw.addr, len)
                    .map_err(|_| QueueError::BufferOutsideMemory { addr: raw.addr, len: raw.len })?;
                // The WRITE flag of the descriptor naming the table means nothing (§2.7.5.3.2).
                table = raw.addr;
                entries = len / DESC_SIZE;
                index = 0;
                in_indirect = true;
                steps = 0;
                continue;
            }
            mem.check(raw.addr, u64::from(raw.len))
                .map_err(|_| QueueError::BufferOutsideMemory { addr: raw.addr, len: raw.len })?;
            let writable = raw.flags & desc_flags::WRITE != 0;
            chain.push(Descriptor { addr: raw.addr, len: raw.len, writable }).map_err(|e| match e {
                PushError::TooLong => QueueError::ChainTooLong,
                PushError::TooLarge => QueueError::ChainTooLarge,
                PushError::ReadableAfterWritable => QueueError::ReadableAfterWritable,
            })?;
            if raw.flags & desc_flags::NEXT == 0 {
                return Ok(chain);
            }
            if u64::from(raw.next) >= entries {
                return Err(QueueError::NextOutOfRange(raw.next));
            }
            index = raw.next;
        }
    }

    /// Returns chain `head` to the driver with `len` bytes written into its device-writable buffers (§2.7.8).
    pub fn add_used<M: GuestMemory + ?Sized>(&mut self, mem: &mut M, head: u16, len: u32) -> Result<(), QueueError> {
        if !self.ready {
            return Err(QueueError::NotReady);
        }
        if head >= self.size {
            return Err(QueueError::UsedHeadOutOfRange(head));
        }
        let slot = u64::from(self.next_used & (self.size - 1));
        let mut elem = [0u8; 8];
        elem[..4].copy_from_slice(&u32::from(head).to_le_bytes());
        elem[4..].copy_from_slice(&len.to_le_bytes());
        mem.write(self.used_ring + 4 + 8 * slot, &elem)?;
        // The element must be visible before the index that publishes it.
        mem.fence(Fence::Release);
        let next_used = self.next_used.wrapping_add(1);
        mem.write_u16(self.used_ring + 2, next_used)?;
        self.next_used = next_used;
        self.used_added = true;
        Ok(())
    }

    /// Whether the used buffers added since the last call call for a used-buffer notification: some were added,
    /// and the driver did not set VIRTQ_AVAIL_F_NO_INTERRUPT (§2.7.7.2; without VIRTIO_F_EVENT_IDX that flag is
    /// the only suppression).
    pub fn take_interrupt<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> Result<bool, QueueError> {
        if !core::mem::take(&mut self.used_added) {
            return Ok(false);
        }
        // Our used.idx store must be visible before we read the flag, or a driver that just cleared the flag and
        // checked used.idx could sleep while we read the stale flag and stay silent.
        mem.fence(Fence::Full);
        let flags = mem.read_u16(self.avail_ring)?;
        Ok(flags & VIRTQ_AVAIL_F_NO_INTERRUPT == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::virtio::test_utils::{Buffers, Desc, GuestQueue, Layout, TestMemory};
    use std::cell::RefCell;
    use std::vec::Vec;

    const BASE: u64 = 0x4000_0000;
    const RAM: usize = 0x10000;
    /// Where test buffers go (after the rings).
    const DATA: u64 = BASE + 0x8000;

    fn setup(size: u16) -> (TestMemory, Queue, GuestQueue) {
        let mem = TestMemory::new(BASE, RAM);
        let (layout, _) = Layout::packed(BASE, size);
        let mut q = Queue::new(QUEUE_SIZE_MAX);
        q.set_size(size);
        q.set_desc_table(layout.desc);
        q.set_avail_ring(layout.avail);
        q.set_used_ring(layout.used);
        q.enable(&mem).unwrap();
        (mem, q, GuestQueue::new(layout))
    }

    fn pop_err(q: &mut Queue, mem: &TestMemory) -> QueueError {
        let e = q.pop(mem).unwrap_err();
        assert_eq!(mem.violations(), 0);
        e
    }

    #[test]
    fn new_clamps_the_maximum_and_reset_keeps_it() {
        let mut q = Queue::new(1024);
        assert_eq!((q.max_size(), q.size(), q.ready()), (QUEUE_SIZE_MAX, QUEUE_SIZE_MAX, false));
        q.set_size(8);
        q.set_desc_table(0x1000);
        q.reset();
        assert_eq!((q.size(), q.desc_table()), (QUEUE_SIZE_MAX, 0));
        assert_eq!(Queue::new(0).max_size(), 0);
    }

    #[test]
    fn enable_checks_size_alignment_and_placement() {
        let mem = TestMemory::new(BASE, RAM);
        let (layout, _) = Layout::packed(BASE, 16);
        let configured = |size: u16, desc: u64, avail: u64, used: u64| {
            let mut q = Queue::new(64);
            q.set_size(size);
            q.set_desc_table(desc);
            q.set_avail_ring(avail);
            q.set_used_ring(used);
            q
        };
        let (d, a, u) = (layout.desc, layout.avail, layout.used);
        for size in [0, 3, 48, 128] {
            assert_eq!(configured(size, d, a, u).enable(&mem), Err(QueueError::InvalidSize(size)));
        }
        let misaligned = |ring, addr| Err(QueueError::Misaligned { ring, addr });
        assert_eq!(configured(16, d + 8, a, u).enable(&mem), misaligned(Ring::Descriptors, d + 8));
        assert_eq!(configured(16, d, a + 1, u).enable(&mem), misaligned(Ring::Available, a + 1));
        assert_eq!(configured(16, d, a, u + 2).enable(&mem), misaligned(Ring::Used, u + 2));
        let outside = |ring, addr| Err(QueueError::RingOutsideMemory { ring, addr });
        assert_eq!(configured(16, BASE - 16, a, u).enable(&mem), outside(Ring::Descriptors, BASE - 16));
        let top = BASE + RAM as u64;
        assert_eq!(configured(16, d, top - 36, u).enable(&mem), outside(Ring::Available, top - 36), "ends 2 past");
        assert_eq!(configured(16, d, a, top - 132).enable(&mem), outside(Ring::Used, top - 132));
        assert_eq!(configured(16, d, a, u64::MAX - 3).enable(&mem), outside(Ring::Used, u64::MAX - 3));
        let mut q = configured(16, d, a, u);
        assert_eq!(q.enable(&mem), Ok(()));
        assert!(q.ready());
        q.disable();
        assert!(!q.ready());
        assert_eq!(q.pop(&mem).unwrap_err(), QueueError::NotReady);
        assert_eq!(mem.violations(), 0);
    }

    #[test]
    fn pops_a_chain_and_returns_it() {
        let (mut mem, mut q, mut g) = setup(8);
        assert!(q.pop(&mem).unwrap().is_none(), "nothing published");
        assert!(!q.has_available(&mem).unwrap());
        let head = g.add_chain(&mut mem, &[(DATA, 16, false), (DATA + 16, 512, true), (DATA + 528, 1, true)]);
        assert!(q.has_available(&mem).unwrap());
        let chain = q.pop(&mem).unwrap().unwrap();
        assert_eq!(chain.head(), head);
        assert_eq!(chain.readable(), &[Descriptor { addr: DATA, len: 16, writable: false }]);
        assert_eq!(chain.writable().len(), 2);
        assert_eq!((chain.readable_len(), chain.writable_len()), (16, 513));
        assert!(q.pop(&mem).unwrap().is_none());
        assert_eq!(q.next_avail(), 1);

        q.add_used(&mut mem, head, 513).unwrap();
        assert_eq!(g.take_used(&mem), vec![(u32::from(head), 513)]);
        assert_eq!(q.next_used(), 1);
        assert_eq!(q.add_used(&mut mem, 8, 0), Err(QueueError::UsedHeadOutOfRange(8)));
        assert_eq!(mem.violations(), 0);
    }

    #[test]
    fn indices_wrap_around() {
        let (mut mem, mut q, mut g) = setup(4);
        for round in 0..70_000u32 {
            let head = g.add_chain(&mut mem, &[(DATA, 4, true)]);
            let chain = q.pop(&mem).unwrap().unwrap();
            assert_eq!(chain.head(), head);
            q.add_used(&mut mem, head, round).unwrap();
            assert_eq!(g.take_used(&mem), vec![(u32::from(head), round)]);
        }
        assert_eq!(q.next_avail(), (70_000u32 % 65_536) as u16);
    }

    #[test]
    fn avail_idx_may_not_jump_past_the_queue_size() {
        let (mut mem, mut q, g) = setup(8);
        mem.write_u16(g.layout.avail + 2, 9).unwrap();
        assert_eq!(pop_err(&mut q, &mem), QueueError::AvailIdxJump { last_seen: 0, avail_idx: 9 });
        assert_eq!(q.has_available(&mem), Err(QueueError::AvailIdxJump { last_seen: 0, avail_idx: 9 }));
        mem.write_u16(g.layout.avail + 2, 0xFFFF).unwrap();
        assert!(matches!(pop_err(&mut q, &mem), QueueError::AvailIdxJump { .. }), "backwards is a jump too");
        mem.write_u16(g.layout.avail + 2, 8).unwrap();
        assert_eq!(q.has_available(&mem), Ok(true), "exactly the queue size is fine");
    }

    #[test]
    fn rejects_bad_indices_and_loops() {
        let (mut mem, mut q, mut g) = setup(8);
        g.publish(&mut mem, 8);
        assert_eq!(pop_err(&mut q, &mem), QueueError::HeadOutOfRange(8));

        let (mut mem, mut q, mut g) = setup(8);
        let t = g.layout.desc;
        g.write_desc(&mut mem, t, 0, Desc { addr: DATA, len: 1, flags: desc_flags::NEXT, next: 8 });
        g.publish(&mut mem, 0);
        assert_eq!(pop_err(&mut q, &mem), QueueError::NextOutOfRange(8));

        let (mut mem, mut q, mut g) = setup(8);
        g.write_desc(&mut mem, t, 3, Desc { addr: DATA, len: 1, flags: desc_flags::NEXT, next: 3 });
        g.publish(&mut mem, 3);
        assert_eq!(pop_err(&mut q, &mem), QueueError::Loop(3), "a descriptor naming itself");

        let (mut mem, mut q, mut g) = setup(8);
        for i in 0..8 {
            g.write_desc(&mut mem, t, i, Desc { addr: DATA, len: 1, flags: desc_flags::NEXT, next: (i + 1) % 8 });
        }
        g.publish(&mut mem, 5);
        assert_eq!(pop_err(&mut q, &mem), QueueError::Loop(5), "a cycle through the whole table");
    }

    #[test]
    fn limits_chain_length() {
        let (mut mem, mut q, mut g) = setup(256);
        let long: Vec<_> = (0..CHAIN_LEN_MAX as u64).map(|i| (DATA + i, 1, false)).collect();
        g.add_chain(&mut mem, &long);
        assert_eq!(q.pop(&mem).unwrap().unwrap().descriptors().len(), CHAIN_LEN_MAX);
        let too_long: Vec<_> = (0..=CHAIN_LEN_MAX as u64).map(|i| (DATA + i, 1, false)).collect();
        g.add_chain(&mut mem, &too_long);
        assert_eq!(pop_err(&mut q, &mem), QueueError::ChainTooLong);
    }

    #[test]
    fn rejects_bad_buffers() {
        let top = BASE + RAM as u64;
        let cases: [(Buffers, QueueError); 4] = [
            (&[(DATA, 4, true), (DATA, 4, false)], QueueError::ReadableAfterWritable),
            (&[(top - 4, 5, false)], QueueError::BufferOutsideMemory { addr: top - 4, len: 5 }),
            (&[(BASE - 1, 1, true)], QueueError::BufferOutsideMemory { addr: BASE - 1, len: 1 }),
            (&[(DATA, 1, false), (u64::MAX, 2, true)], QueueError::BufferOutsideMemory { addr: u64::MAX, len: 2 }),
        ];
        for (buffers, error) in cases {
            let (mut mem, mut q, mut g) = setup(8);
            g.add_chain(&mut mem, buffers);
            assert_eq!(pop_err(&mut q, &mem), error, "{buffers:x?}");
        }
        let (mut mem, mut q, mut g) = setup(8);
        g.add_chain(&mut mem, &[(top, 0, false), (DATA, 0, true)]);
        assert_eq!(q.pop(&mem).unwrap().unwrap().descriptors().len(), 2, "empty buffers are allowed, even at the top");
    }

    #[test]
    fn indirect_tables() {
        let table = DATA + 0x1000;
        let buffers = [(DATA, 16, false), (DATA + 16, 512, true), (DATA + 600, 1, true)];
        let (mut mem, mut q, mut g) = setup(8);
        g.add_indirect_chain(&mut mem, table, &buffers);
        assert_eq!(pop_err(&mut q, &mem), QueueError::IndirectNotNegotiated);

        let (mut mem, mut q, mut g) = setup(8);
        q.set_indirect(true);
        let head = g.add_indirect_chain(&mut mem, table, &buffers);
        let chain = q.pop(&mem).unwrap().unwrap();
        assert_eq!(chain.head(), head);
        assert_eq!((chain.readable().len(), chain.writable().len(), chain.writable_len()), (1, 2, 513));

        // Direct descriptors, then one naming a table (§2.7.5.3.2); its WRITE flag is ignored.
        let t = g.layout.desc;
        g.write_desc(&mut mem, t, 5, Desc { addr: DATA + 0x100, len: 8, flags: desc_flags::NEXT, next: 6 });
        let flags = desc_flags::INDIRECT | desc_flags::WRITE;
        g.write_desc(&mut mem, t, 6, Desc { addr: table, len: 48, flags, next: 0 });
        g.publish(&mut mem, 5);
        let chain = q.pop(&mem).unwrap().unwrap();
        assert_eq!((chain.head(), chain.readable().len(), chain.writable().len()), (5, 2, 2));

        let bad = |flags: u16, addr: u64, len: u32, error: QueueError| {
            let (mut mem, mut q, mut g) = setup(8);
            q.set_indirect(true);
            g.write_desc(&mut mem, g.layout.desc, 0, Desc { addr, len, flags, next: 1 });
            g.publish(&mut mem, 0);
            assert_eq!(pop_err(&mut q, &mem), error);
        };
        let indirect = desc_flags::INDIRECT;
        bad(indirect | desc_flags::NEXT, table, 32, QueueError::IndirectWithNext);
        bad(indirect, table, 0, QueueError::InvalidIndirectTable { len: 0 });
        bad(indirect, table, 17, QueueError::InvalidIndirectTable { len: 17 });
        bad(
            indirect,
            BASE + RAM as u64 - 16,
            32,
            QueueError::BufferOutsideMemory { addr: BASE + RAM as u64 - 16, len: 32 },
        );

        let inside = |entries: &[Desc], error: QueueError| {
            let (mut mem, mut q, mut g) = setup(8);
            q.set_indirect(true);
            for (i, &d) in entries.iter().enumerate() {
                g.write_desc(&mut mem, table, i as u16, d);
            }
            let len = 16 * entries.len() as u32;
            g.write_desc(&mut mem, g.layout.desc, 0, Desc { addr: table, len, flags: indirect, next: 0 });
            g.publish(&mut mem, 0);
            assert_eq!(pop_err(&mut q, &mem), error);
        };
        let next = desc_flags::NEXT;
        inside(&[Desc { addr: table, len: 16, flags: indirect, next: 0 }], QueueError::NestedIndirect);
        inside(&[Desc { addr: DATA, len: 1, flags: next, next: 1 }], QueueError::NextOutOfRange(1));
        inside(
            &[Desc { addr: DATA, len: 1, flags: next, next: 1 }, Desc { addr: DATA, len: 1, flags: next, next: 0 }],
            QueueError::Loop(0),
        );
        let writable_then_readable = [
            Desc { addr: DATA, len: 1, flags: next | desc_flags::WRITE, next: 1 },
            Desc { addr: DATA, len: 1, flags: 0, next: 0 },
        ];
        inside(&writable_then_readable, QueueError::ReadableAfterWritable);
        let long: Vec<_> =
            (0..=CHAIN_LEN_MAX as u16).map(|i| Desc { addr: DATA, len: 1, flags: next, next: i + 1 }).collect();
        inside(&long, QueueError::ChainTooLong);
    }

    #[test]
    fn budget_defers_the_rest() {
        let (mut mem, mut q, mut g) = setup(8);
        for _ in 0..3 {
            g.add_chain(&mut mem, &[(DATA, 1, true)]);
        }
        q.set_budget(2);
        assert!(q.pop(&mem).unwrap().is_some());
        assert!(q.pop(&mem).unwrap().is_some());
        assert!(!q.deferred());
        assert!(q.pop(&mem).unwrap().is_none());
        assert!(q.deferred());
        q.set_budget(2);
        assert!(!q.deferred());
        assert!(q.pop(&mem).unwrap().is_some());
        assert!(q.pop(&mem).unwrap().is_none());
        assert!(!q.deferred(), "out of chains, not of budget");
    }

    /// Three chains of 100 bytes under a 150-byte budget: the first two are served (the second crosses the limit
    /// and is served whole), the third waits for the next batch.
    #[test]
    fn byte_budget_defers_the_rest_after_the_chain_that_crosses_it() {
        let (mut mem, mut q, mut g) = setup(8);
        for _ in 0..3 {
            g.add_chain(&mut mem, &[(DATA, 100, true)]);
        }
        q.set_budgets(16, 150);
        assert!(q.pop(&mem).unwrap().is_some());
        assert!(q.pop(&mem).unwrap().is_some());
        assert!(q.pop(&mem).unwrap().is_none());
        assert!(q.deferred(), "out of bytes, not of chains");
        q.set_budgets(16, 150);
        assert!(q.pop(&mem).unwrap().is_some());
        assert!(q.pop(&mem).unwrap().is_none());
        assert!(!q.deferred());
    }

    #[test]
    fn interrupts_follow_no_interrupt_flag() {
        let (mut mem, mut q, mut g) = setup(8);
        assert_eq!(q.take_interrupt(&mem), Ok(false), "nothing used");
        let head = g.add_chain(&mut mem, &[(DATA, 1, true)]);
        q.pop(&mem).unwrap();
        q.add_used(&mut mem, head, 1).unwrap();
        assert_eq!(q.take_interrupt(&mem), Ok(true));
        assert_eq!(q.take_interrupt(&mem), Ok(false), "taken");
        g.set_avail_flags(&mut mem, VIRTQ_AVAIL_F_NO_INTERRUPT);
        let head = g.add_chain(&mut mem, &[(DATA, 1, true)]);
        q.pop(&mem).unwrap();
        q.add_used(&mut mem, head, 1).unwrap();
        assert_eq!(q.take_interrupt(&mem), Ok(false), "suppressed");
    }

    /// A memory that logs its accesses and fences, to check where the barriers fall.
    struct Logged<'a> {
        inner: &'a mut TestMemory,
        log: RefCell<Vec<(char, u64)>>,
    }

    impl GuestMemory for Logged<'_> {
        fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), MemError> {
            self.log.borrow_mut().push(('r', gpa));
            self.inner.read(gpa, buf)
        }
        fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), MemError> {
            self.log.borrow_mut().push(('w', gpa));
            self.inner.write(gpa, data)
        }
        fn check(&self, gpa: u64, len: u64) -> Result<(), MemError> {
            self.inner.check(gpa, len)
        }
        fn fence(&self, kind: Fence) {
            let c = match kind {
                Fence::Acquire => 'A',
                Fence::Release => 'R',
                Fence::Full => 'F',
            };
            self.log.borrow_mut().push((c, 0));
        }
    }

    #[test]
    fn barriers_sit_between_index_and_entries() {
        let (mut mem, mut q, mut g) = setup(8);
        let head = g.add_chain(&mut mem, &[(DATA, 1, true)]);
        let l = g.layout;
        let mut logged = Logged { inner: &mut mem, log: RefCell::new(Vec::new()) };
        q.pop(&logged).unwrap().unwrap();
        q.add_used(&mut logged, head, 1).unwrap();
        q.take_interrupt(&logged).unwrap();
        let log = logged.log.into_inner();
        let expected = [
            ('r', l.avail + 2), // avail.idx
            ('A', 0),
            ('r', l.avail + 4),                   // ring entry
            ('r', l.desc + 16 * u64::from(head)), // descriptor
            ('w', l.used + 4),                    // used element
            ('R', 0),
            ('w', l.used + 2), // used.idx
            ('F', 0),
            ('r', l.avail), // avail.flags
        ];
        assert_eq!(log, expected);
    }
}
