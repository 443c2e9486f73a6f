//! Entry code: the zImage header, boot and secondary vCPU entry, relocation to the link address, and the per-vCPU
//! stacks.
//!
//! The boot vCPU arrives as the ARM Linux boot protocol (Documentation/arch/arm/booting.rst) leaves a kernel: SVC
//! mode, MMU and data cache off, `r0` = 0, `r1` = machine type (ignored), `r2` = device tree address. Secondary
//! vCPUs arrive through PSCI `CPU_ON` in the same state with `r0` = their vCPU index. Before the first Rust
//! instruction each vCPU gets its stack, its vCPU index in TPIDRPRW and the vector table. The target is soft-float,
//! so no VFP/NEON register is ever touched and the FPU stays off.

use crate::{MAX_CPUS, STACK_SIZE};

/// The `mov r0, r0` NOPs before the branch: offsets 0x00..0x20, as a zImage starts (legacy a.out loaders jump
/// into the first words).
const HEADER_NOPS: usize = 8;
/// The zImage magic at offset 0x24 (arch/arm/boot/compressed/head.S), by which loaders recognise a zImage.
const ZIMAGE_MAGIC: u32 = 0x016f_2818;
/// At offset 0x30: reads as this value when the image is little-endian.
const ZIMAGE_ENDIAN_FLAG: u32 = 0x0403_0201;

// Header words 0x28/0x2c are the image's start and end relative to where it is loaded, as a zImage has them: 0 and
// `__guest_image_size` (bss and stacks included, so a loader keeps the device tree and initrd clear of them).
//
// The image is linked at RAM base + 0x8000 and is not position-independent. When the loader put it elsewhere, the
// code at `guest_rt_relocate` copies it to the link address before anything else runs; see there.
core::arch::global_asm!(
    r#"
    .section .text.head, "ax"
    .arm
    .global _start
_start:
    .rept   {nops}
    mov     r0, r0
    .endr
    b       0f
    .word   {magic}
    .word   0
    .word   __guest_image_size
    .word   {endian}

0:  cpsid   aif
    mov     r4, r2
    adr     r0, _start
    ldr     r1, =_start
    cmp     r0, r1
    bne     guest_rt_relocate
guest_rt_linked:
    ldr     r1, =__bss_start
    ldr     r2, =__bss_end
    mov     r3, #0
1:  cmp     r1, r2
    strlo   r3, [r1], #4
    blo     1b
    mov     r0, #0
    bl      guest_rt_cpu_setup
    mov     r0, r4
    bl      {primary}
    b       guest_rt_park
    .ltorg

    .text
    .arm
    .global guest_rt_secondary_start
guest_rt_secondary_start:
    cpsid   aif
    cmp     r0, #{max_cpus}
    bhs     guest_rt_park
    mov     r4, r0
    bl      guest_rt_cpu_setup
    mov     r0, r4
    bl      {secondary}
    b       guest_rt_park

guest_rt_park:
    wfe
    b       guest_rt_park

    // r0 = vCPU index. Uses r1..r3 and no stack. SCTLR.V = 0 takes exceptions through VBAR (not the high vectors),
    // SCTLR.TE = 0 takes them in ARM state, the state the vectors are written in.
guest_rt_cpu_setup:
    ldr     r1, =guest_rt_stacks
    add     r2, r0, #1
    ldr     r3, ={stack_size}
    mla     r1, r2, r3, r1
    mov     sp, r1
    mcr     p15, 0, r0, c13, c0, 4
    ldr     r1, =guest_rt_vectors
    mcr     p15, 0, r1, c12, c0, 0
    mrc     p15, 0, r1, c1, c0, 0
    bic     r1, r1, #(1 << 13)
    bic     r1, r1, #(1 << 30)
    mcr     p15, 0, r1, c1, c0, 0
    isb
    bx      lr
    .ltorg

    // Reached from the header when the image runs at r0 instead of its link address r1 (r4 = device tree). Only a
    // move down is supported, by at least __guest_relocate_max bytes: the copy then runs upwards and this code, the
    // last __guest_relocate_max bytes of the file, is past everything it writes. Loaders put a zImage at or above
    // RAM base + 0x8000, so a move up would mean an image below its own RAM. The device tree must not lie where
    // the linked image, bss and stacks will be (a loader that placed the image elsewhere did not keep that range
    // free). Either failure parks the vCPU: there is no console yet.
    .section .guest_rt_relocate, "ax", %progbits
    .arm
guest_rt_relocate:
    cmp     r0, r1
    blo     guest_rt_park
    sub     r2, r0, r1
    ldr     r3, =__guest_relocate_max
    cmp     r2, r3
    blo     guest_rt_park
    cmp     r4, r1
    blo     1f
    ldr     r3, =__guest_image_end
    cmp     r4, r3
    blo     guest_rt_park
1:  ldr     r3, =__guest_load_size
2:  ldr     r2, [r0], #4
    str     r2, [r1], #4
    subs    r3, r3, #4
    bhi     2b
    // The instruction cache may be on (the boot protocol allows it): make it forget the old bytes.
    dsb
    mov     r0, #0
    mcr     p15, 0, r0, c7, c5, 0
    mcr     p15, 0, r0, c7, c5, 6
    dsb
    isb
    ldr     pc, =guest_rt_linked
    .ltorg

    .section .bss.guest_rt_stacks, "aw", %nobits
    .balign 16
guest_rt_stacks:
    .space  {stacks_bytes}
"#,
    nops = const HEADER_NOPS,
    magic = const ZIMAGE_MAGIC,
    endian = const ZIMAGE_ENDIAN_FLAG,
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
