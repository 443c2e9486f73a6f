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

/// Takes every pending interrupt.
pub fn handle_pending(current: Option<VcpuRef>) -> Requests {
    let mut out = Requests::default();
    loop {
        let acked = gic::ack();
        let intid = acked.intid;
        if intid >= gic::SPURIOUS {
            return out;
        }
        gic::priority_drop(acked);
        match (intid, current) {
            (gic::SGI_KICK, _) => {
                gic::end(acked);
                // Another CPU panicked: this one stops too, rather than run a partition on a broken hypervisor.
                if crate::boot::panicked() {
                    crate::boot::halt();
                }
                let flags = percpu::take(arch::cpu::id());
                // A stop request names a partition, not a CPU: on a CPU that time-shares, the vCPU running now
                // may belong to another partition, which keeps running.
                out.stop |= flags & req::STOP != 0 && current.is_some_and(|v| vcpu::power(v) != Power::On);
                if let (true, Some(v)) = (flags & req::REFILL != 0, current) {
                    vgic::refill(v);
                }
                if let (true, Some(v)) = (flags & req::VIRTIO != 0, current) {
                    virtio::resume(v);
                }
            }
            // The timer stays asserted until it is re-armed, which the caller does through `sched::tick`.
            (gic::HYP_TIMER_IRQ, _) => {
                arch::timer::hyp_timer_off();
                gic::end(acked);
                out.tick = true;
            }
            // Deactivated by the guest's own completion, through the HW bit of its list register.
            (gic::VTIMER_IRQ, Some(v)) => vgic::inject(v, intid, 0),
            (i, _) if i == SYSTEM.gic.maintenance_irq => {
                gic::end(acked);
                if let Some(v) = current {
                    vgic::refill(v);
                }
            }
            (i, _) if i == SYSTEM.uart_irq => {
                console::rx::on_interrupt();
                gic::end(acked);
            }
            // The board's network device (an uplink): frames from outside, switched on this CPU.
            (i, _) if hostdev::owns_irq(i) => {
                hostdev::on_interrupt(i);
                gic::end(acked);
            }
            (i, _) => match vgic::spi_owner(i) {
                Some(owner) => vgic::inject(owner, i, 0),
                None => gic::end(acked),
            },
        }
    }
}
