//! Hyp-mode exception vectors (HVBAR). A trap or interrupt from a partition saves r0-r12, the user-mode LR (Hyp
//! mode shares it), the return address and the saved PSR as a [`GuestRegs`] frame just below the SP it was
//! entered with (the vCPU's frame, at the top of its stack: see `arch::stacks`), calls the Rust handler, and
//! returns to the partition from whatever the handler left there; a window switch returns through the next vCPU's
//! frame instead.
//!
//! Asynchronous aborts (SErrors) are routed to Hyp mode (HCR.AMO) and arrive at the Data Abort vector, like a
//! synchronous abort in Hyp mode; the saved mode tells them apart. One taken while a partition runs is the
//! partition's (`handle_lower_serror`, its fault policy). Hyp mode runs with them masked, except in two short
//! windows (`serror_window`) that take one if it is pending after a `dsb`: on every exit from a partition, so one
//! its accesses raised is its own whatever the trap was, and before every return to a partition, so one raised
//! while the hypervisor ran is reported as the hypervisor's (`hv_serror_report`) instead of being taken by the
//! partition about to run.
//!
//! Any other exception taken in Hyp mode is a hypervisor bug. Its handler first moves SP to a known stack: a
//! stack overflow faults on the guard page below the stack (see `mmu`), and must not fault again while reporting.
//! Hyp mode has no spare register for that, so the Data Abort entry uses SP itself as scratch and reloads it from
//! `HV_FRAME_END`: while a partition runs, SP is always the end of the running vCPU's frame, which every entry into
//! a partition records there, and each window runs with exactly one trap frame (that one) below it.

use super::context::GuestRegs;
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
    beq     return_to_guest
    mov     r1, r0
    mov     r0, sp
    bl      handle_lower_irq_leave
    b       enter_guest

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

/* The Data Abort vector. SP is scratch until it is reloaded from HV_FRAME_END[index] (flags survive). */
hyp_abort:
    mrs     sp, spsr
    and     sp, sp, #0x1f
    cmp     sp, #0x1a               /* taken from Hyp mode? */
    mrc     p15, 4, sp, c13, c0, 2  /* HTPIDR: this CPU's index */
    ldr     sp, [pc, sp, lsl #2]    /* reads hv_frame_ends[index]: pc is this instruction + 8 */
    b       1f
hv_frame_ends:
    .set    hv_cpu_n, 0
    .rept   {num_cpus}
    .word   HV_FRAME_END + hv_cpu_n * 4
    .set    hv_cpu_n, hv_cpu_n + 1
    .endr
1:  ldr     sp, [sp]
    bne     guest_abort
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
    /* An asynchronous abort while a partition ran: SP was the end of its vCPU's frame, as it is again now. */
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

    /* enter_guest(frame: *const GuestRegs) -> !
       Drops whatever the hypervisor had on this stack and enters the partition from the vCPU's frame (at the top of
       its stack: what the hypervisor had is below it), recording where the frame ends for hyp_abort. */
    .global enter_guest
enter_guest:
    mov     sp, r0
    mrc     p15, 4, r1, c13, c0, 2  /* HTPIDR: this CPU's index */
    ldr     r2, =HV_FRAME_END
    add     r0, r0, #{frame}
    str     r0, [r2, r1, lsl #2]
    b       return_to_guest
"#,
    frame = const core::mem::size_of::<GuestRegs>(),
    num_cpus = const NUM_CPUS,
);

unsafe extern "C" {
    static hv_vectors: u8;
    fn enter_guest(frame: *const GuestRegs) -> !;
    /// `trap::handle_hv_exception`: reports an exception taken in Hyp mode and stops.
    fn handle_hv_exception(sp: u64) -> !;
}

/// Points this CPU's Hyp vectors at hv-static's table. Every CPU, first thing after its MMU is on.
pub fn install_vectors() {
    // SAFETY: `hv_vectors` is the Hyp vector table (32-byte aligned, above); HVBAR is the hypervisor's own.
    unsafe {
        aarch32_cpu::register::Hvbar::write(aarch32_cpu::register::Hvbar(core::ptr::addr_of!(hv_vectors) as u32))
    };
    // Until this CPU enters a partition, a Data Abort in Hyp mode (a bug) finds its own stack.
    let cpu = super::cpu::id();
    // SAFETY: only this CPU writes its own entry (here and in `enter_guest`), before it enters any partition.
    unsafe {
        if let Some(end) = (*core::ptr::addr_of_mut!(HV_FRAME_END)).get_mut(cpu) {
            *end = crate::arch::stacks::stack_top(cpu) as u32;
        }
    }
}

/// Enters the partition whose vCPU's frame is `frame` (`arch::stacks::frame`), with the registers it holds.
pub fn enter(frame: *const GuestRegs) -> ! {
    // SAFETY: `frame` is a vCPU's frame at the top of its stack, so the SP it becomes leaves nothing the hypervisor
    // still uses above it; `enter_guest` never returns, and neither does this function, so nothing on the stack
    // being dropped is referenced afterwards.
    unsafe { enter_guest(frame) }
}

/// Per CPU: the end of the frame of the vCPU it last entered (its SP while that vCPU runs), for the Data Abort
/// entry, which has no other way to find it. Written by `enter_guest` on this CPU only; read by the same CPU's
/// Data Abort entry.
#[unsafe(no_mangle)]
static mut HV_FRAME_END: [u32; NUM_CPUS] = [0; NUM_CPUS];

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
