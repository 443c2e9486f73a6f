//! From Secure SVC mode to Non-secure Hyp mode, for CPUs that come out of reset in the Secure state with no
//! firmware to hand them over (QEMU's `vexpress-a15` with `secure=on`, real boards without a boot monitor).
//!
//! hv-static runs in Non-secure Hyp mode only, and Hyp mode can be entered from the Secure side only by an
//! exception return from Monitor mode with SCR.NS set (Arm ARM B1.8.1, B1.5.3). So every such CPU runs
//! `hv_secure_to_hyp` once, before anything else: it does the setup only the Secure state may do (interrupt
//! groups, the Non-secure access controls), points MVBAR at a tiny monitor vector table, takes itself into Monitor
//! mode with `smc`, sets SCR there and returns to its caller in Non-secure Hyp mode. Nothing runs in the Secure
//! state afterwards: SCR.SCD makes `smc` undefined from the Non-secure side, so the monitor is never re-entered.
//!
//! The code is position-independent (PC-relative branches, `adr`, literal constants only): the boot CPU runs it
//! before it has moved the image to its link address.

use crate::config::SYSTEM;

/// GICD_IGROUPRn, GICD_TYPER, GICD_CTLR; GICC_CTLR, GICC_PMR (GIC architecture v2, 4.3 and 4.4).
const GICD_CTLR: u32 = 0x000;
const GICD_TYPER: u32 = 0x004;
const GICD_IGROUPR: u32 = 0x080;
const GICC_CTLR: u32 = 0x000;
const GICC_PMR: u32 = 0x004;
/// Secure GICD_CTLR: forward Group 0 (EnableGrp0) and Group 1 (EnableGrp1) interrupts. Everything is Group 1
/// once every CPU has been through here; Group 0 stays enabled because the other CPUs' wake-up SGI
/// (`CpuStart::SysFlags`) is sent while they still wait in the boot loader, where their banked SGIs are still
/// Group 0.
const GICD_CTLR_SECURE: u32 = 0b11;
/// Secure GICC_CTLR: signal both groups (EnableGrp0, EnableGrp1), Group 0 as IRQ (FIQEn = 0); hv-static then sets
/// its Non-secure view (Group 1 enable, EOImodeNS).
const GICC_CTLR_SECURE: u32 = 0b11;
/// Secure GICC_PMR: let every priority through. The Non-secure side sees and writes only the lower half.
const GICC_PMR_ALL: u32 = 0xff;

/// NSACR (B4.1.111): CP10 and CP11 (bits 10, 11) let the Non-secure side use VFP/Advanced SIMD, which the
/// partitions' kernels do (hv-static itself never touches them); NS_SMP (bit 18, Cortex-A15 TRM 4.3.35) lets it
/// write ACTLR.SMP, which Linux sets on each CPU.
const NSACR_VALUE: u32 = 1 << 10 | 1 << 11 | 1 << 18;

/// ACTLR bits the Secure state sets for the Non-secure side, on the Cortex-A7/A12/A15/A17 this path can meet (they
/// have the virtualization extensions): SMP (bit 6), so the CPU takes part in coherency (partitions cannot set it:
/// HCR.TAC traps their ACTLR writes); on a Cortex-A15 (part 0xC0F) IBE (bit 0), without which BPIALL and ICIALLU
/// leave the branch target buffer alone and hv-static could not invalidate branch predictors between partitions.
const ACTLR_SMP: u32 = 1 << 6;
const ACTLR_A15_IBE: u32 = 1 << 0;
const MIDR_PART_A15: u32 = 0xc0f;

/// SCR (B4.1.129) while hv-static runs:
/// - NS (bit 0): the Non-secure state, the only one with Hyp mode;
/// - FW, AW (bits 4, 5): the Non-secure side may mask FIQs and asynchronous aborts itself (hv-static keeps them
///   masked in Hyp mode and lets partitions mask theirs);
/// - SCD (bit 7): `smc` from the Non-secure side is undefined instead of entering this monitor again (there is no
///   Secure firmware to call; a partition's `smc` still traps to Hyp mode first, HCR.TSC);
/// - HCE (bit 8): `hvc` is enabled, so partitions can make hypercalls and PSCI calls.
///
/// IRQ, FIQ and EA (bits 1-3) stay 0: interrupts and external aborts are taken in the Non-secure state, by Hyp
/// mode when HCR routes them there. SIF stays 0: the monitor vectors below lie in ordinary RAM, which QEMU's
/// vexpress does not split into Secure and Non-secure, and SCD already keeps the Secure state from running again.
const SCR_VALUE: u32 = 1 | 1 << 4 | 1 << 5 | 1 << 7 | 1 << 8;

/// SPSR for the return: Hyp mode (0x1A), A, I and F masked (bits 8, 7, 6), ARM state, little-endian.
const SPSR_HYP: u32 = 0x1A | 1 << 6 | 1 << 7 | 1 << 8;

core::arch::global_asm!(
    r#"
    .section .text.hv_secure, "ax"
    .arm

/*
 * hv_secure_to_hyp: called in Secure SVC mode with r0 = 1 on the boot CPU, 0 on the others. Returns to lr in
 * Non-secure Hyp mode (lr itself is banked, so it travels in r12). Clobbers r0-r3 and r12; the stack is not used.
 */
    .global hv_secure_to_hyp
hv_secure_to_hyp:
    mov     r12, lr
    ldr     r1, ={gicd}
    mvn     r2, #0
    cmp     r0, #0
    beq     2f
    /* Boot CPU: every shared peripheral interrupt to Group 1 (Non-secure), then the distributor on. */
    ldr     r3, [r1, #{gicd_typer}]
    and     r3, r3, #0x1f               /* ITLinesNumber: IGROUPR1..IGROUPRn exist */
    add     r0, r1, #{gicd_igroupr} + 4
1:  cmp     r3, #0
    beq     3f
    str     r2, [r0], #4
    sub     r3, r3, #1
    b       1b
3:  mov     r3, #{gicd_ctlr_secure}
    str     r3, [r1, #{gicd_ctlr}]
2:  /* Every CPU: its banked SGIs and PPIs to Group 1; its CPU interface passes both groups at any priority. */
    str     r2, [r1, #{gicd_igroupr}]
    ldr     r1, ={gicc}
    mov     r3, #{gicc_pmr_all}
    str     r3, [r1, #{gicc_pmr}]
    mov     r3, #{gicc_ctlr_secure}
    str     r3, [r1, #{gicc_ctlr}]
    ldr     r3, ={nsacr}
    mcr     p15, 0, r3, c1, c1, 2       /* NSACR */
    /* ACTLR: SMP, and on a Cortex-A15 IBE, which only the Secure state can set (see ACTLR_SMP). */
    mrc     p15, 0, r1, c1, c0, 1
    orr     r1, r1, #{actlr_smp}
    mrc     p15, 0, r0, c0, c0, 0       /* MIDR: part number in bits [15:4] */
    ubfx    r0, r0, #4, #12
    movw    r3, #{part_a15}
    cmp     r0, r3
    orreq   r1, r1, #{actlr_a15_ibe}
    mcr     p15, 0, r1, c1, c0, 1
    isb
    /* CNTFRQ is left alone: QEMU resets it to its counter frequency, and only firmware knows a board's. */
    adr     r0, hv_monitor_vectors
    mcr     p15, 0, r0, c12, c0, 1      /* MVBAR */
    isb
    .arch_extension sec
    smc     #0
    b       .                           /* not reached: the monitor returns to r12 */

/* Monitor vectors (B1.8.1): 32-byte aligned; only the SMC entry (+0x08) is ever taken. */
    .balign 32
hv_monitor_vectors:
    b       .                           /* +0x00 unused */
    b       .                           /* +0x04 unused */
    b       hv_monitor_smc              /* +0x08 SMC */
    b       .                           /* +0x0C prefetch abort */
    b       .                           /* +0x10 data abort */
    b       .                           /* +0x14 unused */
    b       .                           /* +0x18 IRQ */
    b       .                           /* +0x1C FIQ */

hv_monitor_smc:
    ldr     r0, ={scr}
    mcr     p15, 0, r0, c1, c1, 0       /* SCR */
    isb
    ldr     r0, ={spsr_hyp}
    msr     spsr_cxsf, r0
    mov     lr, r12
    movs    pc, lr                      /* exception return: Non-secure Hyp mode, at the caller's return address */
    .ltorg
"#,
    gicd = const SYSTEM.gic.gicd as u32,
    gicc = const SYSTEM.gic.gicc as u32,
    gicd_ctlr = const GICD_CTLR,
    gicd_typer = const GICD_TYPER,
    gicd_igroupr = const GICD_IGROUPR,
    gicd_ctlr_secure = const GICD_CTLR_SECURE,
    gicc_ctlr = const GICC_CTLR,
    gicc_pmr = const GICC_PMR,
    gicc_ctlr_secure = const GICC_CTLR_SECURE,
    gicc_pmr_all = const GICC_PMR_ALL,
    nsacr = const NSACR_VALUE,
    actlr_smp = const ACTLR_SMP,
    actlr_a15_ibe = const ACTLR_A15_IBE,
    part_a15 = const MIDR_PART_A15,
    scr = const SCR_VALUE,
    spsr_hyp = const SPSR_HYP,
);
