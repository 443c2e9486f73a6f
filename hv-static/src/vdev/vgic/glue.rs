//! Moving virtual interrupts between the model and the hardware: injection from any CPU, list-register refills
//! on the vCPU's own CPU, and the side effects of emulated register writes.

use spin::Mutex;

use super::regs::{Effects, Flavor};
use super::state::VgicState;
use crate::config::{GicVersion, MAX_VCPUS, NUM_PARTITIONS, SYSTEM};
use crate::core::percpu::{self, req};
use crate::core::vcpu::VcpuRef;
use crate::hw::gic::lr::{Lr, LrState};
use crate::{arch, hw::gic};

pub type Vgic = VgicState<MAX_VCPUS>;

pub(super) static VGIC: [Mutex<Vgic>; NUM_PARTITIONS] = {
    let mut a = [const { Mutex::new(VgicState::new(0)) }; NUM_PARTITIONS];
    let mut p = 0;
    while p < NUM_PARTITIONS {
        a[p] = Mutex::new(VgicState::new(SYSTEM.partitions[p].vcpus.len()));
        p += 1;
    }
    a
};

pub const FLAVOR: Flavor = match SYSTEM.gic.version {
    GicVersion::V2 => Flavor::V2,
    GicVersion::V3 => Flavor::V3,
};

/// Puts a partition's virtual GIC in its reset state, with the hardware-backed interrupts marked.
pub(super) fn reset(part: usize) {
    let mut v = VGIC[part].lock();
    v.reset();
    for cpu in 0..v.nr_vcpus {
        if let Some(mut irq) = v.irq(cpu, gic::VTIMER_IRQ) {
            irq.hw = true;
        }
    }
    for &spi in SYSTEM.partitions[part].spis {
        if let Some(mut irq) = v.irq(0, spi) {
            irq.hw = true;
        }
    }
}

/// Makes `intid` pending for `target` (an SGI's `source` is the sending vCPU) and gets it delivered.
pub fn inject(target: VcpuRef, intid: u32, source: u8) {
    crate::core::trace::inject!(target, intid);
    let dest = VGIC[target.part].lock().set_pending(target.idx, intid, source);
    if let Some(idx) = dest {
        request_refill(VcpuRef { part: target.part, idx });
    }
}

/// The virtual timer interrupt of `v`, the vCPU running on this CPU, which has just acknowledged it.
pub fn inject_vtimer(v: VcpuRef) {
    let refill = inject_hw(&mut VGIC[v.part].lock(), v, gic::VTIMER_IRQ, Some(v));
    if let Some(dest) = refill {
        request_refill(dest);
    }
}

/// The partition physical INTID `intid` is passed through to, if any (one load).
#[inline(always)]
pub fn spi_owner(intid: u32) -> Option<usize> {
    SPI_PARTITION.get(intid as usize).filter(|&&p| p != NO_PARTITION).map(|&p| usize::from(p))
}

/// A passed-through SPI this CPU has just acknowledged (`current` runs here), owned by `part` ([`spi_owner`]): to
/// the vCPU its partition routed it to.
pub fn inject_spi(part: usize, intid: u32, current: Option<VcpuRef>) {
    let refill = {
        let mut vgic = VGIC[part].lock();
        let target = VcpuRef { part, idx: vgic.target_of(0, intid) };
        inject_hw(&mut vgic, target, intid, current)
    };
    if let Some(dest) = refill {
        request_refill(dest);
    }
}

/// A hardware-linked interrupt for `v`, under its partition's vGIC lock: straight into a free list register when
/// `v` runs on this CPU and nothing else waits for it (the short path, [`VgicState::deliver_hw_now`]), else pending
/// in the model; then returns the vCPU whose list registers need a refill once the lock is released.
///
/// The short path is the common case of every timer tick and device interrupt, and what keeps it short (issue 15):
/// one lock, one read of the empty-register bits, one list-register write; no other list register is read. List
/// registers are only ever written on their own CPU with interrupts masked, so nothing changes them between the
/// read of the empty bits and the write. Always inlined: left to the compiler, ARMv7's build once called it, and
/// the call added ~40 instructions to every timer interrupt.
#[inline(always)]
fn inject_hw(vgic: &mut Vgic, v: VcpuRef, intid: u32, current: Option<VcpuRef>) -> Option<VcpuRef> {
    crate::core::trace::inject!(v, intid);
    if current == Some(v) {
        let empty = gic::empty_lrs();
        if let Some(lr) = vgic.deliver_hw_now(v.idx, intid).filter(|_| empty != 0) {
            gic::write_lr(empty.trailing_zeros() as usize, &lr);
            return None;
        }
    }
    vgic.set_pending(v.idx, intid, 0).map(|idx| VcpuRef { part: v.part, idx })
}

/// Marks "no partition" in [`SPI_PARTITION`].
const NO_PARTITION: u8 = u8::MAX;
const _: () = assert!(NUM_PARTITIONS < NO_PARTITION as usize, "partition indices must fit SPI_PARTITION");

/// Per physical INTID: the partition it is passed through to, so that taking a device interrupt looks up its owner
/// in one load instead of searching every partition's list.
static SPI_PARTITION: [u8; gic::SPURIOUS as usize] = {
    let mut owner = [NO_PARTITION; gic::SPURIOUS as usize];
    let mut p = 0;
    while p < NUM_PARTITIONS {
        let spis = SYSTEM.partitions[p].spis;
        let mut i = 0;
        while i < spis.len() {
            if (spis[i] as usize) < owner.len() {
                owner[spis[i] as usize] = p as u8;
            }
            i += 1;
        }
        p += 1;
    }
    owner
};

/// Gets `v`'s list registers refilled if it is on its CPU now; a vCPU that is not (descheduled in a cyclic
/// pool, or idle) keeps the interrupt pending in its model and gets it when it is next entered.
fn request_refill(v: VcpuRef) {
    if percpu::current_on(v.pcpu()) != Some(v) {
        return;
    }
    if v.pcpu() == arch::cpu::id() {
        refill(v);
    } else {
        percpu::post(v.pcpu(), req::REFILL);
    }
}

/// Whether the model holds interrupts for `v` that its list registers may not have yet.
pub fn has_news(v: VcpuRef) -> bool {
    VGIC[v.part].lock().cpus[v.idx].dirty
}

/// Where a level-sensitive emulated interrupt the guest completed goes to be resampled by its device.
pub type Resample = fn(part: usize, intid: u32);

/// The device registry's `resample`, set once at boot by the top of the crate (`boot`), before any partition
/// starts: the virtual GIC names none of the devices above it.
static RESAMPLE: spin::Once<Resample> = spin::Once::new();

/// Sets where completed emulated level interrupts are resampled. Boot CPU, once, before any partition starts.
pub fn set_resample(resample: Resample) {
    RESAMPLE.call_once(|| resample);
}

/// Refills this CPU's list registers for its vCPU `v`. Inline, so that each caller picks the variant: one
/// function holding both kept both frames' registers and arrays on every delivery (+80 instructions a doorbell).
#[inline]
pub fn refill(v: VcpuRef) {
    // Most GIC CPU interfaces (GIC-400, the A53/A57/A72 GICv3 interfaces, QEMU's) have 4 list registers: a refill
    // sized for those does not clear 16 (issue 15).
    match gic::nr_lrs() {
        n @ ..=4 => refill_up_to::<4>(v, n),
        n => refill_up_to::<16>(v, n.min(16)),
    }
}

/// [`refill`] for a CPU interface with `n` <= `N` list registers.
#[inline(never)]
fn refill_up_to<const N: usize>(v: VcpuRef, n: usize) {
    // Only the registers holding something are read: the others are empty (issue 15).
    let empty = gic::empty_lrs();
    // All empty (the usual state of a vCPU kicked out of WFI): no register to read or resample, and usually one
    // interrupt to deliver, which the model hands over without computing its ready set.
    if n > 0 && empty == u32::from(gic::lr_mask()) {
        let taken = VGIC[v.part].lock().fill_empty(v.idx);
        if let Some(taken) = taken {
            if let Some(lr) = taken {
                gic::write_lr(0, &lr);
            }
            gic::set_underflow(false);
            return;
        }
    }
    let mut lrs = [Lr::EMPTY; N];
    for (i, lr) in lrs[..n].iter_mut().enumerate().filter(|&(i, _)| empty & 1 << i == 0) {
        *lr = gic::read_lr(i);
    }
    // Level-triggered interrupts the guest completed: free their LRs, then let the device re-assert if needed.
    let mut resample = [0u32; N];
    let mut nr_resample = 0;
    for (i, lr) in lrs[..n].iter_mut().enumerate() {
        if lr.completed_level() {
            resample[nr_resample] = lr.vintid;
            nr_resample += 1;
            *lr = Lr::EMPTY;
            gic::write_lr(i, lr);
        }
    }
    // `fill_lrs` changes a list register only by changing its state: the states alone say which to write back
    // (a copy of the whole registers cost more than the rest of the refill, issue 15).
    let mut before = [LrState::Invalid; N];
    for (b, lr) in before.iter_mut().zip(&lrs[..n]) {
        *b = lr.state;
    }
    let overflow = VGIC[v.part].lock().fill_lrs(v.idx, &mut lrs[..n]);
    for (i, (lr, b)) in lrs[..n].iter().zip(before).enumerate() {
        if lr.state != b {
            gic::write_lr(i, lr);
        }
    }
    gic::set_underflow(overflow);
    if let Some(resample_at) = RESAMPLE.get() {
        for &intid in &resample[..nr_resample] {
            resample_at(v.part, intid);
        }
    }
}

/// Empties this CPU's list registers when its vCPU stops, deactivating physical interrupts the guest will now
/// never complete (its virtual timer, passed-through SPIs).
pub fn clear_lrs() {
    for i in 0..gic::nr_lrs().min(16) {
        let lr = gic::read_lr(i);
        if let (Some(p), false) = (lr.pintid, lr.is_free()) {
            gic::deactivate(p.into());
        }
        gic::write_lr(i, &Lr::EMPTY);
    }
    gic::set_underflow(false);
}

/// Carries out what a register access asked for: list-register refills, passthrough routing, SGIs.
pub(super) fn apply(v: VcpuRef, fx: Effects) {
    // Most accesses ask for nothing (reads, writes that change no state).
    if fx == Effects::default() {
        return;
    }
    let nr = v.partition().vcpus.len();
    for idx in (0..nr).filter(|i| fx.refill & (1 << i) != 0) {
        request_refill(VcpuRef { part: v.part, idx });
    }
    if let Some((first, mask)) = fx.changed {
        sync_passthrough(v.part, first, mask);
    }
    if let Some((sgi, targets)) = fx.sgi {
        for idx in (0..nr).filter(|i| targets & (1 << i) != 0) {
            inject(VcpuRef { part: v.part, idx }, sgi, v.idx as u8);
        }
    }
}

/// Mirrors the guest's enable and routing of its passed-through SPIs onto the physical distributor. Interrupts
/// the partition does not own are never touched: they stay purely virtual.
fn sync_passthrough(part: usize, first: u32, mask: u32) {
    let cfg = &SYSTEM.partitions[part];
    for &spi in cfg.spis.iter().filter(|&&s| s >= first && s < first + 32 && mask & (1 << (s - first)) != 0) {
        let Some((enabled, target)) = VGIC[part].lock().state(0, spi).map(|irq| (irq.enabled, irq.target as usize))
        else {
            continue;
        };
        gic::route_spi(spi, cfg.vcpus[target.min(cfg.vcpus.len() - 1)].pcpu, enabled);
    }
}

#[cfg(target_arch = "aarch64")]
/// A GICv3 guest's `ICC_SGI1R_EL1` write: SGI to the listed vCPUs of its own partition (or all others with IRM).
pub fn send_sgi_v3(from: VcpuRef, value: u64) {
    let intid = ((value >> 24) & 0xf) as u32;
    let all_others = value & (1 << 40) != 0;
    let higher_aff = (value >> 16) & 0xff | (value >> 32) & 0xff | (value >> 48) & 0xff;
    let range = ((value >> 44) & 0xf) * 16;
    let list = value & 0xffff;
    for (idx, vc) in from.partition().vcpus.iter().enumerate() {
        let aff0 = vc.mpidr & 0xff;
        let listed =
            !all_others && higher_aff == 0 && aff0 >= range && aff0 < range + 16 && list & (1 << (aff0 - range)) != 0;
        if listed || (all_others && idx != from.idx) {
            inject(VcpuRef { part: from.part, idx }, intid, from.idx as u8);
        }
    }
}
