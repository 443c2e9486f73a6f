//! Register-level emulation of the distributor (GICv2 and GICv3 `GICD_*`) and the GICv3 redistributors
//! (`GICR_*`), over [`VgicState`]. Pure logic: the caller turns the returned [`Effects`] into list-register
//! refills and physical enables.

use super::state::{Bit, IrqCfg, VgicState, NR_IRQS, NR_PRIVATE};

pub const GICD_SIZE_V3: u64 = 0x1_0000;
pub const GICD_SIZE_V2: u64 = 0x1000;
/// One redistributor: RD_base frame then SGI_base frame.
pub const GICR_STRIDE: u64 = 0x2_0000;

const CTLR: u64 = 0x000;
const TYPER: u64 = 0x004;
const IIDR: u64 = 0x008;
const IGROUPR: u64 = 0x080;
const ISENABLER: u64 = 0x100;
const ICENABLER: u64 = 0x180;
const ISPENDR: u64 = 0x200;
const ICPENDR: u64 = 0x280;
const ISACTIVER: u64 = 0x300;
const ICACTIVER: u64 = 0x380;
const IPRIORITYR: u64 = 0x400;
const ITARGETSR: u64 = 0x800;
const ICFGR: u64 = 0xC00;
const SGIR: u64 = 0xF00;
const IROUTER: u64 = 0x6000;
const PIDR2_V3: u64 = 0xFFE8;
const PIDR2_V2: u64 = 0xFE8;

const GICR_CTLR: u64 = 0x0000;
const GICR_IIDR: u64 = 0x0004;
const GICR_TYPER: u64 = 0x0008;
const GICR_WAKER: u64 = 0x0014;
const SGI_BASE: u64 = 0x1_0000;

/// hv-static's implementer/product code in the IIDR registers (JEP106 0x43B is Arm; product 0x48 'H').
const IIDR_VALUE: u32 = 0x4800_043B;

/// What a register write asks of the rest of the hypervisor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// vCPUs (bit per index) whose list registers must be refilled.
    pub refill: u32,
    /// Interrupts whose enable or routing changed (`first`, bit mask of 32 from it): hardware-backed ones must
    /// follow on the physical GIC.
    pub changed: Option<(u32, u32)>,
    /// A GICv2 `GICD_SGIR` write: SGI `intid` to the vCPUs in `targets`.
    pub sgi: Option<(u32, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    V2,
    V3,
}

/// A guest access: byte offset in the frame, size in bytes, and the value for writes (every emulated device's).
pub use crate::vdev::Access;

/// Whether the GIC architecture defines an access of `size` bytes at `offset` of the distributor (or, `gicr`, a
/// redistributor's frame at `offset` within it): naturally aligned, 32-bit everywhere, byte-wide only in the
/// priority and (GICv2) target registers, 64-bit only for GICD_IROUTER<n> and GICR_TYPER. Every other access (a
/// halfword, a misaligned word, a doubleword that runs into the next register, anything not 1, 2, 4 or 8 bytes) is
/// RAZ/WI, as a GIC does with accesses it does not support; so nothing below ever sees one that crosses the end
/// of a register range.
fn legal(offset: u64, size: u8, gicr: bool) -> bool {
    let aligned = matches!(size, 1 | 2 | 4 | 8) && offset.is_multiple_of(size as u64);
    let frame = if gicr { offset % SGI_BASE } else { offset };
    let bytes_ok = (IPRIORITYR..ICFGR).contains(&frame) && (!gicr || frame < ITARGETSR);
    let doubles_ok =
        if gicr { offset == GICR_TYPER } else { (IROUTER..IROUTER + 8 * NR_IRQS as u64).contains(&offset) };
    aligned
        && match size {
            4 => true,
            1 => bytes_ok,
            8 => doubles_ok,
            _ => false,
        }
}

impl<const V: usize> VgicState<V> {
    /// Distributor access by `vcpu`. Returns the read value (0 for writes and unknown registers, which are RAZ/WI).
    /// Total over every offset, size and value a guest can produce.
    pub fn gicd_access(&mut self, flavor: Flavor, vcpu: usize, a: Access, fx: &mut Effects) -> u64 {
        let off = a.offset;
        if !legal(off, a.size, false) || vcpu >= self.nr_vcpus {
            return 0;
        }
        match (off, a.write) {
            (CTLR, None) => match flavor {
                // ARE and DS read as one: affinity routing only, a single security state.
                Flavor::V3 => (self.ctlr & 0b11 | 1 << 4 | 1 << 6) as u64,
                Flavor::V2 => (self.ctlr & 0b11) as u64,
            },
            (CTLR, Some(v)) => {
                let was = self.ctlr;
                self.ctlr = v as u32 & 0b11;
                // SPIs that went pending while the groups were off are deliverable now.
                if self.ctlr & !was != 0 {
                    for cpu in 0..self.nr_vcpus {
                        self.mark(cpu);
                    }
                }
                fx.refill |= self.all_vcpus();
                0
            }
            (TYPER, None) => {
                let lines = (NR_IRQS / 32 - 1) as u64;
                match flavor {
                    Flavor::V3 => lines | 9 << 19,
                    Flavor::V2 => lines | ((self.nr_vcpus as u64 - 1) & 7) << 5,
                }
            }
            (IIDR, None) => IIDR_VALUE as u64,
            (PIDR2_V3, None) if flavor == Flavor::V3 => 0x3B,
            (PIDR2_V2, None) if flavor == Flavor::V2 => 0x2B,
            (SGIR, Some(v)) if flavor == Flavor::V2 => {
                let v = v as u32;
                let targets = match (v >> 24) & 3 {
                    0 => (v >> 16) & 0xff,
                    1 => self.all_vcpus() & !(1 << vcpu),
                    2 => 1 << vcpu,
                    _ => 0,
                };
                fx.sgi = Some((v & 0xf, targets & self.all_vcpus()));
                0
            }
            (o, w) if (IROUTER + 8 * 32..IROUTER + 8 * NR_IRQS as u64).contains(&o) && flavor == Flavor::V3 => {
                let intid = ((o - IROUTER) / 8) as u32;
                let nr_vcpus = self.nr_vcpus;
                let Some(mut irq) = self.irq(vcpu, intid) else { return 0 };
                // Only the low word carries Aff0 (= vCPU index) and IRM; the high word (Aff3) is RAZ/WI.
                if o % 8 != 0 {
                    return 0;
                }
                match w {
                    None => irq.target as u64,
                    Some(v) => {
                        let target = (v & 0xff) as usize;
                        irq.target = if target < nr_vcpus { target as u8 } else { 0 };
                        let (target, pending) = (irq.target as usize, irq.pending);
                        drop(irq); // moves it to its new target's ready set
                        fx.changed = Some((intid, 1));
                        self.rerouted(target, pending, fx);
                        0
                    }
                }
            }
            (o, w) if (ITARGETSR..ITARGETSR + NR_IRQS as u64).contains(&o) && flavor == Flavor::V2 => {
                let first = (o - ITARGETSR) as u32;
                let nr_vcpus = self.nr_vcpus as u32;
                let mut value = 0u64;
                for i in 0..a.size as u32 {
                    let intid = first + i;
                    if intid < NR_PRIVATE as u32 {
                        value |= (1u64 << vcpu) << (8 * i);
                        continue;
                    }
                    let Some(mut irq) = self.irq(vcpu, intid) else { continue };
                    match w {
                        None => value |= (1u64 << irq.target) << (8 * i),
                        Some(v) => {
                            let mask = (v >> (8 * i)) as u8;
                            if mask != 0 {
                                irq.target = mask.trailing_zeros().min(nr_vcpus - 1) as u8;
                            }
                            let (target, pending) = (irq.target as usize, irq.pending);
                            drop(irq); // moves it to its new target's ready set
                            fx.changed = Some((first, (1 << a.size) - 1));
                            self.rerouted(target, pending, fx);
                        }
                    }
                }
                value
            }
            (o, _) if (IGROUPR..ICFGR + NR_IRQS as u64 / 4).contains(&o) => {
                // GICv3 keeps private interrupts in the redistributor; GICv2 banks them here.
                let private_here = flavor == Flavor::V2;
                self.irq_regs(vcpu, a, private_here, true, fx)
            }
            _ => 0,
        }
    }

    /// Redistributor access: `offset` is relative to the start of the whole redistributor region.
    pub fn gicr_access(&mut self, a: Access, fx: &mut Effects) -> u64 {
        let vcpu = (a.offset / GICR_STRIDE) as usize;
        let off = a.offset % GICR_STRIDE;
        if vcpu >= self.nr_vcpus || !legal(off, a.size, true) {
            return 0;
        }
        match (off, a.write) {
            (GICR_CTLR, _) => 0,
            (GICR_IIDR, None) => IIDR_VALUE as u64,
            (GICR_TYPER, None) => {
                let last = if vcpu + 1 == self.nr_vcpus { 1 << 4 } else { 0 };
                (vcpu as u64) << 32 | (vcpu as u64) << 8 | last
            }
            (o, None) if o == GICR_TYPER + 4 => vcpu as u64,
            (GICR_WAKER, None) if self.cpus[vcpu].asleep => 0b110,
            (GICR_WAKER, None) => 0,
            (GICR_WAKER, Some(v)) => {
                self.cpus[vcpu].asleep = v & 0b10 != 0;
                0
            }
            (PIDR2_V3, None) => 0x3B,
            (o, _) if (SGI_BASE + IGROUPR..SGI_BASE + ICFGR + 8).contains(&o) => {
                let a = Access { offset: o - SGI_BASE, ..a };
                self.irq_regs(vcpu, a, true, false, fx)
            }
            (o, None) if o == SGI_BASE + PIDR2_V3 => 0x3B,
            _ => 0,
        }
    }

    fn all_vcpus(&self) -> u32 {
        (1u32 << self.nr_vcpus) - 1
    }

    /// An SPI now routed to `target`: if it is pending, that vCPU must look (its old target never will).
    fn rerouted(&mut self, target: usize, pending: bool, fx: &mut Effects) {
        if pending {
            self.mark(target);
            fx.refill |= 1 << target;
        }
    }

    /// The banked per-interrupt registers shared by GICD and the GICR SGI frame. `private` / `shared` say which
    /// INTID ranges this frame may touch; the rest is RAZ/WI.
    fn irq_regs(&mut self, vcpu: usize, a: Access, private: bool, shared: bool, fx: &mut Effects) -> u64 {
        let (off, size) = (a.offset, a.size as u64);
        let (base, bits_per_irq) = match off {
            o if o < ISENABLER => (IGROUPR, 1),
            o if o < ICENABLER => (ISENABLER, 1),
            o if o < ISPENDR => (ICENABLER, 1),
            o if o < ICPENDR => (ISPENDR, 1),
            o if o < ISACTIVER => (ICPENDR, 1),
            o if o < ICACTIVER => (ISACTIVER, 1),
            o if o < IPRIORITYR => (ICACTIVER, 1),
            o if o < ITARGETSR => (IPRIORITYR, 8),
            o if o >= ICFGR => (ICFGR, 2),
            _ => return 0,
        };
        let first = ((off - base) * 8 / bits_per_irq) as u32;
        let count = (size * 8 / bits_per_irq) as u32;
        // `legal` lets through only whole registers here, and the INTIDs of one are all private or all SPIs.
        let private_range = (first as usize) < NR_PRIVATE;
        let allowed = if private_range { private } else { shared };
        if !allowed {
            return 0;
        }
        // Enable, pending and active are bitmaps: a register is one word (`legal` lets only whole, aligned words
        // through to them, so `first` is a multiple of 32).
        let bit = match base {
            ISENABLER | ICENABLER => Some(Bit::Enabled),
            ISPENDR | ICPENDR => Some(Bit::Pending),
            ISACTIVER | ICACTIVER => Some(Bit::Active),
            _ => None,
        };
        let Some(write) = a.write else {
            if let Some(bit) = bit {
                return self.bits(vcpu, first, bit).map_or(0, u64::from);
            }
            let Some(states) = self.range(vcpu, first, count) else { return 0 };
            return states.iter().zip(0u64..).fold(0, |value, (irq, i)| value | read(irq, base) << (i * bits_per_irq));
        };
        let Some(bit) = bit else {
            // Group, priority, trigger: every field of the register is written.
            let all = u32::MAX >> (32 - count.clamp(1, 32));
            let field_mask = (1u64 << bits_per_irq) - 1;
            self.update_cfg(vcpu, first, all, |i, irq| {
                update(irq, base, (write >> (u64::from(i) * bits_per_irq)) & field_mask)
            });
            return 0;
        };
        // A set/clear register changes only where its bit is one: a few word operations, whatever the value.
        let mask = write as u32;
        let set = matches!(base, ISENABLER | ISPENDR | ISACTIVER);
        let changed = self.write_bits(vcpu, first, bit, mask, set);
        // The interrupts whose target must look at its list registers again: enabled or disabled ones, and every
        // one made pending (even if it was: a re-pend folds into the list register that holds it).
        let touched = match base {
            ISENABLER | ICENABLER => changed,
            ISPENDR => mask,
            _ => 0,
        };
        if touched == 0 {
            return 0;
        }
        let (targets, deliverable) = self.targets_of(vcpu, first, touched);
        // Made pending while enabled, or enabled while pending: the target's list registers must be looked at
        // again, and only `dirty` makes `fill_lrs` look. An interrupt enabled after it went pending was otherwise
        // never delivered (issue 14): for the virtual timer that also kept its physical PPI active, so no later
        // tick could come either.
        let mut marks = deliverable;
        while marks != 0 {
            self.mark(marks.trailing_zeros() as usize);
            marks &= marks - 1;
        }
        fx.refill |= targets;
        if matches!(base, ISENABLER | ICENABLER) {
            // From the lowest interrupt changed, as `sync_passthrough` reads it.
            let low = touched.trailing_zeros();
            fx.changed = match fx.changed {
                None => Some((first + low, touched >> low)),
                Some((f, m)) if f == first + low => Some((f, m | touched >> low)),
                other => other,
            };
        }
        0
    }
}

/// One interrupt's field of a register that is not a bitmap (group, priority, trigger), as a read returns it.
fn read(irq: &IrqCfg, base: u64) -> u64 {
    match base {
        IGROUPR => irq.group1 as u64,
        IPRIORITYR => irq.priority as u64,
        // ICFGR: bit 1 of each pair says edge.
        _ => (irq.edge as u64) << 1,
    }
}

/// Writes `field` into one interrupt's field of a register that is not a bitmap (group, priority, trigger).
fn update(irq: &mut IrqCfg, base: u64, field: u64) {
    match base {
        IGROUPR => irq.group1 = field == 1,
        IPRIORITYR => irq.priority = field as u8,
        // ICFGR: bit 1 of each pair selects edge. SGIs are always edge.
        _ => irq.edge = field & 2 != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(v: &mut VgicState<2>, f: Flavor, off: u64) -> u64 {
        v.gicd_access(f, 0, Access { offset: off, size: 4, write: None }, &mut Effects::default())
    }

    fn wr(v: &mut VgicState<2>, f: Flavor, vcpu: usize, off: u64, val: u64) -> Effects {
        let mut fx = Effects::default();
        v.gicd_access(f, vcpu, Access { offset: off, size: 4, write: Some(val) }, &mut fx);
        fx
    }

    #[test]
    fn v3_identity_registers() {
        let mut v = VgicState::<2>::new(2);
        assert_eq!(rd(&mut v, Flavor::V3, CTLR) & (1 << 4 | 1 << 6), 1 << 4 | 1 << 6);
        assert_eq!(rd(&mut v, Flavor::V3, TYPER) & 0x1f, 8);
        assert_eq!(rd(&mut v, Flavor::V3, PIDR2_V3) >> 4 & 0xf, 3);
        assert_eq!(rd(&mut v, Flavor::V2, TYPER) >> 5 & 7, 1, "two CPUs");
    }

    #[test]
    fn spi_enable_route_and_pend() {
        let mut v = VgicState::<2>::new(2);
        let fx = wr(&mut v, Flavor::V3, 0, ISENABLER + 4, 1 << 1); // INTID 33
        assert_eq!(fx.changed, Some((33, 1)));
        assert!(v.irq(0, 33).unwrap().enabled);
        wr(&mut v, Flavor::V3, 0, IROUTER + 8 * 33, 1);
        assert_eq!(v.irq(0, 33).unwrap().target, 1);
        let fx = wr(&mut v, Flavor::V3, 0, ISPENDR + 4, 1 << 1);
        assert_eq!(fx.refill, 1 << 1, "vCPU 1 owns the SPI");
        assert_eq!(rd(&mut v, Flavor::V3, ISENABLER + 4), 1 << 1);
    }

    /// Issue 14: the virtual timer fired while the guest had it disabled at its GIC (the physical PPI is then
    /// acknowledged at EL2 and waits in the model); enabling it must get it into a list register.
    #[test]
    fn enabling_an_interrupt_that_went_pending_gets_it_delivered() {
        use crate::hw::gic::lr::Lr;
        let mut v = VgicState::<2>::new(2);
        v.irq(0, 27).unwrap().hw = true;
        v.set_pending(0, 27, 0);
        let mut lrs = [Lr::EMPTY; 4];
        assert!(!v.fill_lrs(0, &mut lrs));
        assert!(lrs[0].is_free(), "disabled: not delivered");
        let mut fx = Effects::default();
        v.gicr_access(Access { offset: SGI_BASE + ISENABLER, size: 4, write: Some(1 << 27) }, &mut fx);
        assert_eq!(fx.refill, 1);
        v.fill_lrs(0, &mut lrs);
        assert_eq!(lrs[0], Lr::pending(27, Some(27), 0, false, 0));
    }

    #[test]
    fn enabling_the_distributor_delivers_spis_that_went_pending_before() {
        use crate::hw::gic::lr::Lr;
        let mut v = VgicState::<2>::new(2);
        wr(&mut v, Flavor::V2, 0, ISENABLER + 4, 1 << 8); // INTID 40
        v.set_pending(0, 40, 0);
        let mut lrs = [Lr::EMPTY; 4];
        v.fill_lrs(0, &mut lrs);
        assert!(lrs[0].is_free(), "distributor off");
        let fx = wr(&mut v, Flavor::V2, 0, CTLR, 1);
        assert_eq!(fx.refill, 0b11);
        v.fill_lrs(0, &mut lrs);
        assert_eq!(lrs[0].vintid, 40);
    }

    #[test]
    fn rerouting_a_pending_spi_hands_it_to_its_new_target() {
        use crate::hw::gic::lr::Lr;
        let mut v = VgicState::<2>::new(2);
        wr(&mut v, Flavor::V3, 0, CTLR, 2);
        wr(&mut v, Flavor::V3, 0, ISENABLER + 4, 1 << 8); // INTID 40, routed to vCPU 0
        v.set_pending(0, 40, 0);
        let mut fx = Effects::default();
        v.gicd_access(Flavor::V3, 0, Access { offset: IROUTER + 8 * 40, size: 8, write: Some(1) }, &mut fx);
        assert_eq!(fx.refill & 0b10, 0b10, "vCPU 1 must look");
        let mut lrs = [Lr::EMPTY; 4];
        v.fill_lrs(1, &mut lrs);
        assert_eq!(lrs[0].vintid, 40);
    }

    #[test]
    fn v3_private_interrupts_only_through_the_redistributor() {
        let mut v = VgicState::<2>::new(2);
        wr(&mut v, Flavor::V3, 0, ISENABLER, 1 << 27);
        assert!(!v.irq(0, 27).unwrap().enabled, "GICD_ISENABLER0 is RAZ/WI with ARE");
        let mut fx = Effects::default();
        let a = Access { offset: GICR_STRIDE + SGI_BASE + ISENABLER, size: 4, write: Some(1 << 27) };
        v.gicr_access(a, &mut fx);
        assert!(v.irq(1, 27).unwrap().enabled && !v.irq(0, 27).unwrap().enabled);
    }

    #[test]
    fn redistributor_identity_and_waker() {
        let mut v = VgicState::<2>::new(2);
        let mut fx = Effects::default();
        let typer = |v: &mut VgicState<2>, n: u64, fx: &mut Effects| {
            v.gicr_access(Access { offset: n * GICR_STRIDE + GICR_TYPER, size: 8, write: None }, fx)
        };
        assert_eq!(typer(&mut v, 0, &mut fx), 0);
        assert_eq!(typer(&mut v, 1, &mut fx), 1 << 32 | 1 << 8 | 1 << 4, "vCPU 1 is the last");
        let waker = Access { offset: GICR_WAKER, size: 4, write: Some(0) };
        v.gicr_access(waker, &mut fx);
        assert_eq!(v.gicr_access(Access { write: None, ..waker }, &mut fx), 0, "awake");
    }

    #[test]
    fn byte_priorities_and_v2_targets() {
        let mut v = VgicState::<2>::new(2);
        let mut fx = Effects::default();
        v.gicd_access(Flavor::V2, 0, Access { offset: IPRIORITYR + 41, size: 1, write: Some(0xa0) }, &mut fx);
        assert_eq!(v.irq(0, 41).unwrap().priority, 0xa0);
        assert_eq!(rd(&mut v, Flavor::V2, IPRIORITYR + 40), 0xa000);
        wr(&mut v, Flavor::V2, 0, ITARGETSR + 40, 0x0200_0000); // INTID 43 -> CPU 1
        assert_eq!(v.irq(0, 43).unwrap().target, 1);
        assert_eq!(rd(&mut v, Flavor::V2, ITARGETSR) & 0xff, 1, "private: the reading CPU");
    }

    #[test]
    fn v2_sgir_filters() {
        let mut v = VgicState::<2>::new(2);
        assert_eq!(wr(&mut v, Flavor::V2, 0, SGIR, 1 << 24 | 5).sgi, Some((5, 0b10)), "all but self");
        assert_eq!(wr(&mut v, Flavor::V2, 1, SGIR, 2 << 24 | 3).sgi, Some((3, 0b10)), "self");
        assert_eq!(wr(&mut v, Flavor::V2, 0, SGIR, 0xff << 16 | 1).sgi, Some((1, 0b11)), "list clipped to vCPUs");
    }

    /// Registers a hostile guest reaches for: the crash reported on GICv2 was a halfword at GICD+0x91F.
    #[test]
    fn accesses_past_the_end_of_a_register_range_are_raz_wi() {
        let mut v = VgicState::<2>::new(2);
        let mut fx = Effects::default();
        for (off, size) in
            [(0x91F, 2), (0x91E, 4), (0x91C, 8), (0x918, 8), (0x91F, 4), (0x7FF, 4), (0x91F, 0), (0x91F, 16)]
        {
            for write in [None, Some(u64::MAX)] {
                let got = v.gicd_access(Flavor::V2, 1, Access { offset: off, size, write }, &mut fx);
                assert_eq!(got, 0, "{off:#x}/{size}");
            }
        }
        // The last byte of ITARGETSR itself is a legal byte access.
        let last = v.gicd_access(Flavor::V2, 0, Access { offset: 0x91F, size: 1, write: None }, &mut fx);
        assert_eq!(last, 1, "SPI 287 targets vCPU 0");
    }

    mod hostile {
        use super::super::*;
        use crate::vdev::vgic::state::{NR_IRQS, NR_PRIVATE};
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        struct Op {
            gicr: bool,
            vcpu: usize,
            offset: u64,
            size: u8,
            write: Option<u64>,
        }

        fn op() -> impl Strategy<Value = Op> {
            let offset = prop_oneof![
                0u64..0x1_0000,
                0x6000u64..0x6000 + 8 * NR_IRQS as u64 + 16,
                0u64..4 * GICR_STRIDE + 0x100,
                any::<u64>(),
            ];
            (any::<bool>(), 0usize..4, offset, any::<u8>(), proptest::option::of(any::<u64>()))
                .prop_map(|(gicr, vcpu, offset, size, write)| Op { gicr, vcpu, offset, size, write })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// Any sequence of distributor and redistributor accesses at any offset, width and value, from any vCPU:
            /// no panic, and the model stays consistent (every SPI routed to an existing vCPU, effects name only
            /// existing vCPUs).
            #[test]
            fn any_access_sequence_is_answered(
                v3 in any::<bool>(),
                nr in 1usize..=4,
                ops in proptest::collection::vec(op(), 1..200),
            ) {
                let flavor = if v3 { Flavor::V3 } else { Flavor::V2 };
                let mut v = VgicState::<4>::new(nr);
                for o in ops {
                    let mut fx = Effects::default();
                    let a = Access { offset: o.offset, size: o.size, write: o.write };
                    if o.gicr {
                        v.gicr_access(a, &mut fx);
                    } else {
                        v.gicd_access(flavor, o.vcpu % nr, a, &mut fx);
                    }
                    let all = (1u32 << nr) - 1;
                    prop_assert_eq!(fx.refill & !all, 0);
                    if let Some((_, targets)) = fx.sgi {
                        prop_assert_eq!(targets & !all, 0);
                    }
                    for intid in NR_PRIVATE as u32..NR_IRQS as u32 {
                        prop_assert!(v.target_of(0, intid) < nr);
                    }
                }
            }
        }
    }
}
