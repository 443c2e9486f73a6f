//! Entry points: the arm64 `Image` header, the primary CPU's entry from the boot loader and the secondaries'
//! entry from the firmware's PSCI CPU_ON or the boot loader's spin table.
//!
//! Nothing here touches memory through Rust before the stack exists and `.bss` is zero; FP/SIMD is enabled at EL2
//! first because the compiler may use NEON registers anywhere.

use crate::arch::stacks::STACK_SIZE;
use crate::config::{NUM_CPUS, SYSTEM};

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
    /* The logical index is this CPU's position in the configuration's list, found by its MPIDR affinity (PSCI
       passes it as the context id too, but a CPU released from a spin table gets no argument). */
    mrs     x1, CurrentEL
    cmp     x1, #(2 << 2)
    b.ne    not_el2
    mrs     x1, mpidr_el1
    mov     x2, #0xffffff           /* affinity levels 2..0 */
    movk    x2, #0xff, lsl #32      /* and 3 */
    and     x1, x1, x2
    adrp    x2, {mpidrs}
    add     x2, x2, :lo12:{mpidrs}
    mov     x20, #0
4:  cmp     x20, #{num_cpus}
    b.hs    not_el2                 /* not a CPU of this configuration: sleep */
    ldr     x3, [x2, x20, lsl #3]
    cmp     x3, x1
    b.eq    5f
    add     x20, x20, #1
    b       4b
5:  mov     x19, #0

common_entry:
    /* Stack: this CPU's slot in HV_STACKS, below the vCPU frame at its top (arch::stacks: a pinned vCPU's
       registers live there, written while the boot code still runs on this stack). */
    adrp    x1, HV_STACKS
    add     x1, x1, :lo12:HV_STACKS
    mov     x2, #{stack_size}
    madd    x3, x20, x2, x2
    add     x1, x1, x3
    sub     sp, x1, #{frame}
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
    frame = const core::mem::size_of::<crate::arch::GuestRegs>(),
    mpidrs = sym HV_CPU_MPIDRS,
    num_cpus = const NUM_CPUS,
);

/// MPIDR affinity levels 3..0 of each CPU the configuration uses, by logical index: the secondary entry looks
/// itself up here.
static HV_CPU_MPIDRS: [u64; NUM_CPUS] = cpu_mpidrs();

const fn cpu_mpidrs() -> [u64; NUM_CPUS] {
    let mut m = [0; NUM_CPUS];
    let mut i = 0;
    while i < NUM_CPUS {
        m[i] = SYSTEM.cpus[i].mpidr & 0xff_00ff_ffff;
        i += 1;
    }
    m
}

unsafe extern "C" {
    /// Physical address handed to PSCI CPU_ON, or written to the spin table, for secondary CPUs.
    pub fn secondary_entry();
}
