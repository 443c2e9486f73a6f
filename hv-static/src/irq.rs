//! Physical interrupts at EL2, whether the CPU was running a vCPU or idle: each becomes a virtual interrupt, a
//! mailbox request, console input, frames from the board's network device, or a window boundary of a cyclic pool.

use crate::config::SYSTEM;
use crate::core::percpu::{self, req};
use crate::core::vcpu::{self, Power, VcpuRef};
use crate::{arch, core::console, hw::gic, hw::hostdev, vdev::vgic, vdev::virtio};

/// What the interrupts taken asked of the CPU beyond delivering them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Requests {
    /// The running vCPU must leave: it was powered off, or its partition stopped or restarts.
    pub stop: bool,
    /// A window boundary of this CPU's cyclic pool has come.
    pub tick: bool,
}

impl Requests {
    const STOP: u32 = 1;
    const TICK: u32 = 2;

    /// As one word for the exception entry, which only tests it against 0 (nothing asked: back to the guest).
    pub fn bits(self) -> u32 {
        (if self.stop { Self::STOP } else { 0 }) | (if self.tick { Self::TICK } else { 0 })
    }

    pub fn from_bits(bits: u32) -> Requests {
        Requests { stop: bits & Self::STOP != 0, tick: bits & Self::TICK != 0 }
    }
}

/// Takes every pending interrupt, doing each source's bounded share of work at most once per entry into the
/// hypervisor.
///
/// Why "once": the console, the uplink and a partition's deferred virtio work each do a slice of their work and
/// leave the rest to their interrupt, which is then raised again at once (QEMU's UARTs always say "room"; the
/// uplink re-pends its line; the virtio resume re-posts its kick). Ended straight away, that interrupt would come
/// back within this loop, and the loop would run until all the work was done: the slicing would be for nothing, and
/// a window boundary due meanwhile would wait for all of it. So such an interrupt is held active (the GIC does not
/// signal an active interrupt again) and ended only on the way out: it is taken again after the CPU has been back
/// in the partition, one slice per entry. For the same reason a window boundary ends the loop: what is still
/// pending is taken after the switch, by the next window's vCPU (interrupts of the old one are silenced by the
/// switch, or wait for its next window in its model).
#[inline(always)]
pub fn handle_pending(current: Option<VcpuRef>) -> Requests {
    let acked = gic::ack();
    // The virtual timer of the vCPU running here is by far the most frequent interrupt (every tick of every
    // partition), and usually the only one pending: its path is straight-line code, with nothing kept in memory
    // (issue 15); anything else, or anything after it, goes through the general loop.
    if let (gic::VTIMER_IRQ, Some(v)) = (acked.intid, current) {
        gic::priority_drop(acked);
        crate::core::trace::irq!(acked.intid);
        // Deactivated by the guest's own completion, through the HW bit of its list register.
        vgic::inject_vtimer(v);
        return the_rest(current);
    }
    if acked.intid == gic::HYP_TIMER_IRQ {
        return window_boundary(acked);
    }
    // A passed-through device's interrupt, the other frequent one, takes the same straight path as the timer's
    // (the general loop would come to `inject_spi` too: no interrupt hv-static keeps for itself is passed through).
    if let Some(part) = vgic::spi_owner(acked.intid) {
        gic::priority_drop(acked);
        crate::core::trace::irq!(acked.intid);
        vgic::inject_spi(part, acked.intid, current);
        return the_rest(current);
    }
    the_rest_from(acked, current)
}

/// After an interrupt taken on a straight path: whatever else is pending goes through the general loop.
#[inline(always)]
fn the_rest(current: Option<VcpuRef>) -> Requests {
    the_rest_from(gic::ack(), current)
}

/// The general loop from `acked`, unless it is spurious (nothing pending).
#[inline(always)]
fn the_rest_from(acked: gic::Acked, current: Option<VcpuRef>) -> Requests {
    if acked.intid >= gic::SPURIOUS {
        return Requests::default();
    }
    handle_from(acked, current)
}

/// A window boundary, the other interrupt of every switch, ends the entry as the general loop would (see
/// [`handle_pending`]), without setting the loop up. Out of line and marked cold only so that the compiler tests
/// for the virtual timer first: a boundary comes once a window, the virtual timer up to every tick.
#[cold]
#[inline(never)]
fn window_boundary(acked: gic::Acked) -> Requests {
    gic::priority_drop(acked);
    crate::core::trace::irq!(acked.intid);
    hyp_timer_taken(acked);
    Requests { stop: false, tick: true }
}

/// The EL2 timer, taken: silenced (it stays asserted until re-armed, which the caller does through `sched::tick`)
/// and ended.
#[inline(always)]
fn hyp_timer_taken(acked: gic::Acked) {
    arch::timer::hyp_timer_off();
    gic::end(acked);
}

/// [`handle_pending`]'s general loop, from an interrupt acknowledged already.
#[inline(never)]
fn handle_from(first: gic::Acked, current: Option<VcpuRef>) -> Requests {
    let mut out = Requests::default();
    let mut held = Held::NONE;
    let mut acked = first;
    while acked.intid < gic::SPURIOUS {
        gic::priority_drop(acked);
        crate::core::trace::irq!(acked.intid);
        if take(acked, current, &mut out, &mut held) {
            break;
        }
        acked = gic::ack();
    }
    held.end_all();
    out
}

/// One interrupt [`handle_from`] has just acknowledged and dropped the priority of; true when the loop must end (a
/// window boundary). Out of line: inlined, its every arm's state was set up in the loop's prologue (~60
/// instructions) whatever the interrupt (issue 15).
#[inline(never)]
fn take(acked: gic::Acked, current: Option<VcpuRef>, out: &mut Requests, held: &mut Held) -> bool {
    match (acked.intid, current) {
        (gic::SGI_KICK, _) => {
            // Another CPU panicked: this one stops too, rather than run a partition on a broken hypervisor.
            if crate::core::halt::panicked() {
                gic::end(acked);
                crate::core::halt::halt();
            }
            let flags = percpu::take(arch::cpu::id());
            // A stop request names a partition, not a CPU: on a CPU that time-shares, the vCPU running now may
            // belong to another partition, which keeps running.
            out.stop |= flags & req::STOP != 0 && current.is_some_and(|v| vcpu::power(v) != Power::On);
            if let (true, Some(v)) = (flags & req::REFILL != 0, current) {
                vgic::refill(v);
            }
            if flags & req::WATCHDOG != 0 {
                crate::vdev::watchdog::arm_here();
            }
            match (flags & req::VIRTIO != 0, current) {
                (true, Some(v)) => {
                    virtio::resume(v);
                    // A batch that left more re-posted the kick: it waits for the next entry.
                    held.add(acked);
                }
                _ => gic::end(acked),
            }
        }
        (gic::HYP_TIMER_IRQ, _) => {
            hyp_timer_taken(acked);
            out.tick = true;
            return true;
        }
        (i, _) if i == SYSTEM.gic.maintenance_irq => {
            gic::end(acked);
            if let Some(v) = current {
                vgic::refill(v);
            }
        }
        // Each take writes one FIFO's worth of output. While more waits, the UART keeps the line raised (QEMU's never
        // fill), so ending it now would bring it straight back into this loop until all is written: it stays active
        // until the loop is done, and is taken again once the CPU has left, a slice per entry.
        (i, _) if i == SYSTEM.uart_irq => {
            if console::rx::on_interrupt(crate::vdev::vuart::receive, crate::core::partition::print_status) {
                held.add(acked);
            } else {
                gic::end(acked);
            }
        }
        // The board's network device (an uplink): frames from outside, switched on this CPU, a batch per entry.
        (i, _) if hostdev::owns_irq(i) => {
            hostdev::on_interrupt(i, crate::vdev::virtio::from_uplink);
            held.add(acked);
        }
        (gic::VTIMER_IRQ, Some(v)) => vgic::inject_vtimer(v),
        // A virtual timer taken while no vCPU runs here (its vCPU was switched out as it fired) is not a
        // passed-through SPI: it has no owner and is ended.
        (i, _) => match vgic::spi_owner(i) {
            Some(part) => vgic::inject_spi(part, i, current),
            None => gic::end(acked),
        },
    }
    false
}

/// Interrupts taken in this entry whose work continues in the next: kept active until the entry ends (see
/// [`handle_pending`]). Each kind is held at most once (while held it cannot be taken again), so three slots do.
/// A count and the slots below it: starting an entry clears one byte, and an entry that held nothing ends with one
/// comparison (it runs on every interrupt, issue 15).
struct Held {
    len: u8,
    slots: [gic::Acked; 3],
}

impl Held {
    /// Nothing held; the slots' values are never read (all zero: set up with a few stores, not a copy).
    const NONE: Held = Held { len: 0, slots: [gic::Acked::from_iar(0, true); 3] };

    fn add(&mut self, a: gic::Acked) {
        match self.slots.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = a;
                self.len += 1;
            }
            // Cannot happen (one kick, one UART, one uplink); ending it at once is the safe fallback.
            None => gic::end(a),
        }
    }

    fn end_all(&mut self) {
        for &a in self.slots.iter().take(usize::from(self.len)) {
            gic::end(a);
        }
        self.len = 0;
    }
}
