//! `probe=fpregs`: FP/SIMD state must survive window switches and never show another partition's values (hv-static
//! switches it lazily: `hv-static/src/core/fp.rs`). `count` rounds, each: a pattern drawn from the LCG (seeded by
//! `seed`, so two partitions with different seeds never share a value) is loaded into every FP/SIMD register and the
//! FP control and status register bits the CPU keeps; the vCPU then busy-reads the virtual counter for `spin_us`
//! without touching them (a jump of more than 1 µs between two reads is a switch: another partition ran here);
//! then every register is stored and compared with the pattern. All in one `asm` block: between two blocks the
//! compiler may use the registers itself.
//!
//! Output: `fpregs: MISMATCH round <r> <register> expected <x> got <y>` for each register that changed (a finding),
//! then `hostile: fpregs done (rounds <n>, switched <s>, mismatches <m>)`.

use guest_rt::{arch, bootargs, println};

use crate::lcg::Lcg;
use crate::Args;

/// A jump between two counter reads longer than this (1 µs at 62.5 MHz) is a switch.
const GAP_TICKS: u64 = 64;

#[cfg(target_arch = "aarch64")]
mod regs {
    /// q0-q31, then FPCR and FPSR: the layout the asm loads and stores.
    #[repr(C, align(16))]
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct FpState {
        pub v: [u128; 32],
        pub control: u64,
        pub status: u64,
    }

    pub const ZERO: FpState = FpState { v: [0; 32], control: 0, status: 0 };
    /// The width of the control and status words.
    pub type Word = u64;
    /// FPCR bits every ARMv8-A CPU keeps: AHP, DN, FZ, RMode.
    pub const CONTROL_BITS: u64 = 0b1111 << 22;
    /// FPSR's cumulative flags: IOC, DZC, OFC, UFC, IXC, IDC, QC.
    pub const STATUS_BITS: u64 = 0x0800_009f;
    pub const NAME: &str = "q";

    /// Loads `set`, spins until the counter passes `until`, stores into `got`; returns the longest gap seen.
    pub fn hold(set: &FpState, got: &mut FpState, until: u64) -> u64 {
        let gap: u64;
        // SAFETY: loads and stores exactly the two 528-byte, 16-byte-aligned buffers; the FP/SIMD registers are
        // this probe's own (nothing else runs on this vCPU: interrupts stay masked) and declared clobbered.
        unsafe {
            core::arch::asm!(
                "ldp q0, q1, [{s}, #0]", "ldp q2, q3, [{s}, #32]", "ldp q4, q5, [{s}, #64]", "ldp q6, q7, [{s}, #96]",
                "ldp q8, q9, [{s}, #128]", "ldp q10, q11, [{s}, #160]", "ldp q12, q13, [{s}, #192]",
                "ldp q14, q15, [{s}, #224]", "ldp q16, q17, [{s}, #256]", "ldp q18, q19, [{s}, #288]",
                "ldp q20, q21, [{s}, #320]", "ldp q22, q23, [{s}, #352]", "ldp q24, q25, [{s}, #384]",
                "ldp q26, q27, [{s}, #416]", "ldp q28, q29, [{s}, #448]", "ldp q30, q31, [{s}, #480]",
                "ldr {t}, [{s}, #512]", "msr fpcr, {t}", "ldr {t}, [{s}, #520]", "msr fpsr, {t}",
                "mov {gap}, #0",
                "mrs {prev}, cntvct_el0",
                "2:",
                "mrs {t}, cntvct_el0",
                "sub {d}, {t}, {prev}",
                "cmp {d}, {gap}",
                "csel {gap}, {d}, {gap}, hi",
                "mov {prev}, {t}",
                "cmp {t}, {until}",
                "b.lo 2b",
                "stp q0, q1, [{g}, #0]", "stp q2, q3, [{g}, #32]", "stp q4, q5, [{g}, #64]", "stp q6, q7, [{g}, #96]",
                "stp q8, q9, [{g}, #128]", "stp q10, q11, [{g}, #160]", "stp q12, q13, [{g}, #192]",
                "stp q14, q15, [{g}, #224]", "stp q16, q17, [{g}, #256]", "stp q18, q19, [{g}, #288]",
                "stp q20, q21, [{g}, #320]", "stp q22, q23, [{g}, #352]", "stp q24, q25, [{g}, #384]",
                "stp q26, q27, [{g}, #416]", "stp q28, q29, [{g}, #448]", "stp q30, q31, [{g}, #480]",
                "mrs {t}, fpcr", "str {t}, [{g}, #512]", "mrs {t}, fpsr", "str {t}, [{g}, #520]",
                s = in(reg) set, g = in(reg) got, until = in(reg) until,
                t = out(reg) _, prev = out(reg) _, d = out(reg) _, gap = out(reg) gap,
                out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _, out("v6") _,
                out("v7") _, out("v8") _, out("v9") _, out("v10") _, out("v11") _, out("v12") _, out("v13") _,
                out("v14") _, out("v15") _, out("v16") _, out("v17") _, out("v18") _, out("v19") _, out("v20") _,
                out("v21") _, out("v22") _, out("v23") _, out("v24") _, out("v25") _, out("v26") _, out("v27") _,
                out("v28") _, out("v29") _, out("v30") _, out("v31") _,
                options(nostack)
            );
        }
        gap
    }

    /// Register `i` of `s` as two 64-bit words (high, low).
    pub fn reg(s: &FpState, i: usize) -> (u64, u64) {
        ((s.v[i] >> 64) as u64, s.v[i] as u64)
    }

    pub fn fill(s: &mut FpState, mut next: impl FnMut() -> u64) {
        for v in s.v.iter_mut() {
            *v = u128::from(next()) << 64 | u128::from(next());
        }
    }
}

#[cfg(target_arch = "arm")]
mod regs {
    /// d0-d31, then FPSCR (its control bits and cumulative flags in one register) and a pad word.
    #[repr(C, align(8))]
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct FpState {
        pub v: [u64; 32],
        pub control: u32,
        pub status: u32,
    }

    pub const ZERO: FpState = FpState { v: [0; 32], control: 0, status: 0 };
    /// The width of the control and status words.
    pub type Word = u32;
    /// FPSCR bits every VFPv3/v4 keeps: AHP, DN, FZ, RMode, and the cumulative flags IOC, DZC, OFC, UFC, IXC, IDC,
    /// QC (kept in `control`; `status` stays 0).
    pub const CONTROL_BITS: u32 = 0b1111 << 22 | 0x0800_009f;
    pub const STATUS_BITS: u32 = 0;
    pub const NAME: &str = "d";

    /// Loads `set`, spins until the counter passes `until`, stores into `got`; returns the longest gap seen (gaps
    /// are measured on the counter's low word: far below 2^32 ticks).
    pub fn hold(set: &FpState, got: &mut FpState, until: u64) -> u64 {
        let gap: u32;
        let (until_lo, until_hi) = (until as u32, (until >> 32) as u32);
        // SAFETY: grants this PL1 software access to CP10/CP11 and sets FPEXC.EN (guest-rt does not use the VFP on
        // ARMv7); then loads and stores exactly the two 264-byte buffers. The VFP registers are this probe's own:
        // armv7a-none-eabi is soft-float, so compiled code never uses them (nor can they be named as clobbers).
        unsafe {
            core::arch::asm!(
                ".fpu neon-vfpv4",
                "mrc p15, 0, {t}, c1, c0, 2", "orr {t}, {t}, #0xf00000", "mcr p15, 0, {t}, c1, c0, 2", "isb",
                "mov {t}, #0x40000000", "vmsr fpexc, {t}",
                "vldmia {s}, {{d0-d15}}", "add {t}, {s}, #128", "vldmia {t}, {{d16-d31}}",
                "ldr {t}, [{s}, #256]", "vmsr fpscr, {t}",
                "mov {gap}, #0",
                "mrrc p15, 1, {prev}, {u}, c14",
                "2:",
                "mrrc p15, 1, {t}, {u}, c14",
                "sub {d}, {t}, {prev}",
                "cmp {d}, {gap}",
                "movhi {gap}, {d}",
                "mov {prev}, {t}",
                // Loop while now < until (64-bit).
                "cmp {t}, {ulo}", "sbcs {u}, {u}, {uhi}",
                "blo 2b",
                "vstmia {g}, {{d0-d15}}", "add {t}, {g}, #128", "vstmia {t}, {{d16-d31}}",
                "vmrs {t}, fpscr", "str {t}, [{g}, #256]",
                s = in(reg) set, g = in(reg) got, ulo = in(reg) until_lo, uhi = in(reg) until_hi,
                t = out(reg) _, u = out(reg) _, prev = out(reg) _, d = out(reg) _, gap = out(reg) gap,
                options(nostack)
            );
        }
        u64::from(gap)
    }

    /// Register `i` of `s` as two 32-bit words (high, low), widened.
    pub fn reg(s: &FpState, i: usize) -> (u64, u64) {
        (s.v[i] >> 32, s.v[i] & 0xffff_ffff)
    }

    pub fn fill(s: &mut FpState, mut next: impl FnMut() -> u64) {
        for v in s.v.iter_mut() {
            *v = next();
        }
    }
}

pub fn run(args: &Args, cmdline: &str) {
    let spin_us = bootargs::get(cmdline, "spin_us").and_then(crate::args::parse_number).unwrap_or(300);
    let spin = guest_rt::timer::ticks_for_us(arch::timer::frequency(), spin_us).max(1);
    let mut lcg = Lcg::new(args.seed);
    let mut set = regs::ZERO;
    let (mut switched, mut mismatches) = (0u64, 0u64);
    for round in 0..args.count {
        regs::fill(&mut set, || lcg.next());
        set.control = lcg.next() as regs::Word & regs::CONTROL_BITS;
        set.status = lcg.next() as regs::Word & regs::STATUS_BITS;
        let mut got = regs::ZERO;
        let gap = regs::hold(&set, &mut got, arch::timer::now() + spin);
        if gap > GAP_TICKS {
            switched += 1;
        }
        for i in 0..32 {
            let (want, have) = (regs::reg(&set, i), regs::reg(&got, i));
            if want != have {
                mismatches += 1;
                println!(
                    "fpregs: MISMATCH round {round} {}{i} expected {:#x}_{:016x} got {:#x}_{:016x}",
                    regs::NAME,
                    want.0,
                    want.1,
                    have.0,
                    have.1
                );
            }
        }
        for (what, want, have) in [
            ("control", set.control, got.control & regs::CONTROL_BITS),
            ("status", set.status, got.status & regs::STATUS_BITS),
        ] {
            if want != have {
                mismatches += 1;
                println!("fpregs: MISMATCH round {round} {what} expected {want:#x} got {have:#x}");
            }
        }
    }
    println!("hostile: fpregs done (rounds {}, switched {switched}, mismatches {mismatches})", args.count);
}
