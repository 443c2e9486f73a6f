//! Entry points on ARMv7-A: a zImage-compatible header (so U-Boot's `bootz` and QEMU's `-kernel` accept the
//! image), self-relocation to the link address, Hyp-mode check, stacks, `.bss`, then Rust.
//!
//! Boot loaders put a zImage wherever they like (QEMU at RAM + 0x10000, U-Boot at `kernel_addr_r`) because a real
//! zImage is position-independent. hv-static is linked at one address, so its first instructions copy the whole
//! boot image (hypervisor and payload: the header's end field, which the image builder widens) there first.

use crate::percpu::STACK_SIZE;

core::arch::global_asm!(
    r#"
    .section .text.head, "ax"
    .arm
    .global _start
_start:
    .rept 8
    mov     r0, r0
    .endr
    b       primary_entry
    .word   0x016f2818              /* zImage magic */
    .word   0                       /* start, relative to the load address */
    .word   __hv_image_size         /* end: the image builder widens it to cover the payload */
    .word   0x04030201              /* little-endian */

primary_entry:
    mov     r10, r2                 /* board device tree */
    mrs     r0, cpsr
    and     r0, r0, #0x1f
    cmp     r0, #0x1a               /* Hyp mode */
    bne     not_hyp
    /* Relocate to the link address if loaded elsewhere (memmove: the ranges may overlap). */
    adr     r4, _start
    ldr     r5, =_start
    cmp     r4, r5
    beq     relocated
    ldr     r6, [r4, #0x2c]         /* bytes to move, rounded up to whole words */
    add     r6, r6, #3
    bic     r6, r6, #3
    cmp     r5, r4
    bhi     copy_down
copy_up:                            /* destination below source: forward */
    mov     r7, #0
1:  ldr     r8, [r4, r7]
    str     r8, [r5, r7]
    add     r7, r7, #4
    cmp     r7, r6
    blo     1b
    b       copied
copy_down:                          /* destination above source: backward */
    mov     r7, r6
1:  subs    r7, r7, #4
    ldr     r8, [r4, r7]
    str     r8, [r5, r7]
    bne     1b
copied:
    dsb
    mcr     p15, 0, r0, c7, c5, 0   /* ICIALLU */
    isb
    ldr     pc, =relocated
relocated:
    ldr     r1, =__bss_start
    ldr     r2, =__bss_end
    mov     r3, #0
2:  cmp     r1, r2
    strlo   r3, [r1], #4
    blo     2b
    mov     r11, #0                 /* logical CPU 0 */
    b       common_entry

    .global secondary_entry
secondary_entry:
    mov     r11, r0                 /* PSCI context id = logical CPU index */
    mov     r10, #0

common_entry:
    ldr     r1, =HV_STACKS
    ldr     r2, ={stack_size}
    mla     r3, r11, r2, r2
    add     sp, r1, r3
    mov     r0, r11
    mov     r1, r10
    bl      rust_entry
3:  wfe
    b       3b

not_hyp:
    wfe
    b       not_hyp
    .ltorg
"#,
    stack_size = const STACK_SIZE,
);

unsafe extern "C" {
    /// Physical address handed to PSCI CPU_ON for secondary CPUs.
    pub fn secondary_entry();
}
