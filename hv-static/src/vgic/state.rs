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
        let cpu = self.cpus.get_mut(target)?;
        cpu.dirty = true;
        Some(target)
    }

    /// Moves deliverable interrupts for `vcpu` into free list registers, most urgent (lowest priority value) first.
    /// `lrs` holds the hardware's current contents. Returns true when something is left over (the caller asks for an
    /// underflow maintenance interrupt to come back).
    pub fn fill_lrs(&mut self, vcpu: usize, lrs: &mut [Lr]) -> bool {
        if !self.cpus[vcpu].dirty {
            return false;
        }
        let grp_enabled = self.ctlr & 0b11 != 0;
        loop {
            let Some(intid) = self.most_urgent(vcpu, grp_enabled, lrs) else {
                self.cpus[vcpu].dirty = false;
                return false;
            };
            // Re-pended while the guest still handles it: the same LR carries both states.
            if let Some(lr) = lrs.iter_mut().find(|l| l.vintid == intid && l.state == LrState::Active) {
                lr.state = LrState::PendingActive;
                if let Some(irq) = self.irq(vcpu, intid) {
                    irq.pending = false;
                }
                continue;
            }
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

    fn most_urgent(&self, vcpu: usize, grp_enabled: bool, lrs: &[Lr]) -> Option<u32> {
        let deliverable = |irq: &IrqState, intid: u32| {
            irq.pending
                && irq.enabled
                && (intid < NR_PRIVATE as u32 || grp_enabled)
                && !lrs
                    .iter()
                    .any(|l| l.vintid == intid && matches!(l.state, LrState::Pending | LrState::PendingActive))
        };
        let private = self.cpus[vcpu].private.iter().enumerate().map(|(i, s)| (i as u32, s));
        let spis = self
            .spis
            .iter()
            .enumerate()
            .filter(|(_, s)| s.target as usize == vcpu)
            .map(|(i, s)| ((i + NR_PRIVATE) as u32, s));
        private.chain(spis).filter(|(i, s)| deliverable(s, *i)).min_by_key(|(i, s)| (s.priority, *i)).map(|(i, _)| i)
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
}
