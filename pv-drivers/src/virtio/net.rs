//! virtio-net (virtio 1.2 §5.1): one receive queue and one transmit queue, between a partition's driver and a
//! [`NetPort`] of hv-static's virtual switch ([`crate::net`]).
//!
//! The device offers the least a Linux driver needs to run at full MTU: its MAC, its MTU (1500) and a link status
//! that is always up. No checksum or segmentation offload, no mergeable receive buffers, no control queue: every
//! frame is a plain Ethernet frame of at most [`FRAME_MAX`] bytes in one chain, which keeps the device a copy loop
//! and keeps the switch from ever seeing a frame it would have to segment or checksum for a partition.
//!
//! Every chain starts with a 12-byte `virtio_net_hdr` (VERSION_1 makes `num_buffers` part of it even without
//! VIRTIO_NET_F_MRG_RXBUF, §5.1.6), anywhere across the chain's buffers (VERSION_1 implies ANY_LAYOUT). What the
//! device does with what the driver gives it:
//! - A chain it cannot even account for (a transmit chain with device-writable buffers or shorter than the header,
//!   a receive chain with device-readable buffers or no room for the header) is an [`Error`]: the transport puts
//!   the device in DEVICE_NEEDS_RESET, as virtio-blk does with a request without a status byte.
//! - A frame it will not carry (too short or too long, or asking for an offload that was not offered) is dropped,
//!   counted in [`NetStats`], and its chain returned: the driver goes on.
//!
//! Receiving never loses a frame for want of a buffer: the device takes a frame from its port only once it holds a
//! receive chain to put it in, so frames wait in the port (the hypervisor's per-port inbox) until the driver posts
//! buffers. The hypervisor announces new frames with [`MmioTransport::kick`](super::mmio::MmioTransport::kick) on
//! [`RX_QUEUE`]; the driver's own notification of that queue, when it adds buffers, drains waiting frames too.
//!
//! Frames move through a [`FRAME_MAX`]-byte buffer on the stack: the port never sees guest memory.

use super::chain::DescriptorChain;
use super::device::{Device, Error, ProcessOutcome};
use super::memory::GuestMemory;
use super::queue::Queue;

pub use crate::net::{Mac, FRAME_MAX, FRAME_MIN};

/// Device ID of a network device (§5).
pub const VIRTIO_ID_NET: u32 = 1;

/// receiveq1: buffers the driver posts for incoming frames.
pub const RX_QUEUE: usize = 0;
/// transmitq1: frames the driver sends.
pub const TX_QUEUE: usize = 1;

/// The MTU offered: the largest payload a frame carries, so frames are at most [`FRAME_MAX`] bytes.
pub const MTU: u16 = 1500;

/// Bytes of `struct virtio_net_hdr` with VERSION_1 (§5.1.6): flags, gso_type, hdr_len, gso_size, csum_start,
/// csum_offset, num_buffers.
pub const HEADER_LEN: usize = 12;

/// Feature bits (§5.1.3).
pub mod features {
    /// `mtu` in the configuration space is valid.
    pub const VIRTIO_NET_F_MTU: u64 = 1 << 3;
    /// `mac` in the configuration space is valid: the driver uses it rather than a random address.
    pub const VIRTIO_NET_F_MAC: u64 = 1 << 5;
    /// `status` in the configuration space is valid.
    pub const VIRTIO_NET_F_STATUS: u64 = 1 << 16;
}

/// `status` bits (§5.1.4).
pub const VIRTIO_NET_S_LINK_UP: u16 = 1;

/// Configuration space offsets (`struct virtio_net_config`, §5.1.4).
pub mod config {
    pub const MAC: usize = 0;
    pub const STATUS: usize = 6;
    /// Meaningful only with VIRTIO_NET_F_MQ or _RSS (neither offered); reads as 1, the one pair there is.
    pub const MAX_VIRTQUEUE_PAIRS: usize = 8;
    pub const MTU: usize = 10;
    /// Bytes of configuration space: up to and including `mtu`.
    pub const LEN: usize = 12;
}

/// `virtio_net_hdr` values (§5.1.6).
pub mod hdr {
    /// `flags`: the driver asks the device to complete a checksum (needs VIRTIO_NET_F_CSUM).
    pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
    /// `gso_type`: no segmentation offload.
    pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
    /// Offset of `num_buffers`, the one field a receive header sets (to 1, as there are no mergeable buffers).
    pub const NUM_BUFFERS: usize = 10;
}

/// The device's side of a switch port.
///
/// Implementations must keep `has_rx` and `receive` consistent: when `has_rx` is true, the next `receive` returns a
/// frame. The device asks `has_rx` before it takes a receive chain, and a chain once taken must be returned to the
/// driver; a `receive` that then finds nothing leaves the device returning that chain empty (counted as
/// [`NetStats::rx_spurious`]).
pub trait NetPort {
    /// Hands a frame the partition transmitted (14 to [`FRAME_MAX`] bytes, no FCS) to the switch.
    fn transmit(&mut self, frame: &[u8]);

    /// Takes the next frame waiting for this port into `buf`; returns its length, or `None` if none is waiting.
    fn receive(&mut self, buf: &mut [u8; FRAME_MAX]) -> Option<usize>;

    /// Whether a frame is waiting for this port.
    fn has_rx(&self) -> bool;
}

/// Running totals of what the device carried and dropped, for the hypervisor's diagnostics. Reset does not clear
/// them: they describe the port, not one session of the driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Frames handed to the port.
    pub tx_frames: u64,
    /// Transmitted frames dropped for their length (below [`FRAME_MIN`] or above [`FRAME_MAX`]).
    pub tx_dropped_size: u64,
    /// Transmitted frames dropped because their header asks for a checksum or segmentation offload.
    pub tx_dropped_offload: u64,
    /// Frames written into receive buffers.
    pub rx_frames: u64,
    /// Frames taken from the port and dropped because the receive chain they met was too small for them.
    pub rx_dropped_too_small: u64,
    /// Receive chains returned empty because the port said it had a frame and then had none (a [`NetPort`] bug).
    pub rx_spurious: u64,
}

/// A virtio-net device with MAC address `mac` on switch port `P`.
pub struct VirtioNet<P> {
    mac: Mac,
    port: P,
    /// Features the driver accepted at DRIVER_OK (0 until then and after reset).
    negotiated: u64,
    stats: NetStats,
}

impl<P: NetPort> VirtioNet<P> {
    /// A device offering `mac` (a unicast address, which the system configuration assigns) on `port`.
    pub fn new(mac: Mac, port: P) -> Self {
        Self { mac, port, negotiated: 0, stats: NetStats::default() }
    }

    pub fn mac(&self) -> Mac {
        self.mac
    }

    pub fn port(&self) -> &P {
        &self.port
    }

    pub fn port_mut(&mut self) -> &mut P {
        &mut self.port
    }

    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Features the driver accepted (device and transport bits), once it set DRIVER_OK.
    pub fn negotiated_features(&self) -> u64 {
        self.negotiated
    }

    fn config_bytes(&self) -> [u8; config::LEN] {
        let mut c = [0u8; config::LEN];
        c[config::MAC..config::MAC + 6].copy_from_slice(&self.mac);
        c[config::STATUS..config::STATUS + 2].copy_from_slice(&VIRTIO_NET_S_LINK_UP.to_le_bytes());
        c[config::MAX_VIRTQUEUE_PAIRS..config::MAX_VIRTQUEUE_PAIRS + 2].copy_from_slice(&1u16.to_le_bytes());
        c[config::MTU..config::MTU + 2].copy_from_slice(&MTU.to_le_bytes());
        c
    }

    /// Transmits every chain the queue gives up (its budget bounds them). Used length is 0: the device writes
    /// nothing into a transmit chain.
    fn process_tx(&mut self, queue: &mut Queue, mem: &mut dyn GuestMemory) -> Result<ProcessOutcome, Error> {
        let mut outcome = ProcessOutcome::default();
        let mut frame = [0u8; FRAME_MAX];
        while let Some(chain) = queue.pop(mem)? {
            self.transmit(&chain, mem, &mut frame)?;
            queue.add_used(mem, chain.head(), 0)?;
            outcome.completed += 1;
        }
        Ok(outcome)
    }

    fn transmit(
        &mut self,
        chain: &DescriptorChain,
        mem: &mut dyn GuestMemory,
        frame: &mut [u8; FRAME_MAX],
    ) -> Result<(), Error> {
        if !chain.writable().is_empty() {
            return Err(Error::Malformed("virtio-net transmit chain with a device-writable buffer"));
        }
        if (chain.readable_len() as usize) < HEADER_LEN {
            return Err(Error::Malformed("virtio-net transmit chain shorter than the 12-byte header"));
        }
        let mut reader = chain.reader();
        let mut header = [0u8; HEADER_LEN];
        reader.read(mem, &mut header)?;
        let len = reader.remaining() as usize;
        if !(FRAME_MIN..=FRAME_MAX).contains(&len) {
            self.stats.tx_dropped_size += 1;
            return Ok(());
        }
        // Neither VIRTIO_NET_F_CSUM nor any HOST_* GSO feature was offered, so a driver may not ask for them
        // (§5.1.6.2); one that does anyway would have the switch carry a frame with a wrong checksum or larger
        // than the MTU. Its frame goes, the device stays.
        if header[0] != 0 || header[1] != hdr::VIRTIO_NET_HDR_GSO_NONE {
            self.stats.tx_dropped_offload += 1;
            return Ok(());
        }
        let frame = &mut frame[..len];
        reader.read(mem, frame)?;
        self.port.transmit(frame);
        self.stats.tx_frames += 1;
        Ok(())
    }

    /// Fills receive chains while the port has frames and the queue has chains (its budget bounds them). The port
    /// is asked first so that no chain is taken for nothing; a chain is checked before a frame is taken for it, so
    /// that a malformed chain does not cost a frame.
    fn process_rx(&mut self, queue: &mut Queue, mem: &mut dyn GuestMemory) -> Result<ProcessOutcome, Error> {
        let mut outcome = ProcessOutcome::default();
        let mut frame = [0u8; FRAME_MAX];
        while self.port.has_rx() {
            let Some(chain) = queue.pop(mem)? else { break };
            let used = self.receive(&chain, mem, &mut frame)?;
            queue.add_used(mem, chain.head(), used)?;
            outcome.completed += 1;
        }
        Ok(outcome)
    }

    /// Writes the next frame into `chain`; returns the used length (header and frame, or 0 if dropped).
    fn receive(
        &mut self,
        chain: &DescriptorChain,
        mem: &mut dyn GuestMemory,
        frame: &mut [u8; FRAME_MAX],
    ) -> Result<u32, Error> {
        if !chain.readable().is_empty() {
            return Err(Error::Malformed("virtio-net receive chain with a device-readable buffer"));
        }
        if (chain.writable_len() as usize) < HEADER_LEN {
            return Err(Error::Malformed("virtio-net receive chain shorter than the 12-byte header"));
        }
        // A port returning a length beyond its buffer breaks its contract like one returning nothing.
        let Some(frame) = self.port.receive(frame).and_then(|len| frame.get(..len)) else {
            self.stats.rx_spurious += 1;
            return Ok(0);
        };
        // Linux posts 12 + 1518 bytes per buffer without MRG_RXBUF, so this is a driver posting odd buffers; the
        // frame cannot wait for a better one without stalling every frame behind it.
        if HEADER_LEN + frame.len() > chain.writable_len() as usize {
            self.stats.rx_dropped_too_small += 1;
            return Ok(0);
        }
        let mut header = [0u8; HEADER_LEN];
        header[hdr::NUM_BUFFERS..hdr::NUM_BUFFERS + 2].copy_from_slice(&1u16.to_le_bytes());
        let mut writer = chain.writer();
        writer.write(mem, &header)?;
        writer.write(mem, frame)?;
        self.stats.rx_frames += 1;
        Ok(writer.written())
    }
}

impl<P: NetPort> Device for VirtioNet<P> {
    fn device_id(&self) -> u32 {
        VIRTIO_ID_NET
    }

    fn features(&self) -> u64 {
        features::VIRTIO_NET_F_MTU | features::VIRTIO_NET_F_MAC | features::VIRTIO_NET_F_STATUS
    }

    fn num_queues(&self) -> usize {
        2
    }

    fn read_config(&self, offset: u32, data: &mut [u8]) {
        let config = self.config_bytes();
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = (offset as usize).checked_add(i).and_then(|at| config.get(at)).copied().unwrap_or(0);
        }
    }

    /// With VERSION_1 every field is read-only for the driver (`mac` was writable only in legacy devices).
    fn write_config(&mut self, _offset: u32, _data: &[u8]) {}

    fn activate(&mut self, features: u64) -> Result<(), Error> {
        self.negotiated = features;
        Ok(())
    }

    fn process(
        &mut self,
        queue_index: usize,
        queue: &mut Queue,
        mem: &mut dyn GuestMemory,
    ) -> Result<ProcessOutcome, Error> {
        match queue_index {
            RX_QUEUE => self.process_rx(queue, mem),
            TX_QUEUE => self.process_tx(queue, mem),
            _ => Ok(ProcessOutcome::default()),
        }
    }

    /// Keeps the port and its waiting frames: whether they survive a partition's driver restarting is the
    /// hypervisor's choice (it owns the inbox), not the device's.
    fn reset(&mut self) {
        self.negotiated = 0;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::virtio::mmio::{features as transport, regs, status as dev_status, Effects, MmioTransport};
    use crate::virtio::test_utils::{Buffers, GuestQueue, Layout, TestMemory};
    use std::collections::VecDeque;
    use std::vec::Vec;

    pub const BASE: u64 = 0x4000_0000;
    pub const RAM: usize = 0x40000;
    /// Where the receive queue's rings go; the transmit queue's follow at [`TX_RINGS`].
    pub const RX_RINGS: u64 = BASE;
    pub const TX_RINGS: u64 = BASE + 0x4000;
    /// Frames and receive buffers go here (after the rings).
    pub const DATA: u64 = BASE + 0x10000;
    pub const MAC: Mac = [0x02, 0x48, 0x56, 0x53, 0x54, 0x01];

    /// A port that records what it is given and hands out what a test put in its inbox.
    #[derive(Default)]
    pub struct TestPort {
        pub inbox: VecDeque<Vec<u8>>,
        pub sent: Vec<Vec<u8>>,
        /// Break the contract: claim a frame while the inbox is empty.
        pub lie: bool,
        /// Break the contract: report this length instead of the frame's.
        pub bad_len: Option<usize>,
        pub receives: usize,
    }

    impl NetPort for TestPort {
        fn transmit(&mut self, frame: &[u8]) {
            self.sent.push(frame.to_vec());
        }
        fn receive(&mut self, buf: &mut [u8; FRAME_MAX]) -> Option<usize> {
            self.receives += 1;
            let f = self.inbox.pop_front()?;
            buf[..f.len()].copy_from_slice(&f);
            Some(self.bad_len.unwrap_or(f.len()))
        }
        fn has_rx(&self) -> bool {
            self.lie || !self.inbox.is_empty()
        }
    }

    pub type Net = MmioTransport<VirtioNet<TestPort>, 2>;

    fn set<P: NetPort>(t: &mut MmioTransport<VirtioNet<P>, 2>, mem: &mut TestMemory, offset: u64, value: u32) {
        let _ = t.write(offset, 4, value, mem);
    }

    /// Brings `t` up as Linux does, accepting `accept`, with both queues of `size` entries; returns the driver's
    /// side of the receive and transmit queues.
    pub fn bring_up<P: NetPort>(
        t: &mut MmioTransport<VirtioNet<P>, 2>,
        mem: &mut TestMemory,
        accept: u64,
        size: u16,
    ) -> (GuestQueue, GuestQueue) {
        set(t, mem, regs::STATUS, 0);
        set(t, mem, regs::STATUS, dev_status::ACKNOWLEDGE);
        set(t, mem, regs::STATUS, dev_status::ACKNOWLEDGE | dev_status::DRIVER);
        set(t, mem, regs::DRIVER_FEATURES_SEL, 1);
        set(t, mem, regs::DRIVER_FEATURES, (accept >> 32) as u32);
        set(t, mem, regs::DRIVER_FEATURES_SEL, 0);
        set(t, mem, regs::DRIVER_FEATURES, accept as u32);
        set(t, mem, regs::STATUS, dev_status::ACKNOWLEDGE | dev_status::DRIVER | dev_status::FEATURES_OK);
        let mut guests = [RX_RINGS, TX_RINGS].map(|at| {
            let (layout, _) = Layout::packed(at, size);
            GuestQueue::new(layout)
        });
        for (index, g) in guests.iter_mut().enumerate() {
            set(t, mem, regs::QUEUE_SEL, index as u32);
            set(t, mem, regs::QUEUE_NUM, u32::from(size));
            let l = g.layout;
            for (low, addr) in
                [(regs::QUEUE_DESC_LOW, l.desc), (regs::QUEUE_DRIVER_LOW, l.avail), (regs::QUEUE_DEVICE_LOW, l.used)]
            {
                set(t, mem, low, addr as u32);
                set(t, mem, low + 4, (addr >> 32) as u32);
            }
            set(t, mem, regs::QUEUE_READY, 1);
        }
        set(t, mem, regs::STATUS, 0xF);
        assert_eq!(t.status(), 0xF);
        let [rx, tx] = guests;
        (rx, tx)
    }

    /// A device brought up with everything offered, queues of 64.
    pub fn running(mem: &mut TestMemory) -> (Net, GuestQueue, GuestQueue) {
        let mut t = Net::new(VirtioNet::new(MAC, TestPort::default()));
        let offered = t.device_features();
        let (rx, tx) = bring_up(&mut t, mem, offered, 64);
        (t, rx, tx)
    }

    /// An Ethernet frame of `len` bytes from MAC to broadcast, with a recognisable payload.
    pub fn frame(len: usize, seed: u8) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)).collect();
        let head = [[0xFF; 6], MAC].concat();
        let n = head.len().min(len);
        f[..n].copy_from_slice(&head[..n]);
        f
    }

    /// `bytes` written at `at` and cut into buffers at the offsets `cuts` (sorted, inside `bytes`).
    pub fn buffers(at: u64, len: usize, cuts: &[usize], writable: bool) -> Vec<(u64, u32, bool)> {
        let mut out = Vec::new();
        let mut start = 0;
        for &end in cuts.iter().chain([&len]) {
            out.push((at + start as u64, (end - start) as u32, writable));
            start = end;
        }
        out
    }

    /// Publishes a transmit chain of `header` + `frame` at `at`, cut at `cuts`.
    pub fn post_tx(g: &mut GuestQueue, mem: &mut TestMemory, at: u64, header: [u8; 12], f: &[u8], cuts: &[usize]) {
        mem.write(at, &header).unwrap();
        mem.write(at + HEADER_LEN as u64, f).unwrap();
        g.add_chain(mem, &buffers(at, HEADER_LEN + f.len(), cuts, false));
    }

    /// Publishes a receive chain of `len` bytes at `at` (filled with 0xEE), cut at `cuts`.
    pub fn post_rx(g: &mut GuestQueue, mem: &mut TestMemory, at: u64, len: usize, cuts: &[usize]) -> u16 {
        mem.write_u8_fill(at, 0xEE, len);
        g.add_chain(mem, &buffers(at, len, cuts, true))
    }

    fn notify(t: &mut Net, mem: &mut TestMemory, queue: usize) -> Effects {
        t.write(regs::QUEUE_NOTIFY, 4, queue as u32, mem)
    }

    fn healthy(t: &Net) {
        assert_eq!(t.status() & dev_status::DEVICE_NEEDS_RESET, 0, "{:?}", t.last_error());
    }

    fn read(mem: &TestMemory, at: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        mem.read(at, &mut v).unwrap();
        v
    }

    const NO_HEADER: [u8; 12] = [0; 12];
    /// Room Linux gives each receive buffer without MRG_RXBUF: header plus a VLAN-tagged 1500-byte frame.
    const LINUX_RX: usize = HEADER_LEN + 1518;

    #[test]
    fn features_and_config_space() {
        let net = VirtioNet::new(MAC, TestPort::default());
        use features::*;
        assert_eq!(net.features(), VIRTIO_NET_F_MTU | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS);
        assert_eq!(net.features(), 1 << 3 | 1 << 5 | 1 << 16);
        assert_eq!((net.device_id(), net.num_queues(), net.mac()), (1, 2, MAC));
        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Net::new(net);
        assert_eq!(t.read(regs::DEVICE_ID, 4), 1);
        let read = |t: &Net, offset: u64, size| t.read(regs::CONFIG + offset, size);
        assert_eq!(read(&t, 0, 4), u32::from_le_bytes([0x02, 0x48, 0x56, 0x53]), "mac");
        assert_eq!(read(&t, 4, 2), u32::from(u16::from_le_bytes([0x54, 0x01])));
        assert_eq!((read(&t, 4, 1), read(&t, 5, 1)), (0x54, 0x01));
        assert_eq!(read(&t, 6, 2), 1, "status: link up");
        assert_eq!(read(&t, 8, 2), 1, "max_virtqueue_pairs");
        assert_eq!(read(&t, 10, 2), 1500, "mtu");
        assert_eq!(read(&t, 8, 4), 1500 << 16 | 1);
        assert_eq!(read(&t, 12, 4), 0, "speed and beyond: not offered");
        assert_eq!(read(&t, 0xEFC, 4), 0);
        let _ = t.write(regs::CONFIG, 4, 0xFFFF_FFFF, &mut mem);
        let _ = t.write(regs::CONFIG + 6, 2, 0, &mut mem);
        assert_eq!((read(&t, 0, 4), read(&t, 6, 2)), (u32::from_le_bytes([0x02, 0x48, 0x56, 0x53]), 1), "read-only");
        let offered = t.device_features();
        assert_eq!(offered & transport::VIRTIO_F_VERSION_1, transport::VIRTIO_F_VERSION_1);
        bring_up(&mut t, &mut mem, offered, 64);
        assert_eq!(t.device().negotiated_features(), offered);
        for (index, max) in [(0, 256), (1, 256), (2, 0)] {
            set(&mut t, &mut mem, regs::QUEUE_SEL, index);
            assert_eq!(t.read(regs::QUEUE_NUM_MAX, 4), max, "queue {index}");
        }
    }

    #[test]
    fn transmits_frames_split_anywhere() {
        let mut mem = TestMemory::new(BASE, RAM);
        let (mut t, _, mut tx) = running(&mut mem);
        let frames = [frame(FRAME_MIN, 1), frame(60, 2), frame(FRAME_MAX, 3), frame(1000, 4)];
        let cuts: [&[usize]; 4] = [&[], &[5, 12, 13], &[12], &[1, 2, 11, 12, 500]];
        for (i, (f, cuts)) in frames.iter().zip(cuts).enumerate() {
            post_tx(&mut tx, &mut mem, DATA + 0x1000 * i as u64, NO_HEADER, f, cuts);
        }
        // Fields that only mean something with offloads are ignored.
        let mut header = NO_HEADER;
        header[2..12].copy_from_slice(&[0x11; 10]);
        post_tx(&mut tx, &mut mem, DATA + 0x5000, header, &frames[1], &[]);
        assert_eq!(notify(&mut t, &mut mem, TX_QUEUE), Effects { interrupt: true, more_work: false });
        healthy(&t);
        assert_eq!(tx.take_used(&mem), vec![(0, 0), (1, 0), (5, 0), (7, 0), (13, 0)]);
        let sent = &t.device().port().sent;
        assert_eq!(sent.len(), 5);
        assert_eq!(&sent[..4], &frames[..]);
        assert_eq!(sent[4], frames[1]);
        let stats = t.device().stats();
        assert_eq!(stats, NetStats { tx_frames: 5, ..NetStats::default() });
        assert_eq!(mem.violations(), 0);
    }

    #[test]
    fn transmit_drops_what_it_will_not_carry() {
        let mut mem = TestMemory::new(BASE, RAM);
        let (mut t, _, mut tx) = running(&mut mem);
        for (i, len) in [0, 1, FRAME_MIN - 1, FRAME_MAX + 1, 4000].into_iter().enumerate() {
            post_tx(&mut tx, &mut mem, DATA + 0x2000 * i as u64, NO_HEADER, &frame(len, 0), &[]);
        }
        let offloads = [(1, 0), (2, 0), (4, 0), (0x80, 0), (0, 1), (0, 3), (0, 4), (0, 5), (0, 0x81), (1, 1)];
        for (i, (flags, gso)) in offloads.into_iter().enumerate() {
            let mut header = NO_HEADER;
            header[0] = flags;
            header[1] = gso;
            post_tx(&mut tx, &mut mem, DATA + 0x10000 + 0x800 * i as u64, header, &frame(100, 0), &[]);
        }
        let _ = notify(&mut t, &mut mem, TX_QUEUE);
        healthy(&t);
        let used = tx.take_used(&mem);
        assert_eq!(used.len(), 15, "every chain comes back");
        assert!(used.iter().all(|&(_, len)| len == 0));
        assert!(t.device().port().sent.is_empty());
        let stats = t.device().stats();
        assert_eq!((stats.tx_dropped_size, stats.tx_dropped_offload, stats.tx_frames), (5, 10, 0));

        // The driver goes on afterwards.
        post_tx(&mut tx, &mut mem, DATA, NO_HEADER, &frame(64, 9), &[]);
        let _ = notify(&mut t, &mut mem, TX_QUEUE);
        assert_eq!(t.device().port().sent, vec![frame(64, 9)]);
    }

    #[test]
    fn malformed_transmit_chains_need_reset() {
        let f = frame(60, 0);
        let cases: [(Buffers, &str); 4] = [
            (&[(DATA, 72, false), (DATA + 0x1000, 1, true)], "with a device-writable buffer"),
            (&[(DATA, 72, false), (DATA + 0x1000, 0, true)], "with a device-writable buffer"),
            (&[(DATA + 0x1000, 72, true)], "with a device-writable buffer"),
            (&[(DATA, 5, false), (DATA + 5, 6, false)], "shorter than the 12-byte header"),
        ];
        for (chain, why) in cases {
            let mut mem = TestMemory::new(BASE, RAM);
            let (mut t, _, mut tx) = running(&mut mem);
            mem.write(DATA + 12, &f).unwrap();
            tx.add_chain(&mut mem, chain);
            let effects = notify(&mut t, &mut mem, TX_QUEUE);
            assert!(effects.interrupt, "configuration change");
            assert_ne!(t.status() & dev_status::DEVICE_NEEDS_RESET, 0);
            assert!(matches!(t.last_error(), Some(Error::Malformed(m)) if m.ends_with(why)), "{:?}", t.last_error());
            assert!(tx.take_used(&mem).is_empty());
            assert!(t.device().port().sent.is_empty());
        }
    }

    #[test]
    fn receives_into_posted_buffers_of_any_layout() {
        let mut mem = TestMemory::new(BASE, RAM);
        let (mut t, mut rx, _) = running(&mut mem);
        let frames = [frame(60, 1), frame(FRAME_MAX, 2), frame(FRAME_MIN, 3), frame(333, 4)];
        let layouts: [(usize, &[usize]); 4] =
            [(LINUX_RX, &[]), (LINUX_RX, &[12]), (HEADER_LEN + FRAME_MIN, &[4, 12, 13]), (2048, &[3, 100, 101])];
        let mut heads = Vec::new();
        for (i, &(len, cuts)) in layouts.iter().enumerate() {
            heads.push(post_rx(&mut rx, &mut mem, DATA + 0x1000 * i as u64, len, cuts));
        }
        assert_eq!(notify(&mut t, &mut mem, RX_QUEUE), Effects::default(), "no frames: buffers wait");
        assert_eq!(rx.take_used(&mem), vec![]);
        t.device_mut().port_mut().inbox.extend(frames.iter().cloned());
        assert_eq!(t.kick(RX_QUEUE, &mut mem), Effects { interrupt: true, more_work: false });
        healthy(&t);
        let used = rx.take_used(&mem);
        assert_eq!(used.len(), 4);
        for (i, f) in frames.iter().enumerate() {
            let at = DATA + 0x1000 * i as u64;
            assert_eq!(used[i], (u32::from(heads[i]), (HEADER_LEN + f.len()) as u32));
            assert_eq!(read(&mem, at, HEADER_LEN), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], "num_buffers = 1");
            assert_eq!(&read(&mem, at + HEADER_LEN as u64, f.len()), f);
            let end = at + (HEADER_LEN + f.len()) as u64;
            let rest = layouts[i].0 - HEADER_LEN - f.len();
            assert!(read(&mem, end, rest).iter().all(|&b| b == 0xEE), "nothing written past the frame");
        }
        assert_eq!(t.device().stats(), NetStats { rx_frames: 4, ..NetStats::default() });
        assert_eq!(mem.violations(), 0);
    }

    #[test]
    fn frames_wait_in_the_port_for_buffers() {
        let mut mem = TestMemory::new(BASE, RAM);
        let (mut t, mut rx, _) = running(&mut mem);
        t.device_mut().port_mut().inbox.extend([frame(60, 1), frame(61, 2), frame(62, 3)]);
        assert_eq!(t.kick(RX_QUEUE, &mut mem), Effects::default(), "no buffers: nothing to do");
        assert_eq!((t.device().port().inbox.len(), t.device().port().receives), (3, 0), "no frame taken");
        post_rx(&mut rx, &mut mem, DATA, LINUX_RX, &[]);
        post_rx(&mut rx, &mut mem, DATA + 0x1000, LINUX_RX, &[]);
        // The driver adding buffers is enough: it notifies the queue.
        assert_eq!(notify(&mut t, &mut mem, RX_QUEUE), Effects { interrupt: true, more_work: false });
        assert_eq!(rx.take_used(&mem), vec![(0, 72), (1, 73)]);
        assert_eq!(t.device().port().inbox.len(), 1);
        assert!(!t.kick(RX_QUEUE, &mut mem).more_work);
        assert_eq!(t.device().port().inbox.len(), 1);
        post_rx(&mut rx, &mut mem, DATA, LINUX_RX, &[]);
        let _ = notify(&mut t, &mut mem, RX_QUEUE);
        assert_eq!(rx.take_used(&mem), vec![(2, 74)]);
        assert_eq!(&read(&mem, DATA + 12, 62), &frame(62, 3));
        assert_eq!(t.device().port().receives, 3, "exactly one receive per frame");
        assert_eq!(t.device().stats().rx_frames, 3);
        // Buffers left over wait for the next frames.
        post_rx(&mut rx, &mut mem, DATA, LINUX_RX, &[]);
        let _ = notify(&mut t, &mut mem, RX_QUEUE);
        assert_eq!(t.queue(RX_QUEUE).unwrap().next_avail(), 3, "no chain taken without a frame");
        t.device_mut().port_mut().inbox.push_back(frame(100, 4));
        assert!(t.kick(RX_QUEUE, &mut mem).interrupt);
        assert_eq!(rx.take_used(&mem), vec![(3, 112)]);
    }

    #[test]
    fn frames_too_big_for_their_buffer_are_dropped() {
        let mut mem = TestMemory::new(BASE, RAM);
        let (mut t, mut rx, _) = running(&mut mem);
        post_rx(&mut rx, &mut mem, DATA, HEADER_LEN + 59, &[12]);
        post_rx(&mut rx, &mut mem, DATA + 0x1000, HEADER_LEN + 60, &[30]);
        post_rx(&mut rx, &mut mem, DATA + 0x2000, HEADER_LEN, &[]);
        post_rx(&mut rx, &mut mem, DATA + 0x3000, HEADER_LEN + FRAME_MIN, &[]);
        t.device_mut().port_mut().inbox.extend([frame(60, 1), frame(60, 2), frame(FRAME_MIN, 3), frame(FRAME_MIN, 4)]);
        let _ = t.kick(RX_QUEUE, &mut mem);
        healthy(&t);
        assert_eq!(rx.take_used(&mem), vec![(0, 0), (2, 72), (4, 0), (5, 26)], "heads are descriptor indices");
        assert!(read(&mem, DATA, HEADER_LEN + 59).iter().all(|&b| b == 0xEE), "untouched");
        assert_eq!(&read(&mem, DATA + 0x1000 + 12, 60), &frame(60, 2));
        assert_eq!(&read(&mem, DATA + 0x3000 + 12, FRAME_MIN), &frame(FRAME_MIN, 4));
        let stats = t.device().stats();
        assert_eq!((stats.rx_frames, stats.rx_dropped_too_small), (2, 2));
        assert!(t.device().port().inbox.is_empty());
    }

    #[test]
    fn malformed_receive_chains_need_reset_and_cost_no_frame() {
        let cases: [(Buffers, &str); 4] = [
            (&[(DATA, 12, false), (DATA + 0x1000, LINUX_RX as u32, true)], "with a device-readable buffer"),
            (&[(DATA, 0, false), (DATA + 0x1000, LINUX_RX as u32, true)], "with a device-readable buffer"),
            (&[(DATA, 11, true)], "shorter than the 12-byte header"),
            (&[(DATA, 6, true), (DATA + 6, 0, true), (DATA + 6, 5, true)], "shorter than the 12-byte header"),
        ];
        for (chain, why) in cases {
            let mut mem = TestMemory::new(BASE, RAM);
            let (mut t, mut rx, _) = running(&mut mem);
            post_rx(&mut rx, &mut mem, DATA + 0x3000, LINUX_RX, &[]);
            rx.add_chain(&mut mem, chain);
            t.device_mut().port_mut().inbox.extend([frame(60, 1), frame(60, 2)]);
            let effects = t.kick(RX_QUEUE, &mut mem);
            assert!(effects.interrupt);
            assert_ne!(t.status() & dev_status::DEVICE_NEEDS_RESET, 0);
            assert!(matches!(t.last_error(), Some(Error::Malformed(m)) if m.ends_with(why)), "{:?}", t.last_error());
            assert_eq!(rx.take_used(&mem), vec![(0, 72)], "the good chain before it was used");
            assert_eq!(t.device().port().inbox, [frame(60, 2)], "the second frame stays in the port");
        }
    }

    #[test]
    fn receiving_is_bounded_per_kick() {
        let mut mem = TestMemory::new(BASE, RAM);
        let (mut t, mut rx, _) = running(&mut mem);
        let n = CHAINS + 4;
        for i in 0..n {
            post_rx(&mut rx, &mut mem, DATA + 0x800 * i as u64, 2048, &[]);
            t.device_mut().port_mut().inbox.push_back(frame(100, i as u8));
        }
        assert_eq!(t.kick(RX_QUEUE, &mut mem), Effects { interrupt: true, more_work: true });
        assert_eq!(rx.take_used(&mem).len(), CHAINS);
        assert_eq!(t.run_pending(&mut mem), Effects { interrupt: true, more_work: false });
        assert_eq!(rx.take_used(&mem).len(), 4);
        assert!(t.device().port().inbox.is_empty());
        for i in 0..n {
            assert_eq!(&read(&mem, DATA + 0x800 * i as u64 + 12, 100), &frame(100, i as u8));
        }
    }

    const CHAINS: usize = crate::virtio::mmio::CHAINS_PER_NOTIFY;

    #[test]
    fn transmitting_is_bounded_per_notification() {
        let mut mem = TestMemory::new(BASE, RAM);
        let (mut t, _, mut tx) = running(&mut mem);
        for i in 0..CHAINS + 1 {
            post_tx(&mut tx, &mut mem, DATA + 0x800 * i as u64, NO_HEADER, &frame(100, i as u8), &[]);
        }
        assert_eq!(notify(&mut t, &mut mem, TX_QUEUE), Effects { interrupt: true, more_work: true });
        assert_eq!(t.device().port().sent.len(), CHAINS);
        assert_eq!(t.run_pending(&mut mem), Effects { interrupt: true, more_work: false });
        assert_eq!(t.device().port().sent.len(), CHAINS + 1);
        assert_eq!(t.device().port().sent[CHAINS], frame(100, CHAINS as u8));
    }

    #[test]
    fn a_port_breaking_its_contract_costs_a_buffer_not_the_device() {
        let mut mem = TestMemory::new(BASE, RAM);
        let (mut t, mut rx, _) = running(&mut mem);
        post_rx(&mut rx, &mut mem, DATA, LINUX_RX, &[]);
        t.device_mut().port_mut().lie = true;
        let _ = t.kick(RX_QUEUE, &mut mem);
        assert_eq!(rx.take_used(&mem), vec![(0, 0)]);
        t.device_mut().port_mut().lie = false;
        t.device_mut().port_mut().bad_len = Some(FRAME_MAX + 1);
        t.device_mut().port_mut().inbox.push_back(frame(60, 0));
        post_rx(&mut rx, &mut mem, DATA, LINUX_RX, &[]);
        let _ = t.kick(RX_QUEUE, &mut mem);
        assert_eq!(rx.take_used(&mem), vec![(1, 0)]);
        healthy(&t);
        assert_eq!(t.device().stats(), NetStats { rx_spurious: 2, ..NetStats::default() });
    }

    #[test]
    fn reset_forgets_the_driver_but_keeps_the_port() {
        let mut mem = TestMemory::new(BASE, RAM);
        let (mut t, _, mut tx) = running(&mut mem);
        post_tx(&mut tx, &mut mem, DATA, NO_HEADER, &frame(60, 0), &[]);
        let _ = notify(&mut t, &mut mem, TX_QUEUE);
        t.device_mut().port_mut().inbox.extend([frame(70, 1), frame(71, 2)]);
        set(&mut t, &mut mem, regs::STATUS, 0);
        assert_eq!(t.device().negotiated_features(), 0);
        assert_eq!(t.device().port().inbox.len(), 2);
        assert_eq!(t.device().stats().tx_frames, 1, "statistics describe the port");
        assert_eq!(t.kick(RX_QUEUE, &mut mem), Effects::default(), "not running");

        // Before DRIVER_OK the frames wait; after it, the driver's first buffers get them.
        let mut mem = TestMemory::new(BASE, RAM);
        let offered = t.device_features();
        let (mut rx, _) = bring_up(&mut t, &mut mem, offered & !features::VIRTIO_NET_F_MTU, 16);
        assert_eq!(t.device().negotiated_features(), offered & !features::VIRTIO_NET_F_MTU);
        post_rx(&mut rx, &mut mem, DATA, LINUX_RX, &[]);
        post_rx(&mut rx, &mut mem, DATA + 0x1000, LINUX_RX, &[]);
        let _ = notify(&mut t, &mut mem, RX_QUEUE);
        assert_eq!(rx.take_used(&mem), vec![(0, 82), (1, 83)]);
        assert_eq!(&read(&mem, DATA + 0x1000 + 12, 71), &frame(71, 2));
    }
}
