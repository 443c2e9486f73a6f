//! Entry code: the arm64 `Image` header, boot and secondary vCPU entry, and the per-vCPU stacks.
//!
//! Runs with the MMU and caches off and every exception masked (boot protocol). Before the first Rust
//! instruction each vCPU gets its stack, FP/SIMD access (the compiler uses SIMD registers freely), its vCPU index
//! in TPIDR_EL1 and the vector table.

use crate::{MAX_CPUS, STACK_SIZE};

// The header layout is the Linux arm64 boot protocol (Documentation/arch/arm64/booting.rst). `image_size` covers
// bss and the stacks, so a loader places the device tree and initrd clear of them. Flags 0x2 = little-endian,
// 4 KiB pages, and bit 3 clear: the image is linked at RAM base + text_offset and is not position-independent,
// so it must not invite a loader to place it "anywhere".
core::arch::global_asm!(
    r#"
    .section .text.head, "ax"
    .global _start
_start:
    b       0f
    .long   0
    .quad   __guest_text_offset
    .quad   __guest_image_size
    .quad   0x2
    .quad   0, 0, 0
    .long   0x644d5241
    .long   0

0:  msr     daifset, #0xf
    // Linked, not relocatable: if we were loaded elsewhere, absolute pointers (vtables, statics) are wrong.
    // There is no console yet, so stop quietly.
    adr     x1, _start
    ldr     x2, =_start
    cmp     x1, x2
    b.ne    guest_rt_park
    mov     x19, x0
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:  mov     x0, #0
    bl      guest_rt_cpu_setup
    mov     x0, x19
    bl      {primary}
    b       guest_rt_park

    .text
    .global guest_rt_secondary_start
guest_rt_secondary_start:
    msr     daifset, #0xf
    cmp     x0, #{max_cpus}
    b.hs    guest_rt_park
    mov     x19, x0
    bl      guest_rt_cpu_setup
    mov     x0, x19
    bl      {secondary}
    b       guest_rt_park

guest_rt_park:
    wfe
    b       guest_rt_park

    // x0 = vCPU index. Uses x1..x3 and no stack.
guest_rt_cpu_setup:
    adrp    x1, guest_rt_stacks
    add     x1, x1, :lo12:guest_rt_stacks
    add     x2, x0, #1
    ldr     x3, ={stack_size}
    madd    x1, x2, x3, x1
    mov     sp, x1
    msr     tpidr_el1, x0
    mov     x1, #(3 << 20)
    msr     cpacr_el1, x1
    adrp    x1, guest_rt_vectors
    add     x1, x1, :lo12:guest_rt_vectors
    msr     vbar_el1, x1
    isb
    ret

    .section .bss.guest_rt_stacks, "aw", %nobits
    .balign 16
guest_rt_stacks:
    .space  {stacks_bytes}
"#,
    primary = sym crate::rt::primary_entry,
    secondary = sym crate::rt::secondary_entry,
    max_cpus = const MAX_CPUS,
    stack_size = const STACK_SIZE,
    stacks_bytes = const MAX_CPUS * STACK_SIZE,
);

extern "C" {
    /// Defined above; only its address is used.
    fn guest_rt_secondary_start();
}

pub fn secondary_entry() -> usize {
    guest_rt_secondary_start as *const () as usize
}
