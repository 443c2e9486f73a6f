//! IRQ dispatch: the vectors call [`dispatch`], which acknowledges every pending interrupt at the GIC, hands its
//! INTID to the guest's handler and ends it.

use spin::Once;

use crate::{arch, console, gic};

/// A `Once`, not data behind a critical section: every IRQ reads it without taking a lock, so no vCPU's interrupt
/// waits for another vCPU's console output (latprobe measures this path).
static HANDLER: Once<fn(u32)> = Once::new();

/// Makes `handler` receive the INTID of every IRQ, on every vCPU, with IRQs masked. Set once, before IRQs are
/// unmasked; later calls are ignored.
pub fn set_handler(handler: fn(u32)) {
    HANDLER.call_once(|| handler);
}

/// Handles all pending IRQs of the calling vCPU.
pub fn dispatch() {
    let Some(gic) = gic::try_get() else {
        console::emergency(format_args!("guest-rt: IRQ before the GIC was set up\n"));
        arch::halt();
    };
    while let Some(irq) = gic.acknowledge() {
        match HANDLER.get() {
            Some(handler) => handler(irq.intid()),
            None => crate::println!("guest-rt: cpu{}: IRQ {} with no handler", arch::cpu_index(), irq.intid()),
        }
        gic.end(irq);
    }
}

/// Sleeps in WFI until `done()` holds, letting IRQs in between checks. The check runs with IRQs masked, so an
/// interrupt that makes `done()` true between the check and the WFI still ends the sleep (WFI wakes on a pending
/// interrupt even while it is masked) instead of being slept through. Call it with IRQs unmasked.
///
/// Only IRQs are masked, not a critical section entered ([`crate::critical`]): its lock, held through the WFI,
/// would stall every other vCPU that enters one.
pub fn wait_until(done: impl Fn() -> bool) {
    loop {
        let irqs_were_on = arch::mask_irqs();
        let finished = done();
        if !finished {
            arch::wait_for_interrupt();
        }
        if irqs_were_on {
            arch::enable_irqs();
        }
        if finished {
            return;
        }
    }
}
