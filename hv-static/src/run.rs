//! What a physical CPU does: run its vCPU, or sleep until it is powered on. There is no scheduler tick in a
//! pinned pool: the CPU is in the partition until the partition traps, and asleep in WFI otherwise.

use crate::arch::{self, context::CNTV_IMASK};
use crate::partition::{self, RunState};
use crate::percpu::{self, req};
use crate::vcpu::{self, Context, Power, VcpuRef};
use crate::{gic, irq, vgic};

/// The idle loop: sleeps until this CPU's vCPU is powered on, then enters it. Never returns.
pub fn idle() -> ! {
    let cpu = arch::cpu::id();
    loop {
        let flags = percpu::take(cpu);
        if let Some(v) = percpu::pinned(cpu) {
            if flags & req::START != 0 || matches!(vcpu::power(v), Power::OnPending { .. }) {
                try_enter(v);
            }
        }
        arch::cpu::wfi();
        // EL2 runs with interrupts masked: collect what woke us here. A stop request finds nothing to stop.
        irq::handle_pending(None);
    }
}

/// Enters `v` if its partition runs and PSCI put it in ON_PENDING; returns otherwise.
fn try_enter(v: VcpuRef) {
    if partition::run_state(v.part) != RunState::Running {
        return;
    }
    let start = vcpu::update_power(v, |s| match *s {
        Power::OnPending { entry, context, boot } => {
            *s = Power::On;
            Some((entry, context, boot))
        }
        _ => None,
    });
    let Some((entry, context, boot)) = start else { return };
    let ctx = Context::power_on(entry, context, boot);
    enter(v, &ctx)
}

/// Loads `ctx` onto this CPU and runs the vCPU.
fn enter(v: VcpuRef, ctx: &Context) -> ! {
    arch::cpu::load_stage2(partition::s2_root(v.part), v.part as u16 + 1, v.config().mpidr);
    arch::cpu::trap_wfi(v.partition().wfi_trap);
    ctx.el1.restore();
    ctx.fp.restore();
    gic::restore_cpu_if(ctx.gic_if.0, ctx.gic_if.1, ctx.gic_if.2);
    for (i, lr) in ctx.lrs.iter().enumerate().take(gic::nr_lrs()) {
        gic::write_lr(i, lr);
    }
    vgic::refill(v);
    percpu::set_in_guest(true);
    arch::exception::enter(&ctx.regs, percpu::stack_top(arch::cpu::id()))
}

/// A trapped WFI (pool `wfi = "trap"`): sleeps until the vCPU has something to take. A virtual interrupt already
/// pending in a list register would not wake a physical WFI, so the CPU only sleeps when none is; whatever
/// physical interrupt wakes it is taken as soon as the vCPU is re-entered.
pub fn wait_for_interrupt() {
    let pending = (0..gic::nr_lrs()).any(|i| gic::read_lr(i).is_pending());
    if !pending {
        arch::cpu::wfi();
    }
}

/// Takes this CPU out of its vCPU for good (until powered on again): saves what it owned, silences its timer
/// and releases its interrupts, then idles.
pub fn park(v: VcpuRef, regs: &arch::GuestRegs) -> ! {
    {
        let mut ctx = vcpu::context(v);
        ctx.regs = *regs;
        ctx.el1.save();
        ctx.fp.save();
        ctx.gic_if = gic::save_cpu_if();
        ctx.el1.cntv_ctl |= CNTV_IMASK;
        ctx.el1.restore();
    }
    vgic::clear_lrs();
    percpu::set_in_guest(false);
    idle()
}
