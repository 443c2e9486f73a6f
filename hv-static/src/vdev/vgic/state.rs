//! The virtual interrupt controller's model of one partition: every interrupt's enable, pending, active, priority,
//! trigger and routing, as the guest programmed it through the emulated distributor and redistributors, and the
//! choice of what goes into the list registers.
//!
//! Enable, pending and active are bitmaps, one bit per interrupt, in words of 32 as the set/clear registers lay
//! them out; routing is a bitmap per vCPU too (the SPIs routed to it). So a guest's write to a set/clear register
//! is a few word operations whatever its value (issue 15: an all-ones write over 32 SPIs, state by state, was the
//! longest thing a guest could make hv-static do, ~2,200 instructions at a window boundary), and the set of
//! interrupts a vCPU could take is computed word by word when a refill needs it (pending & enabled & routed to
//! it), never kept alongside, so it cannot go stale. The other per-interrupt settings (priority, trigger, group,
//! hardware link, route, SGI source) stay in one small record per interrupt.
//!
//! Choosing is on the path of every injection, every distributor write and every entry into a vCPU, and a guest
//! decides how many of its interrupts are pending (all-ones to `GICD_ISPENDR` makes it 288): a refill looks only
//! at the members of that computed set, never at all 288 interrupts.

use core::ops::{Deref, DerefMut};

use crate::hw::gic::lr::{Lr, LrState};

/// Interrupt IDs the virtual distributor implements: SGIs, PPIs and 256 SPIs (`GICD_TYPER.ITLinesNumber = 8`).
pub const NR_IRQS: usize = 288;
pub const NR_PRIVATE: usize = 32;
/// SGIs: the private interrupts that carry a source vCPU.
const NR_SGIS: usize = 16;
pub const NR_SPIS: usize = NR_IRQS - NR_PRIVATE;
/// Words of 32 SPIs.
const SPI_WORDS: usize = NR_SPIS / 32;

/// List registers filled from one pass over a vCPU's ready set (GICv2 and GICv3 have at most 16 of them).
const BATCH: usize = 16;

/// One interrupt as `vcpu` sees it: what [`VgicState::state`] returns and [`IrqMut`] lets a caller change. Its
/// settings are reached through it as through an [`IrqCfg`] (`irq.priority`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqState {
    pub enabled: bool,
    /// Pending and not yet in a list register.
    pub pending: bool,
    pub active: bool,
    pub cfg: IrqCfg,
}

impl Deref for IrqState {
    type Target = IrqCfg;

    fn deref(&self) -> &IrqCfg {
        &self.cfg
    }
}

impl DerefMut for IrqState {
    fn deref_mut(&mut self) -> &mut IrqCfg {
        &mut self.cfg
    }
}

/// The settings of one interrupt that are not in the bitmaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqCfg {
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

impl IrqCfg {
    const RESET: IrqCfg = IrqCfg { priority: 0, edge: false, group1: false, hw: false, target: 0, source: 0 };
}

/// The three state bits the set/clear registers write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bit {
    Enabled,
    Pending,
    Active,
}

/// Enable, pending and active of 32 interrupts each, for a bank of words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bits<const W: usize> {
    enabled: [u32; W],
    pending: [u32; W],
    active: [u32; W],
}

impl<const W: usize> Bits<W> {
    const EMPTY: Self = Self { enabled: [0; W], pending: [0; W], active: [0; W] };

    fn word(&self, bit: Bit) -> &[u32; W] {
        match bit {
            Bit::Enabled => &self.enabled,
            Bit::Pending => &self.pending,
            Bit::Active => &self.active,
        }
    }

    fn word_mut(&mut self, bit: Bit) -> &mut [u32; W] {
        match bit {
            Bit::Enabled => &mut self.enabled,
            Bit::Pending => &mut self.pending,
            Bit::Active => &mut self.active,
        }
    }
}

/// A set of INTIDs below [`NR_IRQS`], one bit each: words of 64 so that finding members costs a
/// `trailing_zeros` per member plus one test per word, whatever the number of non-members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqSet([u64; NR_IRQS.div_ceil(64)]);

impl IrqSet {
    pub const EMPTY: IrqSet = IrqSet([0; NR_IRQS.div_ceil(64)]);

    /// Adds (`member`) or removes `intid`; INTIDs the set cannot hold are never members.
    pub fn set(&mut self, intid: u32, member: bool) {
        if let Some(word) = self.0.get_mut(intid as usize / 64) {
            let bit = 1u64 << (intid % 64);
            if member {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// The one member, if the set has exactly one.
    fn single(&self) -> Option<u32> {
        let mut found = None;
        for (w, &bits) in (0u32..).zip(&self.0) {
            match (bits, found) {
                (0, _) => {}
                (b, None) if b & (b - 1) == 0 => found = Some(w * 64 + b.trailing_zeros()),
                _ => return None,
            }
        }
        found
    }

    /// The members, in increasing INTID order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().zip(0u32..).flat_map(|(&bits, word)| {
            let mut bits = bits;
            core::iter::from_fn(move || {
                let bit = (bits != 0).then(|| bits.trailing_zeros())?;
                bits &= bits - 1;
                Some(word * 64 + bit)
            })
        })
    }
}

/// Per-vCPU part: the banked private interrupts, the SPIs routed to it, and the redistributor's own registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuIrqs {
    private: [IrqCfg; NR_PRIVATE],
    bits: Bits<1>,
    /// The SPIs routed to this vCPU (bit `intid - 32`): kept equal to their `target` by [`IrqMut`], the only way
    /// to change a route.
    routed: [u32; SPI_WORDS],
    /// GICR_WAKER.ProcessorSleep.
    pub asleep: bool,
    /// Something may be pending that is not yet in a list register.
    pub dirty: bool,
    /// While `dirty`: the one interrupt made pending since it was last clear, if only one was and nothing else
    /// marked the vCPU ([`NEWS_MANY`] otherwise). Then no other interrupt can be deliverable outside the list
    /// registers (see [`VgicState::mark`]), which lets a refill into empty list registers deliver it without
    /// computing the ready set ([`VgicState::fill_empty`]).
    news: u16,
}

/// [`CpuIrqs::news`]: more than one thing changed.
const NEWS_MANY: u16 = u16::MAX;

impl CpuIrqs {
    pub const RESET: CpuIrqs = {
        let mut private = [IrqCfg::RESET; NR_PRIVATE];
        let mut i = 0;
        while i < 16 {
            private[i].edge = true;
            i += 1;
        }
        CpuIrqs { private, bits: Bits::EMPTY, routed: [0; SPI_WORDS], asleep: true, dirty: false, news: NEWS_MANY }
    };
}

/// Write access to one interrupt ([`VgicState::irq`]): a copy of its state to change at will, written back into
/// the bitmaps and its record when it goes away (its route too: the SPI moves to its new target's routed set).
pub struct IrqMut<'a, const V: usize> {
    view: IrqState,
    vcpu: usize,
    intid: u32,
    owner: &'a mut VgicState<V>,
}

impl<const V: usize> Deref for IrqMut<'_, V> {
    type Target = IrqState;

    fn deref(&self) -> &IrqState {
        &self.view
    }
}

impl<const V: usize> DerefMut for IrqMut<'_, V> {
    fn deref_mut(&mut self) -> &mut IrqState {
        &mut self.view
    }
}

impl<const V: usize> Drop for IrqMut<'_, V> {
    fn drop(&mut self) {
        self.owner.store(self.vcpu, self.intid, &self.view);
    }
}

/// A partition's whole virtual GIC state. `V` is the capacity of vCPUs (from the config).
#[cfg_attr(test, derive(Clone, Debug, PartialEq, Eq))]
pub struct VgicState<const V: usize> {
    pub ctlr: u32,
    spis: [IrqCfg; NR_SPIS],
    spi_bits: Bits<SPI_WORDS>,
    pub cpus: [CpuIrqs; V],
    pub nr_vcpus: usize,
}

impl<const V: usize> VgicState<V> {
    pub const fn new(nr_vcpus: usize) -> Self {
        let mut cpus = [CpuIrqs::RESET; V];
        // Every SPI starts routed to vCPU 0.
        if V > 0 {
            cpus[0].routed = [u32::MAX; SPI_WORDS];
        }
        Self { ctlr: 0, spis: [IrqCfg::RESET; NR_SPIS], spi_bits: Bits::EMPTY, cpus, nr_vcpus }
    }

    pub fn reset(&mut self) {
        *self = Self::new(self.nr_vcpus);
    }

    /// The record of `intid` as seen by `vcpu` (private interrupts are banked per vCPU).
    fn cfg(&self, vcpu: usize, intid: u32) -> Option<&IrqCfg> {
        let i = intid as usize;
        if i < NR_PRIVATE {
            self.cpus.get(vcpu)?.private.get(i)
        } else {
            self.spis.get(i - NR_PRIVATE)
        }
    }

    /// The state of `intid` as seen by `vcpu`.
    pub fn state(&self, vcpu: usize, intid: u32) -> Option<IrqState> {
        let c = *self.cfg(vcpu, intid)?;
        let bit = |b: Bit| self.bits(vcpu, intid & !31, b).is_some_and(|w| w & 1 << (intid % 32) != 0);
        Some(IrqState { enabled: bit(Bit::Enabled), pending: bit(Bit::Pending), active: bit(Bit::Active), cfg: c })
    }

    /// Write access to the state of `intid` as seen by `vcpu`; written back when it is dropped.
    pub fn irq(&mut self, vcpu: usize, intid: u32) -> Option<IrqMut<'_, V>> {
        let view = self.state(vcpu, intid)?;
        Some(IrqMut { view, vcpu, intid, owner: self })
    }

    /// Writes `s` back as the state of `intid` seen by `vcpu` (which exists: it was read from here).
    fn store(&mut self, vcpu: usize, intid: u32, s: &IrqState) {
        let old_target = self.cfg(vcpu, intid).map(|c| c.target);
        let cfg = s.cfg;
        let i = intid as usize;
        let slot = if i < NR_PRIVATE {
            self.cpus.get_mut(vcpu).and_then(|c| c.private.get_mut(i))
        } else {
            self.spis.get_mut(i - NR_PRIVATE)
        };
        if let Some(slot) = slot {
            *slot = cfg;
        }
        let bit = 1u32 << (intid % 32);
        for (b, on) in [(Bit::Enabled, s.enabled), (Bit::Pending, s.pending), (Bit::Active, s.active)] {
            self.write_bits(vcpu, intid & !31, b, bit, on);
        }
        if i >= NR_PRIVATE && old_target != Some(s.target) {
            let w = (i - NR_PRIVATE) / 32;
            for (idx, cpu) in self.cpus.iter_mut().enumerate() {
                if idx == s.target as usize {
                    cpu.routed[w] |= bit;
                } else {
                    cpu.routed[w] &= !bit;
                }
            }
        }
    }

    /// The `bit` word of the 32 interrupts from `first` (a multiple of 32) as `vcpu` sees them.
    pub fn bits(&self, vcpu: usize, first: u32, bit: Bit) -> Option<u32> {
        let i = first as usize / 32;
        if i == 0 {
            Some(self.cpus.get(vcpu)?.bits.word(bit)[0])
        } else {
            self.spi_bits.word(bit).get(i - 1).copied()
        }
    }

    /// Sets (`on`) or clears the `mask` bits of that word; returns the bits that changed (0 if there is no such
    /// word). Nothing else needs to follow: the sets of deliverable interrupts are computed from these words.
    pub fn write_bits(&mut self, vcpu: usize, first: u32, bit: Bit, mask: u32, on: bool) -> u32 {
        let i = first as usize / 32;
        let word = if i == 0 {
            self.cpus.get_mut(vcpu).map(|c| &mut c.bits.word_mut(bit)[0])
        } else {
            self.spi_bits.word_mut(bit).get_mut(i - 1)
        };
        let Some(word) = word else { return 0 };
        let old = *word;
        *word = if on { old | mask } else { old & !mask };
        old ^ *word
    }

    /// The vCPUs (bit per index) that the interrupts `mask` of the word from `first` are delivered to, and those
    /// of them for which one of those is now pending and enabled (`vcpu`: who accesses, for private interrupts).
    pub fn targets_of(&self, vcpu: usize, first: u32, mask: u32) -> (u32, u32) {
        let i = first as usize / 32;
        let pe = |b: &Bits<1>| b.pending[0] & b.enabled[0];
        if i == 0 {
            let Some(c) = self.cpus.get(vcpu) else { return (0, 0) };
            let bit = 1u32.checked_shl(vcpu as u32).unwrap_or(0);
            let ready = if pe(&c.bits) & mask != 0 { bit } else { 0 };
            return (if mask != 0 { bit } else { 0 }, ready);
        }
        let w = i - 1;
        let (Some(&p), Some(&e)) = (self.spi_bits.pending.get(w), self.spi_bits.enabled.get(w)) else { return (0, 0) };
        let (mut targets, mut ready) = (0, 0);
        for (idx, cpu) in self.cpus.iter().enumerate().take(self.nr_vcpus.min(32)) {
            let mine = cpu.routed.get(w).copied().unwrap_or(0) & mask;
            if mine != 0 {
                targets |= 1 << idx;
                if mine & p & e != 0 {
                    ready |= 1 << idx;
                }
            }
        }
        (targets, ready)
    }

    /// Runs `f(i, cfg)` on the record of interrupt `first + i`, as `vcpu` sees it, for each bit `i` set in `mask`
    /// (a register's worth, all private or all SPIs: otherwise `f` is not run and this returns false). For the
    /// registers that are not bitmaps (group, priority, trigger).
    pub fn update_cfg(&mut self, vcpu: usize, first: u32, mask: u32, mut f: impl FnMut(u32, &mut IrqCfg)) -> bool {
        let count = 32 - mask.leading_zeros();
        let (lo, hi) = (first as usize, first as usize + count as usize);
        let states = if hi <= NR_PRIVATE {
            self.cpus.get_mut(vcpu).and_then(|c| c.private.get_mut(lo..hi))
        } else if lo >= NR_PRIVATE {
            self.spis.get_mut(lo - NR_PRIVATE..hi - NR_PRIVATE)
        } else {
            None
        };
        let Some(states) = states else { return false };
        let mut m = mask;
        while m != 0 {
            let i = m.trailing_zeros();
            m &= m - 1;
            if let Some(c) = states.get_mut(i as usize) {
                f(i, c);
            }
        }
        true
    }

    /// The records of the `count` interrupts from `first` as `vcpu` sees them: a register's worth, all private or
    /// all SPIs (otherwise None).
    pub fn range(&self, vcpu: usize, first: u32, count: u32) -> Option<&[IrqCfg]> {
        let (lo, hi) = (first as usize, first as usize + count as usize);
        if count > 32 {
            None
        } else if hi <= NR_PRIVATE {
            self.cpus.get(vcpu)?.private.get(lo..hi)
        } else if lo >= NR_PRIVATE {
            self.spis.get(lo - NR_PRIVATE..hi - NR_PRIVATE)
        } else {
            None
        }
    }

    /// Whether `intid` is pending for `vcpu` (in the model, not in a list register).
    fn is_pending(&self, vcpu: usize, intid: u32) -> bool {
        self.bits(vcpu, intid & !31, Bit::Pending).is_some_and(|w| w & 1 << (intid % 32) != 0)
    }

    /// Sets or clears the pending bit of `intid` for `vcpu`.
    fn set_pending_bit(&mut self, vcpu: usize, intid: u32, on: bool) {
        self.write_bits(vcpu, intid & !31, Bit::Pending, 1 << (intid % 32), on);
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
        let i = intid as usize;
        let cfg = if i < NR_PRIVATE {
            self.cpus.get_mut(vcpu).and_then(|c| c.private.get_mut(i))
        } else {
            self.spis.get_mut(i - NR_PRIVATE)
        };
        // Only an SGI has a source (GICv2 puts it in the list register); any other interrupt keeps none, so every
        // path that builds its list register (`lr_for`, `deliver_hw_now`) builds the same one.
        cfg?.source = if i < NR_SGIS { source } else { 0 };
        self.set_pending_bit(vcpu, intid, true);
        if let Some(cpu) = self.cpus.get_mut(target) {
            // The first news since `target` was clean is this interrupt alone (see `news`).
            cpu.news = if !cpu.dirty || cpu.news == intid as u16 { intid as u16 } else { NEWS_MANY };
            cpu.dirty = true;
        }
        Some(target)
    }
    /// Something about `vcpu`'s interrupts changed that may make one deliverable (pending, enabled, routed to it,
    /// its distributor group enabled): its list registers must be looked at again.
    ///
    /// `dirty` is what lets [`VgicState::fill_lrs`] (and `has_news` on every switch-in) skip the refill, so it
    /// must never be false while an interrupt of `vcpu` is pending and deliverable but not in a list register
    /// (issue 14): such an interrupt waits until something unrelated is injected into the vCPU, which may be never.
    /// For the virtual timer that is worse than a late tick: its physical PPI was acknowledged at EL2 and is
    /// deactivated only by the guest's completion through the HW-linked list register, so while it waits in the
    /// model the physical timer interrupt stays active and no further tick can even be signalled on that CPU.
    ///
    /// It is not "the ready set is non-empty": it is also set for an interrupt made pending while disabled or
    /// while a list register holds it, so that the next refill folds that into the list register as before.
    pub fn mark(&mut self, vcpu: usize) {
        if let Some(cpu) = self.cpus.get_mut(vcpu) {
            cpu.dirty = true;
            cpu.news = NEWS_MANY;
        }
    }

    /// Folds interrupts made pending again into the list registers that still hold them (see [`Self::fill_lrs`]).
    fn fold_repends(&mut self, vcpu: usize, lrs: &mut [Lr]) {
        for lr in lrs.iter_mut().filter(|l| !l.is_free()) {
            // An SPI routed elsewhere since it came here stays pending for its new target.
            if self.target_of(vcpu, lr.vintid) != vcpu {
                continue;
            }
            if !self.is_pending(vcpu, lr.vintid) {
                continue;
            }
            self.set_pending_bit(vcpu, lr.vintid, false);
            if lr.state == LrState::Active && lr.pintid.is_none() {
                lr.state = LrState::PendingActive;
            }
        }
    }

    /// Moves deliverable interrupts for `vcpu` into free list registers, most urgent (lowest priority value, then
    /// lowest INTID) first. `lrs` holds the hardware's current contents. Returns true when something is left over
    /// (the caller asks for an underflow maintenance interrupt to come back).
    ///
    /// Interrupts made pending again while a list register still holds them are folded into that register first:
    /// a register that is pending already delivers it (edge interrupts coalesce, level ones are resampled when the
    /// guest completes them); one the guest is handling becomes pending and active, so it is taken again after
    /// the guest's completion, except a hardware-linked one (the virtual timer, passed-through SPIs), whose
    /// pending state lives in the physical GIC (it cannot be pending again while the guest has it active; the
    /// architecture does not allow pending-and-active with the HW bit). Either way the model's pending bit is
    /// cleared, so nothing is delivered twice and, once this returns false, no pending interrupt is left behind
    /// with `dirty` clear.
    ///
    /// The cost is one pass over the members of the ready set per 16 free list registers, none when no list
    /// register is free, and never a walk over all interrupt states.
    ///
    /// A list register it changes always changes state (free to pending, active to pending and active), so the
    /// caller finds the ones to write back by comparing states alone.
    pub fn fill_lrs(&mut self, vcpu: usize, lrs: &mut [Lr]) -> bool {
        if !self.cpus.get(vcpu).is_some_and(|c| c.dirty) {
            return false;
        }
        if !lrs.is_empty() && lrs.iter().all(Lr::is_free) {
            if let Some(taken) = self.fill_empty(vcpu) {
                if let (Some(lr), Some(slot)) = (taken, lrs.first_mut()) {
                    *slot = lr;
                }
                return false;
            }
        }
        if lrs.iter().any(|l| !l.is_free()) {
            self.fold_repends(vcpu, lrs);
        }
        // Computed once: what is taken below leaves it, so it stays what `ready` would say.
        let mut ready = IrqSet::EMPTY;
        self.ready_into(vcpu, self.ctlr & 0b11 != 0, &mut ready);
        // The usual case, one interrupt to deliver (an injection, a kick): it goes to the first free register, as
        // the general path below would put it, without choosing among candidates.
        if let (Some(intid), Some(slot)) = (ready.single(), lrs.iter_mut().find(|l| l.is_free())) {
            if let Some(&irq) = self.cfg(vcpu, intid) {
                self.set_pending_bit(vcpu, intid, false);
                *slot = Self::lr_for(intid, &irq);
                self.mark_clean(vcpu);
                return false;
            }
        }
        loop {
            let free = lrs.iter().filter(|l| l.is_free()).count().min(BATCH);
            let mut urgent = [0u32; BATCH];
            let n = self.most_urgent(vcpu, &ready, &mut urgent[..free]);
            for (&intid, slot) in urgent[..n].iter().zip(lrs.iter_mut().filter(|l| l.is_free())) {
                // `most_urgent` only yields valid INTIDs; were it ever not, nothing is delivered rather than a panic.
                let Some(&irq) = self.cfg(vcpu, intid) else { continue };
                self.set_pending_bit(vcpu, intid, false);
                ready.set(intid, false);
                *slot = Self::lr_for(intid, &irq);
            }
            // Fewer than a batch: every free register got one, or nothing is left to give.
            if n < BATCH {
                break;
            }
        }
        let left = !ready.is_empty();
        if !left {
            self.mark_clean(vcpu);
        }
        left
    }

    /// [`Self::fill_lrs`] for a vCPU whose list registers are all empty, when it can answer without the ready set:
    /// nothing to do (`dirty` clear), or one interrupt made pending since the vCPU was last clean and nothing else
    /// changed (`news`). Then no other interrupt can be deliverable, and with every register empty nothing is to be
    /// folded: that one goes to the first register if it is deliverable (pending, enabled, routed here with the
    /// distributor's groups on), and the vCPU is clean either way. Returns the list register for register 0, or
    /// `None` when the general path must decide (issue 15: a kick's refill computed the whole ready set, ~300
    /// instructions, for the one interrupt it was sent for).
    pub fn fill_empty(&mut self, vcpu: usize) -> Option<Option<Lr>> {
        let cpu = self.cpus.get(vcpu)?;
        if !cpu.dirty {
            return Some(None);
        }
        if cpu.news == NEWS_MANY {
            return None;
        }
        let intid = u32::from(cpu.news);
        let bit = 1u32 << (intid % 32);
        let ready = if (intid as usize) < NR_PRIVATE {
            cpu.bits.pending[0] & cpu.bits.enabled[0] & bit != 0
        } else {
            let (b, w) = (&self.spi_bits, intid as usize / 32 - 1);
            let word = match (b.pending.get(w), b.enabled.get(w), cpu.routed.get(w)) {
                (Some(p), Some(e), Some(r)) => p & e & r,
                _ => 0,
            };
            self.ctlr & 0b11 != 0 && word & bit != 0
        };
        let irq = *self.cfg(vcpu, intid)?;
        self.mark_clean(vcpu);
        if !ready {
            return Some(None);
        }
        self.set_pending_bit(vcpu, intid, false);
        Some(Some(Self::lr_for(intid, &irq)))
    }

    /// The list register that delivers `intid`, pending: hardware-linked if it is, asking for a maintenance
    /// interrupt at its completion if it is a software level-triggered SPI (so its device can re-assert it).
    fn lr_for(intid: u32, irq: &IrqCfg) -> Lr {
        let level = !irq.edge && !irq.hw && intid as usize >= NR_PRIVATE;
        Lr { eoi: level, ..Lr::pending(intid, irq.hw.then_some(intid), irq.priority, irq.group1, irq.source) }
    }

    /// The short path for a hardware-linked interrupt (the virtual timer, a passed-through SPI) that the CPU running
    /// `vcpu` has just acknowledged while one of its list registers is free: the list register that delivers it,
    /// or None when [`Self::set_pending`] and [`Self::fill_lrs`] must decide (issue 15: that way costs a refill,
    /// ~700 instructions, on every timer tick).
    ///
    /// It is exactly what those two would do, in the cases where it answers:
    /// - `dirty` is clear, so no other interrupt of `vcpu` waits in the model: this one is the only candidate for
    ///   the free register, whatever its priority;
    /// - no list register holds this interrupt: the physical one was just acknowledged, and while a register
    ///   holds it hardware-linked the physical interrupt stays active until the guest deactivates it, so the GIC
    ///   could not have signalled it;
    /// - it is enabled, not already pending in the model, routed to `vcpu` (an SPI), and the distributor's groups
    ///   are enabled (an SPI): otherwise it waits in the model like any other.
    pub fn deliver_hw_now(&self, vcpu: usize, intid: u32) -> Option<Lr> {
        if self.cpus.get(vcpu)?.dirty {
            return None;
        }
        let irq = self.cfg(vcpu, intid)?;
        let routed = (intid as usize) < NR_PRIVATE || (self.ctlr & 0b11 != 0 && irq.target as usize == vcpu);
        let bit = 1 << (intid % 32);
        let enabled = self.bits(vcpu, intid & !31, Bit::Enabled)? & bit != 0;
        (irq.hw && enabled && !self.is_pending(vcpu, intid) && routed).then(|| Self::lr_for(intid, irq))
    }

    fn mark_clean(&mut self, vcpu: usize) {
        if let Some(cpu) = self.cpus.get_mut(vcpu) {
            cpu.dirty = false;
            cpu.news = NEWS_MANY;
        }
    }

    /// What `vcpu` can take now: its interrupts pending and enabled, its private ones and the SPIs routed to it,
    /// without the SPIs while the distributor's groups are disabled. Computed from the bitmaps, nine words.
    #[cfg(test)]
    pub fn ready(&self, vcpu: usize, grp_enabled: bool) -> IrqSet {
        let mut set = IrqSet::EMPTY;
        self.ready_into(vcpu, grp_enabled, &mut set);
        set
    }

    /// [`Self::ready`] written into `set` (returned by value, the 40 bytes were copied with `memcpy`).
    fn ready_into(&self, vcpu: usize, grp_enabled: bool, set: &mut IrqSet) {
        let Some(cpu) = self.cpus.get(vcpu) else { return *set = IrqSet::EMPTY };
        let b = &self.spi_bits;
        // SPI word `w` (INTIDs from 32 * (w + 1)), or nothing while the groups are off or past the last word.
        let spi = |w: usize| match (grp_enabled, b.pending.get(w), b.enabled.get(w), cpu.routed.get(w)) {
            (true, Some(p), Some(e), Some(r)) => u64::from(p & e & r),
            _ => 0,
        };
        set.0[0] = u64::from(cpu.bits.pending[0] & cpu.bits.enabled[0]) | spi(0) << 32;
        for (k, word) in set.0.iter_mut().enumerate().skip(1) {
            *word = spi(2 * k - 1) | spi(2 * k) << 32;
        }
    }

    /// Writes into `out` the INTIDs of the `out.len()` most urgent interrupts `vcpu` can take now that no list
    /// register holds (`fill_lrs` folded those in), most urgent first; returns how many there were. One pass over
    /// the ready set, keeping the best so far sorted by (priority, INTID) in `out`.
    fn most_urgent(&self, vcpu: usize, ready: &IrqSet, out: &mut [u32]) -> usize {
        // Priority above the INTID: comparing keys compares (priority, INTID).
        let key = |intid: u32, irq: &IrqCfg| u32::from(irq.priority) << 16 | intid;
        if out.is_empty() {
            return 0;
        }
        let mut kept = 0;
        for intid in ready.iter() {
            let Some(irq) = self.cfg(vcpu, intid) else { continue };
            let k = key(intid, irq);
            if kept == out.len() {
                match out.last() {
                    // Members come in INTID order, so nothing after the worst kept one can beat it if it has the
                    // best priority there is (the reset value: a guest that pends everything and sets no priority
                    // costs a pass over as many interrupts as there are free list registers).
                    Some(&worst) if worst >> 16 == 0 => break,
                    Some(&worst) if k < worst => kept -= 1,
                    _ => continue,
                }
            }
            let at = out[..kept].partition_point(|&o| o < k);
            out.copy_within(at..kept, at + 1);
            out[at] = k;
            kept += 1;
        }
        for o in &mut out[..kept] {
            *o &= 0xffff;
        }
        kept
    }
}

/// The straightforward scans the ready sets replace, kept as the oracle the property tests compare them with.
#[cfg(test)]
impl<const V: usize> VgicState<V> {
    /// The most urgent interrupt `vcpu` can take now that no list register holds, from every interrupt's state.
    fn most_urgent_by_scan(&self, vcpu: usize, grp_enabled: bool) -> Option<u32> {
        (0..NR_IRQS as u32)
            .filter_map(|i| self.state(vcpu, i).map(|s| (i, s)))
            .filter(|(i, s)| {
                s.pending && s.enabled && (*i < NR_PRIVATE as u32 || (grp_enabled && s.target as usize == vcpu))
            })
            .min_by_key(|(i, s)| (s.priority, *i))
            .map(|(i, _)| i)
    }

    /// `fill_lrs` as it was before the ready sets: a scan of all states per list register filled.
    fn fill_lrs_by_scan(&mut self, vcpu: usize, lrs: &mut [Lr]) -> bool {
        if !self.cpus[vcpu].dirty {
            return false;
        }
        self.fold_repends(vcpu, lrs);
        let grp_enabled = self.ctlr & 0b11 != 0;
        loop {
            let Some(intid) = self.most_urgent_by_scan(vcpu, grp_enabled) else {
                self.mark_clean(vcpu);
                return false;
            };
            let Some(slot) = lrs.iter().position(Lr::is_free) else {
                return true;
            };
            let mut irq = self.irq(vcpu, intid).unwrap();
            irq.pending = false;
            let level = !irq.edge && !irq.hw && intid as usize >= NR_PRIVATE;
            lrs[slot] =
                Lr { eoi: level, ..Lr::pending(intid, irq.hw.then_some(intid), irq.priority, irq.group1, irq.source) };
        }
    }

    /// `vcpu`'s ready set as the states say it should be.
    fn ready_by_scan(&self, vcpu: usize) -> IrqSet {
        let mut set = IrqSet::EMPTY;
        for intid in 0..NR_IRQS as u32 {
            let irq = self.state(vcpu, intid).unwrap();
            set.set(intid, irq.pending && irq.enabled && self.target_of(vcpu, intid) == vcpu);
        }
        set
    }

    /// Whether `vcpu` has an interrupt it could take that is in no list register: what `dirty` must then say.
    pub fn has_deliverable(&self, vcpu: usize) -> bool {
        self.most_urgent_by_scan(vcpu, self.ctlr & 0b11 != 0).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(v: &mut VgicState<2>, vcpu: usize, intid: u32, prio: u8) {
        let mut irq = v.irq(vcpu, intid).unwrap();
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

    /// The ready sets against the scans they replace: any sequence of injections (from any vCPU, any INTID),
    /// distributor and redistributor accesses (any offset, width and value, weighted towards the registers that
    /// change pending, enabled, routing and priority), resets, refills and the guest taking and completing what
    /// the list registers hold. After every step each vCPU's ready set is what a walk over all states computes,
    /// and every refill leaves the list registers, its result and the whole model exactly as the old
    /// scan-per-register `fill_lrs` does from the same state.
    mod ready_sets {
        use super::super::super::regs::{Access, Effects, Flavor};
        use super::*;
        use proptest::prelude::*;

        const V: usize = 3;
        const GICR_STRIDE: u64 = 0x2_0000;
        const SGI_BASE: u64 = 0x1_0000;
        /// The private interrupts and the first 64 SPIs.
        const HOT: u64 = 96;
        const IROUTER: u64 = 0x6000;

        /// One step. Except for injections, vCPUs, redistributors and list registers are taken modulo those that
        /// exist. `Guest` takes (pending to active) or completes (active to free, pending-and-active to pending) what
        /// list register `lr` of `vcpu` holds.
        #[derive(Clone, Debug)]
        enum Op {
            Inject {
                vcpu: usize,
                intid: u32,
                source: u8,
            },
            Gicd {
                vcpu: usize,
                a: Access,
            },
            Gicr(Access),
            Refill(usize),
            Guest {
                vcpu: usize,
                lr: usize,
                complete: bool,
            },
            /// A hardware-linked interrupt (the `pick`th of the test's `hw` list) fires for `vcpu`, which runs on
            /// the CPU that took it: the short path if it answers, set_pending otherwise.
            HwFire {
                vcpu: usize,
                pick: usize,
            },
            Reset,
        }

        fn size() -> impl Strategy<Value = u8> {
            prop_oneof![20 => Just(4u8), 2 => Just(1u8), 2 => Just(8u8), 1 => any::<u8>()]
        }

        /// Bytes from a few values make priorities that tie, differ by one, and are the best or worst there is.
        fn priorities() -> impl Strategy<Value = u64> {
            proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 2, 0x80, 0xa0, 0xff]), 8)
                .prop_map(|b| b.iter().fold(0u64, |v, &b| v << 8 | u64::from(b)))
        }

        fn value() -> impl Strategy<Value = Option<u64>> {
            prop_oneof![
                3 => any::<u64>().prop_map(Some),
                2 => Just(Some(u64::MAX)),
                3 => priorities().prop_map(Some),
                1 => (0u64..4).prop_map(Some),
                1 => Just(None),
            ]
        }

        fn access(offset: impl Strategy<Value = u64>) -> impl Strategy<Value = Access> {
            (offset, size(), value()).prop_map(|(offset, size, write)| Access { offset, size, write })
        }

        /// An offset in CTLR or one of the per-interrupt register banks: mostly a whole register, sometimes any
        /// byte of one; mostly about the first [`HOT`] INTIDs, so that the same interrupts get enabled, pended,
        /// prioritised and routed.
        fn bank() -> impl Strategy<Value = u64> {
            let base = prop_oneof![
                3 => Just(0u64), 1 => Just(0x80u64), 6 => Just(0x100u64), 2 => Just(0x180u64), 4 => Just(0x200u64),
                2 => Just(0x280u64), 1 => Just(0x300u64), 4 => Just(0x400u64), 2 => Just(0x800u64), 1 => Just(0xC00u64),
            ];
            let intid = prop_oneof![8 => 0..HOT, 1 => 0..NR_IRQS as u64];
            let byte = prop_oneof![6 => Just(0u64), 1 => 0u64..4];
            (base, intid, byte).prop_map(|(base, intid, byte)| {
                let bits_per_irq = match base {
                    0 => return byte,
                    0x400 | 0x800 => 8,
                    0xC00 => 2,
                    _ => 1,
                };
                base + intid * bits_per_irq / 32 * 4 + byte
            })
        }

        /// A start with the distributor's groups on and the [`HOT`] interrupts enabled at random and given priorities
        /// at random, through both frames (what does not apply to a GIC version is RAZ/WI or skipped): random
        /// single writes seldom build states where many interrupts compete for the list registers.
        fn warm_up() -> impl Strategy<Value = Vec<Op>> {
            let enables = proptest::collection::vec(prop_oneof![any::<u32>(), Just(u32::MAX)], 3 * (1 + V));
            let prios = proptest::collection::vec(priorities(), (HOT / 4) as usize * (1 + V));
            (enables, prios).prop_map(|(enables, prios)| {
                let write = |offset: u64, value: u64| Access { offset, size: 4, write: Some(value) };
                let mut ops = vec![Op::Gicd { vcpu: 0, a: write(0, 3) }];
                for (reg, value) in enables.into_iter().enumerate() {
                    let (frame, n) = (reg as u64 / 3, reg as u64 % 3);
                    ops.push(match frame {
                        0 => Op::Gicd { vcpu: 0, a: write(0x100 + 4 * n, value.into()) },
                        _ => Op::Gicr(write((frame - 1) * GICR_STRIDE + SGI_BASE + 0x100 + 4 * n, value.into())),
                    });
                }
                for (reg, value) in prios.into_iter().enumerate() {
                    let (frame, n) = (reg as u64 / (HOT / 4), reg as u64 % (HOT / 4));
                    ops.push(match frame {
                        0 => Op::Gicd { vcpu: 0, a: write(0x400 + 4 * n, value) },
                        _ => Op::Gicr(write((frame - 1) * GICR_STRIDE + SGI_BASE + 0x400 + 4 * n, value)),
                    });
                }
                ops
            })
        }

        fn op() -> impl Strategy<Value = Op> {
            let gicd_offset = prop_oneof![
                6 => bank(),
                2 => (0..HOT, prop_oneof![4 => Just(0u64), 1 => 0u64..8]).prop_map(|(i, b)| IROUTER + 8 * i + b),
                1 => 0u64..0x1_0000,
            ];
            let gicr_offset = prop_oneof![
                6 => (0..V as u64, bank()).prop_map(|(n, o)| n * GICR_STRIDE + SGI_BASE + o),
                1 => 0..V as u64 * GICR_STRIDE + 0x100,
            ];
            prop_oneof![
                6 => (0..V, prop_oneof![4 => 0..HOT as u32, 1 => 0u32..NR_IRQS as u32 + 8], any::<u8>())
                    .prop_map(|(vcpu, intid, source)| Op::Inject { vcpu, intid, source }),
                12 => (0..V, access(gicd_offset)).prop_map(|(vcpu, a)| Op::Gicd { vcpu, a }),
                6 => access(gicr_offset).prop_map(Op::Gicr),
                5 => (0..V).prop_map(Op::Refill),
                8 => (0..V, 0usize..32, any::<bool>()).prop_map(|(vcpu, lr, complete)| Op::Guest { vcpu, lr, complete }),
                4 => (0..V, 0usize..4).prop_map(|(vcpu, pick)| Op::HwFire { vcpu, pick }),
                1 => Just(Op::Reset),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

            #[test]
            fn ready_sets_match_a_full_scan_and_refills_pick_what_it_picks(
                v3 in any::<bool>(),
                nr in 1..=V,
                // A few list registers as on QEMU, or more than one pass of `fill_lrs` fills.
                nr_lrs in prop_oneof![1usize..=4, BATCH - 1..=BATCH + 3],
                // Hardware-backed interrupts are PPIs (the virtual timer) and passed-through SPIs, never SGIs
                // (whose GICv2 list-register bits carry the source CPU where a hardware one carries its pINTID).
                hw in proptest::collection::vec(16u32..NR_IRQS as u32, 0..4),
                warm in proptest::option::of(warm_up()),
                ops in proptest::collection::vec(op(), 1..200),
            ) {
                let flavor = if v3 { Flavor::V3 } else { Flavor::V2 };
                let mut v = VgicState::<V>::new(nr);
                let mark_hw = |v: &mut VgicState<V>| {
                    for &intid in &hw {
                        for cpu in 0..V {
                            if let Some(mut irq) = v.irq(cpu, intid) {
                                irq.hw = true;
                            }
                        }
                    }
                };
                mark_hw(&mut v);
                let mut lrs = [[Lr::EMPTY; BATCH + 3]; V];
                for op in warm.unwrap_or_default().into_iter().chain(ops) {
                    match op {
                        Op::Inject { vcpu, intid, source } => {
                            v.set_pending(vcpu, intid, source);
                        }
                        Op::Gicd { vcpu, a } => {
                            v.gicd_access(flavor, vcpu % nr, a, &mut Effects::default());
                        }
                        Op::Gicr(a) => {
                            // Mostly the redistributor of an existing vCPU.
                            let frame = a.offset / GICR_STRIDE;
                            let a = Access { offset: a.offset - (frame - frame % nr as u64) * GICR_STRIDE, ..a };
                            if v3 {
                                v.gicr_access(a, &mut Effects::default());
                            }
                        }
                        Op::Refill(vcpu) => {
                            let vcpu = vcpu % nr;
                            let mut oracle = v.clone();
                            let mut expected = lrs[vcpu];
                            let left = oracle.fill_lrs_by_scan(vcpu, &mut expected[..nr_lrs]);
                            let before = lrs[vcpu];
                            prop_assert_eq!(v.fill_lrs(vcpu, &mut lrs[vcpu][..nr_lrs]), left);
                            prop_assert_eq!(lrs[vcpu], expected);
                            // `glue::refill` writes back only the list registers whose state changed.
                            for (new, old) in lrs[vcpu].iter().zip(&before) {
                                prop_assert!(new == old || new.state != old.state, "{:?} became {:?}", old, new);
                            }
                            prop_assert_eq!(&v, &oracle);
                        }
                        Op::Guest { vcpu, lr, complete } => {
                            let lr = &mut lrs[vcpu % nr][lr % nr_lrs];
                            lr.state = match (lr.state, complete) {
                                (LrState::Pending, false) => LrState::Active,
                                (LrState::Active, true) => LrState::Invalid,
                                (LrState::PendingActive, true) => LrState::Pending,
                                (state, _) => state,
                            };
                        }
                        Op::HwFire { vcpu, pick } => {
                            let vcpu = vcpu % nr;
                            let Some(&intid) = hw.get(pick % hw.len().max(1)) else { continue };
                            // The physical interrupt cannot fire while a list register of its vCPU holds it.
                            let target = v.target_of(vcpu, intid);
                            if lrs[target].iter().any(|l| l.vintid == intid && !l.is_free()) {
                                continue;
                            }
                            let free = lrs[vcpu][..nr_lrs].iter().position(Lr::is_free);
                            match (v.deliver_hw_now(vcpu, intid), free) {
                                (Some(lr), Some(free)) => {
                                    // What the slow path makes of it: pending, then a refill.
                                    let mut oracle = v.clone();
                                    let mut expected = lrs[vcpu];
                                    oracle.set_pending(vcpu, intid, 0);
                                    prop_assert!(!oracle.fill_lrs_by_scan(vcpu, &mut expected[..nr_lrs]));
                                    lrs[vcpu][free] = lr;
                                    prop_assert_eq!(lrs[vcpu], expected);
                                    prop_assert_eq!(&v, &oracle);
                                }
                                _ => {
                                    v.set_pending(vcpu, intid, 0);
                                }
                            }
                        }
                        Op::Reset => {
                            v.reset();
                            mark_hw(&mut v);
                            lrs = [[Lr::EMPTY; BATCH + 3]; V];
                        }
                    }
                    for cpu in 0..V {
                        prop_assert_eq!(v.ready(cpu, true), v.ready_by_scan(cpu), "vCPU {}", cpu);
                        prop_assert!(v.cpus[cpu].dirty || !v.has_deliverable(cpu), "vCPU {} not dirty", cpu);
                    }
                }
            }
        }
    }
}
