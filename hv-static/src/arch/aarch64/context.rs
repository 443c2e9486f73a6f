//! What a vCPU owns on AArch64, in a form that can be saved and restored: general-purpose registers, EL1 system
//! registers, FP/SIMD, the virtual timer. Pinned pools never switch, but time-partitioned pools do, and
//! a partition restart resets it all.

use core::arch::asm;

/// General-purpose state, laid out as the exception vectors save it.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(16))]
pub struct GuestRegs {
    pub x: [u64; 31],
    pub pc: u64,
    pub pstate: u64,
    pub _pad: u64,
}

/// EL1h with D, A, I and F masked: the state the boot protocol promises.
pub const PSTATE_EL1H_MASKED: u64 = 0x3c5;

impl GuestRegs {
    /// A partition's boot CPU at its kernel entry (arm64 boot protocol: x0 = device tree).
    pub fn boot(pc: u64, dtb: u64) -> Self {
        Self::cpu_on(pc, dtb)
    }

    /// A vCPU started by PSCI CPU_ON: x0 = the context ID.
    pub fn cpu_on(pc: u64, context: u64) -> Self {
        let mut r = Self { pc, pstate: PSTATE_EL1H_MASKED, ..Self::default() };
        r.x[0] = context;
        r
    }

    pub fn pc(&self) -> u64 {
        self.pc
    }

    /// Steps over the trapped instruction.
    pub fn advance(&mut self, len: u64) {
        self.pc += len;
    }

    /// Register `n` as an instruction names it (31 is the zero register).
    pub fn get(&self, n: u8) -> u64 {
        if n < 31 {
            self.x[n as usize]
        } else {
            0
        }
    }

    pub fn set(&mut self, n: u8, v: u64) {
        if n < 31 {
            self.x[n as usize] = v;
        }
    }
}

macro_rules! el1_regs {
    ($(($a:ident : $an:literal, $b:ident : $bn:literal)),* ; $s:ident : $sn:literal) => {
        /// EL1 (and EL0) system registers the partition programs directly, without traps. Laid out in pairs, each
        /// moved with one `stp` / `ldp`: three instructions per two registers instead of four, on every window
        /// switch (issue 15).
        #[derive(Clone, Copy, Debug, Default)]
        #[repr(C)]
        pub struct El1Regs { $(pub $a: u64, pub $b: u64,)* pub $s: u64 }

        impl El1Regs {
            pub fn save(&mut self) {
                let p: *mut Self = self;
                $(
                    // SAFETY: reading EL1 registers from EL2 has no side effects; the store covers the two adjacent
                    // fields at that offset of `*self`.
                    unsafe {
                        asm!(
                            concat!("mrs {x}, ", $an),
                            concat!("mrs {y}, ", $bn),
                            "stp {x}, {y}, [{p}, #{o}]",
                            p = in(reg) p,
                            o = const core::mem::offset_of!(Self, $a),
                            x = out(reg) _,
                            y = out(reg) _,
                            options(nostack, preserves_flags),
                        )
                    };
                )*
                // SAFETY: as above, one register.
                unsafe { asm!(concat!("mrs {}, ", $sn), out(reg) self.$s, options(nomem, nostack, preserves_flags)) };
            }

            pub fn restore(&self) {
                let p: *const Self = self;
                $(
                    // SAFETY: loads two adjacent fields of `*self`; EL1 state only affects the partition about to
                    // run on this CPU.
                    unsafe {
                        asm!(
                            "ldp {x}, {y}, [{p}, #{o}]",
                            concat!("msr ", $an, ", {x}"),
                            concat!("msr ", $bn, ", {y}"),
                            p = in(reg) p,
                            o = const core::mem::offset_of!(Self, $a),
                            x = out(reg) _,
                            y = out(reg) _,
                            options(nostack, preserves_flags, readonly),
                        )
                    };
                )*
                // SAFETY: as above, one register.
                unsafe { asm!(concat!("msr ", $sn, ", {}"), in(reg) self.$s, options(nomem, nostack, preserves_flags)) };
                // SAFETY: barrier only.
                unsafe { asm!("isb", options(nomem, nostack)) };
            }
        }
    };
}

el1_regs! {
    (sctlr: "sctlr_el1", cpacr: "cpacr_el1"),
    (ttbr0: "ttbr0_el1", ttbr1: "ttbr1_el1"),
    (tcr: "tcr_el1", mair: "mair_el1"),
    (amair: "amair_el1", vbar: "vbar_el1"),
    (contextidr: "contextidr_el1", tpidr_el0: "tpidr_el0"),
    (tpidrro_el0: "tpidrro_el0", tpidr_el1: "tpidr_el1"),
    (sp_el0: "sp_el0", sp_el1: "sp_el1"),
    (elr_el1: "elr_el1", spsr_el1: "spsr_el1"),
    (esr_el1: "esr_el1", far_el1: "far_el1"),
    (afsr0: "afsr0_el1", afsr1: "afsr1_el1"),
    (par: "par_el1", cntkctl: "cntkctl_el1"),
    (csselr: "csselr_el1", cntv_ctl: "cntv_ctl_el0");
    cntv_cval: "cntv_cval_el0"
}

/// SCTLR_EL1 at reset: MMU and caches off, RES1 bits set.
const SCTLR_EL1_RESET: u64 = 0x30d0_0800;
/// CNTV_CTL_EL0.IMASK: the timer may still fire for the hardware, but the interrupt is masked.
pub const CNTV_IMASK: u64 = 1 << 1;

impl El1Regs {
    pub const ZERO: Self = {
        // SAFETY: every field is a u64, for which all-zero bytes are a valid value.
        unsafe { core::mem::zeroed() }
    };

    /// The state a vCPU starts in (boot protocol: MMU off, timer off).
    pub const RESET: Self = Self { sctlr: SCTLR_EL1_RESET, ..Self::ZERO };
}

/// FP/SIMD registers. hv-static itself is built for a soft-float target (like Linux's `-mgeneral-regs-only`), so
/// traps never touch them and only a vCPU switch must save them.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(16))]
pub struct FpRegs {
    pub q: [u128; 32],
    pub fpcr: u64,
    pub fpsr: u64,
}

impl FpRegs {
    pub const ZERO: Self = Self { q: [0; 32], fpcr: 0, fpsr: 0 };

    pub fn save(&mut self) {
        // SAFETY: stores the 32 128-bit registers into `self.q`, which is 512 bytes and 16-byte aligned.
        unsafe {
            asm!(
                ".arch_extension fp", ".arch_extension simd",
                "stp q0, q1, [{p}, #0]", "stp q2, q3, [{p}, #32]", "stp q4, q5, [{p}, #64]",
                "stp q6, q7, [{p}, #96]", "stp q8, q9, [{p}, #128]", "stp q10, q11, [{p}, #160]",
                "stp q12, q13, [{p}, #192]", "stp q14, q15, [{p}, #224]", "stp q16, q17, [{p}, #256]",
                "stp q18, q19, [{p}, #288]", "stp q20, q21, [{p}, #320]", "stp q22, q23, [{p}, #352]",
                "stp q24, q25, [{p}, #384]", "stp q26, q27, [{p}, #416]", "stp q28, q29, [{p}, #448]",
                "stp q30, q31, [{p}, #480]",
                "mrs {t}, fpcr", "str {t}, [{p}, #512]", "mrs {t}, fpsr", "str {t}, [{p}, #520]",
                p = in(reg) self as *mut Self, t = out(reg) _, options(nostack)
            );
        }
    }

    pub fn restore(&self) {
        // SAFETY: loads what `save` stored (or the zeroed reset state); only FP/SIMD state changes.
        unsafe {
            asm!(
                ".arch_extension fp", ".arch_extension simd",
                "ldp q0, q1, [{p}, #0]", "ldp q2, q3, [{p}, #32]", "ldp q4, q5, [{p}, #64]",
                "ldp q6, q7, [{p}, #96]", "ldp q8, q9, [{p}, #128]", "ldp q10, q11, [{p}, #160]",
                "ldp q12, q13, [{p}, #192]", "ldp q14, q15, [{p}, #224]", "ldp q16, q17, [{p}, #256]",
                "ldp q18, q19, [{p}, #288]", "ldp q20, q21, [{p}, #320]", "ldp q22, q23, [{p}, #352]",
                "ldp q24, q25, [{p}, #384]", "ldp q26, q27, [{p}, #416]", "ldp q28, q29, [{p}, #448]",
                "ldp q30, q31, [{p}, #480]",
                "ldr {t}, [{p}, #512]", "msr fpcr, {t}", "ldr {t}, [{p}, #520]", "msr fpsr, {t}",
                p = in(reg) self as *const Self, t = out(reg) _, options(nostack)
            );
        }
    }
}
