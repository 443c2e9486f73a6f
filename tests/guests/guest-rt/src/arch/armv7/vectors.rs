//! Exception vectors. The assembly only saves and restores the interrupted context and calls [`trap`], the one Rust
//! entry, which hands IRQs to [`crate::irq`] and aborts and undefined instructions to [`crate::exception`].
//!
//! Every handler runs in SVC mode on the interrupted vCPU's own stack, as on AArch64, so no exception mode needs a
//! stack of its own: each vector moves its return address to the SVC stack with `srsdb` (return address and SPSR),
//! switches to SVC mode and saves the registers there. `rfeia` returns, restoring PC and CPSR at once. The guest
//! runs in SVC mode only, so SVC's own banked `lr` is never live when an exception arrives.
//!
//! Soft-float: no VFP/NEON register holds guest state, so only the core registers are saved.

use crate::exception::{self, Action, Fault};

use super::fsr;

/// The context saved on the SVC stack of the vCPU that took the exception. Layout shared with the assembly below.
#[repr(C)]
pub struct TrapFrame {
    /// r0..r12.
    pub r: [u32; 13],
    /// SVC mode's `lr` at the time of the exception.
    pub lr: u32,
    /// Where `rfeia` returns to: the interrupted instruction for an IRQ, the faulting one for an abort.
    pub pc: u32,
    /// The interrupted CPSR (the exception mode's SPSR).
    pub cpsr: u32,
}

const FRAME_SIZE: usize = 64;
const _: () = assert!(core::mem::size_of::<TrapFrame>() == FRAME_SIZE);

/// Which vector was taken: the offset in the table divided by 4.
const RESET: u32 = 0;
const UNDEFINED: u32 = 1;
const SVC: u32 = 2;
const PREFETCH_ABORT: u32 = 3;
const DATA_ABORT: u32 = 4;
const IRQ: u32 = 6;
const FIQ: u32 = 7;

/// CPSR.T: the interrupted code was Thumb.
const CPSR_T: u32 = 1 << 5;

// Eight branches (the vector table: reset, undefined, SVC, prefetch abort, data abort, unused, IRQ, FIQ); VBAR needs
// 32-byte alignment. Each entry turns its `lr` into the preferred return address by taking off what the
// architecture added (8 for a data abort, 4 for a prefetch abort, an IRQ and an FIQ; the undefined-instruction and
// SVC offsets depend on the instruction set and are dealt with in Rust), pushes it and the SPSR on the SVC stack,
// saves r0-r12 and SVC's lr, and joins the common path with its vector number in r1.
core::arch::global_asm!(
    r#"
.macro guest_rt_vector kind, adjust
    .if \adjust
    sub     lr, lr, #\adjust
    .endif
    srsdb   sp!, #0x13
    cps     #0x13
    push    {{r0-r12, lr}}
    mov     r1, #\kind
    b       guest_rt_trap_common
.endm

    .section .text.vectors, "ax"
    .arm
    .balign 32
    .global guest_rt_vectors
guest_rt_vectors:
    b       guest_rt_vector_reset
    b       guest_rt_vector_undefined
    b       guest_rt_vector_svc
    b       guest_rt_vector_prefetch_abort
    b       guest_rt_vector_data_abort
    b       guest_rt_vector_unused
    b       guest_rt_vector_irq
    b       guest_rt_vector_fiq

guest_rt_vector_reset:
    guest_rt_vector 0, 0
guest_rt_vector_undefined:
    guest_rt_vector 1, 0
guest_rt_vector_svc:
    guest_rt_vector 2, 0
guest_rt_vector_prefetch_abort:
    guest_rt_vector 3, 4
guest_rt_vector_data_abort:
    guest_rt_vector 4, 8
guest_rt_vector_unused:
    guest_rt_vector 5, 0
guest_rt_vector_irq:
    guest_rt_vector 6, 4
guest_rt_vector_fiq:
    guest_rt_vector 7, 4
.purgem guest_rt_vector

    // The interrupted code may have left sp 4-byte aligned; AAPCS wants 8 at a call. r4 is saved in the frame and
    // callee-saved, so it keeps the frame address across the call.
guest_rt_trap_common:
    mov     r0, sp
    mov     r4, sp
    bic     sp, sp, #7
    bl      {trap}
    mov     sp, r4
    pop     {{r0-r12, lr}}
    rfeia   sp!
"#,
    trap = sym trap,
);

extern "C" fn trap(frame: &mut TrapFrame, vector: u32) {
    match vector {
        IRQ => crate::irq::dispatch(),
        DATA_ABORT | PREFETCH_ABORT | UNDEFINED => {
            if vector == UNDEFINED {
                step_back(frame);
            }
            let fault = fault(frame, vector);
            if exception::synchronous(&fault) == Action::SkipInstruction {
                frame.pc += instruction_length(frame);
            }
        }
        _ => {
            if vector == SVC {
                step_back(frame);
            }
            exception::unexpected(&fault(frame, vector))
        }
    }
}

/// Points `frame.pc` at the instruction that took an undefined-instruction or SVC exception: their `lr` is that
/// instruction + 4 in ARM state, + 2 in Thumb state (whatever the Thumb instruction's size).
fn step_back(frame: &mut TrapFrame) {
    frame.pc -= if frame.cpsr & CPSR_T != 0 { 2 } else { 4 };
}

/// Reads the CP15 register `p15, 0, <Rt>, <CRn>, <CRm>, <opc2>` named by its last three operands.
macro_rules! read_cp15 {
    ($regs:literal) => {{
        let value: u32;
        // SAFETY: reading a fault status or address register has no side effects.
        unsafe { core::arch::asm!(concat!("mrc p15, 0, {}, ", $regs), out(reg) value, options(nomem, nostack)) };
        value
    }};
}

/// Describes the fault the vCPU took, from DFSR and DFAR (c5/c6, opc2 0) or IFSR (c5, opc2 1) and IFAR (c6, opc2
/// 2), Arm ARM (DDI 0406C) B4.1.
fn fault(frame: &TrapFrame, vector: u32) -> Fault {
    let pc = u64::from(frame.pc);
    match vector {
        DATA_ABORT => {
            let dfsr = read_cp15!("c5, c0, 0");
            Fault {
                what: "data abort",
                class: fsr::status_name(dfsr),
                syndrome_name: "DFSR",
                syndrome: dfsr.into(),
                address_name: "DFAR",
                address: read_cp15!("c6, c0, 0").into(),
                pc,
            }
        }
        PREFETCH_ABORT => {
            let ifsr = read_cp15!("c5, c0, 1");
            Fault {
                what: "prefetch abort",
                class: fsr::status_name(ifsr),
                syndrome_name: "IFSR",
                syndrome: ifsr.into(),
                address_name: "IFAR",
                address: read_cp15!("c6, c0, 2").into(),
                pc,
            }
        }
        UNDEFINED => Fault {
            what: "undefined instruction",
            class: if frame.cpsr & CPSR_T != 0 { "Thumb instruction" } else { "ARM instruction" },
            syndrome_name: "insn",
            syndrome: instruction(frame).into(),
            address_name: "",
            address: 0,
            pc,
        },
        _ => Fault {
            what: vector_name(vector),
            class: "unexpected exception",
            syndrome_name: "",
            syndrome: 0,
            address_name: "",
            address: 0,
            pc,
        },
    }
}

fn vector_name(vector: u32) -> &'static str {
    match vector {
        RESET => "reset",
        SVC => "SVC",
        FIQ => "FIQ",
        _ => "unused vector",
    }
}

/// The first halfword of a 32-bit Thumb instruction has bits 15:11 = 0b11101, 0b11110 or 0b11111 (Arm ARM A6.1).
fn is_wide_thumb(first: u16) -> bool {
    first >> 11 >= 0b11101
}

fn read_halfword(addr: u32) -> u16 {
    // SAFETY: `addr` is the instruction the vCPU just executed, in its own image: readable and 2-byte aligned.
    unsafe { core::ptr::read_volatile(addr as usize as *const u16) }
}

/// The encoding of the instruction at `frame.pc`: an ARM word, or one or two Thumb halfwords (first in the top).
fn instruction(frame: &TrapFrame) -> u32 {
    if frame.cpsr & CPSR_T == 0 {
        // SAFETY: as in read_halfword(); ARM instructions are 4-byte aligned.
        return unsafe { core::ptr::read_volatile(frame.pc as usize as *const u32) };
    }
    let first = read_halfword(frame.pc);
    if is_wide_thumb(first) {
        u32::from(first) << 16 | u32::from(read_halfword(frame.pc + 2))
    } else {
        first.into()
    }
}

/// Bytes to step over the instruction at `frame.pc`.
fn instruction_length(frame: &TrapFrame) -> u32 {
    if frame.cpsr & CPSR_T == 0 || is_wide_thumb(read_halfword(frame.pc)) {
        4
    } else {
        2
    }
}
