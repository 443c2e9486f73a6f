//! What a vCPU owns on ARMv7-A, in a form that can be saved and restored: general-purpose registers (including
//! the banked ones of every mode a partition can use: usr/sys, svc, abt, und, irq and fiq, whose r8-r12 are its
//! own), PL1 system registers, the ThumbEE handler base, VFP, the virtual timer.
//!
//! Not here, because no partition can change them: ACTLR (HCR.TAC), the debug and PMU registers (HDCR), the
//! IMPLEMENTATION DEFINED registers (HCR.TIDCP, HSTR.T15); see `sysreg`. Monitor mode's registers are out of the
//! Non-secure state's reach, Hyp mode's are the hypervisor's.

use core::arch::asm;

use aarch32_cpu::register::{
    Adfsr, Aifsr, Amair0, Amair1, Cntkctl, CntvCtl, CntvCval, Contextidr, Cpacr, Csselr, Dacr, Dfar, Dfsr, Ifar, Ifsr,
    Mair0, Mair1, Sctlr, SysRegRead, SysRegRead64, SysRegWrite, SysRegWrite64, Tpidrprw, Tpidruro, Tpidrurw, Vbar,
};

use super::regs::{ParLpae, Ttbcr, Ttbr0Lpae, Ttbr1Lpae};

/// The trap frame: r0-r12, user-mode LR, return address and CPSR, as the vectors save them.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(8))]
pub struct GuestRegs {
    pub r: [u32; 13],
    pub lr_usr: u32,
    pub pc: u32,
    pub cpsr: u32,
}

/// SVC mode with A, I and F masked: how the Linux ARM boot protocol enters a kernel.
pub const CPSR_SVC_MASKED: u32 = 0x1d3;
const MODE_MASK: u32 = 0x1f;
const THUMB: u32 = 1 << 5;

macro_rules! banked {
    ($get:ident, $set:ident, $name:literal) => {
        #[allow(dead_code)]
        pub(super) fn $get() -> u32 {
            let v: u32;
            // SAFETY: reading a banked register of another mode from Hyp (virtualization extensions).
            unsafe { asm!(".arch_extension virt", concat!("mrs {}, ", $name), out(reg) v, options(nomem, nostack)) };
            v
        }
        #[allow(dead_code)]
        pub(super) fn $set(v: u32) {
            // SAFETY: writing the partition's own banked register; only the partition sees it.
            unsafe { asm!(".arch_extension virt", concat!("msr ", $name, ", {}"), in(reg) v, options(nomem, nostack)) };
        }
    };
}

banked!(sp_usr, set_sp_usr, "sp_usr");
banked!(sp_svc, set_sp_svc, "sp_svc");
banked!(lr_svc, set_lr_svc, "lr_svc");
banked!(spsr_svc, set_spsr_svc, "spsr_svc");
banked!(sp_abt, set_sp_abt, "sp_abt");
banked!(lr_abt, set_lr_abt, "lr_abt");
banked!(spsr_abt, set_spsr_abt, "spsr_abt");
banked!(sp_und, set_sp_und, "sp_und");
banked!(lr_und, set_lr_und, "lr_und");
banked!(spsr_und, set_spsr_und, "spsr_und");
banked!(sp_irq, set_sp_irq, "sp_irq");
banked!(lr_irq, set_lr_irq, "lr_irq");
banked!(spsr_irq, set_spsr_irq, "spsr_irq");
banked!(sp_fiq, set_sp_fiq, "sp_fiq");
banked!(lr_fiq, set_lr_fiq, "lr_fiq");
banked!(spsr_fiq, set_spsr_fiq, "spsr_fiq");
banked!(r8_fiq, set_r8_fiq, "r8_fiq");
banked!(r9_fiq, set_r9_fiq, "r9_fiq");
banked!(r10_fiq, set_r10_fiq, "r10_fiq");
banked!(r11_fiq, set_r11_fiq, "r11_fiq");
banked!(r12_fiq, set_r12_fiq, "r12_fiq");

const MODE_FIQ: u32 = 0x11;

/// r8-r12 of FIQ mode: the trap frame holds the usr/sys bank, which every other mode shares.
fn get_fiq_r8_r12(n: u8) -> u32 {
    match n {
        8 => r8_fiq(),
        9 => r9_fiq(),
        10 => r10_fiq(),
        11 => r11_fiq(),
        _ => r12_fiq(),
    }
}

fn set_fiq_r8_r12(n: u8, v: u32) {
    match n {
        8 => set_r8_fiq(v),
        9 => set_r9_fiq(v),
        10 => set_r10_fiq(v),
        11 => set_r11_fiq(v),
        _ => set_r12_fiq(v),
    }
}

impl GuestRegs {
    pub const ZERO: Self = Self { r: [0; 13], lr_usr: 0, pc: 0, cpsr: 0 };

    /// A partition's boot CPU at its kernel entry (Linux ARM boot protocol: r0 = 0, r1 = ~0 "use the device
    /// tree", r2 = device tree).
    pub fn boot(pc: u64, dtb: u64) -> Self {
        let mut r = Self::entering(pc);
        r.r[1] = u32::MAX;
        r.r[2] = dtb as u32;
        r
    }

    /// A vCPU started by PSCI CPU_ON: r0 = the context ID; bit 0 of the entry address selects Thumb.
    pub fn cpu_on(pc: u64, context: u64) -> Self {
        let mut r = Self::entering(pc);
        r.r[0] = context as u32;
        r
    }

    fn entering(pc: u64) -> Self {
        let thumb = pc & 1 != 0;
        Self { pc: pc as u32 & !1, cpsr: CPSR_SVC_MASKED | if thumb { THUMB } else { 0 }, ..Self::ZERO }
    }

    pub fn pc(&self) -> u64 {
        self.pc as u64
    }

    /// Steps over the trapped instruction, and past it in the IT block it may be part of (Thumb), as the CPU
    /// would have.
    pub fn advance(&mut self, len: u64) {
        self.pc = self.pc.wrapping_add(len as u32);
        self.cpsr = crate::hwstate::it_advance(self.cpsr);
    }

    /// Register `n` as the partition's current mode sees it (r13 and r14 are banked per mode, r8-r12 in FIQ mode).
    pub fn get(&self, n: u8) -> u64 {
        (match n {
            8..=12 if self.cpsr & MODE_MASK == MODE_FIQ => get_fiq_r8_r12(n),
            0..=12 => self.r[n as usize],
            13 => match self.cpsr & MODE_MASK {
                0x13 => sp_svc(),
                0x17 => sp_abt(),
                0x1b => sp_und(),
                0x12 => sp_irq(),
                0x11 => sp_fiq(),
                _ => sp_usr(),
            },
            14 => match self.cpsr & MODE_MASK {
                0x13 => lr_svc(),
                0x17 => lr_abt(),
                0x1b => lr_und(),
                0x12 => lr_irq(),
                0x11 => lr_fiq(),
                _ => self.lr_usr,
            },
            _ => self.pc,
        }) as u64
    }

    pub fn set(&mut self, n: u8, v: u64) {
        let v = v as u32;
        match n {
            8..=12 if self.cpsr & MODE_MASK == MODE_FIQ => set_fiq_r8_r12(n, v),
            0..=12 => self.r[n as usize] = v,
            13 => match self.cpsr & MODE_MASK {
                0x13 => set_sp_svc(v),
                0x17 => set_sp_abt(v),
                0x1b => set_sp_und(v),
                0x12 => set_sp_irq(v),
                0x11 => set_sp_fiq(v),
                _ => set_sp_usr(v),
            },
            14 => match self.cpsr & MODE_MASK {
                0x13 => set_lr_svc(v),
                0x17 => set_lr_abt(v),
                0x1b => set_lr_und(v),
                0x12 => set_lr_irq(v),
                0x11 => set_lr_fiq(v),
                _ => self.lr_usr = v,
            },
            _ => self.pc = v,
        }
    }
}

/// PL1 system registers and banked mode registers the partition programs directly, without traps.
#[derive(Clone, Copy, Debug, Default)]
pub struct El1Regs {
    pub sctlr: u32,
    pub cpacr: u32,
    pub ttbr0: u64,
    pub ttbr1: u64,
    pub ttbcr: u32,
    pub dacr: u32,
    pub dfsr: u32,
    pub ifsr: u32,
    pub adfsr: u32,
    pub aifsr: u32,
    pub dfar: u32,
    pub ifar: u32,
    pub par: u64,
    pub mair0: u32,
    pub mair1: u32,
    pub amair0: u32,
    pub amair1: u32,
    pub vbar: u32,
    pub contextidr: u32,
    pub tpidrurw: u32,
    pub tpidruro: u32,
    pub tpidrprw: u32,
    pub cntkctl: u32,
    pub csselr: u32,
    pub cntv_ctl: u32,
    pub cntv_cval: u64,
    /// sp_usr, then sp/lr/spsr of svc, abt, und, irq, fiq, then r8-r12 of fiq.
    pub banked: [u32; BANKED],
    /// ThumbEE: TEECR and TEEHBR, on CPUs that have it (ID_PFR0.State3), where EL0 can use TEEHBR as it likes.
    pub teecr: u32,
    pub teehbr: u32,
}

/// The banked registers a partition owns outside the trap frame.
const BANKED: usize = 21;

/// Whether the CPU implements ThumbEE (ID_PFR0.State3, bits [15:12]), whose two registers then belong to the
/// partition running.
fn has_thumbee() -> bool {
    (aarch32_cpu::register::IdPfr0::read().0 >> 12) & 0xf != 0
}

/// SCTLR at reset: MMU and caches off, RES1 bits set.
const SCTLR_RESET: u32 = 0x00c5_0078;
pub const CNTV_IMASK: u32 = 1 << 1;

/// Reads or writes a 32-bit or 64-bit CP15 register as a raw value: a context switch moves the partition's
/// registers as they are, without looking inside.
macro_rules! raw {
    (read 32 $reg:ident) => {
        <$reg as SysRegRead>::read_raw()
    };
    (read 64 $reg:ident) => {
        <$reg as SysRegRead64>::read_raw()
    };
    (write 32 $reg:ident, $v:expr) => {
        <$reg as SysRegWrite>::write_raw($v)
    };
    (write 64 $reg:ident, $v:expr) => {
        <$reg as SysRegWrite64>::write_raw($v)
    };
}

/// `save` and `restore` for the listed fields, each the raw value of a register of the given width, in order.
macro_rules! save_restore {
    ($($f:ident: $reg:ident / $width:tt),* $(,)?) => {
        impl El1Regs {
            pub fn save(&mut self) {
                $( self.$f = raw!(read $width $reg); )*
                // Six at a time into r0-r5, then one `stm` each: 25 instructions for the 21 registers, not 42
                // with a store each (issue 15: every window switch).
                // SAFETY: reads banked registers of the partition's modes (virtualization extensions) and stores
                // them into `self.banked`, exactly its 21 words.
                unsafe {
                    asm!(
                        ".arch_extension virt",
                        "mrs r0, sp_usr", "mrs r1, sp_svc", "mrs r2, lr_svc", "mrs r3, spsr_svc", "mrs r4, sp_abt",
                        "mrs r5, lr_abt", "stmia {p}!, {{r0-r5}}",
                        "mrs r0, spsr_abt", "mrs r1, sp_und", "mrs r2, lr_und", "mrs r3, spsr_und", "mrs r4, sp_irq",
                        "mrs r5, lr_irq", "stmia {p}!, {{r0-r5}}",
                        "mrs r0, spsr_irq", "mrs r1, sp_fiq", "mrs r2, lr_fiq", "mrs r3, spsr_fiq", "mrs r4, r8_fiq",
                        "mrs r5, r9_fiq", "stmia {p}!, {{r0-r5}}",
                        "mrs r0, r10_fiq", "mrs r1, r11_fiq", "mrs r2, r12_fiq", "stmia {p}, {{r0-r2}}",
                        p = inout(reg) self.banked.as_mut_ptr() => _,
                        out("r0") _, out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                        options(nostack, preserves_flags),
                    )
                };
                if has_thumbee() {
                    let (cr, hbr): (u32, u32);
                    // SAFETY: reading the ThumbEE registers, which exist (ID_PFR0), has no side effect.
                    unsafe {
                        asm!(
                            "mrc p14, 6, {cr}, c0, c0, 0",
                            "mrc p14, 6, {hbr}, c1, c0, 0",
                            cr = out(reg) cr, hbr = out(reg) hbr, options(nomem, nostack)
                        )
                    };
                    (self.teecr, self.teehbr) = (cr, hbr);
                }
            }

            pub fn restore(&self) {
                // SAFETY: these are the partition's own PL1 registers: they act on the partition only (Hyp mode has
                // its own translation, vectors and timer), and get back what it last had, or the reset state.
                unsafe {
                    $( raw!(write $width $reg, self.$f); )*
                }
                // As `save`, one `ldm` per six.
                // SAFETY: loads exactly the 21 words of `self.banked` into the partition's own banked registers
                // (virtualization extensions); only the partition about to run sees them.
                unsafe {
                    asm!(
                        ".arch_extension virt",
                        "ldmia {p}!, {{r0-r5}}", "msr sp_usr, r0", "msr sp_svc, r1", "msr lr_svc, r2",
                        "msr spsr_svc, r3", "msr sp_abt, r4", "msr lr_abt, r5",
                        "ldmia {p}!, {{r0-r5}}", "msr spsr_abt, r0", "msr sp_und, r1", "msr lr_und, r2",
                        "msr spsr_und, r3", "msr sp_irq, r4", "msr lr_irq, r5",
                        "ldmia {p}!, {{r0-r5}}", "msr spsr_irq, r0", "msr sp_fiq, r1", "msr lr_fiq, r2",
                        "msr spsr_fiq, r3", "msr r8_fiq, r4", "msr r9_fiq, r5",
                        "ldmia {p}, {{r0-r2}}", "msr r10_fiq, r0", "msr r11_fiq, r1", "msr r12_fiq, r2",
                        p = inout(reg) self.banked.as_ptr() => _,
                        out("r0") _, out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                        options(nostack, preserves_flags, readonly),
                    )
                };
                if has_thumbee() {
                    // SAFETY: the partition's own ThumbEE registers (they exist: ID_PFR0); they affect only it.
                    unsafe {
                        asm!(
                            "mcr p14, 6, {cr}, c0, c0, 0",
                            "mcr p14, 6, {hbr}, c1, c0, 0",
                            cr = in(reg) self.teecr, hbr = in(reg) self.teehbr, options(nomem, nostack)
                        )
                    };
                }
                // SAFETY: barrier only.
                unsafe { asm!("isb", options(nomem, nostack)) };
            }
        }
    };
}

save_restore! {
    sctlr: Sctlr / 32, cpacr: Cpacr / 32, ttbr0: Ttbr0Lpae / 64, ttbr1: Ttbr1Lpae / 64, ttbcr: Ttbcr / 32,
    dacr: Dacr / 32, dfsr: Dfsr / 32, ifsr: Ifsr / 32, adfsr: Adfsr / 32, aifsr: Aifsr / 32, dfar: Dfar / 32,
    ifar: Ifar / 32, par: ParLpae / 64, mair0: Mair0 / 32, mair1: Mair1 / 32, amair0: Amair0 / 32,
    amair1: Amair1 / 32, vbar: Vbar / 32, contextidr: Contextidr / 32, tpidrurw: Tpidrurw / 32,
    tpidruro: Tpidruro / 32, tpidrprw: Tpidrprw / 32, cntkctl: Cntkctl / 32, csselr: Csselr / 32,
    cntv_ctl: CntvCtl / 32, cntv_cval: CntvCval / 64,
}

impl El1Regs {
    pub const ZERO: Self = Self {
        sctlr: 0,
        cpacr: 0,
        ttbr0: 0,
        ttbr1: 0,
        ttbcr: 0,
        dacr: 0,
        dfsr: 0,
        ifsr: 0,
        adfsr: 0,
        aifsr: 0,
        dfar: 0,
        ifar: 0,
        par: 0,
        mair0: 0,
        mair1: 0,
        amair0: 0,
        amair1: 0,
        vbar: 0,
        contextidr: 0,
        tpidrurw: 0,
        tpidruro: 0,
        tpidrprw: 0,
        cntkctl: 0,
        csselr: 0,
        cntv_ctl: 0,
        cntv_cval: 0,
        banked: [0; BANKED],
        teecr: 0,
        teehbr: 0,
    };

    /// The state a vCPU starts in (MMU off, timer off).
    pub const RESET: Self = Self { sctlr: SCTLR_RESET, ..Self::ZERO };
}

/// VFP/Advanced SIMD registers. hv-static is soft-float, so traps never touch them.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(8))]
pub struct FpRegs {
    pub d: [u64; 32],
    pub fpscr: u32,
    pub fpexc: u32,
}

impl Default for FpRegs {
    fn default() -> Self {
        Self::ZERO
    }
}

impl FpRegs {
    pub const ZERO: Self = Self { d: [0; 32], fpscr: 0, fpexc: 0 };

    pub fn save(&mut self) {
        // SAFETY: stores d0-d31 into `self.d` (256 bytes) and the two control registers after it. FPEXC.EN is
        // set first so the accesses do not trap, and put back as the partition had it.
        unsafe {
            asm!(
                ".fpu neon-vfpv4",
                "vmrs {t}, fpexc", "str {t}, [{p}, #260]", "orr {t}, {t}, #0x40000000", "vmsr fpexc, {t}",
                "vstmia {p}, {{d0-d15}}", "add {q}, {p}, #128", "vstmia {q}, {{d16-d31}}",
                "vmrs {t}, fpscr", "str {t}, [{p}, #256]",
                "ldr {t}, [{p}, #260]", "vmsr fpexc, {t}",
                p = in(reg) self as *mut Self, q = out(reg) _, t = out(reg) _, options(nostack)
            );
        }
    }

    pub fn restore(&self) {
        // SAFETY: loads what `save` stored (or zeros); only VFP state changes.
        unsafe {
            asm!(
                ".fpu neon-vfpv4",
                "mov {t}, #0x40000000", "vmsr fpexc, {t}",
                "vldmia {p}, {{d0-d15}}", "add {q}, {p}, #128", "vldmia {q}, {{d16-d31}}",
                "ldr {t}, [{p}, #256]", "vmsr fpscr, {t}",
                "ldr {t}, [{p}, #260]", "vmsr fpexc, {t}",
                p = in(reg) self as *const Self, q = out(reg) _, t = out(reg) _, options(nostack)
            );
        }
    }
}
