//! What a physical CPU does: run a vCPU, switch vCPUs at a cyclic pool's window boundaries, or sleep.
//!
//! A CPU of a pinned pool has one vCPU and no tick: it is in the partition until the partition traps, and asleep
//! in WFI otherwise. A CPU of a cyclic pool follows its table (`sched`): at each boundary it saves everything the
//! outgoing vCPU owns into its context and loads the incoming one's, or idles in WFI through an idle slot.

use crate::arch::{self, context::CNTV_IMASK, stacks};
use crate::arch::{El1Regs, FpRegs, GuestRegs};
use crate::core::fp;
use crate::core::partition::{self, RunState};
use crate::core::percpu::{self, req};
use crate::core::vcpu::{self, Context, Power, VcpuRef};
use crate::hw::gic::lr::Lr;
use crate::{core::console, core::sched, hw::gic, irq, vdev::vgic, vdev::virtio, vdev::watchdog};

/// The idle loop: sleeps until there is a vCPU to run, then enters it. Never returns.
pub fn idle() -> ! {
    let cpu = arch::cpu::id();
    loop {
        let flags = percpu::take(cpu);
        if flags & req::WATCHDOG != 0 {
            watchdog::arm_here();
        }
        let mine = if sched::schedule(cpu).is_some() { sched::running_slot(cpu) } else { percpu::pinned(cpu) };
        let mut busy = false;
        if let Some(v) = mine {
            // A restart's steps run on the CPU of the partition's vCPU 0, in the partition's own time: here.
            if v.idx == 0 {
                busy = partition::continue_restart(v.part) == partition::Work::More;
            }
            if flags & req::START != 0 || matches!(vcpu::power(v), Power::OnPending { .. }) {
                try_enter(v);
            }
        }
        // With restart steps left, only what is pending is taken (a window boundary that came ends them).
        if !busy {
            arch::cpu::wfi();
        }
        // EL2 runs with interrupts masked: collect what woke us here. A stop request finds nothing to stop.
        if irq::handle_pending(None).tick {
            match sched::tick(cpu) {
                Some(v) => {
                    // A watchdog expiry seen at its partition's window start stops or restarts it first.
                    watchdog::take_due(v.part);
                    switch_to(v);
                }
                None if sched::schedule(cpu).is_none() => watchdog::take_due_here(),
                None => {}
            }
        }
    }
}

/// Where a cyclic CPU starts: the slot under way when it comes up, else the idle loop until the first boundary.
pub fn start() -> ! {
    if let Some(v) = sched::start_cpu(arch::cpu::id()) {
        switch_to(v);
    }
    idle()
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
    let regs = if boot { GuestRegs::boot(entry, context) } else { GuestRegs::cpu_on(entry, context) };
    // SAFETY: `v`'s frame is only used on this CPU, and `v` is not running (it was off): no reference to it exists.
    unsafe { stacks::frame(v.global()).write(regs) };
    load_reset(v);
    // A powered-on vCPU finds no TLB entry of its partition's previous run on this CPU, as after a reset.
    arch::cpu::flush_guest_tlb();
    run(v, false)
}

/// The EL1 and FP/SIMD state every vCPU starts from, loaded from here by reference: a whole `Context` built for
/// each power-on was ~1 KiB of stores and copies (~900 instructions on ARMv7) inside a window switch (issue 15).
static EL1_RESET: El1Regs = El1Regs::RESET;

/// [`load`] for a vCPU at power-on: reset EL1 state, clean FP and interrupt state, no list register in use.
fn load_reset(v: VcpuRef) {
    arch::cpu::load_stage2(partition::s2_root(v.part), v.part as u16 + 1, v.config().mpidr);
    arch::cpu::trap_wfi(v.partition().wfi_trap);
    EL1_RESET.restore();
    // Zeroed FP state, loaded at its first use.
    vcpu::context(v).fp = FpRegs::ZERO;
    fp::on_power_on(v);
    fp::on_enter(v);
    gic::restore_cpu_if(&gic::CpuIf::EMPTY);
    gic::set_private_active(gic::VTIMER_IRQ, false);
}

/// Loads everything of `ctx` but the general-purpose registers onto this CPU. Returns whether the list registers
/// need a refill before the vCPU runs (the model has news, or a loaded LR holds a completed level interrupt).
fn load(v: VcpuRef, ctx: &Context) -> bool {
    arch::cpu::load_stage2(partition::s2_root(v.part), v.part as u16 + 1, v.config().mpidr);
    arch::cpu::trap_wfi(v.partition().wfi_trap);
    ctx.el1.restore();
    fp::on_enter(v);
    gic::restore_cpu_if(&ctx.gic_if);
    // The CPU's list registers are all empty here (`deschedule`, `park` and boot leave them so): only those the
    // vCPU had in use are written.
    let mut completed = false;
    for i in bits(ctx.lrs_used) {
        gic::write_lr(i, &ctx.lrs[i]);
        completed |= ctx.lrs[i].completed_level();
    }
    // `deschedule` and `park` left it inactive.
    if ctx.vtimer_active {
        gic::set_private_active(gic::VTIMER_IRQ, true);
    }
    completed
}

/// The indices of the 1 bits of `mask`, lowest first.
fn bits(mut mask: u16) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        let i = mask.trailing_zeros() as usize;
        mask &= mask.wrapping_sub(1);
        (i < 16).then_some(i)
    })
}

/// Runs `v` from the registers in its frame, after `load`.
fn run(v: VcpuRef, refill: bool) -> ! {
    make_current(v, refill);
    arch::exception::enter(stacks::frame(v.global()))
}

/// The last steps before `v`, loaded, runs on this CPU.
fn make_current(v: VcpuRef, refill: bool) {
    // Current before the refill: an interrupt injected from another CPU from now on is refilled by a kick.
    percpu::set_current(Some(v));
    virtio::on_switch_in(v);
    console::on_switch_in(v.part);
    if refill || vgic::has_news(v) {
        vgic::refill(v);
    }
}

/// A window boundary came while `v` ran: if the next slot is another vCPU's (or idle), saves `v` for its next
/// window and switches. Returns the frame to return to the partition through: `v`'s own when it keeps the CPU, or
/// the next vCPU's when that one resumes where it was (the common case). The registers of both stay in their frames
/// (`arch::stacks`): a switch moves none of them (issue 15).
pub fn tick(v: VcpuRef) -> *mut GuestRegs {
    let cpu = arch::cpu::id();
    if sched::schedule(cpu).is_none() {
        // A pinned CPU's EL2 timer serves the watchdogs homed here: an expiry may have stopped `v`.
        watchdog::take_due_here();
        if vcpu::power(v) != Power::On {
            park(v);
        }
        return stacks::frame(v.global());
    }
    let next = sched::tick(cpu);
    if let Some(n) = next {
        // A watchdog expiry seen at its partition's window start stops or restarts it before it runs.
        watchdog::take_due(n.part);
    }
    if next == Some(v) {
        if vcpu::power(v) != Power::On {
            park(v);
        }
        return stacks::frame(v.global());
    }
    deschedule(v);
    if let Some(n) = next {
        if vcpu::power(n) == Power::On {
            let refill = load(n, &vcpu::context(n));
            make_current(n, refill);
            return stacks::frame(n.global());
        }
        switch_to(n);
    }
    idle()
}

/// Starts the window of `v` on this CPU: resumes it where it was, starts it if PSCI powered it on, or returns
/// (to idle through the window) when it is off.
fn switch_to(v: VcpuRef) {
    match vcpu::power(v) {
        Power::On => {
            // The lock is not held while the vCPU runs (`run` never returns).
            let refill = load(v, &vcpu::context(v));
            run(v, refill)
        }
        Power::OnPending { .. } => {
            discard_saved(v);
            try_enter(v)
        }
        Power::Off => discard_saved(v),
    }
}

/// Saves everything `v` owns and leaves the CPU clean for the next owner: its virtual timer silenced (its
/// context keeps it armed: virtual time keeps counting and it fires, if due, when `v` next runs), its list
/// registers and the physical active state of its timer interrupt moved into its context.
fn deschedule(v: VcpuRef) {
    {
        let mut ctx = vcpu::context(v);
        // Its general-purpose registers stay in its frame.
        ctx.el1.save();
        // FP/SIMD stays in the registers, saved only when another vCPU uses them (`fp`).
        gic::save_cpu_if(&mut ctx.gic_if);
        // Only the list registers in use are read and emptied (issue 15: the others are empty already).
        let used = !gic::empty_lrs() as u16 & gic::lr_mask();
        ctx.lrs_used = used;
        for i in bits(used) {
            ctx.lrs[i] = gic::read_lr(i);
            gic::write_lr(i, &Lr::EMPTY);
        }
        ctx.vtimer_active = gic::private_active(gic::VTIMER_IRQ);
        if ctx.vtimer_active {
            gic::set_private_active(gic::VTIMER_IRQ, false);
        }
    }
    arch::timer::vtimer_off();
    gic::set_underflow(false);
    percpu::set_current(None);
}

/// Forgets the saved interrupt state of a vCPU that will not resume (powered off, or restarting from scratch),
/// completing at the GIC the passed-through interrupts its list registers still held, so they can fire again.
fn discard_saved(v: VcpuRef) {
    let mut ctx = vcpu::context(v);
    for i in bits(core::mem::take(&mut ctx.lrs_used)) {
        let lr = core::mem::replace(&mut ctx.lrs[i], Lr::EMPTY);
        if let (Some(p), false) = (lr.pintid, lr.is_free()) {
            if p >= 32 {
                gic::deactivate(p.into());
            }
        }
    }
    ctx.vtimer_active = false;
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

/// Takes this CPU out of its vCPU for good (until powered on again): saves what it owned (its general-purpose
/// registers stay in its frame), silences its timer and releases its interrupts, then idles.
pub fn park(v: VcpuRef) -> ! {
    {
        let mut ctx = vcpu::context(v);
        ctx.el1.save();
        fp::on_park(v, &mut ctx.fp);
        gic::save_cpu_if(&mut ctx.gic_if);
        ctx.el1.cntv_ctl |= CNTV_IMASK;
        ctx.el1.restore();
        ctx.lrs_used = 0;
        ctx.vtimer_active = false;
    }
    vgic::clear_lrs();
    percpu::set_current(None);
    idle()
}
