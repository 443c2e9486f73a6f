//! The GIC as a guest uses it: one distributor set-up on the boot vCPU, then per vCPU its CPU interface, banked
//! SGIs/PPIs, acknowledge/end, and SGIs to other vCPUs; and SPIs (device interrupts, INTIDs 32..1019) routed to
//! the vCPU that enables them. GICv2 and GICv3 behind one type, chosen by the device tree.
//!
//! SGIs and PPIs are banked per vCPU, so no vCPU ever writes another's state. SPIs live in the shared
//! distributor, whose registers hold many INTIDs each: enable them from one vCPU at a time (a test guest enables
//! its few at start-up, on the vCPU that handles them). Whatever its INTID, an acknowledged interrupt goes to the
//! same handler ([`crate::irq`]).
//!
//! GICv3 needs AArch64 here: on ARMv7 (`target_arch = "arm"`) guest-rt drives GICv2 only and [`init`] refuses a
//! GICv3.

pub mod v2;
#[cfg(not(target_arch = "arm"))]
pub mod v3;

use spin::Once;

use crate::dt::{GicInfo, GicVersion};

/// Priority guest-rt gives the interrupts it enables: the middle of the range, below the 0xff mask.
pub const DEFAULT_PRIORITY: u8 = 0x80;

/// INTIDs from here up to 1023 are special (GICv3 §2.2.1); 1023 means nothing is pending.
const FIRST_SPECIAL_INTID: u32 = 1020;
/// The first SPI: below it, SGIs (0..15) and PPIs (16..31).
pub const FIRST_SPI: u32 = 32;

pub enum Gic {
    V2(v2::GicV2),
    #[cfg(not(target_arch = "arm"))]
    V3(v3::GicV3),
}

static GIC: Once<Gic> = Once::new();

/// Creates the GIC described by `info` and sets up its distributor. Call it once, on the boot vCPU, before any
/// vCPU calls [`Gic::init_cpu`]; later calls return the first GIC.
pub fn init(info: &GicInfo) -> &'static Gic {
    GIC.call_once(|| {
        let gic = match info.version {
            GicVersion::V2 => Gic::V2(v2::GicV2::new(info)),
            #[cfg(not(target_arch = "arm"))]
            GicVersion::V3 => Gic::V3(v3::GicV3::new(info)),
            #[cfg(target_arch = "arm")]
            GicVersion::V3 => panic!("the device tree describes a GICv3; guest-rt supports only GICv2 on ARMv7"),
        };
        gic.init_distributor();
        gic
    })
}

/// The GIC, once [`init`] has run.
pub fn try_get() -> Option<&'static Gic> {
    GIC.get()
}

/// The GIC; panics before [`init`].
pub fn get() -> &'static Gic {
    try_get().expect("gic::init has not run")
}

/// An acknowledged interrupt; give it back to [`Gic::end`].
#[derive(Clone, Copy, Debug)]
pub struct Ack {
    /// The raw IAR value: on GICv2 it also names the CPU that sent an SGI, and EOIR wants it whole.
    raw: u32,
    intid: u32,
}

impl Ack {
    pub fn intid(&self) -> u32 {
        self.intid
    }
}

impl Gic {
    pub fn version(&self) -> GicVersion {
        match self {
            Self::V2(_) => GicVersion::V2,
            #[cfg(not(target_arch = "arm"))]
            Self::V3(_) => GicVersion::V3,
        }
    }

    fn init_distributor(&self) {
        match self {
            Self::V2(g) => g.init_distributor(),
            #[cfg(not(target_arch = "arm"))]
            Self::V3(g) => g.init_distributor(),
        }
    }

    /// Sets up the calling vCPU's CPU interface (and, on GICv3, wakes its redistributor).
    pub fn init_cpu(&self) {
        match self {
            Self::V2(g) => g.init_cpu(),
            #[cfg(not(target_arch = "arm"))]
            Self::V3(g) => g.init_cpu(),
        }
    }

    /// Enables SGI or PPI `intid` (below 32) on the calling vCPU at `priority`.
    pub fn enable_local(&self, intid: u32, priority: u8) {
        assert!(intid < 32, "INTID {intid} is not an SGI or PPI");
        match self {
            Self::V2(g) => g.enable_local(intid, priority),
            #[cfg(not(target_arch = "arm"))]
            Self::V3(g) => g.enable_local(intid, priority),
        }
    }

    /// Enables SPI `intid` (32..1019) at `priority`, level-sensitive, routed to the calling vCPU only, and makes
    /// sure the distributor forwards it (on GICv3 as Group 1, the group the CPU interface takes as IRQs). Call it
    /// after [`Gic::init_cpu`] on the vCPU that is to handle the SPI; panics if the distributor has no such SPI.
    pub fn enable_spi(&self, intid: u32, priority: u8) {
        self.enable_spi_as(intid, priority, Trigger::Level);
    }

    /// [`Gic::enable_spi`] with the trigger the device tree gives: hv-static's channel doorbells are
    /// edge-rising (docs/guest-abi.md), devices' interrupts mostly level-high.
    pub fn enable_spi_as(&self, intid: u32, priority: u8, trigger: Trigger) {
        assert!((FIRST_SPI..FIRST_SPECIAL_INTID).contains(&intid), "INTID {intid} is not an SPI");
        match self {
            Self::V2(g) => g.enable_spi(intid, priority, trigger),
            #[cfg(not(target_arch = "arm"))]
            Self::V3(g) => g.enable_spi(intid, priority, trigger),
        }
    }

    /// Disables `intid`: an SGI or PPI on the calling vCPU only, an SPI for every vCPU. Returns once the
    /// distributor no longer forwards it.
    pub fn disable(&self, intid: u32) {
        assert!(intid < FIRST_SPECIAL_INTID, "INTID {intid} is special");
        match self {
            Self::V2(g) => g.disable(intid),
            #[cfg(not(target_arch = "arm"))]
            Self::V3(g) => g.disable(intid),
        }
    }

    /// The highest-priority pending interrupt of the calling vCPU, now active; `None` when nothing is pending.
    pub fn acknowledge(&self) -> Option<Ack> {
        let (raw, intid) = match self {
            Self::V2(g) => g.acknowledge(),
            #[cfg(not(target_arch = "arm"))]
            Self::V3(g) => g.acknowledge(),
        };
        (intid < FIRST_SPECIAL_INTID).then_some(Ack { raw, intid })
    }

    /// Ends (EOIs) an interrupt acknowledged on this vCPU.
    pub fn end(&self, ack: Ack) {
        match self {
            Self::V2(g) => g.end(ack.raw),
            #[cfg(not(target_arch = "arm"))]
            Self::V3(g) => g.end(ack.raw),
        }
    }

    /// Sends SGI `sgi` (0..15) to the vCPU with index `cpu` and MPIDR affinity `mpidr`. Stores made before the
    /// call are visible to the target when it takes the SGI. GICv2 addresses the target by index, GICv3 by MPIDR.
    pub fn send_sgi(&self, sgi: u8, cpu: usize, mpidr: u64) {
        assert!(sgi < 16, "SGI {sgi} out of range");
        #[cfg(target_arch = "arm")]
        let _ = mpidr;
        match self {
            Self::V2(g) => g.send_sgi(sgi, cpu),
            #[cfg(not(target_arch = "arm"))]
            Self::V3(g) => g.send_sgi(sgi, mpidr),
        }
    }
}

/// `word` with byte `index` (0..3) replaced: priority registers hold four INTIDs each, and some emulated GICs
/// accept only word accesses, so priorities are written by read-modify-write of the whole word.
pub(crate) const fn with_byte(word: u32, index: u32, byte: u8) -> u32 {
    let shift = (index % 4) * 8;
    (word & !(0xff << shift)) | ((byte as u32) << shift)
}

/// One past the highest INTID a distributor implements, from GICD_TYPER.ITLinesNumber (the same field in v2 and
/// v3): 32 × (N + 1), the special INTIDs excluded.
pub(crate) const fn intid_limit(typer: u32) -> u32 {
    let limit = 32 * ((typer & 0x1f) + 1);
    if limit > FIRST_SPECIAL_INTID {
        FIRST_SPECIAL_INTID
    } else {
        limit
    }
}

/// How an SPI is triggered (GICD_ICFGR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Level,
    Edge,
}

/// GICD_ICFGR word `word` (16 INTIDs, two bits each) with `intid` triggered as `trigger`: bit 1 of its pair set for
/// edge-triggered, cleared for level-sensitive; bit 0 is reserved and kept.
pub(crate) const fn with_trigger(word: u32, intid: u32, trigger: Trigger) -> u32 {
    let bit = 2 << ((intid % 16) * 2);
    match trigger {
        Trigger::Level => word & !bit,
        Trigger::Edge => word | bit,
    }
}

/// Panics unless the distributor with GICD_TYPER `typer` implements SPI `intid`.
fn check_spi(typer: u32, intid: u32) {
    let limit = intid_limit(typer);
    assert!(intid < limit, "SPI {intid} is beyond the distributor's INTIDs (below {limit})");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typer_gives_the_intid_limit() {
        assert_eq!(intid_limit(0), 32, "no SPIs");
        assert_eq!(intid_limit(0x0000_0008), 288, "QEMU virt and hv-static: 256 SPIs");
        assert_eq!(intid_limit(0x0078_001f), 1020, "the special INTIDs are never SPIs");
    }

    #[test]
    fn level_sensitive_clears_only_the_edge_bit() {
        let level_sensitive = |w, i| with_trigger(w, i, Trigger::Level);
        // INTID 34: ICFGR2, pair 2 (bits 5:4).
        assert_eq!(level_sensitive(0xffff_ffff, 34), 0xffff_ffdf);
        assert_eq!(level_sensitive(0x5555_5555, 34), 0x5555_5555, "already level");
        assert_eq!(level_sensitive(0xaaaa_aaaa, 47), 0x2aaa_aaaa, "last pair of the word");
    }

    #[test]
    fn edge_triggered_sets_only_the_edge_bit() {
        let edge = |w, i| with_trigger(w, i, Trigger::Edge);
        assert_eq!(edge(0, 34), 0x20);
        assert_eq!(edge(0x5555_5555, 48), 0x5555_5557, "first pair of the word, reserved bit kept");
        assert_eq!(edge(0xaaaa_aaaa, 47), 0xaaaa_aaaa, "already edge");
    }

    #[test]
    fn with_byte_replaces_one_priority() {
        assert_eq!(with_byte(0xa0a0_a0a0, 3, 0x80), 0x80a0_a0a0);
        assert_eq!(with_byte(0xa0a0_a0a0, 0, 0x10), 0xa0a0_a010);
        assert_eq!(with_byte(0, 27 % 4, 0x80), 0x8000_0000, "INTID 27 is the top byte of IPRIORITYR6");
    }
}
