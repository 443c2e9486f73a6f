//! EL2 exception vectors. A trap from a partition saves the vCPU's general-purpose registers, return address
//! and PSTATE as a [`GuestRegs`] frame just below the SP it was entered with (the vCPU's frame, at the top of its
//! stack: see `arch::stacks`), calls the Rust handler with it, and returns to the partition from whatever the
//! handler left there; a window switch returns through the next vCPU's frame instead.
//!
//! Physical SErrors are routed to EL2 (HCR_EL2.AMO) and blamed on whoever raised them, as far as the CPU can tell.
//! EL2 runs with SErrors masked, except in two short windows (`serror_window`) that take one if it is pending
//! after a `dsb sy`: on every exit from a partition, before anything else, so one the partition's accesses raised
//! is its own (`handle_lower_serror`, its fault policy), whatever the trap was; and before every return to a
//! partition, so one raised while the hypervisor ran is reported as the hypervisor's (`hv_serror_report`) instead
//! of being taken by the partition about to run. An SError that arrives while the partition runs is its own.
//!
//! Any other exception taken at EL2 is a hypervisor bug: the handler resets the stack pointer to the top of this
//! CPU's stack first, so that a stack overflow (a fault on the guard page below the stack, see `mmu`) is reported
//! like any other bug instead of faulting again.

use super::context::GuestRegs;

core::arch::global_asm!(
    r#"
.macro SAVE_GUEST
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x0, elr_el2
    mrs     x1, spsr_el2
    stp     x30, x0, [sp, #240]
    str     x1, [sp, #256]
    mov     x0, sp
.endm

/* The registers a call may clobber (x0-x18, x29, x30: AAPCS64), the return address and PSTATE, in their places of
   the frame; x19-x28 stay in the CPU, where every Rust function called preserves them. */
.macro SAVE_GUEST_VOLATILE
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    str     x18, [sp, #144]
    str     x29, [sp, #232]
    mrs     x0, elr_el2
    mrs     x1, spsr_el2
    stp     x30, x0, [sp, #240]
    str     x1, [sp, #256]
.endm

/* Completes a frame SAVE_GUEST_VOLATILE started, with the partition's x19-x28 (still in the CPU). */
.macro SAVE_GUEST_PRESERVED
    str     x19, [sp, #152]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    str     x28, [sp, #224]
.endm


.macro VECTOR target
    .balign 0x80
    b       \target
.endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global hv_vectors
hv_vectors:
    /* Current EL with SP_EL0: never used. */
    VECTOR  hv_unexpected
    VECTOR  hv_unexpected
    VECTOR  hv_unexpected
    VECTOR  hv_unexpected
    /* Current EL with SP_ELx: a hypervisor bug, or an SError taken in a window. */
    VECTOR  hv_unexpected
    VECTOR  hv_unexpected
    VECTOR  hv_unexpected
    VECTOR  hv_serror
    /* Lower EL, AArch64. */
    VECTOR  lower_sync
    VECTOR  lower_irq
    VECTOR  hv_unexpected
    VECTOR  lower_serror
    /* Lower EL, AArch32. */
    VECTOR  lower_sync
    VECTOR  lower_irq
    VECTOR  hv_unexpected
    VECTOR  lower_serror

lower_sync:
    SAVE_GUEST
    bl      serror_window
    cbnz    x1, guest_serror
    mov     x0, sp
    bl      handle_lower_sync
    b       return_to_guest

/* An interrupt: the short path (issue 15) saves only the registers a call clobbers, and restores only those unless
   the vCPU must leave (handle_lower_irq returns non-zero), when the frame is completed for the switch. */
lower_irq:
    SAVE_GUEST_VOLATILE
    bl      serror_window
    cbnz    x1, 2f
    bl      handle_lower_irq
    cbnz    w0, 1f
    bl      serror_window
    cbz     x1, 3f
    bl      hv_serror_report
3:  ldr     x1, [sp, #256]
    ldp     x30, x0, [sp, #240]
    msr     elr_el2, x0
    msr     spsr_el2, x1
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldr     x18, [sp, #144]
    ldr     x29, [sp, #232]
    add     sp, sp, #{frame}
    eret
1:  SAVE_GUEST_PRESERVED
    mov     w1, w0
    mov     x0, sp
    bl      handle_lower_irq_leave
    mov     sp, x0
    b       return_to_guest
2:  SAVE_GUEST_PRESERVED
    b       guest_serror

lower_serror:
    SAVE_GUEST
guest_serror:
    mov     x0, sp
    bl      handle_lower_serror
    b       return_to_guest

/* serror_window: takes the physical SError pending once every earlier access has completed, if there is one, and
   returns x1 = 1 if so (0 otherwise). Clobbers x1, x2 and the SError's ESR_EL2, ELR_EL2, SPSR_EL2: callers have
   saved what they need of those. */
serror_window:
    mov     x1, #0
    dsb     sy
    msr     daifclr, #4
serror_window_open:
    isb
serror_window_close:
    msr     daifset, #4
    ret

/* An SError at EL2: only ever unmasked inside serror_window, which it reports to through x1. */
hv_serror:
    mrs     x2, elr_el2
    adr     x1, serror_window_open
    cmp     x2, x1
    b.lo    hv_unexpected
    adr     x1, serror_window_close
    cmp     x2, x1
    b.hi    hv_unexpected
    mov     x1, #1
    eret

/* Anything else taken at EL2: a hypervisor bug. Reset SP to the top of this CPU's stack (a stack overflow leaves it
   in the guard page) and report, passing the SP the exception found. */
hv_unexpected:
    mov     x0, sp
    mrs     x1, tpidr_el2
    adrp    x2, HV_STACKS
    add     x2, x2, :lo12:HV_STACKS
    mov     x3, #{stack_size}
    madd    x1, x1, x3, x3
    add     sp, x2, x1
    bl      hv_el2_exception

    .global return_to_guest
return_to_guest:
    bl      serror_window
    cbz     x1, 1f
    bl      hv_serror_report
1:  ldr     x1, [sp, #256]
    ldp     x30, x0, [sp, #240]
    msr     elr_el2, x0
    msr     spsr_el2, x1
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    add     sp, sp, #{frame}
    eret

    /* enter_guest(frame: *const GuestRegs) -> !
       Drops whatever the hypervisor had on this stack and enters the partition from the vCPU's frame (at the top of
       its stack: what the hypervisor had is below it). */
    .global enter_guest
enter_guest:
    mov     sp, x0
    b       return_to_guest
"#,
    frame = const FRAME,
    stack_size = const crate::arch::stacks::STACK_SIZE,
);

/// The trap frame's size.
const FRAME: usize = core::mem::size_of::<GuestRegs>();

unsafe extern "C" {
    static hv_vectors: u8;
    fn enter_guest(frame: *const GuestRegs) -> !;
    /// `trap::handle_hv_exception`: reports an exception taken at EL2 and stops.
    fn handle_hv_exception(sp: u64) -> !;
}

/// Points this CPU's EL2 vectors at hv-static's table. Every CPU, first thing after its MMU is on.
pub fn install_vectors() {
    use aarch64_cpu::registers::{Writeable, VBAR_EL2};
    VBAR_EL2.set(core::ptr::addr_of!(hv_vectors) as u64);
}

/// An exception taken at EL2 (a hypervisor bug), on a fresh stack: names a stack overflow for what it is, then
/// reports like any other.
#[unsafe(no_mangle)]
#[allow(clippy::panic, reason = "an EL2 stack overflow is a hypervisor bug, never a guest's doing")]
extern "C" fn hv_el2_exception(sp: u64) -> ! {
    const EC_IABT_EL2: u64 = 0x21;
    const EC_DABT_EL2: u64 = 0x25;
    let (esr, far, _) = super::trap_syndrome();
    let abort = matches!(esr >> 26 & 0x3f, EC_IABT_EL2 | EC_DABT_EL2);
    if abort && super::mmu::is_stack_guard(far) || super::mmu::is_stack_guard(sp) {
        panic!("EL2 stack overflow on CPU {} (SP {sp:#x}, FAR {far:#x})", super::cpu::id());
    }
    // SAFETY: `handle_hv_exception` takes the faulting SP by value and never returns.
    unsafe { handle_hv_exception(sp) }
}

/// An SError taken in the window before returning to a partition: raised while the hypervisor ran (after the
/// partition's own accesses had completed), so no partition is blamed. Reported; the partition runs on.
#[unsafe(no_mangle)]
extern "C" fn hv_serror_report() {
    let (esr, _, _) = super::trap_syndrome();
    crate::hverror!("SError at EL2 (ESR {esr:#x}) while the hypervisor ran: not attributed to a partition");
}

/// Enters the partition whose vCPU's frame is `frame` (`arch::stacks::frame`), with the registers it holds.
pub fn enter(frame: *const GuestRegs) -> ! {
    // SAFETY: `frame` is a vCPU's frame at the top of its stack, so the SP it becomes leaves nothing the hypervisor
    // still uses above it; `enter_guest` never returns, and neither does this function, so nothing on the stack
    // being dropped is referenced afterwards.
    unsafe { enter_guest(frame) }
}
