//! Hyp-mode exception vectors (HVBAR). A trap or interrupt from a partition saves r0-r12, the user-mode LR (Hyp
//! mode shares it), the return address and the saved PSR as a [`GuestRegs`] frame on this CPU's Hyp stack,
//! calls the Rust handler, and returns to the partition from whatever the handler left there.
//!
//! Asynchronous aborts (SErrors) are routed to Hyp mode (HCR.AMO) and arrive at the Data Abort vector, like a
//! synchronous abort in Hyp mode; the saved mode tells them apart. One taken while a partition runs is the
//! partition's (`handle_lower_serror`, its fault policy). Hyp mode runs with them masked, except in two short
//! windows (`serror_window`) that take one if it is pending after a `dsb`: on every exit from a partition, so one
//! its accesses raised is its own whatever the trap was, and before every return to a partition, so one raised
//! while the hypervisor ran is reported as the hypervisor's (`hv_serror_report`) instead of being taken by the
//! partition about to run.
//!
//! Any other exception taken in Hyp mode is a hypervisor bug. Its handler first moves SP to this CPU's stack: a
//! stack overflow faults on the guard page below the stack (see `mmu`), and must not fault again while reporting.
//! Hyp mode has no spare register for that, so the Data Abort entry uses SP itself as scratch: while a partition
//! runs, SP is always its CPU's stack top, and each window runs with exactly one trap frame below the top.

use super::context::GuestRegs;
use crate::arch::stacks::STACK_SIZE;
use crate::config::NUM_CPUS;

core::arch::global_asm!(
    r#"
    .arch_extension virt
    .arm

.macro SAVE_GUEST
    sub     sp, sp, #{frame}
    stmia   sp, {{r0-r12, lr}}
    mrs     r0, elr_hyp
    mrs     r1, spsr
    str     r0, [sp, #56]
    str     r1, [sp, #60]
    mov     r0, sp
.endm

    .section .text.vectors, "ax"
    .balign 32
    .global hv_vectors
hv_vectors:
    b       hv_unexpected           /* reset */
    b       hv_unexpected           /* undefined instruction in Hyp */
    b       hv_unexpected           /* HVC from Hyp */
    b       hv_unexpected           /* prefetch abort in Hyp */
    b       hyp_abort               /* data abort in Hyp, or an asynchronous abort */
    b       lower_trap              /* Hyp trap: from a partition */
    b       lower_irq               /* IRQ */
    b       hv_unexpected           /* FIQ */

lower_trap:
    SAVE_GUEST
    bl      serror_window
    cmp     r1, #0
    bne     guest_serror
    mov     r0, sp
    bl      handle_lower_sync
    b       return_to_guest

/* An interrupt: handle_lower_irq returns non-zero when the vCPU must leave, which handle_lower_irq_leave does with
   the frame (saved whole here: one stmia whatever the number of registers). */
lower_irq:
    SAVE_GUEST
    bl      serror_window
    cmp     r1, #0
    bne     guest_serror
    bl      handle_lower_irq
    cmp     r0, #0
    movne   r1, r0
    movne   r0, sp
    blne    handle_lower_irq_leave
    b       return_to_guest

guest_serror:
    mov     r0, sp
    bl      handle_lower_serror
    b       return_to_guest

/* serror_window: takes the asynchronous abort pending once every earlier access has completed, if there is one,
   and returns r1 = 1 if so (0 otherwise). Clobbers r1, r2, lr and ELR_hyp, SPSR_hyp, HSR: callers have saved what
   they need of those. Runs with exactly one trap frame on the stack (hyp_abort relies on it). */
serror_window:
    mov     r1, #0
    dsb     sy
    cpsie   a
serror_window_open:
    isb
serror_window_close:
    cpsid   a
    bx      lr

/* The Data Abort vector. SP is scratch until it is reloaded from the table of stack tops (flags survive). */
hyp_abort:
    mrs     sp, spsr
    and     sp, sp, #0x1f
    cmp     sp, #0x1a               /* taken from Hyp mode? */
    mrc     p15, 4, sp, c13, c0, 2  /* HTPIDR: this CPU's index */
    ldr     sp, [pc, sp, lsl #2]    /* reads hv_stack_tops[index]: pc is this instruction + 8 */
    b       1f
hv_stack_tops:
    .set    hv_stack_n, 1
    .rept   {num_cpus}
    .word   HV_STACKS + hv_stack_n * {stack_size}
    .set    hv_stack_n, hv_stack_n + 1
    .endr
1:  bne     guest_abort
    /* From Hyp mode: an asynchronous abort in a window (one trap frame on the stack), or a hypervisor bug. */
    sub     sp, sp, #{frame}
    mrs     r2, elr_hyp
    adr     r1, serror_window_open
    cmp     r2, r1
    blo     hyp_fatal
    adr     r1, serror_window_close
    cmp     r2, r1
    bhi     hyp_fatal
    mov     r1, #1
    eret
hyp_fatal:
    mov     r0, #0                  /* the SP the abort found is gone */
    bl      hv_el2_exception
guest_abort:
    /* An asynchronous abort while a partition ran: SP was its CPU's stack top, as it is again now. */
    SAVE_GUEST
    b       guest_serror

hv_unexpected:
    mov     r0, sp
    bl      hv_el2_exception

    .global return_to_guest
return_to_guest:
    bl      serror_window
    cmp     r1, #0
    blne    hv_serror_report
    ldr     r0, [sp, #56]
    ldr     r1, [sp, #60]
    msr     elr_hyp, r0
    msr     spsr_cxsf, r1
    ldmia   sp, {{r0-r12, lr}}
    add     sp, sp, #{frame}
    eret

    /* enter_guest(regs: *const GuestRegs, stack_top: u32) -> ! */
    .global enter_guest
enter_guest:
    mov     sp, r1
    sub     sp, sp, #{frame}
    mov     r2, sp
    mov     r3, #({frame} / 4)
1:  ldr     r4, [r0], #4
    str     r4, [r2], #4
    subs    r3, r3, #1
    bne     1b
    b       return_to_guest
"#,
    frame = const core::mem::size_of::<GuestRegs>(),
    num_cpus = const NUM_CPUS,
    stack_size = const STACK_SIZE,
);

unsafe extern "C" {
    static hv_vectors: u8;
    fn enter_guest(regs: *const GuestRegs, stack_top: u32) -> !;
    /// `trap::handle_hv_exception`: reports an exception taken in Hyp mode and stops.
    fn handle_hv_exception(sp: u64) -> !;
}

/// Points this CPU's Hyp vectors at hv-static's table. Every CPU, first thing after its MMU is on.
pub fn install_vectors() {
    // SAFETY: `hv_vectors` is the Hyp vector table (32-byte aligned, above); HVBAR is the hypervisor's own.
    unsafe {
        aarch32_cpu::register::Hvbar::write(aarch32_cpu::register::Hvbar(core::ptr::addr_of!(hv_vectors) as u32))
    };
}

/// Enters the partition with `regs`, resetting this CPU's hypervisor stack to `stack_top`.
pub fn enter(regs: &GuestRegs, stack_top: u64) -> ! {
    // SAFETY: `enter_guest` copies the frame onto the fresh stack before using it and never returns.
    unsafe { enter_guest(regs, stack_top as u32) }
}

/// An exception taken in Hyp mode (a hypervisor bug): names a stack overflow for what it is, then reports like any
/// other. `sp` is the stack pointer the exception found, or 0 when the Data Abort entry had to reuse it.
#[unsafe(no_mangle)]
#[allow(clippy::panic, reason = "a Hyp stack overflow is a hypervisor bug, never a guest's doing")]
extern "C" fn hv_el2_exception(sp: u32) -> ! {
    const EC_DABT_HYP: u64 = 0x25;
    let (hsr, far, _) = super::trap_syndrome();
    if hsr >> 26 & 0x3f == EC_DABT_HYP && super::mmu::is_stack_guard(far) {
        panic!("Hyp stack overflow on CPU {} (HDFAR {far:#x})", super::cpu::id());
    }
    // SAFETY: `handle_hv_exception` takes the faulting SP by value and never returns.
    unsafe { handle_hv_exception(sp as u64) }
}

/// An asynchronous abort taken in the window before returning to a partition: raised while the hypervisor ran
/// (after the partition's own accesses had completed), so no partition is blamed. Reported; the partition runs on.
#[unsafe(no_mangle)]
extern "C" fn hv_serror_report() {
    let (hsr, _, _) = super::trap_syndrome();
    crate::hverror!(
        "asynchronous abort in Hyp mode (HSR {hsr:#x}) while the hypervisor ran: not attributed to a partition"
    );
}
