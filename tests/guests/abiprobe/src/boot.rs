//! The Boot section's register promises, read on each vCPU: the exception level (AArch64) or mode (ARMv7) the
//! guest runs in, and "No self-hosted debug, performance monitors or trace": debug and PMU registers read as zero
//! and ignore writes, except `PMCR` ("the CPU's implementer and ID code with N = 0 counters") and `OSLSR`
//! ("implemented, unlocked").

use crate::report;

/// Checks the calling vCPU's registers; `who` names it in the report.
pub fn registers(who: &str) {
    let r = arch::read();
    #[cfg(target_arch = "aarch64")]
    report::hex(format_args!("{who}: CurrentEL (entered at EL1h)"), r.level, 1 << 2);
    #[cfg(not(target_arch = "aarch64"))]
    report::hex(format_args!("{who}: CPSR.M (entered in SVC mode)"), r.level, 0x13);
    report::dec(format_args!("{who}: PMCR.N (performance counters)"), (r.pmcr >> 11) & 0x1F, 0);
    report::hex(
        format_args!("{who}: PMCR.IMP (the CPU's implementer, MIDR[31:24])"),
        r.pmcr >> 24 & 0xFF,
        r.midr >> 24 & 0xFF,
    );
    report::hex(format_args!("{who}: PMCCNTR (a PMU register) reads"), r.cycles, 0);
    report::hex(format_args!("{who}: a breakpoint value register after a write"), r.breakpoint, 0);
    report::hex(format_args!("{who}: the debug status and control register after a write"), r.debug_control, 0);
    // OSLSR: OSLM (bits 3 and 0) non-zero is "implemented", OSLK (bit 1) clear is "unlocked".
    let oslm = (r.oslsr >> 2 & 0b10) | (r.oslsr & 1);
    let unlocked = r.oslsr & 0b10 == 0;
    report::holds(
        format_args!("{who}: OSLSR"),
        oslm != 0 && unlocked,
        format_args!("{:#x} (OSLM {oslm:#b}, OSLK {})", r.oslsr, u8::from(!unlocked)),
        "implemented (OSLM != 0), unlocked (OSLK = 0)",
    );
}

/// What [`registers`] checks, as read.
struct Read {
    level: u64,
    pmcr: u64,
    midr: u64,
    cycles: u64,
    breakpoint: u64,
    debug_control: u64,
    oslsr: u64,
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod arch {
    use super::Read;

    pub fn read() -> Read {
        let (level, pmcr, midr, cycles, breakpoint, debug_control, oslsr): (u64, u64, u64, u64, u64, u64, u64);
        // SAFETY: system register accesses at EL1 that the document says hv-static serves (PMU and debug registers
        // trap to it); the writes set a breakpoint value with the breakpoint disabled and MDSCR_EL1.MDE, which at
        // worst enables debug exceptions no breakpoint is armed to raise. No memory is touched.
        unsafe {
            core::arch::asm!(
                "mrs {level}, CurrentEL",
                "mrs {pmcr}, pmcr_el0",
                "mrs {midr}, midr_el1",
                "mrs {cycles}, pmccntr_el0",
                "msr dbgbvr0_el1, {value}",
                "isb",
                "mrs {breakpoint}, dbgbvr0_el1",
                "msr mdscr_el1, {mde}",
                "isb",
                "mrs {debug_control}, mdscr_el1",
                "mrs {oslsr}, oslsr_el1",
                level = out(reg) level,
                pmcr = out(reg) pmcr,
                midr = out(reg) midr,
                cycles = out(reg) cycles,
                breakpoint = out(reg) breakpoint,
                debug_control = out(reg) debug_control,
                oslsr = out(reg) oslsr,
                value = in(reg) 0x4008_0000_u64,
                mde = in(reg) 1_u64 << 15,
                options(nostack, nomem),
            );
        }
        Read { level, pmcr, midr, cycles, breakpoint, debug_control, oslsr }
    }
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod arch {
    use super::Read;

    pub fn read() -> Read {
        let (cpsr, pmcr, midr, cycles, breakpoint, debug_control, oslsr): (u32, u32, u32, u32, u32, u32, u32);
        // SAFETY: CP15 and CP14 accesses at PL1 that the document says hv-static serves (PMU and debug registers
        // trap to it); the write sets a breakpoint value with the breakpoint disabled. No memory is touched.
        unsafe {
            core::arch::asm!(
                "mrs {cpsr}, cpsr",
                "mrc p15, 0, {pmcr}, c9, c12, 0",
                "mrc p15, 0, {midr}, c0, c0, 0",
                "mrc p15, 0, {cycles}, c9, c13, 0",
                "mcr p14, 0, {value}, c0, c0, 4",
                "isb",
                "mrc p14, 0, {breakpoint}, c0, c0, 4",
                "mrc p14, 0, {debug_control}, c0, c2, 2",
                "mrc p14, 0, {oslsr}, c1, c1, 4",
                cpsr = out(reg) cpsr,
                pmcr = out(reg) pmcr,
                midr = out(reg) midr,
                cycles = out(reg) cycles,
                breakpoint = out(reg) breakpoint,
                debug_control = out(reg) debug_control,
                oslsr = out(reg) oslsr,
                value = in(reg) 0x4000_8000_u32,
                options(nostack, nomem),
            );
        }
        Read {
            level: u64::from(cpsr & 0x1F),
            pmcr: pmcr.into(),
            midr: midr.into(),
            cycles: cycles.into(),
            breakpoint: breakpoint.into(),
            debug_control: debug_control.into(),
            oslsr: oslsr.into(),
        }
    }
}

/// Off target nothing runs: a stub so that the crate builds on the host.
#[cfg(not(target_os = "none"))]
mod arch {
    use super::Read;

    pub fn read() -> Read {
        Read { level: 0, pmcr: 0, midr: 0, cycles: 0, breakpoint: 0, debug_control: 0, oslsr: 0 }
    }
}
