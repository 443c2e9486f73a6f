//! EL2 exception vectors. A trap from a partition saves the vCPU's general-purpose registers, return address
//! and PSTATE on this CPU's stack as a [`GuestRegs`] frame, calls the Rust handler with it, and returns to the
//! partition from whatever the handler left there.

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
    /* Current EL with SP_ELx: a hypervisor bug. */
    VECTOR  hv_unexpected
    VECTOR  hv_unexpected
    VECTOR  hv_unexpected
    VECTOR  hv_unexpected
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
    bl      handle_lower_sync
    b       return_to_guest

lower_irq:
    SAVE_GUEST
    bl      handle_lower_irq
    b       return_to_guest

lower_serror:
    SAVE_GUEST
    bl      handle_lower_serror
    b       return_to_guest

hv_unexpected:
    mov     x0, sp
    bl      handle_hv_exception

    .global return_to_guest
return_to_guest:
    ldr     x1, [sp, #256]
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

    /* enter_guest(regs: *const GuestRegs, stack_top: u64) -> !
       Drops whatever the hypervisor had on this CPU's stack and enters the partition with `regs`. */
    .global enter_guest
enter_guest:
    mov     sp, x1
    sub     sp, sp, #{frame}
    mov     x2, sp
    mov     x3, #({frame} / 16)
1:  ldp     x4, x5, [x0], #16
    stp     x4, x5, [x2], #16
    subs    x3, x3, #1
    b.ne    1b
    b       return_to_guest
"#,
    frame = const core::mem::size_of::<GuestRegs>(),
);

unsafe extern "C" {
    pub static hv_vectors: u8;
    fn enter_guest(regs: *const GuestRegs, stack_top: u64) -> !;
}

/// Enters the partition with `regs`, resetting this CPU's hypervisor stack to `stack_top`.
pub fn enter(regs: &GuestRegs, stack_top: u64) -> ! {
    // SAFETY: `enter_guest` copies the frame onto the fresh stack before using it and never returns; nothing on the
    // old stack is referenced afterwards because this function does not return either.
    unsafe { enter_guest(regs, stack_top) }
}
