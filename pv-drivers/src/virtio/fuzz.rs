//! Property tests with a hostile guest: random descriptor tables, rings, indirect tables and request headers in
//! guest RAM with guard bands around it, and around the disk.
//!
//! Whatever the guest writes, the device must not panic, must not even attempt an access outside guest RAM (the
//! [`TestMemory`] counts attempts), must leave the guard bands and the disk's neighbours alone, and must either
//! complete every published chain or report an error (DEVICE_NEEDS_RESET).

use std::vec::Vec;

use proptest::prelude::*;

use super::blk::tests::{bring_up, header, running_with, BASE, DATA};
use super::blk::{request_type, RamDisk, VirtioBlk, SECTOR_SIZE};
use super::chain::CHAIN_LEN_MAX;
use super::memory::GuestMemory;
use super::mmio::{regs, status};
use super::queue::{desc_flags, Queue};
use super::test_utils::{GuestQueue, Layout, Metered, TestMemory};

/// Small RAM, so random addresses often land inside, at the edges and just outside.
pub(super) const FUZZ_RAM: usize = 0x2000;
const DISK_SECTORS: u64 = 16;
const DISK_GUARD: usize = 512;

/// One 16-byte slot of guest RAM: something descriptor-like, or a virtio-blk header.
#[derive(Clone, Debug)]
pub(super) enum Slot {
    Desc { offset: i32, len: u32, flags: u16, next: u16 },
    Header { kind: u32, sector: u64 },
}

pub(super) fn slot(max_next: u16) -> impl Strategy<Value = Slot> {
    let offset = prop_oneof![
        12 => (0..(FUZZ_RAM as i32 - 1024) / 16).prop_map(|i| i * 16),
        2 => -64..FUZZ_RAM as i32 + 64,
        1 => any::<i32>(),
    ];
    let len = prop_oneof![
        3 => Just(16u32),
        3 => Just(512u32),
        3 => Just(1u32),
        1 => 0u32..1100,
        1 => Just(0u32),
        1 => any::<u32>(),
    ];
    let (next, write, indirect) = (desc_flags::NEXT, desc_flags::WRITE, desc_flags::INDIRECT);
    let flags = prop_oneof![
        4 => Just(next),
        3 => Just(write),
        3 => Just(next | write),
        2 => Just(0),
        1 => Just(indirect),
        1 => 0u16..8,
        1 => any::<u16>(),
    ];
    let next = prop_oneof![8 => 0..4u16, 4 => 0..max_next, 1 => any::<u16>()];
    let desc =
        (offset, len, flags, next).prop_map(|(offset, len, flags, next)| Slot::Desc { offset, len, flags, next });
    let kind = prop_oneof![
        3 => Just(request_type::VIRTIO_BLK_T_IN),
        3 => Just(request_type::VIRTIO_BLK_T_OUT),
        1 => Just(request_type::VIRTIO_BLK_T_FLUSH),
        1 => Just(request_type::VIRTIO_BLK_T_GET_ID),
        1 => any::<u32>(),
    ];
    let sector = prop_oneof![4 => 0..DISK_SECTORS + 2, 1 => any::<u64>(), 1 => Just(u64::MAX)];
    let header = (kind, sector).prop_map(|(kind, sector)| Slot::Header { kind, sector });
    prop_oneof![3 => desc, 1 => header]
}

/// Fills guest RAM at `base` with `slots` (repeated as needed).
pub(super) fn fill(mem: &mut TestMemory, base: u64, slots: &[Slot]) {
    for (i, s) in slots.iter().cycle().take(FUZZ_RAM / 16).enumerate() {
        write_slot(mem, base, base + 16 * i as u64, s);
    }
}

/// Writes one slot at `at` (inside RAM); a descriptor's address is `base` plus its offset.
fn write_slot(mem: &mut TestMemory, base: u64, at: u64, s: &Slot) {
    match *s {
        Slot::Desc { offset, len, flags, next } => {
            mem.write_u64(at, base.wrapping_add_signed(i64::from(offset))).unwrap();
            mem.write_u32(at + 8, len).unwrap();
            mem.write_u16(at + 12, flags).unwrap();
            mem.write_u16(at + 14, next).unwrap();
        }
        Slot::Header { kind, sector } => {
            mem.write_u32(at, kind).unwrap();
            mem.write_u32(at + 4, 0).unwrap();
            mem.write_u64(at + 8, sector).unwrap();
        }
    }
}

/// A queue's rings: where they go (offsets into RAM, possibly misaligned or outside) and what the available ring
/// says.
#[derive(Clone, Debug)]
pub(super) struct Rings {
    pub(super) size: u16,
    desc: i64,
    avail: i64,
    used: i64,
    avail_flags: u16,
    avail_idx: u16,
    heads: Vec<u16>,
}

pub(super) fn rings() -> impl Strategy<Value = Rings> {
    let size = prop_oneof![16 => (0u32..5).prop_map(|s| 1u16 << s), 1 => any::<u16>()];
    size.prop_flat_map(|size| {
        let place = prop_oneof![
            30 => (0..FUZZ_RAM as i64 / 16).prop_map(|i| i * 16),
            1 => -1024..FUZZ_RAM as i64 + 64,
        ];
        let n = size.clamp(1, 16);
        let avail_idx = prop_oneof![8 => 1..=n.min(3), 4 => 0..=n, 1 => any::<u16>()];
        let heads = proptest::collection::vec(prop_oneof![8 => 0..n, 1 => any::<u16>()], usize::from(n));
        (place.clone(), place.clone(), place, 0u16..3, avail_idx, heads).prop_map(
            move |(desc, avail, used, avail_flags, avail_idx, heads)| Rings {
                size,
                desc,
                avail,
                used,
                avail_flags,
                avail_idx,
                heads,
            },
        )
    })
}

/// Writes the available ring (if it is inside RAM) and returns the three ring addresses.
pub(super) fn place_rings(mem: &mut TestMemory, r: &Rings) -> (u64, u64, u64) {
    let at = |offset: i64| BASE.wrapping_add_signed(offset);
    let avail = at(r.avail);
    let _ = mem.write_u16(avail, r.avail_flags);
    let _ = mem.write_u16(avail + 2, r.avail_idx);
    for (i, &head) in r.heads.iter().enumerate() {
        let _ = mem.write_u16(avail + 4 + 2 * i as u64, head);
    }
    (at(r.desc), avail, at(r.used))
}

/// The guest memory of a fuzz case: RAM filled, rings placed; the set-up's own writes outside RAM do not count.
fn guest(slots: &[Slot], r: &Rings) -> (TestMemory, (u64, u64, u64)) {
    let mut mem = TestMemory::new(BASE, FUZZ_RAM);
    fill(&mut mem, BASE, slots);
    let addrs = place_rings(&mut mem, r);
    mem.forget_violations();
    (mem, addrs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The queue alone: whatever the rings hold, popped chains are inside RAM and well-formed, and nothing is
    /// accessed outside RAM.
    #[test]
    fn queue_parsing_stays_inside(
        slots in proptest::collection::vec(slot(20), 1..64),
        r in rings(),
        indirect in any::<bool>(),
        lens in proptest::collection::vec(any::<u32>(), 16),
    ) {
        let (mut mem, (desc, avail, used)) = guest(&slots, &r);
        let mut q = Queue::new(16);
        q.set_size(r.size);
        q.set_desc_table(desc);
        q.set_avail_ring(avail);
        q.set_used_ring(used);
        q.set_indirect(indirect);
        if q.enable(&mem).is_ok() {
            for len in &lens {
                match q.pop(&mem) {
                    Ok(Some(chain)) => {
                        prop_assert!(chain.head() < r.size);
                        prop_assert!(chain.descriptors().len() <= CHAIN_LEN_MAX);
                        let mut writable = false;
                        for d in chain.descriptors() {
                            prop_assert!(mem.check(d.addr, u64::from(d.len)).is_ok());
                            prop_assert!(!writable || d.writable, "readable after writable");
                            writable |= d.writable;
                        }
                        // Read and write through the whole chain.
                        let mut buf = vec![0; chain.readable_len() as usize];
                        chain.reader().read(&mem, &mut buf).unwrap();
                        let data = vec![0x5A; chain.writable_len() as usize];
                        chain.writer().write(&mut mem, &data).unwrap();
                        q.add_used(&mut mem, chain.head(), *len).unwrap();
                        let _ = q.take_interrupt(&mem).unwrap();
                    }
                    Ok(None) => break,
                    Err(_) => break,
                }
            }
        }
        prop_assert_eq!(mem.violations(), 0);
        prop_assert!(mem.guards_intact());
    }

    /// virtio-blk behind the transport, driven like Linux but with hostile ring contents: no panic, no access
    /// outside RAM or the disk, and every published chain completed unless the device reported an error.
    #[test]
    fn blk_survives_hostile_rings(
        slots in proptest::collection::vec(slot(20), 1..64),
        r in rings(),
        read_only in any::<bool>(),
        accept_indirect in any::<bool>(),
    ) {
        let (mut mem, (desc, avail, used)) = guest(&slots, &r);
        let mut backing = vec![0xD1u8; DISK_SECTORS as usize * SECTOR_SIZE + 2 * DISK_GUARD];
        let disk_end = backing.len() - DISK_GUARD;
        let disk = &mut backing[DISK_GUARD..disk_end];
        let mut t = super::blk::tests::Blk::new(VirtioBlk::new(RamDisk::new(disk, read_only)));
        let set = |t: &mut super::blk::tests::Blk<'_>, mem: &mut TestMemory, offset, value| {
            t.write(offset, 4, value, mem)
        };
        let offered = t.device_features();
        let accepted = if accept_indirect { offered } else { offered & !super::mmio::features::VIRTIO_F_INDIRECT_DESC };
        let _ = set(&mut t, &mut mem, regs::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        let _ = set(&mut t, &mut mem, regs::DRIVER_FEATURES_SEL, 1);
        let _ = set(&mut t, &mut mem, regs::DRIVER_FEATURES, (accepted >> 32) as u32);
        let _ = set(&mut t, &mut mem, regs::DRIVER_FEATURES_SEL, 0);
        let _ = set(&mut t, &mut mem, regs::DRIVER_FEATURES, accepted as u32);
        let _ = set(&mut t, &mut mem, regs::STATUS, 0xB);
        let _ = set(&mut t, &mut mem, regs::QUEUE_NUM, u32::from(r.size));
        for (low, addr) in [(regs::QUEUE_DESC_LOW, desc), (regs::QUEUE_DRIVER_LOW, avail), (regs::QUEUE_DEVICE_LOW, used)] {
            let _ = set(&mut t, &mut mem, low, addr as u32);
            let _ = set(&mut t, &mut mem, low + 4, (addr >> 32) as u32);
        }
        let _ = set(&mut t, &mut mem, regs::QUEUE_READY, 1);
        let _ = set(&mut t, &mut mem, regs::STATUS, 0xF);
        let mut effects = set(&mut t, &mut mem, regs::QUEUE_NOTIFY, 0);
        let mut rounds = 0;
        while effects.more_work {
            rounds += 1;
            prop_assert!(rounds < 100, "no progress");
            effects = t.run_pending(&mut mem);
        }
        prop_assert_eq!(mem.violations(), 0);
        prop_assert!(mem.guards_intact());
        if t.status() & status::DEVICE_NEEDS_RESET != 0 {
            prop_assert!(t.last_error().is_some());
        } else {
            prop_assert!(t.last_error().is_none());
            let q = t.queue(0).unwrap();
            if q.ready() {
                // Every published chain was taken and came back. (The rings may overlap, so the device's own
                // used-ring writes may have changed avail.idx: compare with what it says now.)
                prop_assert_eq!(q.has_available(&mem), Ok(false));
                prop_assert_eq!(q.next_used(), q.next_avail());
            }
        }
        prop_assert!(backing[..DISK_GUARD].iter().chain(&backing[disk_end..]).all(|&b| b == 0xD1));
    }
}

/// A read or write request a well-behaved driver might send, with its data cut into segments.
#[derive(Clone, Debug)]
struct Op {
    write: bool,
    sector: u64,
    sectors: usize,
    cuts: Vec<usize>,
    indirect: bool,
    fill: u8,
}

fn op() -> impl Strategy<Value = Op> {
    (
        any::<bool>(),
        0..DISK_SECTORS,
        1usize..4,
        proptest::collection::vec(1usize..2048, 0..5),
        any::<bool>(),
        any::<u8>(),
    )
        .prop_map(|(write, sector, sectors, cuts, indirect, fill)| Op {
            write,
            sector,
            sectors,
            cuts,
            indirect,
            fill,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Valid requests, arbitrarily segmented, direct or indirect, behave like a plain array of sectors: what is
    /// read back is what a model says, and requests reaching past the end fail without touching the disk; also
    /// when the backend asks for small transfers and few per batch, so that requests span many batches.
    #[test]
    fn blk_matches_a_model(
        ops in proptest::collection::vec(op(), 1..12),
        (transfer_max, transfers) in prop_oneof![
            Just((usize::MAX, u32::MAX)),
            (0usize..3000, 0u32..4),
        ],
    ) {
        let mut mem = TestMemory::new(BASE, 0x40000);
        let mut disk = vec![0u8; DISK_SECTORS as usize * SECTOR_SIZE];
        let mut model = disk.clone();
        let backend = Metered::limited(RamDisk::new(&mut disk, false), transfer_max, transfers);
        let (mut t, mut g) = running_with(backend, 64, &mut mem);
        let buf = DATA + 0x1000;
        let status_at = DATA + 0x8000;
        let table = DATA + 0x9000;
        for op in &ops {
            let len = op.sectors * SECTOR_SIZE;
            let kind = if op.write { request_type::VIRTIO_BLK_T_OUT } else { request_type::VIRTIO_BLK_T_IN };
            header(&mut mem, DATA, kind, op.sector);
            if op.write {
                mem.write(buf, &vec![op.fill; len]).unwrap();
            } else {
                mem.write(buf, &vec![0xCC; len]).unwrap();
            }
            // Segment boundaries at the (sorted, clipped) cut points.
            let mut cuts: Vec<usize> = op.cuts.iter().map(|&c| c % len).filter(|&c| c != 0).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut chain = vec![(DATA, 16u32, false)];
            let mut start = 0;
            for end in cuts.into_iter().chain([len]) {
                chain.push((buf + start as u64, (end - start) as u32, !op.write));
                start = end;
            }
            chain.push((status_at, 1, true));
            if op.indirect {
                g.add_indirect_chain(&mut mem, table, &chain);
            } else {
                g.add_chain(&mut mem, &chain);
            }
            let mut effects = t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem);
            let mut batches = 1;
            while effects.more_work {
                prop_assert!(g.take_used(&mem).is_empty(), "used before it completed");
                effects = t.run_pending(&mut mem);
                batches += 1;
                prop_assert!(batches <= 2 * op.sectors + 2, "{} batches for {} sectors", batches, op.sectors);
            }
            prop_assert_eq!(t.status() & status::DEVICE_NEEDS_RESET, 0);
            let used = g.take_used(&mem);
            prop_assert_eq!(used.len(), 1);
            let fits = op.sector + op.sectors as u64 <= DISK_SECTORS;
            let status_byte = mem.read_u32(status_at).unwrap() as u8;
            prop_assert_eq!(status_byte, if fits { 0 } else { 1 });
            let range = op.sector as usize * SECTOR_SIZE..op.sector as usize * SECTOR_SIZE + len;
            if fits && op.write {
                model[range].fill(op.fill);
                prop_assert_eq!(used[0].1, 1);
            } else if fits {
                let mut got = vec![0; len];
                mem.read(buf, &mut got).unwrap();
                prop_assert_eq!(&got[..], &model[range]);
                prop_assert_eq!(used[0].1, len as u32 + 1);
            } else {
                prop_assert_eq!(used[0].1, 1);
            }
        }
        prop_assert_eq!(disk, model);
        prop_assert_eq!(mem.violations(), 0);
    }
}

/// Something a hostile driver does between two batches of requests it published.
#[derive(Clone, Debug)]
enum Attack {
    /// Writes a descriptor-like or header slot at 16-byte position `at` of the rings (below 0x1000) or of the
    /// requests' area (from `DATA`).
    Scribble { at: u64, slot: Slot },
    /// Moves `avail.idx`.
    AvailIdx(u16),
    /// Rewrites an available-ring entry.
    AvailEntry { index: u16, head: u16 },
    /// Publishes request `n` (mod the number of requests) again, buffers and all.
    Publish(usize),
    /// Writes QueueNotify (another batch).
    Notify,
    /// Status 0.
    Reset,
    /// QueueReady = 0.
    QueueOff,
    /// Brings the device up again (after a reset, as a restarting driver would; otherwise it changes nothing).
    BringUp,
    /// Lets the hypervisor run the next batch.
    Wait,
}

fn attack() -> impl Strategy<Value = Attack> {
    let at = prop_oneof![(0u64..0x100).prop_map(|i| BASE + 16 * i), (0u64..0x800).prop_map(|i| DATA + 16 * i)];
    prop_oneof![
        4 => (at, slot(64)).prop_map(|(at, slot)| Attack::Scribble { at, slot }),
        1 => any::<u16>().prop_map(Attack::AvailIdx),
        1 => (0u16..64, prop_oneof![4 => 0u16..64, 1 => any::<u16>()])
            .prop_map(|(index, head)| Attack::AvailEntry { index, head }),
        2 => any::<usize>().prop_map(Attack::Publish),
        2 => Just(Attack::Notify),
        1 => Just(Attack::Reset),
        1 => Just(Attack::QueueOff),
        1 => Just(Attack::BringUp),
        6 => Just(Attack::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Requests served one sector per batch while the driver attacks between batches: rewrites descriptors,
    /// headers and the available ring under an in-flight request, publishes more, resets the device or disables
    /// the queue mid-request. No panic, no access outside guest RAM or the disk, no request left in flight once
    /// the device stops, and the device either keeps working or says it needs a reset.
    #[test]
    fn blk_survives_a_hostile_guest_between_batches(
        ops in proptest::collection::vec(op(), 1..6),
        attacks in proptest::collection::vec(attack(), 0..24),
        read_only in any::<bool>(),
    ) {
        let mut mem = TestMemory::new(BASE, 0x40000);
        let mut backing = vec![0xD1u8; DISK_SECTORS as usize * SECTOR_SIZE + 2 * DISK_GUARD];
        let disk_end = backing.len() - DISK_GUARD;
        let backend = Metered::limited(RamDisk::new(&mut backing[DISK_GUARD..disk_end], read_only), SECTOR_SIZE, 1);
        let (mut t, mut g) = running_with(backend, 64, &mut mem);
        // Request `i` has its header at DATA + i * 0x1000, data right after, status byte at the end of its page.
        let chains: Vec<Vec<(u64, u32, bool)>> = ops.iter().enumerate().map(|(i, op)| {
            let at = DATA + 0x1000 * i as u64;
            let kind = if op.write { request_type::VIRTIO_BLK_T_OUT } else { request_type::VIRTIO_BLK_T_IN };
            header(&mut mem, at, kind, op.sector);
            let len = (op.sectors * SECTOR_SIZE) as u32;
            vec![(at, 16, false), (at + 0x100, len / 2, !op.write), (at + 0x100 + u64::from(len / 2), len - len / 2, !op.write), (at + 0xFFF, 1, true)]
        }).collect();
        let publish = |g: &mut GuestQueue, mem: &mut TestMemory, n: usize, indirect: bool| {
            let table = DATA + 0x1000 * n as u64 + 0xE00;
            if indirect {
                g.add_indirect_chain(mem, table, &chains[n]);
            } else {
                g.add_chain(mem, &chains[n]);
            }
        };
        for (n, op) in ops.iter().enumerate() {
            publish(&mut g, &mut mem, n, op.indirect);
        }
        let mut effects = t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem);
        for a in &attacks {
            match a {
                Attack::Scribble { at, slot } => write_slot(&mut mem, BASE, *at, slot),
                Attack::AvailIdx(idx) => mem.write_u16(g.layout.avail + 2, *idx).unwrap(),
                Attack::AvailEntry { index, head } => {
                    mem.write_u16(g.layout.avail + 4 + 2 * u64::from(*index), *head).unwrap()
                }
                Attack::Publish(n) => {
                    let n = n % ops.len();
                    publish(&mut g, &mut mem, n, ops[n].indirect);
                }
                Attack::Notify => effects = t.write(regs::QUEUE_NOTIFY, 4, 0, &mut mem),
                Attack::Reset => effects = t.write(regs::STATUS, 4, 0, &mut mem),
                Attack::QueueOff => {
                    let _ = t.write(regs::QUEUE_SEL, 4, 0, &mut mem);
                    effects = t.write(regs::QUEUE_READY, 4, 0, &mut mem);
                }
                Attack::BringUp => {
                    if t.status() == 0 {
                        mem.write(BASE, &[0; 0x1000]).unwrap();
                        g = bring_up(&mut t, 64, &mut mem);
                    }
                }
                Attack::Wait => {}
            }
            if !matches!(a, Attack::Reset | Attack::QueueOff) {
                prop_assert!(t.device().in_flight().is_none() || effects.more_work, "a request in flight, no batch to come");
            } else {
                prop_assert!(t.device().in_flight().is_none(), "{:?} left a request in flight", a);
            }
            if effects.more_work {
                effects = t.run_pending(&mut mem);
            }
        }
        let mut rounds = 0;
        while effects.more_work {
            rounds += 1;
            prop_assert!(rounds < 1000, "no progress");
            effects = t.run_pending(&mut mem);
        }
        prop_assert!(t.device().in_flight().is_none());
        prop_assert_eq!(mem.violations(), 0);
        prop_assert!(mem.guards_intact());
        prop_assert_eq!(t.status() & status::DEVICE_NEEDS_RESET != 0, t.last_error().is_some());
        prop_assert!(backing[..DISK_GUARD].iter().chain(&backing[disk_end..]).all(|&b| b == 0xD1));
    }
}

#[test]
fn guest_queue_helper_lays_out_like_linux() {
    let (layout, end) = Layout::packed(0x1000, 256);
    assert_eq!((layout.desc, layout.avail, layout.used, end), (0x1000, 0x2000, 0x2208, 0x2a10));
    let _ = GuestQueue::new(layout);
}
