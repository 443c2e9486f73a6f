//! Exception vectors. The assembly only saves and restores the interrupted context and calls [`trap`], the one
//! Rust entry, which hands IRQs to [`crate::irq`] and synchronous exceptions to [`crate::exception`].
//!
//! The whole FP/SIMD file is saved too: an exception can arrive at any instruction, where the interrupted code
//! may hold live values in any vector register (AAPCS64 preserves only the low halves of v8..v15 across calls),
//! and Rust handlers use SIMD registers for copies and formatting.

use aarch64_cpu::registers::{Readable, ESR_EL1, FAR_EL1};

use crate::exception::{self, Action, Fault};

/// The context saved on the stack of the vCPU that took the exception. Layout shared with the assembly below.
#[repr(C)]
pub struct TrapFrame {
    pub x: [u64; 31],
    pub elr: u64,
    pub spsr: u64,
    _pad: u64,
    /// q0..q31, two 64-bit halves each.
    pub q: [u64; 64],
    pub fpcr: u64,
    pub fpsr: u64,
}

const FRAME_SIZE: usize = 800;
const _: () = assert!(core::mem::size_of::<TrapFrame>() == FRAME_SIZE);

// Sixteen 128-byte slots (Arm ARM D1.10.2): {current EL with SP_EL0, current EL with SP_ELx, lower EL AArch64,
// lower EL AArch32} x {synchronous, IRQ, FIQ, SError}. Each slot saves x0/x1, puts its slot number in x1 and
// joins the common path.
core::arch::global_asm!(
    r#"
.macro guest_rt_vector slot
    .balign 128
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp]
    mov     x1, #\slot
    b       guest_rt_trap_common
.endm

    .section .text.vectors, "ax"
    .balign 2048
    .global guest_rt_vectors
guest_rt_vectors:
    guest_rt_vector 0
    guest_rt_vector 1
    guest_rt_vector 2
    guest_rt_vector 3
    guest_rt_vector 4
    guest_rt_vector 5
    guest_rt_vector 6
    guest_rt_vector 7
    guest_rt_vector 8
    guest_rt_vector 9
    guest_rt_vector 10
    guest_rt_vector 11
    guest_rt_vector 12
    guest_rt_vector 13
    guest_rt_vector 14
    guest_rt_vector 15
.purgem guest_rt_vector

guest_rt_trap_common:
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
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x30, x2, [sp, #240]
    str     x3, [sp, #256]
    add     x2, sp, #272
    stp     q0, q1, [x2, #0]
    stp     q2, q3, [x2, #32]
    stp     q4, q5, [x2, #64]
    stp     q6, q7, [x2, #96]
    stp     q8, q9, [x2, #128]
    stp     q10, q11, [x2, #160]
    stp     q12, q13, [x2, #192]
    stp     q14, q15, [x2, #224]
    stp     q16, q17, [x2, #256]
    stp     q18, q19, [x2, #288]
    stp     q20, q21, [x2, #320]
    stp     q22, q23, [x2, #352]
    stp     q24, q25, [x2, #384]
    stp     q26, q27, [x2, #416]
    stp     q28, q29, [x2, #448]
    stp     q30, q31, [x2, #480]
    mrs     x3, fpcr
    mrs     x4, fpsr
    str     x3, [sp, #784]
    str     x4, [sp, #792]

    mov     x0, sp
    bl      {trap}

    ldr     x3, [sp, #784]
    ldr     x4, [sp, #792]
    msr     fpcr, x3
    msr     fpsr, x4
    add     x2, sp, #272
    ldp     q0, q1, [x2, #0]
    ldp     q2, q3, [x2, #32]
    ldp     q4, q5, [x2, #64]
    ldp     q6, q7, [x2, #96]
    ldp     q8, q9, [x2, #128]
    ldp     q10, q11, [x2, #160]
    ldp     q12, q13, [x2, #192]
    ldp     q14, q15, [x2, #224]
    ldp     q16, q17, [x2, #256]
    ldp     q18, q19, [x2, #288]
    ldp     q20, q21, [x2, #320]
    ldp     q22, q23, [x2, #352]
    ldp     q24, q25, [x2, #384]
    ldp     q26, q27, [x2, #416]
    ldp     q28, q29, [x2, #448]
    ldp     q30, q31, [x2, #480]
    ldr     x3, [sp, #256]
    ldp     x30, x2, [sp, #240]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x28, x29, [sp, #224]
    ldp     x26, x27, [sp, #208]
    ldp     x24, x25, [sp, #192]
    ldp     x22, x23, [sp, #176]
    ldp     x20, x21, [sp, #160]
    ldp     x18, x19, [sp, #144]
    ldp     x16, x17, [sp, #128]
    ldp     x14, x15, [sp, #112]
    ldp     x12, x13, [sp, #96]
    ldp     x10, x11, [sp, #80]
    ldp     x8, x9, [sp, #64]
    ldp     x6, x7, [sp, #48]
    ldp     x4, x5, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp]
    add     sp, sp, #{frame}
    eret
"#,
    frame = const FRAME_SIZE,
    trap = sym trap,
);

/// Slot numbers of the vectors guest-rt expects; the boot code runs on SP_EL1 and guests never drop to EL0.
const SYNC_CURRENT_SPX: u64 = 4;
const IRQ_CURRENT_SPX: u64 = 5;

extern "C" fn trap(frame: &mut TrapFrame, slot: u64) {
    match slot {
        IRQ_CURRENT_SPX => crate::irq::dispatch(),
        SYNC_CURRENT_SPX => {
            let fault = fault(frame, "synchronous exception");
            if exception::synchronous(&fault) == Action::SkipInstruction {
                // A64 instructions are 4 bytes.
                frame.elr += 4;
            }
        }
        _ => exception::unexpected(&fault(frame, slot_name(slot))),
    }
}

fn fault(frame: &TrapFrame, what: &'static str) -> Fault {
    let esr = ESR_EL1.get();
    Fault {
        what,
        class: class_name(esr >> 26),
        syndrome_name: "ESR",
        syndrome: esr,
        address_name: "FAR",
        address: FAR_EL1.get(),
        pc: frame.elr,
    }
}

fn slot_name(slot: u64) -> &'static str {
    match slot {
        0..=3 => "exception taken on SP_EL0",
        6 => "FIQ",
        7 => "SError",
        _ => "exception from a lower EL",
    }
}

/// Names of the exception classes (ESR_ELx.EC, Arm ARM D17.2.37) a guest bug is likely to produce.
fn class_name(ec: u64) -> &'static str {
    match ec {
        0x00 => "unknown reason (undefined instruction?)",
        0x01 => "trapped WFI/WFE",
        0x07 => "FP/SIMD access trapped",
        0x0e => "illegal execution state",
        0x15 => "SVC",
        0x16 => "HVC",
        0x17 => "SMC",
        0x18 => "trapped system register access",
        0x20 | 0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 | 0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2f => "SError",
        0x3c => "BRK",
        _ => "other",
    }
}
