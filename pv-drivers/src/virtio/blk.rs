//! virtio-blk (virtio 1.2 §5.2) over a [`BlockBackend`].
//!
//! A request is a chain: a 16-byte device-readable header (type, reserved, sector), then data (device-readable for
//! writes, device-writable for reads and GET_ID), then one device-writable status byte, the chain's last. The
//! device checks the whole request (direction, whole sectors, range on the disk, size limit, read-only) before
//! calling the backend, and answers what it cannot serve with VIRTIO_BLK_S_IOERR or _UNSUPP. Only a chain without
//! even a header or a status byte is an [`Error`], since there is no way to answer it.
//!
//! Data moves through a one-sector bounce buffer on the stack: the backend never sees guest memory, and guest
//! memory is only reached through [`GuestMemory`] within the chain's checked buffers.

mod backend;

pub use backend::{BackendError, BlockBackend, RamDisk};

use super::chain::{ChainReader, ChainWriter, DescriptorChain, CHAIN_LEN_MAX};
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
}

impl<B: BlockBackend> VirtioBlk<B> {
    /// A device over `backend`, answering GET_ID with an empty serial.
    pub fn new(backend: B) -> Self {
        Self { backend, id: [0; ID_LEN] }
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

    fn config_bytes(&self) -> [u8; config::LEN] {
        let mut c = [0u8; config::LEN];
        c[config::CAPACITY..config::CAPACITY + 8].copy_from_slice(&self.backend.capacity_sectors().to_le_bytes());
        c[config::SIZE_MAX..config::SIZE_MAX + 4].copy_from_slice(&SIZE_MAX.to_le_bytes());
        c[config::SEG_MAX..config::SEG_MAX + 4].copy_from_slice(&SEG_MAX.to_le_bytes());
        c[config::BLK_SIZE..config::BLK_SIZE + 4].copy_from_slice(&(SECTOR_SIZE as u32).to_le_bytes());
        c
    }

    /// Serves one request and writes its status; returns the used length (bytes written, status included).
    fn handle(&mut self, chain: &DescriptorChain, mem: &mut dyn GuestMemory) -> Result<u32, Error> {
        if (chain.readable_len() as usize) < HEADER_LEN {
            return Err(Error::Malformed("virtio-blk request without a 16-byte header"));
        }
        if chain.writable_len() == 0 {
            return Err(Error::Malformed("virtio-blk request without a status byte"));
        }
        let mut reader = chain.reader();
        let mut header = [0u8; HEADER_LEN];
        reader.read(mem, &mut header)?;
        let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let sector = u64::from_le_bytes([
            header[8], header[9], header[10], header[11], header[12], header[13], header[14], header[15],
        ]);
        let mut writer = chain.writer();
        // The data room is everything writable but the last byte, which is the status.
        let room = writer.remaining() - 1;
        let status = match kind {
            request_type::VIRTIO_BLK_T_IN => self.read_sectors(sector, room, &mut writer, mem)?,
            request_type::VIRTIO_BLK_T_OUT => self.write_sectors(sector, &mut reader, mem)?,
            request_type::VIRTIO_BLK_T_FLUSH => match self.backend.flush() {
                Ok(()) => status::VIRTIO_BLK_S_OK,
                Err(_) => status::VIRTIO_BLK_S_IOERR,
            },
            request_type::VIRTIO_BLK_T_GET_ID => {
                let len = (room as usize).min(ID_LEN);
                writer.write(mem, &self.id[..len])?;
                status::VIRTIO_BLK_S_OK
            }
            _ => status::VIRTIO_BLK_S_UNSUPP,
        };
        writer.skip(writer.remaining() as usize - 1)?;
        writer.write(mem, &[status])?;
        Ok(writer.written())
    }

    /// Checks `len` bytes at `sector`: whole sectors, within the request limit and on the disk.
    fn check_range(&self, sector: u64, len: u32) -> bool {
        len.is_multiple_of(SECTOR_SIZE as u32)
            && len <= REQUEST_DATA_MAX
            && sector
                .checked_add(u64::from(len) / SECTOR_SIZE as u64)
                .is_some_and(|end| end <= self.backend.capacity_sectors())
    }

    /// VIRTIO_BLK_T_IN: the whole data room is read from the disk.
    fn read_sectors(
        &mut self,
        sector: u64,
        len: u32,
        writer: &mut ChainWriter<'_>,
        mem: &mut dyn GuestMemory,
    ) -> Result<u8, Error> {
        if !self.check_range(sector, len) {
            return Ok(status::VIRTIO_BLK_S_IOERR);
        }
        let mut buf = [0u8; SECTOR_SIZE];
        for i in 0..u64::from(len) / SECTOR_SIZE as u64 {
            if self.backend.read(sector + i, &mut buf).is_err() {
                return Ok(status::VIRTIO_BLK_S_IOERR);
            }
            writer.write(mem, &buf)?;
        }
        Ok(status::VIRTIO_BLK_S_OK)
    }

    /// VIRTIO_BLK_T_OUT: everything readable after the header is written to the disk.
    fn write_sectors(
        &mut self,
        sector: u64,
        reader: &mut ChainReader<'_>,
        mem: &mut dyn GuestMemory,
    ) -> Result<u8, Error> {
        // A driver that negotiated VIRTIO_BLK_F_RO does not write (§5.2.6.1); one that does gets IOERR.
        if self.backend.read_only() || !self.check_range(sector, reader.remaining()) {
            return Ok(status::VIRTIO_BLK_S_IOERR);
        }
        let mut buf = [0u8; SECTOR_SIZE];
        for i in 0..u64::from(reader.remaining()) / SECTOR_SIZE as u64 {
            reader.read(mem, &mut buf)?;
            if self.backend.write(sector + i, &buf).is_err() {
                return Ok(status::VIRTIO_BLK_S_IOERR);
            }
        }
        Ok(status::VIRTIO_BLK_S_OK)
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
        while let Some(chain) = queue.pop(mem)? {
            let used = self.handle(&chain, mem)?;
            queue.add_used(mem, chain.head(), used)?;
            outcome.completed += 1;
        }
        Ok(outcome)
    }

    fn reset(&mut self) {}
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::virtio::mmio::{features as transport, regs, status as dev_status, MmioTransport};
    use crate::virtio::queue::desc_flags;
    use crate::virtio::test_utils::{Buffers, Desc, GuestQueue, Layout, TestMemory};
    use std::vec::Vec;

    pub const BASE: u64 = 0x4000_0000;
    pub const RAM: usize = 0x40000;
    /// Request headers, data and status bytes go here (after the rings).
    pub const DATA: u64 = BASE + 0x10000;
    pub const SECTORS: usize = 32;

    pub type Blk<'a> = MmioTransport<VirtioBlk<RamDisk<'a>>>;

    /// Brings the device up as Linux does, accepting everything offered, with a queue of `size` at BASE.
    pub fn running<'a>(disk: &'a mut [u8], read_only: bool, size: u16, mem: &mut TestMemory) -> (Blk<'a>, GuestQueue) {
        let mut t = Blk::new(VirtioBlk::new(RamDisk::new(disk, read_only)).with_id(b"hv-static disk 0"));
        let offered = t.device_features();
        let mut set = |t: &mut Blk<'a>, offset, value| {
            let _ = t.write(offset, 4, value, mem);
        };
        set(&mut t, regs::STATUS, dev_status::ACKNOWLEDGE);
        set(&mut t, regs::STATUS, dev_status::ACKNOWLEDGE | dev_status::DRIVER);
        set(&mut t, regs::DRIVER_FEATURES_SEL, 1);
        set(&mut t, regs::DRIVER_FEATURES, (offered >> 32) as u32);
        set(&mut t, regs::DRIVER_FEATURES_SEL, 0);
        set(&mut t, regs::DRIVER_FEATURES, offered as u32);
        set(&mut t, regs::STATUS, dev_status::ACKNOWLEDGE | dev_status::DRIVER | dev_status::FEATURES_OK);
        let (layout, _) = Layout::packed(BASE, size);
        set(&mut t, regs::QUEUE_SEL, 0);
        set(&mut t, regs::QUEUE_NUM, u32::from(size));
        set(&mut t, regs::QUEUE_DESC_LOW, layout.desc as u32);
        set(&mut t, regs::QUEUE_DESC_HIGH, (layout.desc >> 32) as u32);
        set(&mut t, regs::QUEUE_DRIVER_LOW, layout.avail as u32);
        set(&mut t, regs::QUEUE_DRIVER_HIGH, (layout.avail >> 32) as u32);
        set(&mut t, regs::QUEUE_DEVICE_LOW, layout.used as u32);
        set(&mut t, regs::QUEUE_DEVICE_HIGH, (layout.used >> 32) as u32);
        set(&mut t, regs::QUEUE_READY, 1);
        set(&mut t, regs::STATUS, 0xF);
        assert_eq!(t.status(), 0xF);
        (t, GuestQueue::new(layout))
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
}
