//! Architectural state a CPU keeps for whoever runs on it, and what hv-static does with each piece so that one
//! partition cannot use it to observe or disturb another (issue 14): which guest accesses trap, what a trapped
//! access reads, what a switch between partitions invalidates, and how the hypervisor's own pages are mapped.
//!
//! Everything here is a computation on register values, shared by both architectures and tested on the host;
//! `arch::aarch64` and `arch::aarch32` apply the results to the hardware.
#![allow(dead_code, reason = "each architecture applies its own half of these rules; the host tests cover both")]
//!
//! ## Debug and performance monitors: trapped, not switched
//!
//! A partition sees no usable debug or PMU state. Every access from EL1/EL0 (PL1/PL0) to the self-hosted debug
//! registers (MDCR_EL2/HDCR TDA, TDOSA, TDRA) and to the PMU (TPM, TPMCR; TPMS and TTRF where profiling or trace
//! filtering exist) traps to the hypervisor, which answers as hardware with no debug or PMU state would: reads
//! as zero (PMCR with the CPU's own identification but N = 0 counters, the OS lock status "implemented, unlocked")
//! and writes ignored. The debug hardware itself stays off for EL1/EL0 (MDSCR_EL1 / DBGDSCR: MDE, KDE and SS
//! clear, EL0 DCC access disabled), which no partition can change, so no breakpoint, watchpoint or software step
//! of one partition can fire in another, and no counter can count another's events.
//!
//! Switching this state per vCPU instead would mean saving up to 16 breakpoint and 16 watchpoint pairs and 31
//! counters with their configuration at every window boundary, and routing the PMU overflow interrupt as a
//! virtual one; a pinned partition would still be able to watch the hypervisor's own execution (counters that
//! count at EL2 unless filtered, breakpoints on shared addresses). hv-static's partitions are real-time and
//! bare-metal workloads and stock kernels, none of which needs self-hosted debug or perf counters to run, and
//! Linux copes with what it reads: no PMU node is in any partition's device tree, and its breakpoint code
//! finds an unsupported debug architecture (ARMv7) or writes registers that ignore it (arm64).
//!
//! MDCR_EL2.TDE stays clear: with it, EL1's own BRK instructions (Linux's BUG() and kprobes) would be routed to
//! EL2 too. HPMN is the CPU's counter count N: no counter is reserved for EL2, and with HPME clear none counts
//! there (hv-static uses no PMU counter itself).

/// MDCR_EL2 (AArch64) and HDCR (ARMv7) share the layout of the bits hv-static sets.
pub mod mdcr {
    /// HPMN, bits [4:0]: event counters 0..HPMN belong to EL1/EL0.
    pub const HPMN_MASK: u64 = 0x1f;
    /// Trap PMCR accesses.
    pub const TPMCR: u64 = 1 << 5;
    /// Trap every other PMU access.
    pub const TPM: u64 = 1 << 6;
    /// Enable the counters HPMN..N for EL2.
    pub const HPME: u64 = 1 << 7;
    /// Route debug exceptions (including EL1's BRK) to EL2.
    pub const TDE: u64 = 1 << 8;
    /// Trap debug register accesses (breakpoints, watchpoints, MDSCR, DCC, claim tags).
    pub const TDA: u64 = 1 << 9;
    /// Trap the OS lock and power-down registers (OSLAR, OSLSR, OSDLR, DBGPRCR).
    pub const TDOSA: u64 = 1 << 10;
    /// Trap the debug ROM address registers (MDRAR, DBGDRAR, DBGDSAR).
    pub const TDRA: u64 = 1 << 11;
    /// E2PB, bits [13:12]: 0b00 = the statistical profiling buffer belongs to EL2 and its EL1 controls trap.
    pub const E2PB_MASK: u64 = 0b11 << 12;
    /// Trap statistical profiling controls (FEAT_SPE).
    pub const TPMS: u64 = 1 << 14;
    /// Trap the trace filter control (FEAT_TRF).
    pub const TTRF: u64 = 1 << 19;
}

/// What the CPU implements of the state MDCR_EL2/HDCR control.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DebugFeatures {
    /// PMCR.N: the number of event counters (0 without a PMU).
    pub pmu_counters: u8,
    /// Statistical profiling (ID_AA64DFR0_EL1.PMSVer != 0).
    pub spe: bool,
    /// Self-hosted trace filtering (ID_AA64DFR0_EL1.TraceFilt != 0).
    pub trace_filter: bool,
}

impl DebugFeatures {
    /// From ID_AA64DFR0_EL1 and, if there is a PMU, PMCR_EL0.
    pub fn from_aa64dfr0(dfr0: u64, pmcr: Option<u64>) -> Self {
        Self {
            pmu_counters: pmcr.map_or(0, pmcr_counters),
            spe: (dfr0 >> 32) & 0xf != 0,
            trace_filter: (dfr0 >> 40) & 0xf != 0,
        }
    }
}

/// Whether ID_AA64DFR0_EL1.PMUVer (bits [11:8]) says an Arm PMU is there (0xF is an IMPLEMENTATION DEFINED one).
pub fn aa64_has_pmu(dfr0: u64) -> bool {
    !matches!((dfr0 >> 8) & 0xf, 0 | 0xf)
}

/// Whether ID_DFR0.PerfMon (bits [27:24]) says an Arm PMU (v1 or later) is there.
pub fn aa32_has_pmu(dfr0: u32) -> bool {
    !matches!((dfr0 >> 24) & 0xf, 0 | 0xf)
}

/// PMCR.N, bits [15:11].
pub fn pmcr_counters(pmcr: u64) -> u8 {
    ((pmcr >> 11) & 0x1f) as u8
}

/// The MDCR_EL2/HDCR value every partition runs under: debug and PMU accesses trap, every counter is in the EL1
/// range (HPMN = N) and none counts at EL2 (HPME clear), debug exceptions stay with EL1 (TDE clear).
pub fn mdcr(f: DebugFeatures) -> u64 {
    let mut v = mdcr::TDA | mdcr::TDOSA | mdcr::TDRA | mdcr::TPM | mdcr::TPMCR;
    v |= f.pmu_counters as u64 & mdcr::HPMN_MASK;
    if f.spe {
        v |= mdcr::TPMS; // E2PB stays 0b00: the profiling buffer is EL2's, which leaves it off.
    }
    if f.trace_filter {
        v |= mdcr::TTRF;
    }
    v
}

/// MDSCR_EL1 / DBGDSCRext as the hypervisor leaves it for every partition: MDE (monitor debug events), KDE
/// (debug exceptions at EL1) and SS (software step) clear, so no breakpoint, watchpoint or step fires; TDCC
/// (UDCCdis on ARMv7, bit 12) set, so EL0 cannot reach the debug communication channel.
pub const DEBUG_CONTROL_OFF: u64 = 1 << 12;

/// What a partition reads from PMCR: the CPU's implementer and identification code (IMP, IDCODE, bits [31:16])
/// and nothing else: no counter (N = 0), nothing enabled.
pub fn guest_pmcr(hw: u64) -> u64 {
    hw & 0xffff_0000
}

/// OSLSR as a partition reads it: OSLM = 0b10 (the OS lock is implemented; OSLM[1] is bit 3), unlocked.
pub const GUEST_OSLSR: u64 = 1 << 3;

/// PMBIDR_EL1 as a partition reads it: P (bit 4) set, the profiling buffer belongs to a higher exception level.
pub const GUEST_PMBIDR: u64 = 1 << 4;

/// How the hypervisor answers a trapped system-register access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads return this value, writes are ignored.
    Value(u64),
    /// Reads return the CPU's own ACTLR, writes are ignored (HCR.TAC): auxiliary controls are the firmware's and
    /// the hypervisor's to set, and are shared by every partition of the CPU.
    Actlr,
    /// Reads return [`guest_pmcr`] of the CPU's PMCR, writes are ignored.
    Pmcr,
    /// The partition takes an Undefined Instruction exception, as on a CPU without the register.
    Undefined,
}

/// Reads-as-zero, writes ignored.
const RAZ: Access = Access::Value(0);

/// A trapped AArch64 MSR/MRS (`S<op0>_<op1>_C<crn>_C<crm>_<op2>`), other than the GIC's.
pub fn aarch64_access(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> Access {
    match (op0, op1, crn, crm, op2) {
        // ACTLR_EL1.
        (3, 0, 1, 0, 1) => Access::Actlr,
        // Trace unit registers (CPTR_EL2.TTA): not offered.
        (2, 1, ..) => Access::Undefined,
        // OSLSR_EL1.
        (2, 0, 1, 1, 4) => Access::Value(GUEST_OSLSR),
        // Every other debug register: breakpoints, watchpoints, MDSCR, OS lock and double lock, DCC, claim tags,
        // MDRAR, authentication status.
        (2, ..) => RAZ,
        // PMCR_EL0.
        (3, 3, 9, 12, 0) => Access::Pmcr,
        // The rest of the PMU: PMCNTEN, PMOVS, PMSWINC, PMSELR, PMCEID, PMCCNTR, PMXEV*, PMUSERENR, PMINTEN,
        // PMMIR, and PMEVCNTR<n>, PMEVTYPER<n>, PMCCFILTR (op1 = 3, CRn = 14, CRm >= 8; lower CRm are timers).
        (3, 0 | 3, 9, 12..=14, _) | (3, 3, 14, 8..=15, _) => RAZ,
        // Statistical profiling: PMBIDR_EL1 says the buffer is not the partition's, the rest is RAZ/WI.
        (3, 0, 9, 10, 7) => Access::Value(GUEST_PMBIDR),
        (3, 0, 9, 9 | 10, _) => RAZ,
        // IMPLEMENTATION DEFINED registers (HCR_EL2.TIDCP): undefined, as they may act on shared hardware.
        (3, _, 11 | 15, _, _) => Access::Undefined,
        _ => Access::Undefined,
    }
}

/// A trapped AArch32 MCR/MRC to coprocessor `cp` (14 or 15) from an ARMv7 partition.
pub fn aarch32_access(cp: u8, opc1: u8, crn: u8, crm: u8, opc2: u8) -> Access {
    match (cp, opc1, crn, crm, opc2) {
        // ACTLR.
        (15, 0, 1, 0, 1) => Access::Actlr,
        // PMCR, then the rest of the PMU (c9, opc1 0, CRm 12-14).
        (15, 0, 9, 12, 0) => Access::Pmcr,
        (15, 0, 9, 12..=14, _) => RAZ,
        // IMPLEMENTATION DEFINED: the TIDCP ranges (c9 CRm 0-2 and 5-8, c10 CRm 0, 1, 4 and 8, c11 CRm 0-8 and
        // 15, any opc1: cache lockdown, TCM, DMA, L2 control) and all of c15 (HSTR.T15: on Cortex-A15 the L1/L2
        // RAM debug access and configuration base registers).
        (15, _, 9, 0..=2 | 5..=8, _) | (15, _, 10, 0 | 1 | 4 | 8, _) | (15, _, 11, 0..=8 | 15, _) => Access::Undefined,
        (15, _, 15, _, _) => Access::Undefined,
        // The v7.1 debug registers (cp14, opc1 0): OSLSR, then everything else RAZ/WI, including DBGDIDR (debug
        // architecture "none": Linux then leaves hardware breakpoints alone) and DBGDSCR (no debug enabled).
        (14, 0, 1, 1, 4) => Access::Value(GUEST_OSLSR),
        (14, 0, ..) => RAZ,
        // Trace (opc1 1), ThumbEE and Jazelle (6, 7, not trapped) and anything else.
        _ => Access::Undefined,
    }
}

/// A trapped AArch32 MCRR/MRRC to coprocessor `cp` from an ARMv7 partition: the 64-bit debug ROM and self
/// address registers (DBGDRAR, DBGDSAR) read as "not valid"; nothing else is emulated.
pub fn aarch32_access64(cp: u8, opc1: u8, crm: u8) -> Access {
    match (cp, opc1, crm) {
        (14, 0, 1 | 2) => RAZ,
        _ => Access::Undefined,
    }
}

/// An MCR/MRC as its trap syndrome (HSR / ESR_EL2 class 0x03 or 0x05) describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpAccess {
    pub opc1: u8,
    pub crn: u8,
    pub crm: u8,
    pub opc2: u8,
    /// The general-purpose register; 15 on a read means the APSR flags (`MRC ... APSR_nzcv`).
    pub rt: u8,
    pub read: bool,
}

impl CpAccess {
    pub fn decode(iss: u32) -> Self {
        Self {
            opc2: ((iss >> 17) & 7) as u8,
            opc1: ((iss >> 14) & 7) as u8,
            crn: ((iss >> 10) & 0xf) as u8,
            rt: ((iss >> 5) & 0x1f) as u8,
            crm: ((iss >> 1) & 0xf) as u8,
            read: iss & 1 != 0,
        }
    }
}

/// An MCRR/MRRC as its trap syndrome (class 0x04 or 0x0C) describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpAccess64 {
    pub opc1: u8,
    pub crm: u8,
    pub rt: u8,
    pub rt2: u8,
    pub read: bool,
}

impl CpAccess64 {
    pub fn decode(iss: u32) -> Self {
        Self {
            opc1: ((iss >> 16) & 0xf) as u8,
            rt2: ((iss >> 10) & 0x1f) as u8,
            rt: ((iss >> 5) & 0x1f) as u8,
            crm: ((iss >> 1) & 0xf) as u8,
            read: iss & 1 != 0,
        }
    }
}

/// The condition a trapped AArch32 instruction carried, when the syndrome gives it (CV, bit 24; COND, [23:20]).
/// Without it (CV = 0) the instruction passed its condition, or was unconditional.
pub fn syndrome_condition(iss: u32) -> Option<u8> {
    (iss & 1 << 24 != 0).then_some(((iss >> 20) & 0xf) as u8)
}

/// Whether AArch32 condition `cond` holds for the flags in `cpsr` (a trapped instruction that fails its condition
/// is skipped, as the CPU would have).
pub fn condition_passed(cond: u8, cpsr: u32) -> bool {
    let (n, z, c, v) = (cpsr >> 31 & 1 == 1, cpsr >> 30 & 1 == 1, cpsr >> 29 & 1 == 1, cpsr >> 28 & 1 == 1);
    let base = match cond >> 1 {
        0 => z,
        1 => c,
        2 => n,
        3 => v,
        4 => c && !z,
        5 => n == v,
        6 => n == v && !z,
        _ => true,
    };
    if cond & 1 == 1 && cond != 0xf {
        !base
    } else {
        base
    }
}

/// CPSR after stepping over one Thumb instruction inside an IT block: the IT state (IT[1:0] in bits [26:25],
/// IT[7:2] in bits [15:10]) advances as the CPU would have advanced it, and ends after the block's last
/// instruction. Outside an IT block (and in ARM state) the IT bits are zero and stay so.
pub fn it_advance(cpsr: u32) -> u32 {
    let it = ((cpsr >> 8) & 0xfc) | ((cpsr >> 25) & 0x3);
    let next = if it & 0x7 == 0 { 0 } else { (it & 0xe0) | ((it << 1) & 0x1f) };
    (cpsr & !(0x3 << 25 | 0x3f << 10)) | (next & 0x3) << 25 | (next >> 2) << 10
}

/// CPSR and the LR offset for an Undefined Instruction exception taken by an ARMv7 partition at PL1: Undefined
/// mode, IRQs masked, IT state and J cleared, T from SCTLR.TE, E from SCTLR.EE; LR is the instruction's address
/// plus 4 in ARM state, plus 2 in Thumb state (where a 32-bit instruction's LR points at its second halfword).
pub fn aarch32_undef_entry(cpsr: u32, sctlr: u32) -> (u32, u32) {
    const MODE_UND: u32 = 0x1b;
    const IRQ_MASK: u32 = 1 << 7;
    let lr_offset = if cpsr & AARCH32_THUMB != 0 { 2 } else { 4 };
    (aarch32_entry(cpsr, sctlr, MODE_UND | IRQ_MASK), lr_offset)
}

/// CPSR for a Data Abort exception taken by an ARMv7 partition at PL1 (Arm ARM DDI 0406C B1.9.10): Abort mode,
/// asynchronous aborts and IRQs masked (with the virtualization extensions CPSR.A is always set), FIQs as they were,
/// IT state and J cleared, T from SCTLR.TE, E from SCTLR.EE. LR_abt is the faulting instruction's address plus 8,
/// in either instruction set.
pub fn aarch32_abort_entry(cpsr: u32, sctlr: u32) -> u32 {
    const MODE_ABT: u32 = 0x17;
    const IRQ_MASK: u32 = 1 << 7;
    const ABORT_MASK: u32 = 1 << 8;
    aarch32_entry(cpsr, sctlr, MODE_ABT | IRQ_MASK | ABORT_MASK)
}

/// The address of an ARMv7 partition's exception vectors: Hivecs (SCTLR.V) at 0xffff0000, else VBAR.
pub fn aarch32_vector_base(sctlr: u32, vbar: u32) -> u32 {
    const V: u32 = 1 << 13;
    if sctlr & V != 0 {
        0xffff_0000
    } else {
        vbar
    }
}

const AARCH32_THUMB: u32 = 1 << 5;

/// What every exception taken to a PL1 mode does to the CPSR: the new mode and masks (`set`), IT state and J
/// cleared, T from SCTLR.TE, E from SCTLR.EE; the flags, GE and the other masks stay.
fn aarch32_entry(cpsr: u32, sctlr: u32, set: u32) -> u32 {
    const ENDIAN: u32 = 1 << 9;
    const J: u32 = 1 << 24;
    const IT: u32 = 0x3 << 25 | 0x3f << 10;
    let te = sctlr & 1 << 30 != 0;
    let ee = sctlr & 1 << 25 != 0;
    let mut new = cpsr & !(0x1f | AARCH32_THUMB | J | IT | ENDIAN);
    new |= set;
    if te {
        new |= AARCH32_THUMB;
    }
    if ee {
        new |= ENDIAN;
    }
    new
}

/// The optional PSTATE fields an AArch64 exception entry sets, from the CPU's ID registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Aa64EntryFeatures {
    /// FEAT_PAN (ID_AA64MMFR1_EL1.PAN, bits [23:20]).
    pub pan: bool,
    /// FEAT_SSBS (ID_AA64PFR1_EL1.SSBS, bits [7:4]).
    pub ssbs: bool,
    /// FEAT_MTE (ID_AA64PFR1_EL1.MTE, bits [11:8]): PSTATE.TCO exists.
    pub mte: bool,
}

impl Aa64EntryFeatures {
    pub fn from_id_regs(mmfr1: u64, pfr1: u64) -> Self {
        Self { pan: (mmfr1 >> 20) & 0xf != 0, ssbs: (pfr1 >> 4) & 0xf != 0, mte: (pfr1 >> 8) & 0xf != 0 }
    }
}

/// PSTATE after an AArch64 partition takes a synchronous exception to EL1, from the PSTATE it was in (`old`, as
/// SPSR holds it: AArch64 or, from a 32-bit EL0, AArch32 layout) and its SCTLR_EL1 (Arm ARM, pseudocode
/// AArch64.TakeException): EL1h with D, A, I and F masked; N, Z, C, V and DIT kept; PAN set when SCTLR_EL1.SPAN is
/// 0 and kept otherwise; SSBS from SCTLR_EL1.DSSBS; TCO set; SS, IL, UAO, BTYPE (and the AArch32 IT, T, E, GE, Q)
/// cleared. The fields a CPU lacks stay zero.
pub fn aarch64_exception_pstate(old: u64, sctlr_el1: u64, f: Aa64EntryFeatures) -> u64 {
    const NZCV: u64 = 0xf << 28;
    const EL1H_DAIF_MASKED: u64 = 0x3c5;
    const PAN: u64 = 1 << 22;
    const DIT: u64 = 1 << 24;
    const AARCH32_DIT: u64 = 1 << 21;
    const SSBS: u64 = 1 << 12;
    const TCO: u64 = 1 << 25;
    const SCTLR_SPAN: u64 = 1 << 23;
    const SCTLR_DSSBS: u64 = 1 << 44;
    let aarch32 = old & 1 << 4 != 0;
    let mut new = old & NZCV | EL1H_DAIF_MASKED;
    // DIT sits at bit 24 in the AArch64 layout and at bit 21 in the AArch32 one; PAN at bit 22 in both.
    let dit = if aarch32 { old & AARCH32_DIT != 0 } else { old & DIT != 0 };
    if dit {
        new |= DIT;
    }
    if f.pan && (old & PAN != 0 || sctlr_el1 & SCTLR_SPAN == 0) {
        new |= PAN;
    }
    if f.ssbs && sctlr_el1 & SCTLR_DSSBS != 0 {
        new |= SSBS;
    }
    if f.mte {
        new |= TCO;
    }
    new
}

/// Offset from VBAR_EL1 of the vector an AArch64 partition takes a synchronous exception at, from the PSTATE (SPSR)
/// it was interrupted in: EL1 with SP_EL1 0x200, EL1 with SP_EL0 0x000, EL0 in AArch64 0x400, EL0 in AArch32 0x600.
pub fn aarch64_sync_vector(pstate: u64) -> u64 {
    let aarch32 = pstate & 1 << 4 != 0;
    let el1 = !aarch32 && (pstate >> 2) & 3 == 1;
    match (aarch32, el1, pstate & 1 == 1) {
        (true, _, _) => 0x600,
        (false, true, true) => 0x200,
        (false, true, false) => 0x000,
        (false, false, _) => 0x400,
    }
}

/// The number of ICH_AP0R<n>_EL2 (and of ICH_AP1R<n>_EL2) registers the GICv3 CPU interface implements, from
/// ICH_VTR_EL2.PREbits (bits [28:26], preemption bits minus one): 5 bits need one, 6 two, 7 four.
pub fn gicv3_apr_count(vtr: u64) -> usize {
    match (vtr >> 26) & 0x7 {
        0..=4 => 1,
        5 => 2,
        _ => 4,
    }
}

/// Whether a CPU that last ran partition `last` (VMID; 0 = none since boot) must invalidate its branch predictors
/// before running `next`: only when it changes hands. A pinned CPU never does (its VMID never changes), nor does
/// a cyclic CPU going back to the partition it ran before an idle slot.
pub fn branch_predictor_switch(last: u16, next: u16) -> bool {
    last != 0 && last != next
}

/// Whether a cyclic schedule (the partition of each slot's vCPU, `None` for idle) makes the CPU run more than one
/// partition, so that it can carry one partition's state to another.
pub fn shares_cpu(partitions: impl IntoIterator<Item = Option<usize>>) -> bool {
    let mut first = None;
    for p in partitions.into_iter().flatten() {
        match first {
            None => first = Some(p),
            Some(f) if f != p => return true,
            Some(_) => {}
        }
    }
    false
}

/// How a CPU can keep one partition's branch-predictor training from steering another's speculation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchPredictor {
    /// The CPU needs nothing: FEAT_CSV2 (predictions do not cross contexts, VMIDs included), or the firmware says
    /// this CPU is not affected.
    Unaffected,
    /// The firmware's SMCCC_ARCH_WORKAROUND_1 invalidates it.
    FirmwareWorkaround,
    /// Nothing known invalidates it: neither CSV2 nor the firmware workaround.
    Unmitigated,
}

/// The firmware calls made here: the same SMCCC and PSCI numbers partitions use with hv-static (`hv-plan`).
pub mod smccc {
    pub use hv_plan::abi::psci::{PSCI_FEATURES, PSCI_VERSION};
    pub use hv_plan::abi::smccc::{
        SMCCC_ARCH_FEATURES as ARCH_FEATURES, SMCCC_ARCH_WORKAROUND_1 as ARCH_WORKAROUND_1, SMCCC_VERSION,
    };
}

/// Finds out how to invalidate the branch predictors of the calling CPU, asking the firmware (`call(function,
/// argument)` makes an SMCCC call and returns x0/r0 sign-extended) only what SMCCC 1.1 allows to ask: PSCI 1.0 or
/// later, whose PSCI_FEATURES says SMCCC_VERSION exists; SMCCC 1.1 or later, whose ARCH_FEATURES says
/// ARCH_WORKAROUND_1 is implemented (0) or not needed on this CPU (1). Firmware that answers NOT_SUPPORTED
/// anywhere (QEMU's) leaves the CPU [`BranchPredictor::Unmitigated`] unless it has CSV2.
pub fn branch_predictor(csv2: bool, mut call: impl FnMut(u32, u32) -> i64) -> BranchPredictor {
    if csv2 {
        return BranchPredictor::Unaffected;
    }
    let psci = call(smccc::PSCI_VERSION, 0);
    if psci < 0x1_0000 {
        return BranchPredictor::Unmitigated;
    }
    if call(smccc::PSCI_FEATURES, smccc::SMCCC_VERSION) < 0 {
        return BranchPredictor::Unmitigated;
    }
    if call(smccc::SMCCC_VERSION, 0) < 0x1_0001 {
        return BranchPredictor::Unmitigated;
    }
    match call(smccc::ARCH_FEATURES, smccc::ARCH_WORKAROUND_1) {
        0 => BranchPredictor::FirmwareWorkaround,
        1 => BranchPredictor::Unaffected,
        _ => BranchPredictor::Unmitigated,
    }
}

/// ID_AA64PFR0_EL1.CSV2 (bits [59:56]) is at least 1.
pub fn aa64_has_csv2(pfr0: u64) -> bool {
    (pfr0 >> 56) & 0xf != 0
}

/// The hypervisor's own image as the linker laid it out (see `hv-static.ld`): page-aligned text, read-only data,
/// then data and `.bss` with the EL2 stacks (one per CPU, and one per vCPU that shares its CPU), whose lowest page
/// each is a guard.
#[derive(Clone, Copy, Debug)]
pub struct HypLayout {
    pub text: (u64, u64),
    pub rodata: (u64, u64),
    pub rw: (u64, u64),
    /// The first stack, `stack_size` bytes each, `count` of them.
    pub stacks: u64,
    pub stack_size: u64,
    pub count: u64,
}

/// How the hypervisor maps one 4 KiB page of RAM for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HypPage {
    /// Its code: read-only, executable.
    Text,
    /// Its constants: read-only, never executable.
    ReadOnly,
    /// Its data and stacks, the payload it copies from, and every partition's RAM: writable, never executable.
    ReadWrite,
    /// The lowest page of each stack: unmapped, so an overflow faults instead of writing the neighbour's.
    Guard,
}

pub const PAGE: u64 = 4096;

impl HypLayout {
    pub fn page(&self, addr: u64) -> HypPage {
        let within = |(lo, hi): (u64, u64)| lo <= addr && addr < hi;
        let stacks_end = self.stacks + self.stack_size * self.count;
        if (self.stacks..stacks_end).contains(&addr) && (addr - self.stacks) % self.stack_size < PAGE {
            HypPage::Guard
        } else if within(self.text) {
            HypPage::Text
        } else if within(self.rodata) {
            HypPage::ReadOnly
        } else {
            HypPage::ReadWrite
        }
    }

    /// Whether `addr` lies in a stack guard page (an EL2 data abort there is a stack overflow).
    pub fn is_guard(&self, addr: u64) -> bool {
        self.page(addr) == HypPage::Guard
    }
}

/// Descriptors in one translation table (VMSAv8-64 / LPAE long-descriptor format, 4 KiB granule).
pub const ENTRIES: usize = 512;

/// One 4 KiB translation table: the hypervisor's own (below) and the partitions' stage 2 (`stage2`) alike.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
pub struct Table(pub [u64; ENTRIES]);

impl Table {
    pub const EMPTY: Table = Table([0; ENTRIES]);
}

const GIB: u64 = 1 << 30;
const BLOCK_2M: u64 = 2 << 20;
/// The largest device tree the boot protocols allow (Linux's arm64 and arm booting documents: 2 MiB).
pub const DTB_MAX: u64 = 2 << 20;

/// The hypervisor's own tables, as [`HypMap::fill`] writes them. Level 1: one entry per GiB (`l1.len()` of them:
/// 512 cover AArch64's 39-bit space, 4 ARMv7's 32-bit one); level 2: the GiB holding hv-static; level 3: 4 KiB
/// pages for its image, from the 2 MiB block it starts in. `l2_addr` / `l3_addr` are where the CPU finds the
/// level-2 table and the first level-3 table (the rest follow, 4 KiB apart): EL2 runs identity-mapped.
pub struct HypMap<'a> {
    pub l1: &'a mut [u64],
    pub l2: &'a mut Table,
    pub l2_addr: u64,
    pub l3: &'a mut [Table],
    pub l3_addr: u64,
}

impl HypMap<'_> {
    /// Maps the GiBs holding `devices` (the MMIO windows hv-static itself drives, as `(base, size)`: its console,
    /// the GIC, the board's virtio transports...) as device memory, and nothing else of the board's MMIO space, so
    /// a stray pointer faults rather than reaching a device; RAM `[ram_base, ram_base + ram_size)` writable and never
    /// executable in 1 GiB and 2 MiB blocks, and hv-static's image page by page as `l` says (code read-only and
    /// executable, constants read-only, data writable, stack guards not at all). The same on both architectures:
    /// only the table sizes and the registers that point at them differ.
    ///
    /// `boot_dtb`, the board device tree's address from the boot loader (0: none), may lie anywhere in the board's
    /// RAM, which can be larger than the configuration uses (U-Boot puts it near the top of the real RAM): the GiB
    /// blocks holding `[boot_dtb, boot_dtb + 2 MiB)` (the boot protocols' largest device tree) are mapped too,
    /// read-only and never executable, where nothing else maps them.
    ///
    /// Devices may lie below RAM (QEMU virt) or above it (the Xilinx SoCs, the Raspberry Pi 4); a GiB holding both
    /// RAM and a device is mapped as RAM (the image builder refuses such a layout).
    pub fn fill(&mut self, l: &HypLayout, ram_base: u64, ram_size: u64, devices: &[(u64, u64)], boot_dtb: u64) {
        let hv_gib = l.text.0 / GIB;
        let l3_base = l.text.0 & !(BLOCK_2M - 1);
        let l3_end = l3_base + self.l3.len() as u64 * BLOCK_2M;
        for (t, table) in self.l3.iter_mut().enumerate() {
            for (i, e) in table.0.iter_mut().enumerate() {
                let pa = l3_base + t as u64 * BLOCK_2M + i as u64 * PAGE;
                *e = hyp_page_descriptor(pa, l.page(pa));
            }
        }
        for (i, e) in self.l2.0.iter_mut().enumerate() {
            let pa = hv_gib * GIB + i as u64 * BLOCK_2M;
            *e = if (l3_base..l3_end).contains(&pa) {
                (self.l3_addr + (pa - l3_base) / BLOCK_2M * PAGE) | desc::VALID | desc::TABLE_OR_PAGE
            } else {
                pa | desc::RAM_RW | desc::VALID
            };
        }
        let ram_start = ram_base / GIB;
        let ram_end = (ram_base + ram_size).div_ceil(GIB);
        let dtb = match boot_dtb {
            0 => 0..0,
            at => at / GIB..at.saturating_add(DTB_MAX).div_ceil(GIB),
        };
        for (i, e) in self.l1.iter_mut().enumerate() {
            let i = i as u64;
            *e = if i == hv_gib {
                self.l2_addr | desc::VALID | desc::TABLE_OR_PAGE
            } else if (ram_start..ram_end).contains(&i) {
                (i * GIB) | desc::RAM_RW | desc::VALID
            } else if devices
                .iter()
                .any(|&(base, size)| size > 0 && (base / GIB..=base.saturating_add(size - 1) / GIB).contains(&i))
            {
                (i * GIB) | desc::DEVICE | desc::VALID
            } else if dtb.contains(&i) {
                (i * GIB) | desc::RAM_RO | desc::VALID
            } else {
                0
            };
        }
    }
}

/// Long-descriptor (LPAE / VMSAv8-64) stage-1 attributes for the hypervisor's own map, which AArch64 EL2 and ARMv7
/// Hyp mode share: AttrIndx 1 (normal write-back, MAIR/HMAIR attribute 1), inner shareable, access flag, AP[1]
/// set (RES1 / should-be-one for a single-privilege regime), AP[2] for read-only, XN for never-executable.
pub mod desc {
    pub const VALID: u64 = 1 << 0;
    /// A table (levels 1, 2) or page (level 3) descriptor; clear in a block descriptor.
    pub const TABLE_OR_PAGE: u64 = 1 << 1;
    pub const ATTR_DEVICE: u64 = 0 << 2;
    pub const ATTR_NORMAL: u64 = 1 << 2;
    pub const AP_RW: u64 = 0b01 << 6;
    pub const AP_RO: u64 = 0b11 << 6;
    pub const SH_INNER: u64 = 0b11 << 8;
    pub const AF: u64 = 1 << 10;
    pub const XN: u64 = 1 << 54;
    /// Normal memory, writable, never executable: RAM blocks outside the hypervisor's image.
    pub const RAM_RW: u64 = ATTR_NORMAL | AP_RW | SH_INNER | AF | XN;
    /// Device memory, writable, never executable.
    pub const DEVICE: u64 = ATTR_DEVICE | AP_RW | AF | XN;
    /// Normal memory, read-only, never executable: the boot loader's device tree above the RAM the layout uses.
    pub const RAM_RO: u64 = ATTR_NORMAL | AP_RO | SH_INNER | AF | XN;
}

/// The level-3 descriptor mapping the 4 KiB page at `pa` as `kind`.
pub fn hyp_page_descriptor(pa: u64, kind: HypPage) -> u64 {
    use desc::*;
    let attrs = match kind {
        HypPage::Guard => return 0,
        HypPage::Text => ATTR_NORMAL | AP_RO | SH_INNER | AF,
        HypPage::ReadOnly => ATTR_NORMAL | AP_RO | SH_INNER | AF | XN,
        HypPage::ReadWrite => RAM_RW,
    };
    pa | attrs | VALID | TABLE_OR_PAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdcr_traps_debug_and_pmu_and_leaves_every_counter_to_el1() {
        let f = DebugFeatures { pmu_counters: 6, spe: false, trace_filter: false };
        let v = mdcr(f);
        assert_eq!(v & mdcr::HPMN_MASK, 6, "HPMN = N");
        for bit in [mdcr::TDA, mdcr::TDOSA, mdcr::TDRA, mdcr::TPM, mdcr::TPMCR] {
            assert_ne!(v & bit, 0, "{bit:#x} set");
        }
        for bit in [mdcr::TDE, mdcr::HPME, mdcr::TPMS, mdcr::TTRF, mdcr::E2PB_MASK] {
            assert_eq!(v & bit, 0, "{bit:#x} clear");
        }
        assert_eq!(v, 0xe66);
    }

    #[test]
    fn mdcr_traps_profiling_and_trace_filtering_only_where_they_exist() {
        let f = DebugFeatures { pmu_counters: 0, spe: true, trace_filter: true };
        let v = mdcr(f);
        assert_ne!(v & mdcr::TPMS, 0);
        assert_ne!(v & mdcr::TTRF, 0);
        assert_eq!(v & mdcr::E2PB_MASK, 0, "profiling buffer owned by EL2");
        // Cortex-A57 (QEMU): PMUv3 with 6 counters, no SPE, no TRF.
        let a57 = DebugFeatures::from_aa64dfr0(0x1010_5106, Some(0x4100_3000));
        assert_eq!(a57, DebugFeatures { pmu_counters: 6, spe: false, trace_filter: false });
        assert!(aa64_has_pmu(0x1010_5106));
        assert!(!aa64_has_pmu(0x0000_0006) && !aa64_has_pmu(0xf00));
        // SPE (PMSVer, bits [35:32]) and TRF (TraceFilt, bits [43:40]).
        let f = DebugFeatures::from_aa64dfr0(1 << 32 | 1 << 40, None);
        assert!(f.spe && f.trace_filter && f.pmu_counters == 0);
        // Cortex-A15's ID_DFR0 (PMUv2) has a PMU; PerfMon 0xF is not Arm's.
        assert!(aa32_has_pmu(0x0201_0555));
        assert!(!aa32_has_pmu(0x0f01_0555) && !aa32_has_pmu(0x0001_0555));
    }

    #[test]
    fn pmcr_keeps_identification_and_hides_every_counter() {
        // Cortex-A57: IMP 0x41, IDCODE 0x01, N = 6, E and C set by someone.
        let hw = 0x4101_3005;
        let g = guest_pmcr(hw);
        assert_eq!(g, 0x4101_0000);
        assert_eq!(pmcr_counters(g), 0);
        assert_eq!(pmcr_counters(hw), 6);
    }

    #[test]
    fn aarch64_debug_registers_read_as_zero_and_ignore_writes() {
        // MDSCR_EL1, DBGBVR0_EL1, DBGBCR5_EL1, DBGWVR3_EL1, DBGWCR15_EL1, OSLAR_EL1, OSDLR_EL1, DBGPRCR_EL1,
        // MDRAR_EL1, MDCCSR_EL0, DBGDTR_EL0, DBGCLAIMSET_EL1, DBGAUTHSTATUS_EL1.
        for (op0, op1, crn, crm, op2) in [
            (2, 0, 0, 2, 2),
            (2, 0, 0, 0, 4),
            (2, 0, 0, 5, 5),
            (2, 0, 0, 3, 6),
            (2, 0, 0, 15, 7),
            (2, 0, 1, 0, 4),
            (2, 0, 1, 3, 4),
            (2, 0, 1, 4, 4),
            (2, 0, 1, 0, 0),
            (2, 3, 0, 1, 0),
            (2, 3, 0, 4, 0),
            (2, 0, 7, 8, 6),
            (2, 0, 7, 14, 6),
        ] {
            assert_eq!(aarch64_access(op0, op1, crn, crm, op2), Access::Value(0), "{op0} {op1} {crn} {crm} {op2}");
        }
        assert_eq!(aarch64_access(2, 0, 1, 1, 4), Access::Value(GUEST_OSLSR), "OSLSR_EL1");
        // Trace unit registers (TRCPRGCTLR = S2_1_C0_C1_0) are not there.
        assert_eq!(aarch64_access(2, 1, 0, 1, 0), Access::Undefined);
    }

    #[test]
    fn aarch64_pmu_registers_are_emulated_and_timers_are_not_pmu() {
        assert_eq!(aarch64_access(3, 3, 9, 12, 0), Access::Pmcr, "PMCR_EL0");
        // PMCNTENSET, PMSELR, PMCEID0, PMCCNTR, PMXEVCNTR, PMUSERENR, PMOVSSET, PMINTENSET_EL1, PMMIR_EL1.
        for (op1, crm, op2) in [(3, 12, 1), (3, 12, 5), (3, 12, 6), (3, 13, 0), (3, 13, 2), (3, 14, 0), (3, 14, 3)] {
            assert_eq!(aarch64_access(3, op1, 9, crm, op2), Access::Value(0));
        }
        assert_eq!(aarch64_access(3, 0, 9, 14, 1), Access::Value(0));
        assert_eq!(aarch64_access(3, 0, 9, 14, 6), Access::Value(0));
        // PMEVCNTR0_EL0, PMEVTYPER30_EL0, PMCCFILTR_EL0.
        assert_eq!(aarch64_access(3, 3, 14, 8, 0), Access::Value(0));
        assert_eq!(aarch64_access(3, 3, 14, 15, 6), Access::Value(0));
        assert_eq!(aarch64_access(3, 3, 14, 15, 7), Access::Value(0));
        // CNTV_CTL_EL0 (S3_3_C14_C3_1) is not a PMU register.
        assert_eq!(aarch64_access(3, 3, 14, 3, 1), Access::Undefined);
        // Statistical profiling.
        assert_eq!(aarch64_access(3, 0, 9, 10, 7), Access::Value(GUEST_PMBIDR));
        assert_eq!(aarch64_access(3, 0, 9, 9, 0), Access::Value(0));
    }

    #[test]
    fn aarch64_actlr_and_implementation_defined_registers() {
        assert_eq!(aarch64_access(3, 0, 1, 0, 1), Access::Actlr);
        // Cortex-A57 CPUACTLR_EL1 (S3_1_C15_C2_0), L2CTLR_EL1 (S3_1_C11_C0_2): undefined.
        assert_eq!(aarch64_access(3, 1, 15, 2, 0), Access::Undefined);
        assert_eq!(aarch64_access(3, 1, 11, 0, 2), Access::Undefined);
        // SCTLR_EL1 would never trap; if it did, it is not emulated.
        assert_eq!(aarch64_access(3, 0, 1, 0, 0), Access::Undefined);
    }

    #[test]
    fn aarch32_registers() {
        assert_eq!(aarch32_access(15, 0, 1, 0, 1), Access::Actlr, "ACTLR");
        assert_eq!(aarch32_access(15, 0, 9, 12, 0), Access::Pmcr, "PMCR");
        assert_eq!(aarch32_access(15, 0, 9, 13, 0), Access::Value(0), "PMCCNTR");
        assert_eq!(aarch32_access(15, 0, 9, 14, 0), Access::Value(0), "PMUSERENR");
        // L2CTLR (c9, opc1 1, c0, 2), L2ECTLR (c9, 1, c0, 3), a TCM region (c9, 0, c1, 0), DMA (c11, 0, c0, 0),
        // cache lockdown (c10, 0, c0, 0), Cortex-A15 CBAR (c15, 4, c0, 0): undefined.
        for (opc1, crn, crm, opc2) in
            [(1, 9, 0, 2), (1, 9, 0, 3), (0, 9, 1, 0), (0, 11, 0, 0), (0, 10, 0, 0), (4, 15, 0, 0)]
        {
            assert_eq!(aarch32_access(15, opc1, crn, crm, opc2), Access::Undefined);
        }
        // PRRR/NMRR (c10, c2) and AMAIR (c10, c3) are not IMPLEMENTATION DEFINED; they never trap.
        assert_eq!(aarch32_access(15, 0, 10, 2, 0), Access::Undefined);
        // Debug: DBGDIDR, DBGDSCRint, DBGDSCRext, DBGBVR0, DBGBCR0, DBGOSLAR, DBGPRSR, DBGCLAIMSET.
        for (crn, crm, opc2) in [(0, 0, 0), (0, 1, 0), (0, 2, 2), (0, 0, 4), (0, 0, 5), (1, 0, 4), (1, 5, 4), (7, 8, 6)]
        {
            assert_eq!(aarch32_access(14, 0, crn, crm, opc2), Access::Value(0));
        }
        assert_eq!(aarch32_access(14, 0, 1, 1, 4), Access::Value(GUEST_OSLSR), "DBGOSLSR");
        // An ETM register through cp14 (opc1 1) and TEEHBR (opc1 6): undefined.
        assert_eq!(aarch32_access(14, 1, 0, 0, 0), Access::Undefined);
        assert_eq!(aarch32_access(14, 6, 1, 0, 0), Access::Undefined);
        // MRRC DBGDRAR / DBGDSAR.
        assert_eq!(aarch32_access64(14, 0, 1), Access::Value(0));
        assert_eq!(aarch32_access64(14, 0, 2), Access::Value(0));
        assert_eq!(aarch32_access64(15, 0, 2), Access::Undefined, "64-bit TTBR0 never traps");
    }

    #[test]
    fn coprocessor_syndromes_decode() {
        // mrc p15, 0, r3, c1, c0, 1 (ACTLR read), unconditional ARM: CV = 1, COND = 0xE; opc1 and CRm are 0.
        let iss = 1 << 24 | 0xe << 20 | 1 << 17 | 1 << 10 | 3 << 5 | 1;
        let a = CpAccess::decode(iss);
        assert_eq!(a, CpAccess { opc1: 0, crn: 1, crm: 0, opc2: 1, rt: 3, read: true });
        assert_eq!(syndrome_condition(iss), Some(0xe));
        // mcrne p15, 0, r10, c1, c0, 1.
        let iss = 1 << 24 | 0x1 << 20 | 1 << 17 | 1 << 10 | 10 << 5;
        assert_eq!(CpAccess::decode(iss).rt, 10);
        assert!(!CpAccess::decode(iss).read);
        assert_eq!(syndrome_condition(iss), Some(1));
        assert_eq!(syndrome_condition(iss & !(1 << 24)), None);
        // mrrc p14, 0, r0, r1, c1 (DBGDRAR).
        let iss = 1 << 24 | 0xe << 20 | 1 << 10 | 1 << 1 | 1;
        assert_eq!(CpAccess64::decode(iss), CpAccess64 { opc1: 0, crm: 1, rt: 0, rt2: 1, read: true });
    }

    #[test]
    fn conditions() {
        const N: u32 = 1 << 31;
        const Z: u32 = 1 << 30;
        const C: u32 = 1 << 29;
        const V: u32 = 1 << 28;
        assert!(condition_passed(0x0, Z) && !condition_passed(0x0, 0), "EQ");
        assert!(condition_passed(0x1, 0) && !condition_passed(0x1, Z), "NE");
        assert!(condition_passed(0x2, C) && condition_passed(0x3, 0), "CS/CC");
        assert!(condition_passed(0x4, N) && condition_passed(0x5, 0), "MI/PL");
        assert!(condition_passed(0x6, V) && condition_passed(0x7, 0), "VS/VC");
        assert!(condition_passed(0x8, C) && !condition_passed(0x8, C | Z) && condition_passed(0x9, C | Z), "HI/LS");
        assert!(condition_passed(0xa, N | V) && !condition_passed(0xa, N) && condition_passed(0xb, V), "GE/LT");
        assert!(condition_passed(0xc, 0) && !condition_passed(0xc, Z) && condition_passed(0xd, Z), "GT/LE");
        assert!(condition_passed(0xe, 0) && condition_passed(0xf, N | Z | C | V), "AL and unconditional");
    }

    fn with_it(it: u32) -> u32 {
        (it & 0x3) << 25 | (it >> 2) << 10 | 0x1d3
    }

    #[test]
    fn it_state_advances_like_the_cpu() {
        // `it ne` (one instruction): IT = 0x18; after it the block is over.
        assert_eq!(it_advance(with_it(0x18)), with_it(0));
        // `itt eq`: IT = 0x04 | (cond 0 << 4) ... firstcond EQ (0000), mask 0100 -> 0x04; then 0x08, then done.
        assert_eq!(it_advance(with_it(0x04)), with_it(0x08));
        assert_eq!(it_advance(with_it(0x08)), with_it(0));
        // `itete ne`: firstcond 0001, mask 0101 -> IT = 0x15; the second instruction runs under EQ (IT[7:4] 0000).
        assert_eq!(it_advance(with_it(0x15)), with_it(0x0a));
        // Outside any IT block nothing changes, whatever else CPSR holds.
        assert_eq!(it_advance(0xf000_01f3), 0xf000_01f3);
    }

    #[test]
    fn undefined_instruction_entry_on_armv7() {
        // From SVC, ARM state, in an IT block: Undefined mode, I masked, IT cleared; LR + 4.
        let (cpsr, lr) = aarch32_undef_entry(0x0600_0013 | 0x3f << 10, 0x00c5_0078);
        assert_eq!((cpsr, lr), (0x9b, 4));
        // From Thumb user mode, SCTLR.TE set (a Thumb-2 kernel): T stays set; LR + 2. A and F unchanged.
        let (cpsr, lr) = aarch32_undef_entry(0x0000_0130 | 1 << 6, 1 << 30);
        assert_eq!((cpsr & 0x1f, cpsr & 1 << 5 != 0, cpsr & 0x1c0, lr), (0x1b, true, 0x1c0, 2));
        // SCTLR.EE: big-endian exception entry.
        assert_ne!(aarch32_undef_entry(0x13, 1 << 25).0 & 1 << 9, 0);
    }

    #[test]
    fn aarch64_vector_offsets() {
        assert_eq!(aarch64_sync_vector(0x3c5), 0x200, "EL1h");
        assert_eq!(aarch64_sync_vector(0x3c4), 0x000, "EL1t");
        assert_eq!(aarch64_sync_vector(0x0), 0x400, "EL0 AArch64");
        assert_eq!(aarch64_sync_vector(0x10), 0x600, "EL0 AArch32 (user mode)");
        assert_eq!(aarch64_sync_vector(0x30), 0x600, "EL0 AArch32 Thumb");
    }

    #[test]
    fn aarch32_abort_entry_masks_a_and_i() {
        // From SVC mode with flags and IT bits, F clear: Abort mode, A and I set, F still clear, IT cleared.
        let cpsr = aarch32_abort_entry(0xf000_0013 | 0x3 << 25 | 0x3f << 10, 0x00c5_0078);
        assert_eq!(cpsr, 0xf000_0197);
        // F set stays set; Thumb kernel (TE) and big-endian exceptions (EE) set T and E.
        assert_eq!(aarch32_abort_entry(0x1d3, 1 << 30 | 1 << 25), 0x1d7 | 1 << 5 | 1 << 9);
        assert_eq!(aarch32_vector_base(0, 0x4008_0000), 0x4008_0000);
        assert_eq!(aarch32_vector_base(1 << 13, 0x4008_0000), 0xffff_0000);
    }

    #[test]
    fn aarch64_exception_pstate_follows_take_exception() {
        let none = Aa64EntryFeatures::default();
        let all = Aa64EntryFeatures { pan: true, ssbs: true, mte: true };
        const SPAN: u64 = 1 << 23;
        const DSSBS: u64 = 1 << 44;
        // EL1h, nothing masked, NZCV set, SS and UAO and BTYPE set: flags kept, the rest cleared, DAIF masked.
        let old = 0xf000_0005 | 1 << 21 | 1 << 23 | 0b11 << 10;
        assert_eq!(aarch64_exception_pstate(old, SPAN, none), 0xf000_03c5);
        // The previous inject_undef's constant is what a v8.0 CPU gives from a flagless EL1h.
        assert_eq!(aarch64_exception_pstate(0x5, SPAN, none), 0x3c5);
        // DIT kept (bit 24 in AArch64, bit 21 in an AArch32 SPSR).
        assert_eq!(aarch64_exception_pstate(0x5 | 1 << 24, SPAN, none), 0x3c5 | 1 << 24);
        assert_eq!(aarch64_exception_pstate(0x10 | 1 << 21, SPAN, none), 0x3c5 | 1 << 24);
        // PAN: set when SPAN is 0, kept when SPAN is 1, never without FEAT_PAN.
        assert_eq!(aarch64_exception_pstate(0x0, 0, all) & 1 << 22, 1 << 22);
        assert_eq!(aarch64_exception_pstate(0x0, SPAN, all) & 1 << 22, 0);
        assert_eq!(aarch64_exception_pstate(1 << 22, SPAN, all) & 1 << 22, 1 << 22);
        assert_eq!(aarch64_exception_pstate(0x0, 0, none) & 1 << 22, 0);
        // SSBS from DSSBS; TCO with MTE.
        assert_eq!(aarch64_exception_pstate(0x0, SPAN | DSSBS, all), 0x3c5 | 1 << 12 | 1 << 25);
        assert_eq!(aarch64_exception_pstate(1 << 12, SPAN, all), 0x3c5 | 1 << 25);
        let f = Aa64EntryFeatures::from_id_regs(1 << 20, 2 << 8 | 1 << 4);
        assert_eq!(f, all);
        assert_eq!(Aa64EntryFeatures::from_id_regs(0, 0), none);
    }

    #[test]
    fn gicv3_active_priority_registers_follow_prebits() {
        // PREbits 5 (field 4): one register each; 6: two; 7: four (QEMU's GICv3 has PREbits 5, field 4).
        assert_eq!(gicv3_apr_count(4 << 26 | 4 << 29 | 3), 1);
        assert_eq!(gicv3_apr_count(5 << 26), 2);
        assert_eq!(gicv3_apr_count(6 << 26), 4);
        assert_eq!(gicv3_apr_count(7 << 26), 4, "reserved, clamped to the architectural maximum");
        assert_eq!(gicv3_apr_count(0), 1);
    }

    #[test]
    fn branch_predictors_are_invalidated_only_when_the_partition_changes() {
        assert!(!branch_predictor_switch(0, 1), "first entry after boot");
        assert!(!branch_predictor_switch(1, 1), "same partition again (pinned, or back after an idle slot)");
        assert!(branch_predictor_switch(1, 2));
        assert!(shares_cpu([Some(0), None, Some(1)]));
        assert!(!shares_cpu([Some(0), None, Some(0)]), "one partition's vCPUs and idle");
        assert!(!shares_cpu([None, None]));
    }

    /// A fake firmware: `answers` maps function IDs to results; anything else is NOT_SUPPORTED.
    fn firmware(answers: &[(u32, i64)]) -> impl FnMut(u32, u32) -> i64 + '_ {
        move |f, _| answers.iter().find(|(id, _)| *id == f).map_or(-1, |(_, r)| *r)
    }

    #[test]
    fn branch_predictor_discovery_asks_only_what_smccc_allows() {
        use smccc::*;
        assert_eq!(branch_predictor(true, |_, _| unreachable!("CSV2 needs no firmware")), BranchPredictor::Unaffected);
        // QEMU: PSCI 1.1, but PSCI_FEATURES(SMCCC_VERSION) is NOT_SUPPORTED.
        assert_eq!(branch_predictor(false, firmware(&[(PSCI_VERSION, 0x1_0001)])), BranchPredictor::Unmitigated);
        // PSCI 0.2: SMCCC_VERSION may not be asked.
        let old = [(PSCI_VERSION, 0x2), (PSCI_FEATURES, 0), (SMCCC_VERSION, 0x1_0001), (ARCH_FEATURES, 0)];
        assert_eq!(branch_predictor(false, firmware(&old)), BranchPredictor::Unmitigated);
        // TF-A on Cortex-A57: SMCCC 1.1, workaround implemented.
        let tfa = [(PSCI_VERSION, 0x1_0001), (PSCI_FEATURES, 0), (SMCCC_VERSION, 0x1_0001), (ARCH_FEATURES, 0)];
        assert_eq!(branch_predictor(false, firmware(&tfa)), BranchPredictor::FirmwareWorkaround);
        // ... on Cortex-A53: not affected.
        let a53 = [(PSCI_VERSION, 0x1_0001), (PSCI_FEATURES, 0), (SMCCC_VERSION, 0x1_0002), (ARCH_FEATURES, 1)];
        assert_eq!(branch_predictor(false, firmware(&a53)), BranchPredictor::Unaffected);
        // SMCCC 1.0: ARCH_FEATURES does not exist.
        let v10 = [(PSCI_VERSION, 0x1_0000), (PSCI_FEATURES, 0), (SMCCC_VERSION, 0x1_0000), (ARCH_FEATURES, 0)];
        assert_eq!(branch_predictor(false, firmware(&v10)), BranchPredictor::Unmitigated);
        assert!(aa64_has_csv2(1 << 56) && !aa64_has_csv2(0x0000_0000_0000_2222));
    }

    fn layout() -> HypLayout {
        HypLayout {
            text: (0x4020_0000, 0x4020_a000),
            rodata: (0x4020_a000, 0x4020_c000),
            rw: (0x4020_c000, 0x4022_0000),
            stacks: 0x4020_e000,
            stack_size: 0x4000,
            count: 2,
        }
    }

    #[test]
    fn hypervisor_pages_are_write_xor_execute_with_stack_guards() {
        let l = layout();
        assert_eq!(l.page(0x4020_0000), HypPage::Text);
        assert_eq!(l.page(0x4020_9fff), HypPage::Text);
        assert_eq!(l.page(0x4020_a000), HypPage::ReadOnly);
        assert_eq!(l.page(0x4020_c000), HypPage::ReadWrite);
        // CPU 0's stack: guard at 0x4020_e000, usable from 0x4020_f000 to 0x4021_2000; CPU 1's guard right above.
        assert_eq!(l.page(0x4020_e000), HypPage::Guard);
        assert_eq!(l.page(0x4020_efff), HypPage::Guard);
        assert_eq!(l.page(0x4020_f000), HypPage::ReadWrite);
        assert_eq!(l.page(0x4021_2000), HypPage::Guard);
        assert_eq!(l.page(0x4021_3000), HypPage::ReadWrite);
        assert!(!l.is_guard(0x4021_6000), "no third CPU");
        // Payload and partition RAM after the image.
        assert_eq!(l.page(0x4040_0000), HypPage::ReadWrite);
        assert_eq!(l.page(0x4000_0000), HypPage::ReadWrite);
    }

    #[test]
    fn no_page_is_both_writable_and_executable() {
        let l = layout();
        for page in (0x4020_0000..0x4022_0000u64).step_by(PAGE as usize) {
            let d = hyp_page_descriptor(page, l.page(page));
            if d & desc::VALID == 0 {
                continue;
            }
            let writable = d & desc::AP_RO == desc::AP_RW;
            let executable = d & desc::XN == 0;
            assert!(!(writable && executable), "page {page:#x}: {d:#x}");
            assert_eq!(d & 0xffff_ffff_f000, page, "output address");
            assert_eq!(d & 0b11, 0b11, "a page descriptor");
        }
        assert_eq!(hyp_page_descriptor(0x4020_e000, HypPage::Guard), 0);
        assert_eq!(desc::RAM_RW & desc::XN, desc::XN);
    }

    /// hv-static at 0x4020_0000 with two CPUs' stacks, as the map tests lay it out.
    const HYP_LAYOUT: HypLayout = HypLayout {
        text: (0x4020_0000, 0x4021_0000),
        rodata: (0x4021_0000, 0x4021_4000),
        rw: (0x4021_4000, 0x4030_0000),
        stacks: 0x4022_0000,
        stack_size: 0x5000,
        count: 2,
    };

    /// QEMU virt's GIC and UART, below its RAM.
    const VIRT_DEVICES: &[(u64, u64)] = &[(0x0800_0000, 0x1_0000), (0x0900_0000, 0x1000)];

    #[test]
    fn the_hypervisor_map_is_w_xor_x_with_guards() {
        let l = HYP_LAYOUT;
        let (mut l1, mut l2, mut l3) = ([0u64; 4], Table::EMPTY, [Table::EMPTY, Table::EMPTY]);
        HypMap { l1: &mut l1, l2: &mut l2, l2_addr: 0x9000, l3: &mut l3, l3_addr: 0xa000 }.fill(
            &l,
            0x4000_0000,
            1 << 30,
            VIRT_DEVICES,
            0x4800_0000,
        );
        let (l2, l3) = (l2.0, [l3[0].0, l3[1].0]);
        assert_eq!(l1[0], desc::DEVICE | desc::VALID, "devices below RAM");
        assert_eq!(l1[1], 0x9000 | desc::VALID | desc::TABLE_OR_PAGE, "the GiB of hv-static goes through level 2");
        assert_eq!((l1[2], l1[3]), (0, 0), "nothing above RAM");
        assert_eq!(l2[1], 0xa000 | desc::VALID | desc::TABLE_OR_PAGE, "its 2 MiB block through level 3");
        assert_eq!(l2[2], 0xb000 | desc::VALID | desc::TABLE_OR_PAGE);
        assert_eq!(l2[0], 0x4000_0000 | desc::RAM_RW | desc::VALID);
        let page = |pa: u64| l3[((pa - 0x4020_0000) / (2 << 20)) as usize][((pa >> 12) & 511) as usize];
        assert_eq!(page(0x4020_0000) & (desc::XN | desc::AP_RO), desc::AP_RO, "text: read-only, executable");
        assert_eq!(page(0x4021_0000) & (desc::XN | desc::AP_RO), desc::XN | desc::AP_RO, "rodata");
        assert_eq!(page(0x4022_0000), 0, "CPU 0's stack guard");
        assert_eq!(page(0x4022_5000), 0, "CPU 1's stack guard");
        assert_eq!(page(0x4022_1000) & desc::XN, desc::XN, "stacks never executable");
        for t in l3.iter().flatten().filter(|e| **e != 0) {
            assert!(t & desc::XN != 0 || t & desc::AP_RO == desc::AP_RO, "W^X: {t:#x}");
        }
    }

    /// A device tree the boot loader put above the RAM the layout uses (U-Boot on a board with more RAM than the
    /// config): its GiB is mapped read-only and never executable, and the one after too when the tree may reach
    /// into it; nothing else changes.
    #[test]
    fn a_boot_device_tree_above_the_configured_ram_is_mapped_read_only() {
        let l = HYP_LAYOUT;
        let fill = |dtb: u64| {
            let (mut l1, mut l2, mut l3) = ([0u64; 4], Table::EMPTY, [Table::EMPTY, Table::EMPTY]);
            HypMap { l1: &mut l1, l2: &mut l2, l2_addr: 0x9000, l3: &mut l3, l3_addr: 0xa000 }.fill(
                &l,
                0x4000_0000,
                1 << 30,
                VIRT_DEVICES,
                dtb,
            );
            l1
        };
        assert_eq!(fill(0)[2..], [0, 0], "no device tree, nothing above RAM");
        assert_eq!(fill(0xbdca_b000)[2..], [0x8000_0000 | desc::RAM_RO | desc::VALID, 0]);
        assert_eq!(
            fill(0xbff0_0000)[2..],
            [0x8000_0000 | desc::RAM_RO | desc::VALID, 0xc000_0000 | desc::RAM_RO | desc::VALID]
        );
        assert_eq!(fill(0x4800_0000), fill(0), "inside the configured RAM: mapped already");
        assert_eq!(fill(0xffff_f000)[3], 0xc000_0000 | desc::RAM_RO | desc::VALID, "the top of a 32-bit space");
        assert_eq!(desc::RAM_RO & (desc::AP_RO | desc::XN), desc::AP_RO | desc::XN);
    }

    /// RAM from 0 and the devices in the fourth GiB (the Xilinx SoCs): only the GiBs holding a device hv-static
    /// drives are device memory; a window straddling a GiB boundary maps both.
    #[test]
    fn devices_above_ram_are_mapped_and_nothing_else() {
        let l = HypLayout {
            text: (0x20_0000, 0x21_0000),
            rodata: (0x21_0000, 0x21_4000),
            rw: (0x21_4000, 0x30_0000),
            stacks: 0x22_0000,
            ..HYP_LAYOUT
        };
        let fill = |devices: &[(u64, u64)]| {
            let (mut l1, mut l2, mut l3) = ([0u64; 8], Table::EMPTY, [Table::EMPTY, Table::EMPTY]);
            HypMap { l1: &mut l1, l2: &mut l2, l2_addr: 0x9000, l3: &mut l3, l3_addr: 0xa000 }.fill(
                &l,
                0,
                2 << 30,
                devices,
                0,
            );
            l1
        };
        let l1 = fill(&[(0xF900_0000, 0x10_0000), (0xFF00_0000, 0x1000)]);
        assert_eq!(l1[0], 0x9000 | desc::VALID | desc::TABLE_OR_PAGE, "hv-static's GiB");
        assert_eq!(l1[1], (1 << 30) | desc::RAM_RW | desc::VALID);
        assert_eq!((l1[2], l1[3]), (0, (3 << 30) | desc::DEVICE | desc::VALID));
        assert!(l1[4..].iter().all(|&e| e == 0), "nothing else");
        let l1 = fill(&[(0x1_3FFF_F000, 0x2000), (0x2_0000_0000, 0)]);
        assert_eq!((l1[4], l1[5]), ((4 << 30) | desc::DEVICE | desc::VALID, (5 << 30) | desc::DEVICE | desc::VALID));
        assert_eq!((l1[3], l1[6], l1[7]), (0, 0, 0), "an empty window maps nothing");
    }
}
