//! Entry points: the arm64 `Image` header, the primary CPU's entry from the boot loader and the secondaries'
//! entry from the firmware's PSCI CPU_ON.
//!
//! Nothing here touches memory through Rust before the stack exists and `.bss` is zero; FP/SIMD is enabled at EL2
//! first because the compiler may use NEON registers anywhere.

use crate::arch::stacks::STACK_SIZE;

core::arch::global_asm!(
    r#"
    .section .text.head, "ax"
    .global _start
_start:
    /* arm64 Image header (Linux Documentation/arch/arm64/booting.rst). */
    b       primary_entry
    .word   0
    .quad   HV_TEXT_OFFSET          /* text_offset: loaders place us at RAM base + this */
    .quad   __hv_image_size         /* image_size: the image builder widens it to cover the payload */
    .quad   0x2                     /* flags: little-endian, 4 KiB pages, placed relative to RAM base */
    .quad   0, 0, 0
    .word   0x644d5241              /* "ARM\x64" */
    .word   0

primary_entry:
    mov     x19, x0                 /* board device tree */
    mov     x20, #0                 /* logical CPU 0 */
    mrs     x1, CurrentEL
    cmp     x1, #(2 << 2)
    b.ne    not_el2
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:  b       common_entry

    .global secondary_entry
secondary_entry:
    mov     x20, x0                 /* PSCI context id = logical CPU index */
    mov     x19, #0

common_entry:
    /* Stack: top of this CPU's slot in HV_STACKS. */
    adrp    x1, HV_STACKS
    add     x1, x1, :lo12:HV_STACKS
    mov     x2, #{stack_size}
    madd    x3, x20, x2, x2
    add     x1, x1, x3
    mov     sp, x1
    /* Enable FP/SIMD at EL2 (CPTR_EL2.TFP = 0; RES1 bits 13:12 and 9:0); trap EL1/EL0 trace register accesses
       (TTA, bit 20: the trace unit is shared by every partition of the CPU, and not offered to any). */
    mov     x1, #0x33ff
    movk    x1, #0x10, lsl #16
    msr     cptr_el2, x1
    isb
    mov     x0, x20
    mov     x1, x19
    bl      rust_entry
3:  wfe
    b       3b

not_el2:
    /* Not entered at EL2: nothing we can do safely, and no console yet. Sleep. */
    wfe
    b       not_el2
"#,
    stack_size = const STACK_SIZE,
);

unsafe extern "C" {
    /// Physical address handed to PSCI CPU_ON for secondary CPUs.
    pub fn secondary_entry();
}
