//! Hyp-mode exception vectors (HVBAR). A trap or interrupt from a partition saves r0-r12, the user-mode LR (Hyp
//! mode shares it), the return address and the saved PSR as a [`GuestRegs`] frame on this CPU's Hyp stack,
//! calls the Rust handler, and returns to the partition from whatever the handler left there.

use super::context::GuestRegs;

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
    b       hv_unexpected           /* data abort in Hyp */
    b       lower_trap              /* Hyp trap: from a partition */
    b       lower_irq               /* IRQ */
    b       hv_unexpected           /* FIQ */

lower_trap:
    SAVE_GUEST
    bl      handle_lower_sync
    b       return_to_guest

lower_irq:
    SAVE_GUEST
    bl      handle_lower_irq
    b       return_to_guest

hv_unexpected:
    mov     r0, sp
    bl      handle_hv_exception

    .global return_to_guest
return_to_guest:
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
);

unsafe extern "C" {
    pub static hv_vectors: u8;
    fn enter_guest(regs: *const GuestRegs, stack_top: u32) -> !;
}

/// Enters the partition with `regs`, resetting this CPU's hypervisor stack to `stack_top`.
pub fn enter(regs: &GuestRegs, stack_top: u64) -> ! {
    // SAFETY: `enter_guest` copies the frame onto the fresh stack before using it and never returns.
    unsafe { enter_guest(regs, stack_top as u32) }
}
