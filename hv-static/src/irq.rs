//! Physical interrupts at EL2, whether the CPU was running a vCPU or idle: each becomes a virtual interrupt, a
//! mailbox request, console input, frames from the board's network device, or a window boundary of a cyclic pool.

use crate::config::SYSTEM;
use crate::percpu::{self, req};
use crate::vcpu::{self, Power, VcpuRef};
use crate::{arch, console, gic, hostdev, vgic, virtio};

/// What the interrupts taken asked of the CPU beyond delivering them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Requests {
    /// The running vCPU must leave: it was powered off, or its partition stopped or restarts.
    pub stop: bool,
    /// A window boundary of this CPU's cyclic pool has come.
    pub tick: bool,
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
pub fn handle_pending(current: Option<VcpuRef>) -> Requests {
    let mut out = Requests::default();
    let mut held = Held::default();
    loop {
        let acked = gic::ack();
        let intid = acked.intid;
        if intid >= gic::SPURIOUS {
            break;
        }
        gic::priority_drop(acked);
        crate::trace::irq!(intid);
        match (intid, current) {
            (gic::SGI_KICK, _) => {
                // Another CPU panicked: this one stops too, rather than run a partition on a broken hypervisor.
                if crate::boot::panicked() {
                    gic::end(acked);
                    crate::boot::halt();
                }
                let flags = percpu::take(arch::cpu::id());
                // A stop request names a partition, not a CPU: on a CPU that time-shares, the vCPU running now
                // may belong to another partition, which keeps running.
                out.stop |= flags & req::STOP != 0 && current.is_some_and(|v| vcpu::power(v) != Power::On);
                if let (true, Some(v)) = (flags & req::REFILL != 0, current) {
                    vgic::refill(v);
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
            // The timer stays asserted until it is re-armed, which the caller does through `sched::tick`.
            (gic::HYP_TIMER_IRQ, _) => {
                arch::timer::hyp_timer_off();
                gic::end(acked);
                out.tick = true;
                break;
            }
            // Deactivated by the guest's own completion, through the HW bit of its list register.
            (gic::VTIMER_IRQ, Some(v)) => vgic::inject_vtimer(v),
            (i, _) if i == SYSTEM.gic.maintenance_irq => {
                gic::end(acked);
                if let Some(v) = current {
                    vgic::refill(v);
                }
            }
            // Each take writes one FIFO's worth of output. While more waits, the UART keeps the line raised (QEMU's
            // never fill), so ending it now would bring it straight back into this loop until all is written: it
            // stays active until the loop is done, and is taken again once the CPU has left, a slice per entry.
            (i, _) if i == SYSTEM.uart_irq => {
                if console::rx::on_interrupt() {
                    held.add(acked);
                } else {
                    gic::end(acked);
                }
            }
            // The board's network device (an uplink): frames from outside, switched on this CPU, a batch per entry.
            (i, _) if hostdev::owns_irq(i) => {
                hostdev::on_interrupt(i);
                held.add(acked);
            }
            (i, _) => {
                if !vgic::inject_spi(i, current) {
                    gic::end(acked);
                }
            }
        }
    }
    held.end_all();
    out
}

/// Interrupts taken in this entry whose work continues in the next: kept active until the entry ends (see
/// [`handle_pending`]). Each kind is held at most once (while held it cannot be taken again), so three slots do.
#[derive(Default)]
struct Held {
    slots: [Option<gic::Acked>; 3],
}

impl Held {
    fn add(&mut self, a: gic::Acked) {
        match self.slots.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(a),
            // Cannot happen (one kick, one UART, one uplink); ending it at once is the safe fallback.
            None => gic::end(a),
        }
    }

    fn end_all(&mut self) {
        for a in self.slots.iter_mut().filter_map(Option::take) {
            gic::end(a);
        }
    }
}
