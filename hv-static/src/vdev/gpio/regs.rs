//! The register file of each channel member's emulated GPIO controller, an Arm PrimeCell PL061 (Arm DDI 0190), as
//! pure logic: what a guest's access at any offset, width and value does, which channels a write rings, and when
//! the interrupt output is high. No hypervisor state here, so every sequence of accesses and doorbells a guest
//! could cause is tried on the host (tests below).
//!
//! Why a PL061: its driver (`gpio-pl061`) and the GPIO character device are built into Debian's stock arm64 and
//! armmp kernels, so user space waits for a channel's doorbell (an edge event on a line) and rings one (driving a
//! line) without a driver of hv-static's (Debian builds no `uio_pdrv_genirq`). Linux binds it through the AMBA bus,
//! which reads the PrimeCell ID registers below, and accesses the registers a byte wide.
//!
//! The lines: for the partition's k-th channel (k below [`CHANNELS`]), line 2k is its doorbell, an input that
//! never holds a level: each ring is a rising edge, latched in `GPIORIS` when the line detects rising edges
//! (`GPIOIS` clear, `GPIOIBE` or `GPIOIEV` set), and line 2k + 1 rings it: each 0 -> 1 transition of that line
//! driven as an output rings the channel's other members. The interrupt output is high while `GPIORIS & GPIOIE`
//! holds a bit; `GPIOIC` clears bits. Other lines are plain GPIO that go nowhere.

pub const SIZE: u64 = 0x1000;
/// Channels with lines: 8 lines, two per channel.
pub const CHANNELS: usize = 4;

const DATA_END: u64 = 0x400;
const DIR: u64 = 0x400;
const IS: u64 = 0x404;
const IBE: u64 = 0x408;
const IEV: u64 = 0x40c;
const IE: u64 = 0x410;
const RIS: u64 = 0x414;
const MIS: u64 = 0x418;
const IC: u64 = 0x41c;
const AFSEL: u64 = 0x420;
const ID_BASE: u64 = 0xfe0;
/// Peripheral ID bytes (part 0x061, designer 0x41 'A', revision 1: the AMBA id 0x00041061 `gpio-pl061` matches)
/// and the PrimeCell component ID bytes (0xB105F00D), at 0xFE0..0xFFC.
const IDS: [u8; 8] = [0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// The doorbell line of channel `k`.
pub const fn doorbell_line(k: usize) -> u8 {
    1 << (2 * k)
}

/// The ring line of channel `k`.
pub const fn ring_line(k: usize) -> u8 {
    1 << (2 * k + 1)
}

/// One partition's PL061.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pl061 {
    /// The lines that carry a channel's ring: the odd lines of the partition's first channels.
    ring_lines: u8,
    /// What the guest last wrote to each line's data bit (what an output drives).
    data: u8,
    dir: u8,
    is: u8,
    ibe: u8,
    iev: u8,
    ie: u8,
    ris: u8,
    afsel: u8,
}

/// What an access did beyond its value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effect {
    /// Bit k: channel k is rung.
    pub rings: u8,
}

impl Pl061 {
    /// The device out of reset for a partition with `channels` channels (those past [`CHANNELS`] get no lines):
    /// every line an input, no edge detected, no interrupt.
    pub const fn new(channels: usize) -> Pl061 {
        let mut ring_lines = 0;
        let mut k = 0;
        while k < channels && k < CHANNELS {
            ring_lines |= ring_line(k);
            k += 1;
        }
        Pl061 { ring_lines, data: 0, dir: 0, is: 0, ibe: 0, iev: 0, ie: 0, ris: 0, afsel: 0 }
    }

    /// The lines on which a ring is latched now: inputs detecting rising edges.
    pub fn rising_inputs(&self) -> u8 {
        !self.dir & !self.is & (self.ibe | self.iev)
    }

    /// The lines whose latched edge raises the interrupt output now.
    pub fn armed(&self) -> u8 {
        self.rising_inputs() & self.ie
    }

    /// Edges that arrived on `lines` (rings of the partition's channels, posted by other partitions): latched
    /// where the line detects rising edges, dropped elsewhere (a line not listening has no edge to remember).
    pub fn latch(&mut self, lines: u8) {
        self.ris |= lines & self.rising_inputs();
    }

    /// Whether the interrupt output is high.
    pub fn irq_high(&self) -> bool {
        self.ris & self.ie != 0
    }

    /// A guest access: `offset` into the page, `size` bytes, a write's value. Returns what a read loads (0 for a
    /// write) and what the access rings. Registers are 8 bits wide at word offsets; an access at any other offset
    /// reads 0 and does nothing, as do reserved registers; wider accesses use their low byte.
    pub fn access(&mut self, offset: u64, size: u8, write: Option<u64>) -> (u64, Effect) {
        let mut effect = Effect::default();
        if !offset.is_multiple_of(4) || !matches!(size, 1 | 2 | 4 | 8) {
            return (0, effect);
        }
        let byte = write.map(|v| v as u8);
        let value = match (offset, byte) {
            // GPIODATA: address bits 9:2 mask which lines the access sees. Inputs read their pin, which no
            // doorbell holds high; outputs read back what was driven.
            (0..DATA_END, None) => self.data & self.dir & ((offset >> 2) as u8),
            (0..DATA_END, Some(v)) => {
                let mask = (offset >> 2) as u8 & self.dir;
                let old = self.data;
                self.data = (old & !mask) | (v & mask);
                let rising = self.data & !old & self.ring_lines;
                for k in 0..CHANNELS {
                    if rising & ring_line(k) != 0 {
                        effect.rings |= 1 << k;
                    }
                }
                0
            }
            (DIR, v) => rw(&mut self.dir, v),
            (IS, v) => rw(&mut self.is, v),
            (IBE, v) => rw(&mut self.ibe, v),
            (IEV, v) => rw(&mut self.iev, v),
            (IE, v) => rw(&mut self.ie, v),
            (AFSEL, v) => rw(&mut self.afsel, v),
            (RIS, None) => self.ris,
            (MIS, None) => self.ris & self.ie,
            (IC, Some(v)) => {
                self.ris &= !v;
                0
            }
            (ID_BASE..SIZE, None) => IDS[((offset - ID_BASE) / 4) as usize % IDS.len()],
            _ => 0,
        };
        (u64::from(value), effect)
    }
}

/// A read-write register: a read returns it, a write sets it and reads 0.
fn rw(reg: &mut u8, write: Option<u8>) -> u8 {
    match write {
        Some(v) => {
            *reg = v;
            0
        }
        None => *reg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What Linux's `gpio-pl061` and the GPIO character device do to wait for channel 1's doorbell: input, edge,
    /// rising, unmasked.
    fn listening_on(k: usize) -> Pl061 {
        let mut g = Pl061::new(2);
        let line = u64::from(doorbell_line(k));
        g.access(IS, 1, Some(0));
        g.access(IBE, 1, Some(0));
        g.access(IEV, 1, Some(line));
        g.access(IE, 1, Some(line));
        g
    }

    #[test]
    fn linux_finds_a_pl061_on_the_amba_bus() {
        let mut g = Pl061::new(1);
        let id: Vec<u64> = (0..8).map(|i| g.access(ID_BASE + 4 * i, 4, None).0).collect();
        assert_eq!(id, [0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
    }

    #[test]
    fn a_ring_is_one_rising_edge_on_a_listening_doorbell_line() {
        let mut g = listening_on(1);
        assert!(!g.irq_high());
        g.latch(doorbell_line(1));
        assert!(g.irq_high());
        assert_eq!(g.access(MIS, 1, None).0, 0b100);
        assert_eq!(g.access(RIS, 1, None).0, 0b100);
        // The doorbell line never holds a level.
        assert_eq!(g.access(0x3fc, 1, None).0, 0);
        g.access(IC, 1, Some(0b100));
        assert!(!g.irq_high());
        // Rings while nobody listens leave nothing behind.
        g.access(IEV, 1, Some(0));
        g.latch(doorbell_line(1));
        assert_eq!(g.access(RIS, 1, None).0, 0);
    }

    #[test]
    fn a_masked_edge_is_latched_and_raises_the_output_once_unmasked() {
        let mut g = listening_on(0);
        g.access(IE, 1, Some(0));
        g.latch(doorbell_line(0));
        assert!(!g.irq_high());
        g.access(IE, 1, Some(1));
        assert!(g.irq_high());
    }

    #[test]
    fn driving_a_ring_line_high_rings_its_channel_once() {
        let mut g = Pl061::new(2);
        g.access(DIR, 1, Some(u64::from(ring_line(0) | ring_line(1))));
        // GPIODATA's address masks the lines the write touches: line 3 only.
        let at = u64::from(ring_line(1)) << 2;
        assert_eq!(g.access(at, 1, Some(0xff)).1.rings, 0b10);
        assert_eq!(g.access(at, 1, None).0, u64::from(ring_line(1)));
        // Still high: no edge, no ring.
        assert_eq!(g.access(at, 1, Some(0xff)).1.rings, 0);
        g.access(at, 1, Some(0));
        assert_eq!(g.access(0x3fc, 1, Some(0xff)).1.rings, 0b11, "both ring lines rose");
    }

    #[test]
    fn inputs_and_lines_past_the_channels_ring_nothing() {
        let mut g = Pl061::new(1);
        // An input does not drive: writing its data bit changes nothing.
        assert_eq!(g.access(0x3fc, 1, Some(0xff)).1.rings, 0);
        g.access(DIR, 1, Some(0xff));
        // Channel 0 has lines 0 and 1; lines 3, 5 and 7 belong to no channel of this partition.
        assert_eq!(g.access(0x3fc, 1, Some(0xff)).1.rings, 0b1);
    }

    proptest! {
        /// Whatever a guest writes wherever, at any width: no panic; a ring only ever names one of the
        /// partition's channels with lines; reads of the ID page are the PL061's.
        #[test]
        fn any_access_sequence_is_defined(
            channels in 0usize..8,
            accesses in proptest::collection::vec((0u64..0x1100, prop_oneof![Just(1u8), Just(2), Just(4), Just(8), Just(3)], proptest::option::of(any::<u64>()), any::<u8>()), 0..64),
        ) {
            let mut g = Pl061::new(channels);
            let with_lines = channels.min(CHANNELS);
            for (offset, size, write, posted) in accesses {
                g.latch(posted);
                let (value, effect) = g.access(offset, size, write);
                prop_assert!(value <= 0xff);
                prop_assert_eq!(effect.rings >> with_lines, 0);
                if write.is_some() {
                    prop_assert_eq!(value, 0);
                }
                prop_assert_eq!(g.irq_high(), g.access(MIS, 1, None).0 != 0);
            }
        }
    }
}
