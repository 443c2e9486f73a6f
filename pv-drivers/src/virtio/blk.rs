//! virtio-blk (virtio 1.2 §5.2) over a [`BlockBackend`].
//!
//! A request is a chain: a 16-byte device-readable header (type, reserved, sector), then data (device-readable for
//! writes, device-writable for reads and GET_ID), then one device-writable status byte, the chain's last. The
//! device checks the whole request (direction, whole sectors, range on the disk, size limit, read-only) before
//! calling the backend, and answers what it cannot serve with VIRTIO_BLK_S_IOERR or _UNSUPP. Only a chain without
//! even a header or a status byte is an [`Error`], since there is no way to answer it.
//!
//! Work is bounded per batch *within* a request, not only between requests: the hypervisor serves a batch inside a
//! trap, and one request may carry ~3.9 MiB. A batch moves at most [`BYTES_PER_BATCH`] data bytes in at most the
//! backend's [`BlockBackend::transfers_per_batch`] calls; a request that does not fit stays in flight in the device
//! (see [`request`]) and the transport runs the next batch later ([`ProcessOutcome::more`]). One request is served at
//! a time, in the order the driver published them. A device reset, the driver disabling the queue, or a queue error
//! drops the request in flight: its chain is never used, and nothing more is written into its buffers.
//!
//! Data crosses between guest memory and the backend's own memory (see [`BlockBackend`]): the device holds no data
//! buffer, so it stays small, and guest memory is only reached through [`GuestMemory`] within the chain's checked
//! buffers.

mod backend;
pub mod request;

pub use backend::{BackendError, BlockBackend, RamDisk, Sink, Source};
pub use request::{Budget, BYTES_PER_BATCH, TRANSFER_MAX};

use self::request::Request;
use super::chain::CHAIN_LEN_MAX;
use super::device::{Device, Error, ProcessOutcome};
use super::memory::GuestMemory;
use super::queue::Queue;

/// Device ID of a block device (§5).
pub const VIRTIO_ID_BLOCK: u32 = 2;

/// Sector size of `capacity` and of the header's `sector`, whatever the backend's block size (§5.2.6).
pub const SECTOR_SIZE: usize = 512;

/// Most data segments in a request (`seg_max`): a chain also carries the header and the status byte.
pub const SEG_MAX: u32 = CHAIN_LEN_MAX as u32 - 2;

/// Largest data segment (`size_max`). Linux's block layer splits at 64 KiB by default anyway; advertising it
/// bounds a request to [`REQUEST_DATA_MAX`] bytes.
pub const SIZE_MAX: u32 = 64 * 1024;

/// Most data bytes a request may carry (`seg_max` × `size_max`); longer ones get IOERR.
pub const REQUEST_DATA_MAX: u32 = SEG_MAX * SIZE_MAX;

/// Length of the GET_ID answer (§5.2.6: 20 bytes, NUL-padded).
pub const ID_LEN: usize = 20;

/// Feature bits (§5.2.3).
pub mod features {
    pub const VIRTIO_BLK_F_SIZE_MAX: u64 = 1 << 1;
    pub const VIRTIO_BLK_F_SEG_MAX: u64 = 1 << 2;
    pub const VIRTIO_BLK_F_RO: u64 = 1 << 5;
    pub const VIRTIO_BLK_F_BLK_SIZE: u64 = 1 << 6;
    pub const VIRTIO_BLK_F_FLUSH: u64 = 1 << 9;
}

/// Request types (§5.2.6).
pub mod request_type {
    pub const VIRTIO_BLK_T_IN: u32 = 0;
    pub const VIRTIO_BLK_T_OUT: u32 = 1;
    pub const VIRTIO_BLK_T_FLUSH: u32 = 4;
    pub const VIRTIO_BLK_T_GET_ID: u32 = 8;
}

/// Status byte values (§5.2.6).
pub mod status {
    pub const VIRTIO_BLK_S_OK: u8 = 0;
    pub const VIRTIO_BLK_S_IOERR: u8 = 1;
    pub const VIRTIO_BLK_S_UNSUPP: u8 = 2;
}

/// Configuration space offsets (`struct virtio_blk_config`, §5.2.4) of the fields the features offered define.
pub mod config {
    pub const CAPACITY: usize = 0;
    pub const SIZE_MAX: usize = 8;
    pub const SEG_MAX: usize = 12;
    /// `geometry` (VIRTIO_BLK_F_GEOMETRY, not offered) sits at 16..20 and reads as zero.
    pub const BLK_SIZE: usize = 20;
    /// Bytes of configuration space: up to and including `blk_size`.
    pub const LEN: usize = 24;
}

/// Bytes of the request header.
const HEADER_LEN: usize = 16;

/// A virtio-blk device with one request queue.
pub struct VirtioBlk<B> {
    backend: B,
    id: [u8; ID_LEN],
    /// The request popped and not yet used, if a batch ran out of budget in the middle of it.
    in_flight: Option<Request>,
}

impl<B: BlockBackend> VirtioBlk<B> {
    /// A device over `backend`, answering GET_ID with an empty serial.
    pub fn new(backend: B) -> Self {
        Self { backend, id: [0; ID_LEN], in_flight: None }
    }

    /// Sets the serial GET_ID returns (at most 20 bytes, NUL-padded; longer ones are cut).
    pub fn with_id(mut self, id: &[u8]) -> Self {
        let len = id.len().min(ID_LEN);
        self.id = [0; ID_LEN];
        self.id[..len].copy_from_slice(&id[..len]);
        self
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// The head and data bytes moved so far of the request in flight, if one is (for tests and diagnostics).
    pub fn in_flight(&self) -> Option<(u16, u32)> {
        self.in_flight.as_ref().map(|r| (r.head(), r.done()))
    }

    fn config_bytes(&self) -> [u8; config::LEN] {
        let mut c = [0u8; config::LEN];
        c[config::CAPACITY..config::CAPACITY + 8].copy_from_slice(&self.backend.capacity_sectors().to_le_bytes());
        c[config::SIZE_MAX..config::SIZE_MAX + 4].copy_from_slice(&SIZE_MAX.to_le_bytes());
        c[config::SEG_MAX..config::SEG_MAX + 4].copy_from_slice(&SEG_MAX.to_le_bytes());
        c[config::BLK_SIZE..config::BLK_SIZE + 4].copy_from_slice(&(SECTOR_SIZE as u32).to_le_bytes());
        c
    }

    /// Checks `len` bytes at `sector`: whole sectors, within the request limit and on the disk.
    #[cfg(test)]
    fn check_range(&self, sector: u64, len: u32) -> bool {
        request::check_range(self.backend.capacity_sectors(), sector, len)
    }

    /// One batch: the request in flight first, then new chains, until the queue is empty or the budget spent.
    fn serve(
        &mut self,
        queue: &mut Queue,
        mem: &mut dyn GuestMemory,
        outcome: &mut ProcessOutcome,
    ) -> Result<(), Error> {
        let mut budget = Budget::for_batch(&self.backend);
        loop {
            let (mut request, chain) = match self.in_flight {
                Some(request) => (request, queue.chain(mem, request.head())?),
                None => {
                    // A chain popped now could not move a byte: leave it in the ring for the next batch.
                    if budget.spent() {
                        outcome.more = queue.has_available(mem)?;
                        return Ok(());
                    }
                    let Some(chain) = queue.pop(mem)? else { return Ok(()) };
                    (Request::start(&chain, &self.backend, mem)?, chain)
                }
            };
            let progress = request.advance(&chain, &mut self.backend, &self.id, &mut budget, mem);
            // Kept only while there is more of it to do: an error drops it (and the transport stops the queue).
            self.in_flight = None;
            let Some(used) = progress? else {
                self.in_flight = Some(request);
                outcome.more = true;
                return Ok(());
            };
            queue.add_used(mem, request.head(), used)?;
            outcome.completed += 1;
        }
    }
}

impl<B: BlockBackend> Device for VirtioBlk<B> {
    fn device_id(&self) -> u32 {
        VIRTIO_ID_BLOCK
    }

    fn features(&self) -> u64 {
        let ro = if self.backend.read_only() { features::VIRTIO_BLK_F_RO } else { 0 };
        features::VIRTIO_BLK_F_SIZE_MAX
            | features::VIRTIO_BLK_F_SEG_MAX
            | features::VIRTIO_BLK_F_BLK_SIZE
            | features::VIRTIO_BLK_F_FLUSH
            | ro
    }

    fn num_queues(&self) -> usize {
        1
    }

    fn read_config(&self, offset: u32, data: &mut [u8]) {
        let config = self.config_bytes();
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = (offset as usize).checked_add(i).and_then(|at| config.get(at)).copied().unwrap_or(0);
        }
    }

    /// `writeback` is writable only with VIRTIO_BLK_F_CONFIG_WCE, which is not offered: every field is read-only.
    fn write_config(&mut self, _offset: u32, _data: &[u8]) {}

    /// Serves one batch (see the module docs); `more` when a request is left in flight or chains wait.
    fn process(
        &mut self,
        queue_index: usize,
        queue: &mut Queue,
        mem: &mut dyn GuestMemory,
    ) -> Result<ProcessOutcome, Error> {
        let mut outcome = ProcessOutcome::default();
        if queue_index != 0 {
            return Ok(outcome);
        }
        // On an error the transport stops the queue (`queue_stopped`), which drops the request in flight.
        self.serve(queue, mem, &mut outcome).map(|()| outcome)
    }

    /// The request in flight belongs to the only queue: its chain is the driver's again, never used.
    fn queue_stopped(&mut self, _index: usize) {
        self.in_flight = None;
    }

    fn reset(&mut self) {
        self.in_flight = None;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::virtio::mmio::{features as transport, regs, status as dev_status, MmioTransport};
    use crate::virtio::queue::desc_flags;
    use crate::virtio::test_utils::{Buffers, Desc, GuestQueue, Layout, TestMemory};
    use crate::virtio::Effects;
    use std::vec::Vec;

    pub const BASE: u64 = 0x4000_0000;
    pub const RAM: usize = 0x40000;
    /// Request headers, data and status bytes go here (after the rings).
    pub const DATA: u64 = BASE + 0x10000;
    pub const SECTORS: usize = 32;

    pub type Blk<'a> = MmioTransport<VirtioBlk<RamDisk<'a>>>;

    /// Brings the device up as Linux does, accepting everything offered, with a queue of `size` at BASE.
    pub fn running<'a>(disk: &'a mut [u8], read_only: bool, size: u16, mem: &mut TestMemory) -> (Blk<'a>, GuestQueue) {
        running_with(RamDisk::new(disk, read_only), size, mem)
    }

    /// [`running`] over any backend.
    pub fn running_with<B: BlockBackend>(
        backend: B,
        size: u16,
        mem: &mut TestMemory,
    ) -> (MmioTransport<VirtioBlk<B>>, GuestQueue) {
        let mut t = MmioTransport::new(VirtioBlk::new(backend).with_id(b"hv-static disk 0"));
        let g = bring_up(&mut t, size, mem);
        (t, g)
    }

    /// Brings a device (new or just reset) up as Linux does, with a queue of `size` at BASE.
    pub fn bring_up<B: BlockBackend>(
        t: &mut MmioTransport<VirtioBlk<B>>,
        size: u16,
        mem: &mut TestMemory,
    ) -> GuestQueue {
        let offered = t.device_features();
        let mut set = |t: &mut MmioTransport<VirtioBlk<B>>, offset, value| {
            let _ = t.write(offset, 4, value, mem);
        };
        set(t, regs::STATUS, dev_status::ACKNOWLEDGE);
        set(t, regs::STATUS, dev_status::ACKNOWLEDGE | dev_status::DRIVER);
        set(t, regs::DRIVER_FEATURES_SEL, 1);
        set(t, regs::DRIVER_FEATURES, (offered >> 32) as u32);
        set(t, regs::DRIVER_FEATURES_SEL, 0);
        set(t, regs::DRIVER_FEATURES, offered as u32);
        set(t, regs::STATUS, dev_status::ACKNOWLEDGE | dev_status::DRIVER | dev_status::FEATURES_OK);
        let (layout, _) = Layout::packed(BASE, size);
        set(t, regs::QUEUE_SEL, 0);
        set(t, regs::QUEUE_NUM, u32::from(size));
        set(t, regs::QUEUE_DESC_LOW, layout.desc as u32);
        set(t, regs::QUEUE_DESC_HIGH, (layout.desc >> 32) as u32);
        set(t, regs::QUEUE_DRIVER_LOW, layout.avail as u32);
        set(t, regs::QUEUE_DRIVER_HIGH, (layout.avail >> 32) as u32);
        set(t, regs::QUEUE_DEVICE_LOW, layout.used as u32);
        set(t, regs::QUEUE_DEVICE_HIGH, (layout.used >> 32) as u32);
        set(t, regs::QUEUE_READY, 1);
        set(t, regs::STATUS, 0xF);
        assert_eq!(t.status(), 0xF);
        GuestQueue::new(layout)
    }

    pub fn header(mem: &mut TestMemory, at: u64, kind: u32, sector: u64) {
        mem.write_u32(at, kind).unwrap();
        mem.write_u32(at + 4, 0).unwrap();
        mem.write_u64(at + 8, sector).unwrap();
    }

    struct Disk {
        bytes: Vec<u8>,
    }

    impl Disk {
        fn new() -> Self {
            Self { bytes: (0..SECTORS * SECTOR_SIZE).map(|i| (i / SECTOR_SIZE) as u8).collect() }
        }
    }

    /// Sends one request whose buffers are `buffers` (header at DATA, status byte last) and returns its used
    /// element's length and status byte.
    fn request(t: &mut Blk<'_>, g: &mut GuestQueue, mem: &mut TestMemory, buffers: &[(u64, u32, bool)]) -> (u32, u8) {
        let head = g.add_chain(mem, buffers);
        let effects = t.write(regs::QUEUE_NOTIFY, 4, 0, mem);
        assert!(effects.interrupt);
        assert_eq!(t.status() & dev_status::DEVICE_NEEDS_RESET, 0, "{:?}", t.last_error());
        let used = g.take_used(mem);
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].0, u32::from(head));
        let &(addr, len, _) = buffers.last().unwrap();
        let mut status = [0];
        mem.read(addr + u64::from(len) - 1, &mut status).unwrap();
        (used[0].1, status[0])
    }

    const STATUS_AT: u64 = DATA + 0x8000;

    #[test]
    fn features_and_config_space() {
        let mut disk = Disk::new();
        let blk = VirtioBlk::new(RamDisk::new(&mut disk.bytes, false));
        use features::*;
        let expected = VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH;
        assert_eq!(blk.features(), expected);
        assert_eq!((blk.device_id(), blk.num_queues()), (2, 1));
        let t = MmioTransport::<_>::new(blk);
        let read = |offset: u64, size| t.read(regs::CONFIG + offset, size);
        assert_eq!((read(0, 4), read(4, 4)), (SECTORS as u32, 0), "capacity");
        assert_eq!(read(0, 1), SECTORS as u32);
        assert_eq!(read(8, 4), 65536, "size_max");
        assert_eq!(read(12, 4), CHAIN_LEN_MAX as u32 - 2, "seg_max");
        assert_eq!(read(16, 4), 0, "geometry (not offered)");
        assert_eq!(read(20, 4), 512, "blk_size");
        assert_eq!(read(20, 2), 512);
        assert_eq!(read(24, 4), 0, "beyond the fields offered");
        assert_eq!(read(0xEFC, 4), 0);

        let mut disk = Disk::new();
        let ro = VirtioBlk::new(RamDisk::new(&mut disk.bytes, true));
        assert_eq!(ro.features(), expected | VIRTIO_BLK_F_RO);
        assert_eq!(REQUEST_DATA_MAX, 62 * 65536);
    }

    #[test]
    fn write_then_read_back_across_odd_segments() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut disk = Disk::new();
        let (mut t, mut g) = running(&mut disk.bytes, false, 16, &mut mem);
        let payload: Vec<u8> = (0..1024u32).map(|i| (i * 7 + 3) as u8).collect();
        mem.write(DATA + 0x1000, &payload).unwrap();
        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_OUT, 5);
        // Header and data share a buffer; the data is split at odd places.
        mem.write(DATA + 0x100, &payload[..300]).unwrap();
        let out =
            [(DATA, 16, false), (DATA + 0x100, 300, false), (DATA + 0x1000 + 300, 724, false), (STATUS_AT, 1, true)];
        assert_eq!(request(&mut t, &mut g, &mut mem, &out), (1, status::VIRTIO_BLK_S_OK));

        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_IN, 4);
        let into = DATA + 0x3000;
        let inn = [(DATA, 16, false), (into, 100, true), (into + 100, 1436, true), (STATUS_AT, 1, true)];
        assert_eq!(request(&mut t, &mut g, &mut mem, &inn), (1537, status::VIRTIO_BLK_S_OK));
        let mut back = vec![0u8; 1536];
        mem.read(into, &mut back).unwrap();
        assert!(back[..512].iter().all(|&b| b == 4), "sector 4 untouched");
        assert_eq!(&back[512..], &payload[..]);
        assert_eq!(&disk.bytes[5 * 512..7 * 512], &payload[..]);
        assert!(disk.bytes[7 * 512..8 * 512].iter().all(|&b| b == 7));

        // The status byte may share the last writable buffer with data.
        let mut mem = TestMemory::new(BASE, RAM);
        let (mut t, mut g) = running(&mut disk.bytes, false, 16, &mut mem);
        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_IN, 9);
        assert_eq!(request(&mut t, &mut g, &mut mem, &[(DATA, 16, false), (into, 513, true)]), (513, 0));
        assert_eq!(mem.read_u32(into), Ok(0x0909_0909));
        assert_eq!(mem.violations(), 0);
    }

    #[test]
    fn read_only_disks_refuse_writes() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut disk = Disk::new();
        let (mut t, mut g) = running(&mut disk.bytes, true, 16, &mut mem);
        assert_ne!(t.driver_features() & features::VIRTIO_BLK_F_RO, 0);
        mem.write(DATA + 0x1000, &[0xEE; 512]).unwrap();
        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_OUT, 1);
        let out = [(DATA, 16, false), (DATA + 0x1000, 512, false), (STATUS_AT, 1, true)];
        assert_eq!(request(&mut t, &mut g, &mut mem, &out), (1, status::VIRTIO_BLK_S_IOERR));
        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_IN, 1);
        let inn = [(DATA, 16, false), (DATA + 0x1000, 512, true), (STATUS_AT, 1, true)];
        assert_eq!(request(&mut t, &mut g, &mut mem, &inn), (513, status::VIRTIO_BLK_S_OK));
        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_FLUSH, 0);
        assert_eq!(request(&mut t, &mut g, &mut mem, &[(DATA, 16, false), (STATUS_AT, 1, true)]), (1, 0));
        assert_eq!(disk.bytes, Disk::new().bytes);
    }

    #[test]
    fn requests_outside_the_disk_fail() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut disk = Disk::new();
        let (mut t, mut g) = running(&mut disk.bytes, false, 16, &mut mem);
        let buf = DATA + 0x1000;
        let cases = [
            (request_type::VIRTIO_BLK_T_IN, SECTORS as u64, 512),
            (request_type::VIRTIO_BLK_T_IN, SECTORS as u64 - 1, 1024),
            (request_type::VIRTIO_BLK_T_IN, u64::MAX, 512),
            (request_type::VIRTIO_BLK_T_IN, 0, 100),
            (request_type::VIRTIO_BLK_T_OUT, SECTORS as u64, 512),
            (request_type::VIRTIO_BLK_T_OUT, u64::MAX - 1, 1024),
            (request_type::VIRTIO_BLK_T_OUT, 3, 513),
        ];
        for (kind, sector, len) in cases {
            header(&mut mem, DATA, kind, sector);
            mem.write_u8_fill(buf, 0x77, len as usize);
            let writable = kind == request_type::VIRTIO_BLK_T_IN;
            let chain = [(DATA, 16, false), (buf, len, writable), (STATUS_AT, 1, true)];
            let (used, status) = request(&mut t, &mut g, &mut mem, &chain);
            assert_eq!((used, status), (1, status::VIRTIO_BLK_S_IOERR), "{kind} at {sector:#x}, {len}");
            assert!(mem.read_u32(buf).unwrap() == 0x7777_7777, "nothing written into the data buffer");
        }
        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_IN, SECTORS as u64);
        assert_eq!(request(&mut t, &mut g, &mut mem, &[(DATA, 16, false), (STATUS_AT, 1, true)]), (1, 0), "empty");
        assert_eq!(disk.bytes, Disk::new().bytes);
        assert!(!VirtioBlk::new(RamDisk::new(&mut [0; 0], false)).check_range(0, REQUEST_DATA_MAX + 512));
    }

    #[test]
    fn flush_get_id_and_unsupported_requests() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut disk = Disk::new();
        let (mut t, mut g) = running(&mut disk.bytes, false, 16, &mut mem);
        let hdr = (DATA, 16, false);
        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_FLUSH, 0);
        assert_eq!(request(&mut t, &mut g, &mut mem, &[hdr, (STATUS_AT, 1, true)]), (1, status::VIRTIO_BLK_S_OK));

        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_GET_ID, 0);
        let id = DATA + 0x1000;
        mem.write_u8_fill(id, 0xFF, 20);
        assert_eq!(request(&mut t, &mut g, &mut mem, &[hdr, (id, 20, true), (STATUS_AT, 1, true)]), (21, 0));
        let mut got = [0u8; 20];
        mem.read(id, &mut got).unwrap();
        assert_eq!(&got, b"hv-static disk 0\0\0\0\0");
        assert_eq!(request(&mut t, &mut g, &mut mem, &[hdr, (id, 8, true), (STATUS_AT, 1, true)]), (9, 0), "short");

        for kind in [11, 13, 2, 0xFFFF_FFFF] {
            header(&mut mem, DATA, kind, 0);
            let (used, status) = request(&mut t, &mut g, &mut mem, &[hdr, (id, 512, true), (STATUS_AT, 1, true)]);
            assert_eq!((used, status), (1, status::VIRTIO_BLK_S_UNSUPP), "type {kind}");
        }
    }

    #[test]
    fn unanswerable_requests_need_reset() {
        let cases: [(Buffers, &str); 3] = [
            (&[(DATA, 16, false), (DATA + 0x100, 512, false)], "without a status byte"),
            (&[(DATA, 8, false), (STATUS_AT, 1, true)], "without a 16-byte header"),
            (&[(STATUS_AT, 17, true)], "without a 16-byte header"),
        ];
        for (chain, why) in cases {
            let mut mem = TestMemory::new(BASE, RAM);
            let mut disk = Disk::new();
            let (mut t, mut g) = running(&mut disk.bytes, false, 16, &mut mem);
            header(&mut mem, DATA, request_type::VIRTIO_BLK_T_OUT, 0);
            g.add_chain(&mut mem, chain);
            let effects = t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem);
            assert!(effects.interrupt, "config change");
            assert_ne!(t.status() & dev_status::DEVICE_NEEDS_RESET, 0);
            assert!(matches!(t.last_error(), Some(Error::Malformed(m)) if m.ends_with(why)), "{:?}", t.last_error());
            assert!(g.take_used(&mem).is_empty());
        }

        // A queue-level error (a looping chain) inside blk, and an indirect chain that works.
        let mut mem = TestMemory::new(BASE, RAM);
        let mut disk = Disk::new();
        let (mut t, mut g) = running(&mut disk.bytes, false, 16, &mut mem);
        assert_ne!(t.driver_features() & transport::VIRTIO_F_INDIRECT_DESC, 0);
        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_IN, 2);
        g.add_indirect_chain(
            &mut mem,
            DATA + 0x2000,
            &[(DATA, 16, false), (DATA + 0x1000, 512, true), (STATUS_AT, 1, true)],
        );
        let _ = t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem);
        assert_eq!(g.take_used(&mem), vec![(0, 513)]);
        let flags = desc_flags::NEXT;
        g.write_desc(&mut mem, g.layout.desc, 1, Desc { addr: DATA, len: 16, flags, next: 2 });
        g.write_desc(
            &mut mem,
            g.layout.desc,
            2,
            Desc { addr: STATUS_AT, len: 1, flags: flags | desc_flags::WRITE, next: 1 },
        );
        g.publish(&mut mem, 1);
        let _ = t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem);
        assert_eq!(t.last_error(), Some(Error::Queue(crate::virtio::QueueError::Loop(1))));
        assert_eq!(mem.violations(), 0);
    }

    /// Guest RAM for maximal requests: rings and header as usual, then 62 segments of 64 KiB from [`SEGMENTS`].
    const BIG_RAM: usize = 0x48_0000;
    const SEGMENTS: u64 = BASE + 0x8_0000;
    /// Where the maximal requests start on the disk (not at 0, so a sector offset mistake shows).
    const BIG_SECTOR: u64 = 3;
    const NOT_YET: u8 = 0xEE;

    type Metered<'a> = crate::virtio::test_utils::Metered<RamDisk<'a>>;
    type Big<'a> = MmioTransport<VirtioBlk<Metered<'a>>>;

    /// A disk with room for a maximal request at [`BIG_SECTOR`].
    fn big_disk() -> Vec<u8> {
        vec![0u8; (BIG_SECTOR as usize + 8) * SECTOR_SIZE + REQUEST_DATA_MAX as usize]
    }

    /// A maximal request's buffers: the header, 62 segments of 64 KiB laid out in a scrambled order (so the data
    /// crosses from one segment to a far one), the status byte.
    fn maximal_chain(writable: bool) -> Vec<(u64, u32, bool)> {
        let mut chain = vec![(DATA, 16, false)];
        for i in 0..u64::from(SEG_MAX) {
            let slot = (i * 37) % u64::from(SEG_MAX);
            chain.push((SEGMENTS + slot * u64::from(SIZE_MAX), SIZE_MAX, writable));
        }
        chain.push((STATUS_AT, 1, true));
        chain
    }

    /// Byte `i` of the maximal request's data.
    fn big_byte(i: usize) -> u8 {
        (i as u32).wrapping_mul(0x9E37_79B1).rotate_right(13) as u8
    }

    /// The request's data as the guest's segments hold it, in request order.
    fn segments_of(mem: &TestMemory, chain: &[(u64, u32, bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(addr, len, _) in &chain[1..chain.len() - 1] {
            let mut piece = vec![0; len as usize];
            mem.read(addr, &mut piece).unwrap();
            out.extend(piece);
        }
        out
    }

    fn fill_segments(mem: &mut TestMemory, chain: &[(u64, u32, bool)], byte: impl Fn(usize) -> u8) {
        let mut at = 0;
        for &(addr, len, _) in &chain[1..chain.len() - 1] {
            let piece: Vec<u8> = (at..at + len as usize).map(&byte).collect();
            mem.write(addr, &piece).unwrap();
            at += len as usize;
        }
    }

    /// Publishes a maximal request and runs batches until it is used, checking every batch against the budget:
    /// data bytes, backend calls and their size; no used element, no status byte and no interrupt before the
    /// last. Returns the number of batches and the used element.
    fn serve_in_batches(
        t: &mut Big<'_>,
        g: &mut GuestQueue,
        mem: &mut TestMemory,
        chain: &[(u64, u32, bool)],
    ) -> (usize, (u32, u32)) {
        mem.write(STATUS_AT, &[NOT_YET]).unwrap();
        let _ = t.write(regs::INTERRUPT_ACK, 4, 3, mem);
        let head = g.add_chain(mem, chain);
        let (calls_max, call_len_max) = {
            let b = t.device().backend();
            (b.transfers_per_batch as usize, b.transfer_max.min(TRANSFER_MAX))
        };
        let mut batches = 0;
        let mut effects = t.write(regs::QUEUE_NOTIFY, 4, 0, mem);
        loop {
            batches += 1;
            let b = t.device().backend();
            let (calls, bytes) = (b.calls, b.bytes);
            assert!(bytes <= u64::from(BYTES_PER_BATCH), "batch {batches} moved {bytes} bytes");
            assert!(calls <= calls_max, "batch {batches} made {calls} backend calls");
            assert!(b.largest <= call_len_max, "batch {batches}: a call of {} bytes", b.largest);
            t.device_mut().backend_mut().calls = 0;
            t.device_mut().backend_mut().bytes = 0;
            assert_eq!(t.status() & dev_status::DEVICE_NEEDS_RESET, 0, "{:?}", t.last_error());
            if !effects.more_work {
                break;
            }
            assert!(!effects.interrupt, "batch {batches}: interrupt before the request completed");
            assert!(g.take_used(mem).is_empty(), "batch {batches}: used before it completed");
            assert_eq!(mem.read_u32(STATUS_AT).unwrap() as u8, NOT_YET, "batch {batches}: status written early");
            assert_eq!(t.device().in_flight().map(|(h, _)| h), Some(head));
            effects = t.run_pending(mem);
        }
        assert!(effects.interrupt);
        let used = g.take_used(mem);
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].0, u32::from(head));
        assert_eq!(t.device().in_flight(), None);
        (batches, used[0])
    }

    #[test]
    fn maximal_requests_complete_byte_exact_over_bounded_batches() {
        let data = REQUEST_DATA_MAX as usize;
        // (bytes per backend call, calls per batch): the device's defaults, then as hv-static's board disk asks,
        // then small odd limits.
        for (transfer_max, transfers) in [(usize::MAX, u32::MAX), (TRANSFER_MAX, 4), (1024 + 100, 3)] {
            let per_batch =
                (BYTES_PER_BATCH as usize).min(transfers as usize * (transfer_max.min(TRANSFER_MAX) / 512 * 512));
            let expected_batches = data.div_ceil(per_batch);
            let mut mem = TestMemory::new(BASE, BIG_RAM);
            let mut bytes = big_disk();
            let backend = Metered::limited(RamDisk::new(&mut bytes, false), transfer_max, transfers);
            let (mut t, mut g) = running_with(backend, 64, &mut mem);

            let out = maximal_chain(false);
            fill_segments(&mut mem, &out, big_byte);
            header(&mut mem, DATA, request_type::VIRTIO_BLK_T_OUT, BIG_SECTOR);
            let (batches, (_, used)) = serve_in_batches(&mut t, &mut g, &mut mem, &out);
            assert_eq!((batches, used), (expected_batches, 1), "write, {transfer_max} x {transfers}");
            assert_eq!(mem.read_u32(STATUS_AT).unwrap() as u8, status::VIRTIO_BLK_S_OK);

            let inn = maximal_chain(true);
            fill_segments(&mut mem, &inn, |_| 0xCC);
            header(&mut mem, DATA, request_type::VIRTIO_BLK_T_IN, BIG_SECTOR);
            let (batches, (_, used)) = serve_in_batches(&mut t, &mut g, &mut mem, &inn);
            assert_eq!((batches, used), (expected_batches, REQUEST_DATA_MAX + 1), "read, {transfer_max} x {transfers}");
            assert_eq!(mem.read_u32(STATUS_AT).unwrap() as u8, status::VIRTIO_BLK_S_OK);
            let back = segments_of(&mem, &inn);
            assert!(back.iter().enumerate().all(|(i, &b)| b == big_byte(i)), "read back what was written");
            assert_eq!(mem.violations(), 0);
            let start = BIG_SECTOR as usize * SECTOR_SIZE;
            assert!(bytes[..start].iter().all(|&b| b == 0));
            assert!(bytes[start..start + data].iter().enumerate().all(|(i, &b)| b == big_byte(i)));
            assert!(bytes[start + data..].iter().all(|&b| b == 0));
        }
    }

    /// A driver rewriting an in-flight request between batches (see `request`'s docs): the header and the
    /// available ring are not read again; buffers moved with their lengths kept are followed; a length changed, or
    /// a chain that no longer validates, needs a reset. Never an access outside guest RAM.
    #[test]
    fn rewriting_an_in_flight_request() {
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum Rewrite {
            HeaderAndAvailRing,
            MoveSegments,
            ChangeALength,
            PointOutside,
        }
        use Rewrite::*;
        for (rewrite, write) in [HeaderAndAvailRing, MoveSegments, ChangeALength, PointOutside]
            .into_iter()
            .flat_map(|r| [(r, true), (r, false)])
        {
            let what = format!("{rewrite:?}, {}", if write { "write" } else { "read" });
            let mut mem = TestMemory::new(BASE, BIG_RAM);
            let mut bytes = big_disk();
            let start = BIG_SECTOR as usize * SECTOR_SIZE;
            for (i, b) in bytes[start..].iter_mut().enumerate() {
                *b = big_byte(i) ^ 0xFF;
            }
            let (mut t, mut g) = running_with(Metered::new(RamDisk::new(&mut bytes, false)), 64, &mut mem);
            let chain = maximal_chain(!write);
            if write {
                fill_segments(&mut mem, &chain, big_byte);
            } else {
                fill_segments(&mut mem, &chain, |_| 0xCC);
            }
            let kind = if write { request_type::VIRTIO_BLK_T_OUT } else { request_type::VIRTIO_BLK_T_IN };
            header(&mut mem, DATA, kind, BIG_SECTOR);
            mem.write(STATUS_AT, &[NOT_YET]).unwrap();
            let head = g.add_chain(&mut mem, &chain);
            assert!(t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem).more_work);
            assert_eq!(t.device().in_flight(), Some((head, BYTES_PER_BATCH)));

            // Descriptor `1 + k` is data segment `k`; the first one is done, the second one not yet started.
            let desc = |i: u16| g.layout.desc + 16 * u64::from(i);
            let moved_to = SEGMENTS + u64::from(SEG_MAX) * u64::from(SIZE_MAX);
            match rewrite {
                HeaderAndAvailRing => {
                    header(&mut mem, DATA, request_type::VIRTIO_BLK_T_GET_ID, u64::MAX);
                    mem.write_u16(g.layout.avail + 4, 63).unwrap();
                }
                MoveSegments => {
                    // Segment 1 now lives past the others (its data, for a write, moved with it).
                    let mut piece = vec![0; SIZE_MAX as usize];
                    mem.read(chain[2].0, &mut piece).unwrap();
                    mem.write(moved_to, &piece).unwrap();
                    mem.write(chain[2].0, &vec![0x11; SIZE_MAX as usize]).unwrap();
                    mem.write_u64(desc(2), moved_to).unwrap();
                }
                ChangeALength => mem.write_u32(desc(5) + 8, SIZE_MAX - 512).unwrap(),
                PointOutside => mem.write_u64(desc(7), BASE + BIG_RAM as u64 - 0x100).unwrap(),
            }
            let mut effects = t.run_pending(&mut mem);
            while effects.more_work {
                effects = t.run_pending(&mut mem);
            }
            assert_eq!(mem.violations(), 0, "{what}");
            assert!(mem.guards_intact());
            if matches!(rewrite, ChangeALength | PointOutside) {
                assert_ne!(t.status() & dev_status::DEVICE_NEEDS_RESET, 0, "{what}");
                assert_eq!(t.device().in_flight(), None);
                assert!(g.take_used(&mem).is_empty(), "{what}");
                assert_eq!(mem.read_u32(STATUS_AT).unwrap() as u8, NOT_YET);
                continue;
            }
            assert_eq!(t.status(), 0xF, "{what}: {:?}", t.last_error());
            let used = g.take_used(&mem);
            assert_eq!(used, vec![(u32::from(head), if write { 1 } else { REQUEST_DATA_MAX + 1 })], "{what}");
            assert_eq!(mem.read_u32(STATUS_AT).unwrap() as u8, status::VIRTIO_BLK_S_OK);
            let mut moved = chain.clone();
            if rewrite == MoveSegments {
                moved[2].0 = moved_to;
            }
            if !write {
                let back = segments_of(&mem, &moved);
                assert!(back.iter().enumerate().all(|(i, &b)| b == big_byte(i) ^ 0xFF), "{what}");
            }
            let expect = |i| if write { big_byte(i) } else { big_byte(i) ^ 0xFF };
            assert!(
                bytes[start..start + REQUEST_DATA_MAX as usize].iter().enumerate().all(|(i, &b)| b == expect(i)),
                "{what}"
            );
        }
    }

    /// A reset or the queue disabled mid-request: the request is dropped, its buffers and status byte are never
    /// written again, and (after a reset) the device works anew.
    #[test]
    fn reset_or_queue_disable_drops_the_request_in_flight() {
        for reset in [true, false] {
            let mut mem = TestMemory::new(BASE, BIG_RAM);
            let mut bytes = big_disk();
            let (mut t, mut g) = running_with(Metered::new(RamDisk::new(&mut bytes, false)), 64, &mut mem);
            let chain = maximal_chain(true);
            fill_segments(&mut mem, &chain, |_| 0xCC);
            header(&mut mem, DATA, request_type::VIRTIO_BLK_T_IN, BIG_SECTOR);
            mem.write(STATUS_AT, &[NOT_YET]).unwrap();
            g.add_chain(&mut mem, &chain);
            assert!(t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem).more_work);
            assert!(t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem).more_work, "a second notification: one more batch");
            assert_eq!(t.device().in_flight().map(|(_, done)| done), Some(2 * BYTES_PER_BATCH));
            if reset {
                let _ = t.write(regs::STATUS, 4, 0, &mut mem);
            } else {
                let _ = t.write(regs::QUEUE_SEL, 4, 0, &mut mem);
                let _ = t.write(regs::QUEUE_READY, 4, 0, &mut mem);
            }
            assert_eq!(t.device().in_flight(), None);
            let before = segments_of(&mem, &chain);
            let calls = t.device().backend().calls;
            assert_eq!(t.run_pending(&mut mem), Effects::default());
            let _ = t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem);
            assert_eq!(t.run_pending(&mut mem), Effects::default());
            assert_eq!(t.device().backend().calls, calls, "nothing served after the drop");
            assert_eq!(segments_of(&mem, &chain), before);
            assert_eq!(mem.read_u32(STATUS_AT).unwrap() as u8, NOT_YET);
            assert!(g.take_used(&mem).is_empty());
            if reset {
                // The driver starts over on zeroed rings: a small read completes.
                mem.write(BASE, &vec![0; 0x2000]).unwrap();
                let mut g = bring_up(&mut t, 64, &mut mem);
                header(&mut mem, DATA, request_type::VIRTIO_BLK_T_IN, 0);
                let inn = [(DATA, 16, false), (DATA + 0x1000, 512, true), (STATUS_AT, 1, true)];
                let head = g.add_chain(&mut mem, &inn);
                assert!(t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem).interrupt);
                assert_eq!(g.take_used(&mem), vec![(u32::from(head), 513)]);
            }
            assert_eq!(mem.violations(), 0);
        }
    }

    #[test]
    fn a_backend_failure_mid_request_ends_it_with_ioerr() {
        let mut mem = TestMemory::new(BASE, BIG_RAM);
        let mut bytes = big_disk();
        let mut backend = Metered::new(RamDisk::new(&mut bytes, false));
        // The 26th transfer of 8 sectors reaches the failing sector; 25 of them completed.
        backend.fail_from = Some(BIG_SECTOR + 200);
        let (mut t, mut g) = running_with(backend, 64, &mut mem);
        let chain = maximal_chain(true);
        fill_segments(&mut mem, &chain, |_| 0xCC);
        header(&mut mem, DATA, request_type::VIRTIO_BLK_T_IN, BIG_SECTOR);
        let (batches, (_, used)) = serve_in_batches(&mut t, &mut g, &mut mem, &chain);
        let done = 25 * TRANSFER_MAX;
        assert_eq!((batches, used), ((done + TRANSFER_MAX).div_ceil(BYTES_PER_BATCH as usize), done as u32 + 1));
        assert_eq!(mem.read_u32(STATUS_AT).unwrap() as u8, status::VIRTIO_BLK_S_IOERR);
        let back = segments_of(&mem, &chain);
        assert!(back[..done].iter().all(|&b| b == 0) && back[done..].iter().all(|&b| b == 0xCC));
        assert_eq!(t.status(), 0xF);
    }
}
