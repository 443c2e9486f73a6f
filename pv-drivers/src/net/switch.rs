//! A learning Ethernet switch (the forwarding part of IEEE 802.1D transparent bridging) between the partitions'
//! network devices, each one a port.
//!
//! The switch remembers which port each unicast source address was last seen on, and sends a frame to a known
//! unicast destination on that port only; anything else (unknown unicast, broadcast, multicast) floods every other
//! port. That is all partitions need to find each other with ARP and IPv6 neighbour discovery, without any
//! configuration of addresses.
//!
//! Why a fixed table with least-recently-seen replacement rather than timed ageing: the hypervisor has no reason to
//! give the switch a clock, and a full table then only costs floods (correct, just less efficient), never lost
//! frames. An address seen on a new port moves at once, so a partition that changes its MAC or an address that
//! moves is reachable at its first frame. A partition can claim another one's address this way, as on any learning
//! switch; isolation between partitions that must not talk is the job of separate switches (or no network).

use core::iter::FusedIterator;

use super::{destination, is_multicast, source, Mac, FRAME_MAX};

/// A set of switch ports (0 to 31), as a bitmask: where one frame must go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PortSet(u32);

impl PortSet {
    /// Most ports a set can name (and so a [`Switch`] can have).
    pub const CAPACITY: usize = 32;

    /// No port: the frame is dropped.
    pub const EMPTY: Self = Self(0);

    /// Ports `0..count` (all of them if `count` is [`PortSet::CAPACITY`] or more).
    pub const fn below(count: usize) -> Self {
        if count >= Self::CAPACITY {
            Self(u32::MAX)
        } else {
            Self((1 << count) - 1)
        }
    }

    /// The set whose bit `i` is port `i`.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Adds `port`; returns `false` (and changes nothing) if it is beyond [`PortSet::CAPACITY`].
    pub fn insert(&mut self, port: usize) -> bool {
        if port >= Self::CAPACITY {
            return false;
        }
        self.0 |= 1 << port;
        true
    }

    /// Removes `port` (nothing to do if it is not in the set).
    pub fn remove(&mut self, port: usize) {
        if port < Self::CAPACITY {
            self.0 &= !(1 << port);
        }
    }

    pub const fn contains(self, port: usize) -> bool {
        port < Self::CAPACITY && self.0 & (1 << port) != 0
    }

    /// Number of ports in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The ports in increasing order.
    pub const fn iter(self) -> PortSetIter {
        PortSetIter(self.0)
    }
}

impl IntoIterator for PortSet {
    type Item = usize;
    type IntoIter = PortSetIter;

    fn into_iter(self) -> PortSetIter {
        self.iter()
    }
}

/// The ports of a [`PortSet`], in increasing order.
#[derive(Clone, Debug)]
pub struct PortSetIter(u32);

impl Iterator for PortSetIter {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let port = self.0.trailing_zeros() as usize;
        // Clears the lowest set bit.
        self.0 &= self.0 - 1;
        Some(port)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for PortSetIter {}
impl FusedIterator for PortSetIter {}

/// One learned address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    mac: Mac,
    port: usize,
    /// Value of the switch's clock when `mac` was last seen as a source: the smallest is replaced first.
    last_seen: u64,
}

/// A learning switch with `PORTS` ports (1 to [`PortSet::CAPACITY`]) and room to remember `MACS` addresses.
///
/// Work per frame is a linear scan of the table: `MACS` is meant to be a small multiple of the number of
/// partitions' interfaces, where a scan beats any index structure.
#[derive(Clone, Debug)]
pub struct Switch<const PORTS: usize, const MACS: usize> {
    table: [Option<Entry>; MACS],
    /// Counts learning events; orders entries by recency.
    clock: u64,
}

impl<const PORTS: usize, const MACS: usize> Switch<PORTS, MACS> {
    /// A switch that knows no address yet (it floods until it learns); `const` so that it can live in a static.
    pub const fn new() -> Self {
        const {
            assert!(PORTS >= 1 && PORTS <= PortSet::CAPACITY, "a switch has 1 to 32 ports");
            assert!(MACS >= 1, "a switch remembers at least one address");
        };
        Self { table: [None; MACS], clock: 0 }
    }

    /// Learns from `frame`, which arrived on `in_port`, and returns the ports it must be copied to.
    ///
    /// Never back to `in_port`: a frame for an address learned on its own port is dropped (the destination already
    /// saw it on its segment, were there one), and floods skip it. A frame that is not a frame (shorter than its
    /// 14-byte header, longer than [`FRAME_MAX`]) or comes from a port the switch does not have goes nowhere and
    /// teaches nothing.
    pub fn forward(&mut self, in_port: usize, frame: &[u8]) -> PortSet {
        if in_port >= PORTS || frame.len() > FRAME_MAX {
            return PortSet::EMPTY;
        }
        let (Some(dst), Some(src)) = (destination(frame), source(frame)) else {
            return PortSet::EMPTY;
        };
        self.learn(src, in_port);
        if !is_multicast(&dst) {
            if let Some(port) = self.lookup(&dst) {
                let mut out = PortSet::EMPTY;
                if port != in_port {
                    out.insert(port);
                }
                return out;
            }
        }
        let mut flood = PortSet::below(PORTS);
        flood.remove(in_port);
        flood
    }

    /// Records that `mac` lives on `port`. Group addresses are never a frame's real source (a sender that claims
    /// one is confused or hostile), so they are not learned.
    fn learn(&mut self, mac: Mac, port: usize) {
        if is_multicast(&mac) {
            return;
        }
        self.clock = self.clock.wrapping_add(1);
        let now = self.clock;
        if let Some(entry) = self.table.iter_mut().flatten().find(|e| e.mac == mac) {
            entry.port = port;
            entry.last_seen = now;
            return;
        }
        let new = Some(Entry { mac, port, last_seen: now });
        if let Some(free) = self.table.iter_mut().find(|slot| slot.is_none()) {
            *free = new;
            return;
        }
        // Full: replace the address heard from least recently.
        if let Some(oldest) = self.table.iter_mut().min_by_key(|slot| slot.map_or(0, |e| e.last_seen)) {
            *oldest = new;
        }
    }

    /// The port `mac` was learned on, if it is in the table.
    pub fn lookup(&self, mac: &Mac) -> Option<usize> {
        self.table.iter().flatten().find(|e| e.mac == *mac).map(|e| e.port)
    }

    /// Addresses currently in the table.
    pub fn learned(&self) -> usize {
        self.table.iter().flatten().count()
    }

    /// Forgets every address learned on `port`, e.g. when its partition resets its device (it may come back with
    /// other addresses; until it transmits, frames for it flood instead of going to a stale entry).
    pub fn forget_port(&mut self, port: usize) {
        for slot in &mut self.table {
            if slot.is_some_and(|e| e.port == port) {
                *slot = None;
            }
        }
    }

    /// Forgets every address.
    pub fn clear(&mut self) {
        self.table = [None; MACS];
    }
}

impl<const PORTS: usize, const MACS: usize> Default for Switch<PORTS, MACS> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BROADCAST, FRAME_MIN};
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    const fn mac(n: u8) -> Mac {
        [0x02, 0, 0, 0, 0, n]
    }

    const MULTICAST: Mac = [0x01, 0x00, 0x5E, 0x00, 0x00, 0x01];

    fn frame(dst: Mac, src: Mac, len: usize) -> Vec<u8> {
        let mut f = vec![0xAB; len.max(FRAME_MIN)];
        f[..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f.truncate(len);
        f
    }

    fn ports(list: &[usize]) -> PortSet {
        let mut set = PortSet::EMPTY;
        for &p in list {
            assert!(set.insert(p));
        }
        set
    }

    #[test]
    fn port_sets() {
        let mut set = PortSet::below(3);
        assert_eq!(set.bits(), 0b111);
        set.remove(1);
        set.remove(40);
        assert!(set.contains(0) && !set.contains(1) && set.contains(2) && !set.contains(99));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(set.len(), 2);
        assert!(!set.insert(32), "beyond the capacity");
        assert!(set.insert(31));
        assert_eq!(set.into_iter().len(), 3);
        assert_eq!(set.into_iter().last(), Some(31));
        assert_eq!(PortSet::below(32).len(), 32);
        assert_eq!(PortSet::below(100), PortSet::from_bits(u32::MAX));
        assert_eq!(PortSet::below(0), PortSet::EMPTY);
        assert!(PortSet::default().is_empty());
        let mut it = PortSet::EMPTY.iter();
        assert_eq!((it.next(), it.next()), (None, None));
    }

    #[test]
    fn floods_until_it_learns_then_forwards() {
        let mut sw = Switch::<4, 8>::new();
        // 1 on port 0 asks for 2: nobody knows 2 yet.
        assert_eq!(sw.forward(0, &frame(mac(2), mac(1), 60)), ports(&[1, 2, 3]));
        assert_eq!(sw.lookup(&mac(1)), Some(0));
        // 2 answers from port 2: 1 is known.
        assert_eq!(sw.forward(2, &frame(mac(1), mac(2), 60)), ports(&[0]));
        assert_eq!(sw.forward(0, &frame(mac(2), mac(1), 60)), ports(&[2]));
        assert_eq!(sw.learned(), 2);
        // Broadcast and multicast always flood, learned or not.
        assert_eq!(sw.forward(2, &frame(BROADCAST, mac(2), 42)), ports(&[0, 1, 3]));
        assert_eq!(sw.forward(3, &frame(MULTICAST, mac(3), 42)), ports(&[0, 1, 2]));
        assert_eq!(sw.lookup(&mac(3)), Some(3));
    }

    #[test]
    fn never_sends_back_to_the_input_port() {
        let mut sw = Switch::<3, 8>::new();
        let _ = sw.forward(1, &frame(BROADCAST, mac(5), 60));
        assert_eq!(sw.forward(1, &frame(mac(5), mac(6), 60)), PortSet::EMPTY, "5 lives on port 1 already");
        assert_eq!(sw.forward(1, &frame(mac(7), mac(7), 60)), PortSet::EMPTY, "to itself");
        assert_eq!(sw.forward(0, &frame(mac(5), mac(8), 60)), ports(&[1]));
    }

    #[test]
    fn addresses_move_with_their_frames() {
        let mut sw = Switch::<3, 8>::new();
        let _ = sw.forward(0, &frame(BROADCAST, mac(1), 60));
        assert_eq!(sw.forward(2, &frame(mac(1), mac(9), 60)), ports(&[0]));
        let _ = sw.forward(1, &frame(BROADCAST, mac(1), 60));
        assert_eq!(sw.lookup(&mac(1)), Some(1));
        assert_eq!(sw.forward(2, &frame(mac(1), mac(9), 60)), ports(&[1]));
        assert_eq!(sw.learned(), 2, "moved, not duplicated");
    }

    #[test]
    fn group_sources_are_not_learned() {
        let mut sw = Switch::<2, 8>::new();
        let _ = sw.forward(0, &frame(mac(1), BROADCAST, 60));
        let _ = sw.forward(0, &frame(mac(1), MULTICAST, 60));
        assert_eq!(sw.learned(), 0);
        assert_eq!(sw.forward(1, &frame(MULTICAST, mac(2), 60)), ports(&[0]));
    }

    #[test]
    fn non_frames_go_nowhere_and_teach_nothing() {
        let mut sw = Switch::<2, 8>::new();
        for len in [0, 1, 6, 12, FRAME_MIN - 1, FRAME_MAX + 1] {
            assert_eq!(sw.forward(0, &frame(BROADCAST, mac(1), len)), PortSet::EMPTY, "{len} bytes");
        }
        assert_eq!(sw.forward(0, &frame(BROADCAST, mac(1), FRAME_MIN)), ports(&[1]), "a bare header is a frame");
        assert_eq!(sw.forward(0, &frame(BROADCAST, mac(1), FRAME_MAX)), ports(&[1]));
        for port in [2, 32, usize::MAX] {
            assert_eq!(sw.forward(port, &frame(BROADCAST, mac(3), 60)), PortSet::EMPTY, "no port {port}");
        }
        assert_eq!(sw.learned(), 1);
        assert_eq!(sw.lookup(&mac(3)), None);
    }

    #[test]
    fn a_full_table_replaces_the_least_recently_heard() {
        let mut sw = Switch::<4, 3>::new();
        for n in 1..=3 {
            let _ = sw.forward(usize::from(n), &frame(BROADCAST, mac(n), 60));
        }
        // 1 speaks again; 2 is now the oldest, and 4 replaces it.
        let _ = sw.forward(1, &frame(BROADCAST, mac(1), 60));
        let _ = sw.forward(0, &frame(BROADCAST, mac(4), 60));
        assert_eq!(sw.learned(), 3);
        assert_eq!(sw.lookup(&mac(2)), None);
        assert_eq!((sw.lookup(&mac(1)), sw.lookup(&mac(3)), sw.lookup(&mac(4))), (Some(1), Some(3), Some(0)));
        assert_eq!(sw.forward(0, &frame(mac(2), mac(4), 60)), ports(&[1, 2, 3]), "forgotten: flooded");
    }

    #[test]
    fn forgetting_a_port_or_everything() {
        let mut sw = Switch::<3, 8>::default();
        let _ = sw.forward(0, &frame(BROADCAST, mac(1), 60));
        let _ = sw.forward(1, &frame(BROADCAST, mac(2), 60));
        let _ = sw.forward(1, &frame(BROADCAST, mac(3), 60));
        sw.forget_port(1);
        assert_eq!((sw.learned(), sw.lookup(&mac(1))), (1, Some(0)));
        assert_eq!(sw.forward(0, &frame(mac(2), mac(1), 60)), ports(&[1, 2]));
        sw.clear();
        assert_eq!(sw.learned(), 0);
        static SWITCH: Switch<2, 4> = Switch::new();
        assert_eq!(SWITCH.learned(), 0);
    }

    /// What the switch should do, written the obvious way: a recency-ordered list (most recent last).
    struct Model {
        table: Vec<(Mac, usize)>,
    }

    impl Model {
        fn forward(&mut self, ports_count: usize, capacity: usize, in_port: usize, f: &[u8]) -> PortSet {
            if in_port >= ports_count || f.len() < FRAME_MIN || f.len() > FRAME_MAX {
                return PortSet::EMPTY;
            }
            let dst: Mac = f[..6].try_into().unwrap();
            let src: Mac = f[6..12].try_into().unwrap();
            if src[0] & 1 == 0 {
                self.table.retain(|(m, _)| *m != src);
                if self.table.len() == capacity {
                    self.table.remove(0);
                }
                self.table.push((src, in_port));
            }
            let learned = self.table.iter().find(|(m, _)| *m == dst).map(|&(_, p)| p);
            match learned {
                Some(p) if dst[0] & 1 == 0 => ports(&[p].into_iter().filter(|&p| p != in_port).collect::<Vec<_>>()),
                _ => ports(&(0..ports_count).filter(|&p| p != in_port).collect::<Vec<_>>()),
            }
        }
    }

    fn address() -> impl Strategy<Value = Mac> {
        prop_oneof![
            8 => (1u8..8).prop_map(mac),
            1 => Just(BROADCAST),
            1 => Just(MULTICAST),
            1 => any::<[u8; 6]>(),
        ]
    }

    proptest! {
        /// Against the model, with a table small enough to evict and a few frames that are not frames: the same
        /// destinations for every frame, and the same table afterwards. Along the way: floods never include the
        /// input port, and a learned unicast destination gets exactly its port.
        #[test]
        fn matches_a_model(frames in proptest::collection::vec(
            (prop_oneof![10 => 0usize..4, 1 => 4usize..40], address(), address(),
             prop_oneof![10 => Just(60usize), 1 => 0usize..FRAME_MIN, 1 => FRAME_MAX - 1..FRAME_MAX + 2]),
            1..80,
        )) {
            let mut sw = Switch::<4, 4>::new();
            let mut model = Model { table: Vec::new() };
            for (in_port, dst, src, len) in frames {
                let f = frame(dst, src, len);
                let out = sw.forward(in_port, &f);
                prop_assert_eq!(out, model.forward(4, 4, in_port, &f));
                prop_assert!(!out.contains(in_port));
                prop_assert!(out.iter().all(|p| p < 4));
                if let Some(p) = sw.lookup(&dst).filter(|_| !is_multicast(&dst) && len >= FRAME_MIN) {
                    let expected = if p == in_port || in_port >= 4 || len > FRAME_MAX { 0 } else { 1 };
                    prop_assert_eq!(out.len(), expected);
                }
                prop_assert_eq!(sw.learned(), model.table.len());
                for &(m, p) in &model.table {
                    prop_assert_eq!(sw.lookup(&m), Some(p));
                }
            }
        }
    }
}
