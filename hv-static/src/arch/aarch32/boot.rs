//! Entry points on ARMv7-A: a zImage-compatible header (so U-Boot's `bootz` and QEMU's `-kernel` accept the
//! image), the way into Hyp mode, self-relocation to the link address, stacks, `.bss`, then Rust.
//!
//! Every CPU checks its mode first: Hyp mode goes on; Secure SVC mode (a CPU straight out of reset on a board with
//! the Security Extensions and no firmware, such as QEMU's vexpress with `secure=on`) goes through
//! `secure::hv_secure_to_hyp` and comes back in Non-secure Hyp mode; anything else cannot reach Hyp mode and
//! parks. So one image boots in either case, decided at run time.
//!
//! Boot loaders put a zImage wherever they like (QEMU at RAM + 0x10000, U-Boot at `kernel_addr_r`) because a real
//! zImage is position-independent. hv-static is linked at one address, so its first instructions copy the whole
//! boot image (hypervisor and payload: the header's end field, which the image builder widens) there first.

use crate::arch::stacks::STACK_SIZE;
use crate::config::{NUM_CPUS, SYSTEM};

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
    mov     r0, #1
    bl      enter_hyp
    /* A boot loader may pass an ATAG list instead (QEMU's vexpress without -dtb): treat that as no tree. */
    tst     r10, #3
    movne   r10, #0
    cmp     r10, #0
    beq     checked_dtb
    ldr     r0, [r10]
    ldr     r1, =0xedfe0dd0         /* FDT magic 0xd00dfeed, big-endian */
    cmp     r0, r1
    movne   r10, #0
checked_dtb:
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
    mov     r0, #0
    bl      enter_hyp
    /* The logical index is this CPU's position in the configuration's list (PSCI would pass it as the context
       id, but a CPU released from a holding pen gets no argument). */
    mrc     p15, 0, r1, c0, c0, 5   /* MPIDR */
    bic     r1, r1, #0xff000000     /* affinity levels 2..0 only */
    ldr     r2, ={mpidrs}
    mov     r11, #0
4:  cmp     r11, #{num_cpus}
    bhs     park                    /* not a CPU of this configuration */
    ldr     r3, [r2, r11, lsl #2]
    cmp     r3, r1
    addne   r11, r11, #1
    bne     4b
    mov     r10, #0

common_entry:
    /* Stack: this CPU's slot in HV_STACKS, below the vCPU frame at its top (arch::stacks: a pinned vCPU's
       registers live there, written while the boot code still runs on this stack). */
    ldr     r1, =HV_STACKS
    ldr     r2, ={stack_size}
    mla     r3, r11, r2, r2
    add     sp, r1, r3
    sub     sp, sp, #{frame}
    mov     r0, r11
    mov     r1, r10
    bl      rust_entry
3:  wfe
    b       3b

/*
 * enter_hyp: returns in Hyp mode, from Hyp mode at once or from Secure SVC mode through the monitor (r0 = 1 on
 * the boot CPU, which also sets up the shared interrupt groups); parks the CPU otherwise. Clobbers r0-r3, r12.
 * ID_PFR1 tells whether the CPU has the Security (bits 7:4) and Virtualization (bits 15:12) Extensions; SVC
 * mode on a CPU with them is taken to be the Secure state (out of reset), as nothing can tell from SVC mode.
 */
enter_hyp:
    mrs     r1, cpsr
    and     r1, r1, #0x1f
    cmp     r1, #0x1a               /* Hyp mode */
    bxeq    lr
    cmp     r1, #0x13               /* SVC mode */
    bne     park
    mrc     p15, 0, r1, c0, c1, 1   /* ID_PFR1 */
    tst     r1, #0xf0
    beq     park
    tst     r1, #0xf000
    beq     park
    b       hv_secure_to_hyp        /* tail call: it returns to our caller */

park:
    wfe
    b       park
    .ltorg
"#,
    stack_size = const STACK_SIZE,
    frame = const core::mem::size_of::<crate::arch::GuestRegs>(),
    mpidrs = sym HV_CPU_MPIDRS,
    num_cpus = const NUM_CPUS,
);

/// MPIDR affinity levels 2..0 of each CPU the configuration uses, by logical index: the secondary entry looks
/// itself up here.
static HV_CPU_MPIDRS: [u32; NUM_CPUS] = cpu_mpidrs();

const fn cpu_mpidrs() -> [u32; NUM_CPUS] {
    let mut m = [0; NUM_CPUS];
    let mut i = 0;
    while i < NUM_CPUS {
        m[i] = (SYSTEM.cpus[i].mpidr & 0xff_ffff) as u32;
        i += 1;
    }
    m
}

unsafe extern "C" {
    /// Physical address where secondary CPUs start (PSCI CPU_ON, or the board's holding pen).
    pub fn secondary_entry();
}
