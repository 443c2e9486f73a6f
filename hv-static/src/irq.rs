//! Physical interrupts at EL2, whether the CPU was running its vCPU or idle: each becomes a virtual interrupt, a
//! mailbox request, or console input.

use crate::config::SYSTEM;
use crate::percpu::{self, req};
use crate::vcpu::VcpuRef;
use crate::{arch, console, gic, vgic};

/// Takes every pending interrupt. Returns true when this CPU's vCPU was asked to stop.
pub fn handle_pending(current: Option<VcpuRef>) -> bool {
    let mut stop = false;
    loop {
        let intid = gic::ack();
        if intid >= gic::SPURIOUS {
            return stop;
        }
        gic::priority_drop(intid);
        match (intid, current) {
            (gic::SGI_KICK, _) => {
                gic::deactivate(intid);
                let flags = percpu::take(arch::cpu::id());
                stop |= flags & req::STOP != 0;
                if let (true, Some(v)) = (flags & req::REFILL != 0, current) {
                    vgic::refill(v);
                }
            }
            // Deactivated by the guest's own completion, through the HW bit of its list register.
            (gic::VTIMER_IRQ, Some(v)) => vgic::inject(v, intid, 0),
            (i, _) if i == SYSTEM.gic.maintenance_irq => {
                gic::deactivate(intid);
                if let Some(v) = current {
                    vgic::refill(v);
                }
            }
            (i, _) if i == SYSTEM.uart_irq => {
                console::rx::on_interrupt();
                gic::deactivate(intid);
            }
            (i, _) => match vgic::spi_owner(i) {
                Some(owner) => vgic::inject(owner, i, 0),
                None => gic::deactivate(i),
            },
        }
    }
}
