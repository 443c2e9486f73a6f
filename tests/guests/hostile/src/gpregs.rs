//! `probe=gpregs`: the general-purpose registers, and the banked and thread registers a partition owns beside them,
//! must survive window switches and never show another partition's values. hv-static keeps each vCPU's
//! general-purpose registers in one frame at the top of its own EL2 stack and moves the EL1 (PL1) and banked
//! registers at each switch (`hv-static/src/arch/stacks.rs`, `run.rs`). `count` rounds, each: a pattern drawn from
//! the LCG (seeded by `seed`) is loaded into every general-purpose register the probe can spare and into the
//! partition's other registers that no instruction of the probe's own uses (AArch64: TPIDR_EL0, TPIDRRO_EL0,
//! TPIDR_EL1, SP_EL0, FAR_EL1, ELR_EL1, CONTEXTIDR_EL1; ARMv7: SP and LR of User mode, R8-R12, SP, LR and SPSR of FIQ
//! mode, SP, LR and SPSR of IRQ, Abort and Undefined modes, TPIDRURW, TPIDRURO, TPIDRPRW, CONTEXTIDR); the vCPU then
//! busy-reads the virtual counter for `spin_us` (a jump of more than 1 µs between two reads is a switch); then
//! every register is read back and compared with the pattern, and the partition's own values are put back. All in
//! one `asm` block, with interrupts masked.
//!
//! Output: `gpregs: MISMATCH round <r> <register> expected <x> got <y>` for each register that changed (a finding),
//! then `hostile: gpregs done (rounds <n>, switched <s>, mismatches <m>)`.

use guest_rt::{arch, bootargs, println};

use crate::lcg::Lcg;
use crate::Args;

/// A jump between two counter reads longer than this (1 µs at 62.5 MHz) is a switch.
const GAP_TICKS: u64 = 64;

#[cfg(target_arch = "aarch64")]
mod regs {
    /// The registers held, in the order the asm loads and stores them.
    pub const NAMES: [&str; 31] = [
        "x7",
        "x8",
        "x9",
        "x10",
        "x11",
        "x12",
        "x13",
        "x14",
        "x15",
        "x16",
        "x17",
        "x18",
        "x19",
        "x20",
        "x21",
        "x22",
        "x23",
        "x24",
        "x25",
        "x26",
        "x27",
        "x28",
        "x29",
        "x30",
        "tpidr_el0",
        "tpidrro_el0",
        "tpidr_el1",
        "sp_el0",
        "far_el1",
        "elr_el1",
        "contextidr_el1",
    ];

    /// What each register keeps of any value written to it: SP_EL0 is kept 16-byte aligned (it is never used as a
    /// stack pointer here, but an aligned value is one any stack could have), CONTEXTIDR_EL1 has 32 bits.
    pub const KEPT: [u64; 31] = {
        let mut k = [u64::MAX; 31];
        k[27] = !0xf;
        k[30] = 0xffff_ffff;
        k
    };

    /// Stores the seven system registers, in `NAMES` order from `tpidr_el0`, to where x5 points (x3, x4).
    macro_rules! read_sys {
        () => {
            concat!(
                "mrs x3, tpidr_el0\n",
                "mrs x4, tpidrro_el0\n",
                "stp x3, x4, [x5, #0]\n",
                "mrs x3, tpidr_el1\n",
                "mrs x4, sp_el0\n",
                "stp x3, x4, [x5, #16]\n",
                "mrs x3, far_el1\n",
                "mrs x4, elr_el1\n",
                "stp x3, x4, [x5, #32]\n",
                "mrs x3, contextidr_el1\n",
                "str x3, [x5, #48]\n",
            )
        };
    }

    /// Loads the same registers from where x5 points (x3, x4), then synchronises.
    macro_rules! write_sys {
        () => {
            concat!(
                "ldp x3, x4, [x5, #0]\n",
                "msr tpidr_el0, x3\n",
                "msr tpidrro_el0, x4\n",
                "ldp x3, x4, [x5, #16]\n",
                "msr tpidr_el1, x3\n",
                "msr sp_el0, x4\n",
                "ldp x3, x4, [x5, #32]\n",
                "msr far_el1, x3\n",
                "msr elr_el1, x4\n",
                "ldr x3, [x5, #48]\n",
                "msr contextidr_el1, x3\n",
                "isb\n",
            )
        };
    }

    #[repr(C, align(16))]
    pub struct State(pub [u64; 31]);

    /// Loads `set`, spins until the counter passes `until`, stores into `got`; returns the longest gap seen.
    pub fn hold(set: &State, got: &mut State, until: u64) -> u64 {
        let gap: u64;
        // SAFETY: reads `set` and writes `got` (31 words each) and, on the stack it allocates and frees itself, the
        // partition's own values of the system registers it changes, which it puts back before it ends. x19 and
        // x29, which cannot be named as clobbers, are saved and restored on the same stack; every other register it
        // changes is declared. Interrupts stay masked (nothing else runs on this vCPU meanwhile).
        unsafe {
            core::arch::asm!(
                "stp x19, x29, [sp, #-16]!",
                "sub sp, sp, #64",
                // The partition's own values.
                "mov x5, sp",
                read_sys!(),
                // The pattern.
                "add x5, x0, #192",
                write_sys!(),
                "ldr x7, [x0, #0]", "ldp x8, x9, [x0, #8]", "ldp x10, x11, [x0, #24]", "ldp x12, x13, [x0, #40]",
                "ldp x14, x15, [x0, #56]", "ldp x16, x17, [x0, #72]", "ldp x18, x19, [x0, #88]",
                "ldp x20, x21, [x0, #104]", "ldp x22, x23, [x0, #120]", "ldp x24, x25, [x0, #136]",
                "ldp x26, x27, [x0, #152]", "ldp x28, x29, [x0, #168]", "ldr x30, [x0, #184]",
                // Spin, with x2-x6 only.
                "mov x6, #0",
                "mrs x4, cntvct_el0",
                "2:",
                "mrs x3, cntvct_el0",
                "sub x5, x3, x4",
                "cmp x5, x6",
                "csel x6, x5, x6, hi",
                "mov x4, x3",
                "cmp x3, x2",
                "b.lo 2b",
                // What came back.
                "str x7, [x1, #0]", "stp x8, x9, [x1, #8]", "stp x10, x11, [x1, #24]", "stp x12, x13, [x1, #40]",
                "stp x14, x15, [x1, #56]", "stp x16, x17, [x1, #72]", "stp x18, x19, [x1, #88]",
                "stp x20, x21, [x1, #104]", "stp x22, x23, [x1, #120]", "stp x24, x25, [x1, #136]",
                "stp x26, x27, [x1, #152]", "stp x28, x29, [x1, #168]", "str x30, [x1, #184]",
                "add x5, x1, #192",
                read_sys!(),
                // The partition's own values again.
                "mov x5, sp",
                write_sys!(),
                "add sp, sp, #64",
                "ldp x19, x29, [sp], #16",
                in("x0") set, in("x1") got, in("x2") until,
                out("x3") _, out("x4") _, out("x5") _, out("x6") gap,
                out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                out("x14") _, out("x15") _, out("x16") _, out("x17") _, out("x18") _, out("x20") _, out("x21") _,
                out("x22") _, out("x23") _, out("x24") _, out("x25") _, out("x26") _, out("x27") _, out("x28") _,
                out("x30") _,
            );
        }
        gap
    }
}

#[cfg(target_arch = "arm")]
mod regs {
    /// The registers held, in the order the asm loads and stores them.
    pub const NAMES: [&str; 31] = [
        "r6",
        "r7",
        "r8",
        "r9",
        "r10",
        "r11",
        "r12",
        "lr",
        "sp_usr",
        "lr_usr",
        "r8_fiq",
        "r9_fiq",
        "r10_fiq",
        "r11_fiq",
        "r12_fiq",
        "sp_fiq",
        "lr_fiq",
        "spsr_fiq",
        "sp_irq",
        "lr_irq",
        "spsr_irq",
        "sp_abt",
        "lr_abt",
        "spsr_abt",
        "sp_und",
        "lr_und",
        "spsr_und",
        "tpidrurw",
        "tpidruro",
        "tpidrprw",
        "contextidr",
    ];

    /// What each register keeps of any value written to it (and the pattern is masked to): stack pointers
    /// word-aligned; SPSRs their flags (N, Z, C, V, Q), GE, E, A, I, F and T bits, with the mode always SVC's,
    /// which every ARMv7 CPU keeps as written.
    pub const KEPT: [u64; 31] = {
        let mut k = [0xffff_ffff; 31];
        let (sp, spsr) = (0xffff_fffc, 0xf80f_03f3);
        k[8] = sp;
        k[15] = sp;
        k[17] = spsr;
        k[18] = sp;
        k[20] = spsr;
        k[21] = sp;
        k[23] = spsr;
        k[24] = sp;
        k[26] = spsr;
        k
    };
    /// A mode field every SPSR can hold: SVC.
    pub const FORCED: [u64; 31] = {
        let mut f = [0; 31];
        f[17] = 0x13;
        f[20] = 0x13;
        f[23] = 0x13;
        f[26] = 0x13;
        f
    };

    /// Reads the 23 banked and thread registers, in `NAMES` order from `sp_usr`, to where r10 points (r4-r10).
    macro_rules! read_banked {
        () => {
            concat!(
                "mrs r4, sp_usr\n",
                "mrs r5, lr_usr\n",
                "mrs r6, r8_fiq\n",
                "mrs r7, r9_fiq\n",
                "mrs r8, r10_fiq\n",
                "mrs r9, r11_fiq\n",
                "stmia r10!, {{r4-r9}}\n",
                "mrs r4, r12_fiq\n",
                "mrs r5, sp_fiq\n",
                "mrs r6, lr_fiq\n",
                "mrs r7, spsr_fiq\n",
                "mrs r8, sp_irq\n",
                "mrs r9, lr_irq\n",
                "stmia r10!, {{r4-r9}}\n",
                "mrs r4, spsr_irq\n",
                "mrs r5, sp_abt\n",
                "mrs r6, lr_abt\n",
                "mrs r7, spsr_abt\n",
                "mrs r8, sp_und\n",
                "mrs r9, lr_und\n",
                "stmia r10!, {{r4-r9}}\n",
                "mrs r4, spsr_und\n",
                "mrc p15, 0, r5, c13, c0, 2\n",
                "mrc p15, 0, r6, c13, c0, 3\n",
                "mrc p15, 0, r7, c13, c0, 4\n",
                "mrc p15, 0, r8, c13, c0, 1\n",
                "stmia r10, {{r4-r8}}\n",
            )
        };
    }

    /// Writes the same registers from where r10 points (r4-r10), then synchronises.
    macro_rules! write_banked {
        () => {
            concat!(
                "ldmia r10!, {{r4-r9}}\n",
                "msr sp_usr, r4\n",
                "msr lr_usr, r5\n",
                "msr r8_fiq, r6\n",
                "msr r9_fiq, r7\n",
                "msr r10_fiq, r8\n",
                "msr r11_fiq, r9\n",
                "ldmia r10!, {{r4-r9}}\n",
                "msr r12_fiq, r4\n",
                "msr sp_fiq, r5\n",
                "msr lr_fiq, r6\n",
                "msr spsr_fiq, r7\n",
                "msr sp_irq, r8\n",
                "msr lr_irq, r9\n",
                "ldmia r10!, {{r4-r9}}\n",
                "msr spsr_irq, r4\n",
                "msr sp_abt, r5\n",
                "msr lr_abt, r6\n",
                "msr spsr_abt, r7\n",
                "msr sp_und, r8\n",
                "msr lr_und, r9\n",
                "ldmia r10, {{r4-r8}}\n",
                "msr spsr_und, r4\n",
                "mcr p15, 0, r5, c13, c0, 2\n",
                "mcr p15, 0, r6, c13, c0, 3\n",
                "mcr p15, 0, r7, c13, c0, 4\n",
                "mcr p15, 0, r8, c13, c0, 1\n",
                "isb\n",
            )
        };
    }

    #[repr(C, align(8))]
    pub struct State(pub [u32; 31]);

    /// Loads `set`, spins until the counter passes `until`, stores into `got`; returns the longest gap seen (on
    /// the counter's low word: far below 2^32 ticks).
    pub fn hold(set: &State, got: &mut State, until: u64) -> u64 {
        let gap: u32;
        // SAFETY: reads `set` and writes `got` (31 words each) and, on the stack it allocates and frees itself, the
        // partition's own values of the banked and thread registers it changes, which it puts back before it ends.
        // r4-r11 and lr, which cannot all be named as clobbers, are saved and restored on the same stack. Interrupts
        // stay masked and nothing faults, so no mode whose registers are changed is entered meanwhile.
        unsafe {
            core::arch::asm!(
                ".arch_extension virt",
                "push {{r4-r11, lr}}",
                "push {{r0-r3}}",
                "sub sp, sp, #92",
                // The partition's own values: words 0-22 at sp.
                "mov r10, sp",
                read_banked!(),
                // The pattern: banked and thread registers from word 8 of `set`, then r6-r12 and lr.
                "add r10, r0, #32",
                write_banked!(),
                "ldmia r0, {{r6-r12, lr}}",
                // Spin, with r0-r5 only; `until` is at sp + 100 (low) and + 104 (high).
                "mov r4, #0",
                "mrrc p15, 1, r2, r3, c14",
                "2:",
                "mrrc p15, 1, r0, r1, c14",
                "sub r5, r0, r2",
                "cmp r5, r4",
                "movhi r4, r5",
                "mov r2, r0",
                "ldr r3, [sp, #100]",
                "ldr r5, [sp, #104]",
                "cmp r0, r3",
                "sbcs r1, r1, r5",
                "blo 2b",
                // What came back (`got` is at sp + 96); the gap goes where `until` was.
                "str r4, [sp, #100]",
                "ldr r0, [sp, #96]",
                "stmia r0, {{r6-r12, lr}}",
                "add r10, r0, #32",
                read_banked!(),
                // The partition's own values again.
                "mov r10, sp",
                write_banked!(),
                "ldr r0, [sp, #100]",
                "add sp, sp, #108",
                "pop {{r4-r11, lr}}",
                inout("r0") set => gap, inout("r1") got => _, inout("r2") until as u32 => _,
                inout("r3") (until >> 32) as u32 => _, out("r12") _,
            );
        }
        u64::from(gap)
    }

    /// Register `i` of `s`, widened.
    pub fn get(s: &State, i: usize) -> u64 {
        u64::from(s.0[i])
    }

    pub fn set(s: &mut State, i: usize, v: u64) {
        s.0[i] = v as u32;
    }

    pub const ZERO: State = State([0; 31]);
}

#[cfg(target_arch = "aarch64")]
mod access {
    use super::regs::State;

    pub const FORCED: [u64; 31] = [0; 31];

    pub fn get(s: &State, i: usize) -> u64 {
        s.0[i]
    }

    pub fn set(s: &mut State, i: usize, v: u64) {
        s.0[i] = v;
    }

    pub const ZERO: State = State([0; 31]);
}

#[cfg(target_arch = "arm")]
mod access {
    pub use super::regs::{get, set, FORCED, ZERO};
}

pub fn run(args: &Args, cmdline: &str) {
    let spin_us = bootargs::get(cmdline, "spin_us").and_then(crate::args::parse_number).unwrap_or(300);
    let spin = guest_rt::timer::ticks_for_us(arch::timer::frequency(), spin_us).max(1);
    let mut lcg = Lcg::new(args.seed);
    let (mut switched, mut mismatches) = (0u64, 0u64);
    for round in 0..args.count {
        let mut want = access::ZERO;
        for i in 0..regs::NAMES.len() {
            access::set(&mut want, i, lcg.next() & regs::KEPT[i] | access::FORCED[i]);
        }
        let mut got = access::ZERO;
        let gap = regs::hold(&want, &mut got, arch::timer::now() + spin);
        if gap > GAP_TICKS {
            switched += 1;
        }
        for (i, name) in regs::NAMES.iter().enumerate() {
            let (w, g) = (access::get(&want, i), access::get(&got, i) & (regs::KEPT[i] | access::FORCED[i]));
            if w != g {
                mismatches += 1;
                println!("gpregs: MISMATCH round {round} {name} expected {w:#x} got {g:#x}");
            }
        }
    }
    println!("hostile: gpregs done (rounds {}, switched {switched}, mismatches {mismatches})", args.count);
}
