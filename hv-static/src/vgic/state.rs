//! The virtual interrupt controller's model of one partition: every interrupt's enable, pending, active, priority,
//! trigger and routing, as the guest programmed it through the emulated distributor and redistributors, and the
//! choice of what goes into the list registers.

use super::lr::{Lr, LrState};

/// Interrupt IDs the virtual distributor implements: SGIs, PPIs and 256 SPIs (`GICD_TYPER.ITLinesNumber = 8`).
pub const NR_IRQS: usize = 288;
pub const NR_PRIVATE: usize = 32;
pub const NR_SPIS: usize = NR_IRQS - NR_PRIVATE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqState {
    pub enabled: bool,
    /// Pending and not yet in a list register.
    pub pending: bool,
    pub active: bool,
    pub priority: u8,
    pub edge: bool,
    pub group1: bool,
    /// Backed by the same physical INTID, deactivated in hardware by the guest's deactivation.
    pub hw: bool,
    /// vCPU an SPI is routed to (ignored for private interrupts).
    pub target: u8,
    /// GICv2 SGIs: the vCPU that sent it.
    pub source: u8,
}

impl IrqState {
    pub const RESET: IrqState = IrqState {
        enabled: false,
        pending: false,
        active: false,
        priority: 0,
        edge: false,
        group1: false,
        hw: false,
        target: 0,
        source: 0,
    };
}

/// Per-vCPU part: the banked private interrupts and the redistributor's own registers.
#[derive(Clone, Copy, Debug)]
pub struct CpuIrqs {
    pub private: [IrqState; NR_PRIVATE],
    /// GICR_WAKER.ProcessorSleep.
    pub asleep: bool,
    /// Something may be pending that is not yet in a list register.
    pub dirty: bool,
}

impl CpuIrqs {
    pub const RESET: CpuIrqs = {
        let mut private = [IrqState::RESET; NR_PRIVATE];
        let mut i = 0;
        while i < 16 {
            private[i].edge = true;
            i += 1;
        }
        CpuIrqs { private, asleep: true, dirty: false }
    };
}

/// A partition's whole virtual GIC state. `V` is the capacity of vCPUs (from the config).
pub struct VgicState<const V: usize> {
    pub ctlr: u32,
    pub spis: [IrqState; NR_SPIS],
    pub cpus: [CpuIrqs; V],
    pub nr_vcpus: usize,
}

impl<const V: usize> VgicState<V> {
    pub const fn new(nr_vcpus: usize) -> Self {
        Self { ctlr: 0, spis: [IrqState::RESET; NR_SPIS], cpus: [CpuIrqs::RESET; V], nr_vcpus }
    }

    pub fn reset(&mut self) {
        *self = Self::new(self.nr_vcpus);
    }

    /// The state of `intid` as seen by `vcpu` (private interrupts are banked per vCPU).
    pub fn irq(&mut self, vcpu: usize, intid: u32) -> Option<&mut IrqState> {
        let i = intid as usize;
        if i < NR_PRIVATE {
            self.cpus.get_mut(vcpu).map(|c| &mut c.private[i])
        } else {
            self.spis.get_mut(i - NR_PRIVATE)
        }
    }

    /// Which vCPU an interrupt is delivered to.
    pub fn target_of(&self, vcpu: usize, intid: u32) -> usize {
        if (intid as usize) < NR_PRIVATE {
            vcpu
        } else {
            self.spis.get(intid as usize - NR_PRIVATE).map_or(vcpu, |irq| irq.target as usize)
        }
    }

    /// Marks `intid` pending for `vcpu`; returns the vCPU whose list registers must be refilled.
    pub fn set_pending(&mut self, vcpu: usize, intid: u32, source: u8) -> Option<usize> {
        let target = self.target_of(vcpu, intid);
        let irq = self.irq(vcpu, intid)?;
        irq.pending = true;
        irq.source = source;
        self.mark(target);
        Some(target)
    }

    /// Something about `vcpu`'s interrupts changed that may make one deliverable (pending, enabled, routed to it,
    /// its distributor group enabled): its list registers must be looked at again.
    ///
    /// `dirty` is what lets [`VgicState::fill_lrs`] (and `has_news` on every switch-in) skip the scan, so it must
    /// never be false while an interrupt of `vcpu` is pending and deliverable but not in a list register (issue 14):
    /// such an interrupt waits until something unrelated is injected into the vCPU, which may be never. For the
    /// virtual timer that is worse than a late tick: its physical PPI was acknowledged at EL2 and is deactivated
    /// only by the guest's completion through the HW-linked list register, so while it waits in the model the
    /// physical timer interrupt stays active and no further tick can even be signalled on that CPU.
    pub fn mark(&mut self, vcpu: usize) {
        if let Some(cpu) = self.cpus.get_mut(vcpu) {
            cpu.dirty = true;
        }
    }

    /// Moves deliverable interrupts for `vcpu` into free list registers, most urgent (lowest priority value) first.
    /// `lrs` holds the hardware's current contents. Returns true when something is left over (the caller asks for an
    /// underflow maintenance interrupt to come back).
    ///
    /// Interrupts made pending again while a list register still holds them are folded into that register first:
    /// a register that is pending already delivers it (edge interrupts coalesce, level ones are resampled when the
    /// guest completes them); one the guest is handling becomes pending and active, so it is taken again after
    /// the guest's completion, except a hardware-linked one (the virtual timer, passed-through SPIs), whose
    /// pending state lives in the physical GIC (it cannot be pending again while the guest has it active; the
    /// architecture does not allow pending-and-active with the HW bit). Either way the model's pending bit is
    /// cleared, so nothing is delivered twice and, once this returns false, no pending interrupt is left behind
    /// with `dirty` clear.
    pub fn fill_lrs(&mut self, vcpu: usize, lrs: &mut [Lr]) -> bool {
        if !self.cpus[vcpu].dirty {
            return false;
        }
        for lr in lrs.iter_mut().filter(|l| !l.is_free()) {
            // An SPI routed elsewhere since it came here stays pending for its new target.
            if self.target_of(vcpu, lr.vintid) != vcpu {
                continue;
            }
            let Some(irq) = self.irq(vcpu, lr.vintid).filter(|irq| irq.pending) else { continue };
            irq.pending = false;
            if lr.state == LrState::Active && lr.pintid.is_none() {
                lr.state = LrState::PendingActive;
            }
        }
        let grp_enabled = self.ctlr & 0b11 != 0;
        loop {
            let Some(intid) = self.most_urgent(vcpu, grp_enabled) else {
                self.cpus[vcpu].dirty = false;
                return false;
            };
            let Some(slot) = lrs.iter().position(Lr::is_free) else {
                return true;
            };
            // `most_urgent` only yields valid INTIDs; were it ever not, nothing is delivered rather than a panic.
            let Some(irq) = self.irq(vcpu, intid) else {
                self.cpus[vcpu].dirty = false;
                return false;
            };
            irq.pending = false;
            let level = !irq.edge && !irq.hw && intid as usize >= NR_PRIVATE;
            lrs[slot] =
                Lr { eoi: level, ..Lr::pending(intid, irq.hw.then_some(intid), irq.priority, irq.group1, irq.source) };
        }
    }

    /// The most urgent interrupt `vcpu` can take now that no list register holds (`fill_lrs` folded those in).
    fn most_urgent(&self, vcpu: usize, grp_enabled: bool) -> Option<u32> {
        let deliverable =
            |irq: &IrqState, intid: u32| irq.pending && irq.enabled && (intid < NR_PRIVATE as u32 || grp_enabled);
        let private = self.cpus[vcpu].private.iter().enumerate().map(|(i, s)| (i as u32, s));
        let spis = self
            .spis
            .iter()
            .enumerate()
            .filter(|(_, s)| s.target as usize == vcpu)
            .map(|(i, s)| ((i + NR_PRIVATE) as u32, s));
        private.chain(spis).filter(|(i, s)| deliverable(s, *i)).min_by_key(|(i, s)| (s.priority, *i)).map(|(i, _)| i)
    }

    /// Whether `vcpu` has an interrupt it could take that is in no list register: what `dirty` must then say.
    #[cfg(test)]
    pub fn has_deliverable(&self, vcpu: usize) -> bool {
        self.most_urgent(vcpu, self.ctlr & 0b11 != 0).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(v: &mut VgicState<2>, vcpu: usize, intid: u32, prio: u8) {
        let irq = v.irq(vcpu, intid).unwrap();
        irq.enabled = true;
        irq.priority = prio;
    }

    #[test]
    fn pending_enabled_interrupt_reaches_a_free_lr() {
        let mut v = VgicState::<2>::new(2);
        enabled(&mut v, 0, 27, 0xa0);
        v.irq(0, 27).unwrap().hw = true;
        assert_eq!(v.set_pending(0, 27, 0), Some(0));
        let mut lrs = [Lr::EMPTY; 4];
        assert!(!v.fill_lrs(0, &mut lrs));
        assert_eq!(lrs[0], Lr::pending(27, Some(27), 0xa0, false, 0));
        assert!(!v.irq(0, 27).unwrap().pending, "the LR owns the pending state now");
    }

    #[test]
    fn disabled_interrupt_waits_until_enabled() {
        let mut v = VgicState::<2>::new(2);
        v.set_pending(0, 27, 0);
        let mut lrs = [Lr::EMPTY; 4];
        v.fill_lrs(0, &mut lrs);
        assert!(lrs[0].is_free());
        enabled(&mut v, 0, 27, 0);
        v.cpus[0].dirty = true;
        v.fill_lrs(0, &mut lrs);
        assert_eq!(lrs[0].vintid, 27);
    }

    #[test]
    fn most_urgent_first_and_overflow_reported() {
        let mut v = VgicState::<2>::new(2);
        v.ctlr = 2;
        for (intid, prio) in [(1, 0x80), (2, 0x10), (3, 0x40), (33, 0x20), (34, 0x90)] {
            enabled(&mut v, 0, intid, prio);
            v.set_pending(0, intid, 0);
        }
        let mut lrs = [Lr::EMPTY; 4];
        assert!(v.fill_lrs(0, &mut lrs), "five pending, four LRs");
        let ids: Vec<u32> = lrs.iter().map(|l| l.vintid).collect();
        assert_eq!(ids, vec![2, 33, 3, 1]);
        lrs[0] = Lr::EMPTY; // the guest deactivated INTID 2
        assert!(!v.fill_lrs(0, &mut lrs));
        assert_eq!(lrs[0].vintid, 34);
    }

    #[test]
    fn spis_follow_their_route_and_need_the_distributor_enabled() {
        let mut v = VgicState::<2>::new(2);
        enabled(&mut v, 0, 40, 0);
        v.irq(0, 40).unwrap().target = 1;
        assert_eq!(v.set_pending(0, 40, 0), Some(1));
        let mut lrs = [Lr::EMPTY; 4];
        v.fill_lrs(0, &mut lrs);
        assert!(lrs[0].is_free(), "not vCPU 0's interrupt");
        v.fill_lrs(1, &mut lrs);
        assert!(lrs[0].is_free(), "GICD_CTLR groups disabled");
        v.ctlr = 2;
        v.cpus[1].dirty = true;
        v.fill_lrs(1, &mut lrs);
        assert_eq!(lrs[0].vintid, 40);
    }

    #[test]
    fn level_spis_request_eoi_maintenance_edge_ones_do_not() {
        let mut v = VgicState::<2>::new(2);
        v.ctlr = 2;
        enabled(&mut v, 0, 33, 0);
        enabled(&mut v, 0, 34, 0);
        v.irq(0, 34).unwrap().edge = true;
        v.set_pending(0, 33, 0);
        v.set_pending(0, 34, 0);
        let mut lrs = [Lr::EMPTY; 4];
        v.fill_lrs(0, &mut lrs);
        assert!(lrs[0].eoi && lrs[0].vintid == 33);
        assert!(!lrs[1].eoi && lrs[1].vintid == 34);
    }

    #[test]
    fn an_interrupt_already_in_an_lr_is_not_duplicated() {
        let mut v = VgicState::<2>::new(2);
        enabled(&mut v, 0, 1, 0);
        let mut lrs = [Lr::EMPTY; 4];
        lrs[2] = Lr { state: LrState::Active, ..Lr::pending(1, None, 0, false, 0) };
        v.set_pending(0, 1, 0);
        v.fill_lrs(0, &mut lrs);
        assert!(lrs[0].is_free() && lrs[1].is_free());
        assert_eq!(lrs[2].state, LrState::PendingActive, "re-pended in place");
        assert!(!v.irq(0, 1).unwrap().pending);
        v.set_pending(0, 1, 0);
        v.fill_lrs(0, &mut lrs);
        assert!(lrs[0].is_free(), "still pending in the LR: edge interrupts coalesce");
    }

    #[test]
    fn a_ring_coalesced_into_a_pending_lr_is_not_delivered_again_later() {
        let mut v = VgicState::<2>::new(2);
        enabled(&mut v, 0, 1, 0x80);
        let mut lrs = [Lr::EMPTY; 4];
        v.set_pending(0, 1, 0);
        v.fill_lrs(0, &mut lrs);
        v.set_pending(0, 1, 0); // rung again before the guest took it
        assert!(!v.fill_lrs(0, &mut lrs));
        assert!(lrs[1..].iter().all(Lr::is_free), "one LR for both rings");
        assert!(!v.irq(0, 1).unwrap().pending, "folded into the LR, not left pending in the model");
        lrs[0] = Lr::EMPTY; // the guest took and completed it
        v.cpus[0].dirty = true; // anything else injected later
        v.fill_lrs(0, &mut lrs);
        assert!(lrs.iter().all(Lr::is_free), "no second delivery of the same ring");
    }

    #[test]
    fn a_hardware_interrupt_is_never_made_pending_and_active() {
        let mut v = VgicState::<2>::new(2);
        enabled(&mut v, 0, 27, 0xa0);
        v.irq(0, 27).unwrap().hw = true;
        let mut lrs = [Lr::EMPTY; 4];
        lrs[0] = Lr { state: LrState::Active, ..Lr::pending(27, Some(27), 0xa0, true, 0) };
        v.set_pending(0, 27, 0);
        assert!(!v.fill_lrs(0, &mut lrs));
        assert_eq!(lrs[0].state, LrState::Active, "the physical GIC re-asserts it after the guest's deactivation");
        assert!(lrs[1..].iter().all(Lr::is_free) && !v.irq(0, 27).unwrap().pending);
    }

    /// The race of issue 14 in the model: whatever the order of injections (from any CPU), guest register writes
    /// (enables, disables, the distributor's group enables, SPI routing), refills and the guest taking and
    /// completing interrupts, `dirty` is never clear while a vCPU has a deliverable interrupt outside its list
    /// registers, so a refill (on entry, on a kick, on a maintenance interrupt) always finds it; and a refill never
    /// leaves an interrupt both in a list register and pending in the model (it would be delivered twice).
    mod interleavings {
        use super::super::super::regs::{Access, Effects, Flavor};
        use super::*;
        use proptest::prelude::*;

        const GICR_STRIDE: u64 = 0x2_0000;
        const SGI_BASE: u64 = 0x1_0000;
        const ISENABLER: u64 = 0x100;
        const ICENABLER: u64 = 0x180;
        const IROUTER: u64 = 0x6000;
        /// The interrupts the sequences play with: two SGIs, the timer (hardware-backed), two SPIs.
        const IDS: [u32; 5] = [1, 2, 27, 40, 41];

        #[derive(Clone, Debug)]
        enum Op {
            Inject { vcpu: usize, id: u32 },
            Enable { vcpu: usize, id: u32, on: bool },
            Groups(bool),
            Route { id: u32, to: usize },
            Refill(usize),
            GuestAck(usize),
            GuestComplete(usize),
        }

        fn op() -> impl Strategy<Value = Op> {
            let vcpu = 0usize..2;
            let id = proptest::sample::select(IDS.to_vec());
            prop_oneof![
                (vcpu.clone(), id.clone()).prop_map(|(vcpu, id)| Op::Inject { vcpu, id }),
                (vcpu.clone(), id.clone(), any::<bool>()).prop_map(|(vcpu, id, on)| Op::Enable { vcpu, id, on }),
                any::<bool>().prop_map(Op::Groups),
                (proptest::sample::select(vec![40u32, 41]), 0usize..2).prop_map(|(id, to)| Op::Route { id, to }),
                vcpu.clone().prop_map(Op::Refill),
                vcpu.clone().prop_map(Op::GuestAck),
                vcpu.prop_map(Op::GuestComplete),
            ]
        }

        fn write(v: &mut VgicState<2>, vcpu: usize, id: u32, base: u64) {
            let mut fx = Effects::default();
            let bit = 1u64 << (id % 32);
            if id < 32 {
                let a = Access { offset: vcpu as u64 * GICR_STRIDE + SGI_BASE + base, size: 4, write: Some(bit) };
                v.gicr_access(a, &mut fx);
            } else {
                let a = Access { offset: base + 4 * (id / 32) as u64, size: 4, write: Some(bit) };
                v.gicd_access(Flavor::V3, vcpu, a, &mut fx);
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

            #[test]
            fn dirty_never_hides_a_deliverable_interrupt(ops in proptest::collection::vec(op(), 1..120)) {
                let mut v = VgicState::<2>::new(2);
                v.irq(0, 27).unwrap().hw = true;
                v.irq(1, 27).unwrap().hw = true;
                let mut lrs = [[Lr::EMPTY; 4]; 2];
                for op in ops {
                    match op {
                        Op::Inject { vcpu, id } => {
                            // A hardware interrupt cannot fire again while its LR holds it (the physical one is
                            // active until the guest's deactivation).
                            let busy = lrs[vcpu].iter().any(|l| l.vintid == id && !l.is_free());
                            if !(id == 27 && busy) {
                                v.set_pending(vcpu, id, 0);
                            }
                        }
                        Op::Enable { vcpu, id, on } => write(&mut v, vcpu, id, if on { ISENABLER } else { ICENABLER }),
                        Op::Groups(on) => {
                            let mut fx = Effects::default();
                            let a = Access { offset: 0, size: 4, write: Some(if on { 2 } else { 0 }) };
                            v.gicd_access(Flavor::V3, 0, a, &mut fx);
                        }
                        Op::Route { id, to } => {
                            let mut fx = Effects::default();
                            let a = Access { offset: IROUTER + 8 * id as u64, size: 8, write: Some(to as u64) };
                            v.gicd_access(Flavor::V3, 0, a, &mut fx);
                        }
                        Op::Refill(vcpu) => {
                            let overflow = v.fill_lrs(vcpu, &mut lrs[vcpu]);
                            for lr in lrs[vcpu].iter().filter(|l| l.is_pending()) {
                                let mine = v.target_of(vcpu, lr.vintid) == vcpu;
                                let pending = v.irq(vcpu, lr.vintid).unwrap().pending;
                                prop_assert!(!(mine && pending), "INTID {} in an LR and still pending", lr.vintid);
                            }
                            prop_assert!(overflow || !v.has_deliverable(vcpu));
                        }
                        Op::GuestAck(vcpu) => {
                            if let Some(lr) = lrs[vcpu].iter_mut().find(|l| l.state == LrState::Pending) {
                                lr.state = LrState::Active;
                            }
                        }
                        Op::GuestComplete(vcpu) => {
                            if let Some(lr) = lrs[vcpu].iter_mut().find(|l| l.state == LrState::Active) {
                                *lr = Lr::EMPTY;
                            } else if let Some(lr) =
                                lrs[vcpu].iter_mut().find(|l| l.state == LrState::PendingActive)
                            {
                                lr.state = LrState::Pending;
                            }
                        }
                    }
                    for vcpu in 0..2 {
                        prop_assert!(
                            v.cpus[vcpu].dirty || !v.has_deliverable(vcpu),
                            "vCPU {vcpu} has a deliverable interrupt no refill will look at"
                        );
                    }
                }
            }
        }
    }
}
