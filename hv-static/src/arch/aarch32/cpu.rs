//! Small per-CPU operations on ARMv7-A: identity, sleeping, barriers, cache maintenance, and the Hyp controls
//! that make PL1 a partition (stage 2, traps, debug and PMU, branch predictors).

use core::arch::asm;
use core::sync::atomic::{compiler_fence, AtomicU16, Ordering};

use aarch32_cpu::register::hyp::hcr::Bsu;
use aarch32_cpu::register::{
    CntVoff, Cnthctl, Dccmvac, Hcptr, Hcr, Hstr, Htpidr, IdDfr0, Midr, Mpidr, SysRegWrite, SysRegWrite64, Vmpidr, Vpidr,
};

use super::regs::{Vtcr, Vttbr};
use crate::config::{NUM_CPUS, NUM_PARTITIONS, SYSTEM};
use crate::hwstate::{self, DebugFeatures};

// VTTBR carries an 8-bit VMID, and partition `p` runs with VMID p + 1.
const _: () = assert!(NUM_PARTITIONS < 256, "one 8-bit VMID per partition, 0 unused");

/// Logical index of this CPU (set once at boot in HTPIDR).
#[inline]
pub fn id() -> usize {
    Htpidr::read().0 as usize
}

pub fn mpidr() -> u64 {
    (Mpidr::read().0 & 0xff_ffff) as u64
}

/// HCR bits aarch32-cpu's `Hcr` has no field for: TSC (19), a partition's SMC traps; TIDCP (20), so do its
/// accesses to the IMPLEMENTATION DEFINED lockdown, DMA and TCM registers (c9-c11); TAC (21), so do its ACTLR
/// accesses.
const HCR_TSC: u32 = 1 << 19;
const HCR_TIDCP: u32 = 1 << 20;
const HCR_TAC: u32 = 1 << 21;
/// HSTR.T15: PL1/PL0 accesses to CP15 c15 (all IMPLEMENTATION DEFINED: on Cortex-A15 the cache and TLB RAM debug
/// access, the configuration base address) trap.
const HSTR_T15: u32 = 1 << 15;
/// HCPTR: TCP0-TCP9, TCP12 and TCP13 are RES1 (VFP and Advanced SIMD, CP10/CP11, stay the partition's); TTA (20)
/// traps PL1/PL0 accesses to CP14 trace registers, the trace unit being shared by every partition of the CPU.
const HCPTR_VALUE: u32 = 0x33ff | 1 << 20;

/// ACTLR bits of the Cortex-A7, A12, A15 and A17: SMP (6), taking part in coherency, which partitions used to set
/// themselves and now cannot (HCR.TAC); IBE on A15 (0), without which BPIALL and ICIALLU leave its branch target
/// buffer alone, writable by the Secure state only.
const ACTLR_SMP: u32 = 1 << 6;
const ACTLR_A15_IBE: u32 = 1 << 0;
const MIDR_PART_A15: u32 = 0xc0f;
fn midr_part() -> u32 {
    (Midr::read().raw_value() >> 4) & 0xfff
}

/// Per-CPU Hyp setup common to every CPU (after `exception::install_vectors`): identity and the controls every
/// partition runs under.
pub fn init_el2(cpu: usize) {
    // SAFETY: HTPIDR is the hypervisor's own; nothing reads it before this.
    unsafe { Htpidr::write(Htpidr(cpu as u32)) };
    // Stage 2 on (VM); set/way invalidation upgraded to clean and invalidate (SWIO); physical FIQ, IRQ and
    // asynchronous aborts to Hyp mode (FMO, IMO, AMO); maintenance broadcast (FB); barriers at least inner
    // shareable (BSU); SMC, ACTLR and IMPLEMENTATION DEFINED registers trapped (TSC, TAC, TIDCP). TSW stays
    // clear, see docs/architecture.md, "Containment".
    Hcr::write(
        Hcr::new_with_raw_value(HCR_TSC | HCR_TAC | HCR_TIDCP)
            .with_vm(true)
            .with_swio(true)
            .with_fmo(true)
            .with_imo(true)
            .with_amo(true)
            .with_fb(true)
            .with_bsu(Bsu::InnerShareable),
    );
    // Stage 2: 32-bit guest-physical space (T0SZ = 0) starting at level 1, walks write-back inner shareable.
    // SAFETY: stage 2 translates only the partitions' accesses, and none runs before its VTTBR is loaded.
    unsafe { Vtcr::write_raw(1 << 31 | 0b11 << 12 | 0b01 << 10 | 0b01 << 8 | 0b01 << 6) };
    Hcptr::write(Hcptr::new_with_raw_value(HCPTR_VALUE));
    // SAFETY: only CP15 c15 traps (IMPLEMENTATION DEFINED); only the partitions' accesses are affected.
    unsafe { Hstr::write(Hstr(HSTR_T15)) };
    // Counter readable at PL1; the PL1 physical timer traps (partitions use the virtual timer).
    Cnthctl::write(Cnthctl::new_with_raw_value(0).with_pl1pcten(true));
    CntVoff::write(CntVoff(0));
    // SAFETY: partitions read the real MIDR.
    unsafe { Vpidr::write(Vpidr(Midr::read().raw_value())) };
    init_actlr(cpu);
    init_debug_and_pmu();
    // SAFETY: TLBIALLNSNH, this CPU only: drops every PL1&0 translation it may hold from before hv-static, of any
    // VMID. From here on a partition's entries carry its own VMID and its stage-2 tables never change, so no switch
    // between partitions needs TLB maintenance (see `load_stage2`).
    unsafe { asm!("dsb", "mcr p15, 4, {0}, c8, c7, 4", "dsb", in(reg) 0u32, options(nostack)) };
    isb();
}

/// Partitions can no longer set ACTLR.SMP themselves: hv-static sets it (harmless where the boot loader did, and
/// ignored where NSACR.NS_SMP does not let the Non-secure state write it). A CPU of a cyclic pool that runs several
/// partitions on a Cortex-A15 says so when ACTLR.IBE is clear: its branch predictors cannot be invalidated.
fn init_actlr(cpu: usize) {
    let part = midr_part();
    if !matches!(part, 0xc07 | 0xc0d | 0xc0e | MIDR_PART_A15) {
        return;
    }
    let actlr = actlr();
    if actlr & ACTLR_SMP == 0 {
        // SAFETY: ACTLR.SMP only makes this CPU take part in coherency, as every CPU running hv-static must.
        unsafe { asm!("mcr p15, 0, {}, c1, c0, 1", "isb", in(reg) actlr | ACTLR_SMP, options(nostack)) };
    }
    if part == MIDR_PART_A15 && actlr & ACTLR_A15_IBE == 0 && shares_partitions(cpu) {
        crate::hvprintln!(
            "note: CPU {cpu} switches partitions but cannot invalidate its branch predictors (Cortex-A15 with \
             ACTLR.IBE clear: Secure firmware must set it)"
        );
    }
}

/// The CPU's ACTLR (partitions read it too: `sysreg`).
pub fn actlr() -> u32 {
    let v: u32;
    // SAFETY: reading ACTLR has no side effect.
    unsafe { asm!("mrc p15, 0, {}, c1, c0, 1", out(reg) v, options(nomem, nostack)) };
    v
}

/// Debug and PMU state (see `hwstate`): every PL1/PL0 access traps and is emulated as absent; the hardware is left
/// with debug events off for PL1/PL0 and every counter stopped.
fn init_debug_and_pmu() {
    let dfr0 = IdDfr0::read().0;
    let pmcr = hwstate::aa32_has_pmu(dfr0).then(|| {
        let pmcr = pmcr();
        // SAFETY: stops every counter (PMCR.E = 0), resets them (P, C), disables them (PMCNTENCLR) and their
        // overflow interrupts (PMINTENCLR), clears their overflow flags (PMOVSR) and PL0 access (PMUSERENR). Only
        // Hyp mode reaches the PMU from now on, and it counts nothing.
        unsafe {
            asm!(
                "mcr p15, 0, {reset}, c9, c12, 0",
                "mcr p15, 0, {all}, c9, c12, 2",
                "mcr p15, 0, {all}, c9, c14, 2",
                "mcr p15, 0, {all}, c9, c12, 3",
                "mcr p15, 0, {zero}, c9, c14, 0",
                reset = in(reg) 0b110u32, all = in(reg) u32::MAX, zero = in(reg) 0u32, options(nomem, nostack)
            )
        };
        pmcr as u64
    });
    let hdcr =
        hwstate::mdcr(DebugFeatures { pmu_counters: pmcr.map_or(0, hwstate::pmcr_counters), ..Default::default() });
    // SAFETY: HDCR only decides which PL1/PL0 debug and PMU accesses trap to Hyp mode.
    unsafe { asm!("mcr p15, 4, {}, c1, c1, 1", in(reg) hdcr as u32, options(nomem, nostack)) };
    // v7.1 debug (ID_DFR0.CopDbg >= 5): DBGDSCRext with monitor debug mode (MDBGen) off and PL0 DCC access disabled.
    if dfr0 & 0xf >= 5 {
        // SAFETY: turns PL1/PL0 debug events off; Hyp mode is not affected.
        unsafe {
            asm!("mcr p14, 0, {}, c0, c2, 2", in(reg) hwstate::DEBUG_CONTROL_OFF as u32, options(nomem, nostack))
        };
    }
    isb();
}

/// The CPU's PMCR (a partition reads `hwstate::guest_pmcr` of it).
pub fn pmcr() -> u32 {
    let v: u32;
    // SAFETY: reading PMCR has no side effect; callers know the PMU exists.
    unsafe { asm!("mrc p15, 0, {}, c9, c12, 0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Per CPU: the VMID of the partition it last ran (0: none yet), to see when the CPU changes hands.
static LAST_VMID: [AtomicU16; NUM_CPUS] = [const { AtomicU16::new(0) }; NUM_CPUS];

/// Whether `cpu` is in a cyclic pool whose table gives it to more than one partition.
pub fn shares_partitions(cpu: usize) -> bool {
    SYSTEM.cpus[cpu].schedule.is_some_and(|s| hwstate::shares_cpu(s.slots.iter().map(|slot| slot.vcpu.map(|(p, _)| p))))
}

/// Points stage 2 at a partition's tables and tells the vCPU who it is. When the CPU changes hands (it last ran
/// another partition), its branch predictors are invalidated first: BPIALL, and ICIALLU, which is what
/// invalidates the branch target buffer on a Cortex-A15 (given ACTLR.IBE; see `init_actlr`).
///
/// No TLB maintenance: each partition has its own VMID for its whole life, and its stage-2 tables are written once,
/// at boot, before any partition runs. Entries of the outgoing partition are tagged with its VMID and cannot hit
/// for the incoming one; a vCPU that starts afresh drops its partition's old entries (`flush_guest_tlb`).
pub fn load_stage2(root: u64, vmid: u16, vcpu_mpidr: u64) {
    // SAFETY: `root` is the partition's complete stage-2 table; stage 2 and VMPIDR affect only the partition.
    unsafe {
        Vttbr::write_raw(((vmid as u64) & 0xff) << 48 | root);
        Vmpidr::write(Vmpidr(vcpu_mpidr as u32));
    }
    let last = LAST_VMID[id()].swap(vmid, Ordering::Relaxed);
    if hwstate::branch_predictor_switch(last, vmid) {
        // SAFETY: ICIALLU and BPIALL on this CPU only: instruction cache and branch predictors, no data.
        unsafe {
            asm!("mcr p15, 0, {0}, c7, c5, 0", "mcr p15, 0, {0}, c7, c5, 6", "dsb", in(reg) 0u32, options(nostack))
        };
    }
    isb();
}

/// Drops this CPU's TLB entries (stage 1 and 2) of the partition whose stage 2 is loaded: TLBIALL in Hyp mode acts
/// on the current VMID. A vCPU that is powered on (partition start or restart, PSCI CPU_ON) so finds nothing of its
/// partition's previous run, as a CPU out of reset would.
pub fn flush_guest_tlb() {
    // SAFETY: TLB maintenance for the current VMID on this CPU only; no mapping changes.
    unsafe { asm!("dsb", "mcr p15, 0, {0}, c8, c7, 0", "dsb", "isb", in(reg) 0u32, options(nostack)) };
}

pub fn isb() {
    aarch32_cpu::asm::isb();
}

pub fn dsb() {
    aarch32_cpu::asm::dsb();
}

/// Sleeps until an interrupt is pending (Hyp runs with IRQs masked and polls the GIC after).
pub fn wfi() {
    aarch32_cpu::asm::dsb();
    aarch32_cpu::asm::wfi();
}

/// HCPTR.TCP10 and TCP11 (always set together): VFP and Advanced SIMD instructions trap to Hyp mode; in Hyp mode
/// itself they are undefined.
const HCPTR_TCP10_11: u32 = 0b11 << 10;

/// Whether VFP/Advanced SIMD instructions trap (HCPTR.TCP10/11): on while this CPU's VFP registers hold another
/// vCPU's state than the one running (lazy FP switching, `run::fp_access`). Synchronised here, so that Hyp mode
/// may save and load the registers right after turning the trap off.
pub fn trap_fp(on: bool) {
    Hcptr::write(Hcptr::new_with_raw_value(if on { HCPTR_VALUE | HCPTR_TCP10_11 } else { HCPTR_VALUE }));
    isb();
}

/// Whether the running partition's WFI traps to Hyp mode (HCR.TWI), set on every vCPU entry.
pub fn trap_wfi(on: bool) {
    Hcr::write(Hcr::read().with_twi(on));
}

pub fn wfe() {
    aarch32_cpu::asm::wfe();
}

pub fn sev() {
    aarch32_cpu::asm::dsb();
    aarch32_cpu::asm::sev();
}

/// Copies `len` bytes from `src` to `dst` 32 bytes per iteration with load/store-multiple when both are 4-byte
/// aligned (LDM/STM always need that): virtio data (whole sectors and frames in guest RAM) and the partitions' boot
/// images are the bulk copies, which the target's `memcpy` moves a word or a byte at a time. The tail below 32
/// bytes, and unaligned copies, go through `copy_nonoverlapping`.
///
/// # Safety
/// `src..src + len` must be readable and `dst..dst + len` writable, mapped as normal memory, and not overlapping.
#[inline]
pub unsafe fn copy_bulk(dst: *mut u8, src: *const u8, len: usize) {
    let bulk = if (src as usize | dst as usize) & 3 == 0 { len & !31 } else { 0 };
    if bulk != 0 {
        // SAFETY: the caller's contract covers the `bulk` bytes read and written, both word-aligned; the loop
        // advances both pointers by 32 until `bulk` is used up (a non-zero multiple of 32), touching nothing else.
        // r2-r5 are named because a register list must be in ascending order.
        unsafe {
            asm!(
                "2:",
                "ldm {s}!, {{r2, r3, r4, r5}}",
                "stm {t}!, {{r2, r3, r4, r5}}",
                "ldm {s}!, {{r2, r3, r4, r5}}",
                "stm {t}!, {{r2, r3, r4, r5}}",
                "subs {n}, {n}, #32",
                "bne 2b",
                s = inout(reg) src => _, t = inout(reg) dst => _, n = inout(reg) bulk => _,
                out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                options(nostack)
            );
        }
    }
    // SAFETY: the remaining `len - bulk` bytes lie within the caller's ranges.
    unsafe { core::ptr::copy_nonoverlapping(src.add(bulk), dst.add(bulk), len - bulk) };
}

/// Zeroes `len` bytes at `dst`, 32 bytes per iteration with store-multiple when `dst` is 4-byte aligned: a
/// restarting partition's RAM is zeroed in steps (`core::restart`) that must each stay far shorter than a window
/// switch, and the target's `memset` stores a word at a time. The tail below 32 bytes, and unaligned ranges, go
/// through `write_bytes`.
///
/// # Safety
/// `dst..dst + len` must be writable and mapped as normal memory.
#[inline]
pub unsafe fn zero_bulk(dst: *mut u8, len: usize) {
    let bulk = if dst as usize & 3 == 0 { len & !31 } else { 0 };
    if bulk != 0 {
        // SAFETY: the caller's contract covers the `bulk` bytes written, word-aligned; the loop advances the
        // pointer by 32 until `bulk` is used up (a non-zero multiple of 32), touching nothing else. r2-r5 are named
        // because a register list must be in ascending order.
        unsafe {
            asm!(
                "mov r2, #0",
                "mov r3, #0",
                "mov r4, #0",
                "mov r5, #0",
                "2:",
                "stm {t}!, {{r2, r3, r4, r5}}",
                "stm {t}!, {{r2, r3, r4, r5}}",
                "subs {n}, {n}, #32",
                "bne 2b",
                t = inout(reg) dst => _, n = inout(reg) bulk => _,
                out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                options(nostack)
            );
        }
    }
    // SAFETY: the remaining `len - bulk` bytes lie within the caller's range.
    unsafe { core::ptr::write_bytes(dst.add(bulk), 0, len - bulk) };
}

/// Cleans data cache lines covering `[start, start + len)` to the point of coherency (DCCMVAC), so a partition
/// that starts with its MMU and caches off sees what the hypervisor copied.
pub fn clean_dcache(start: u64, len: u64) {
    const LINE: u64 = 64;
    // The crate's DCCMVAC write does not count as a memory access: keep the caller's stores ahead of it.
    compiler_fence(Ordering::SeqCst);
    let mut a = start & !(LINE - 1);
    while a < start + len {
        // SAFETY: cache maintenance by address on memory the hypervisor maps; no data changes.
        unsafe { Dccmvac::write(Dccmvac::new(a as u32)) };
        a += LINE;
    }
    dsb();
}

/// Invalidates the instruction caches and branch predictors, inner shareable (a partition was (re)loaded).
pub fn invalidate_icache() {
    // SAFETY: cache maintenance only (ICIALLUIS, BPIALLIS).
    unsafe {
        asm!("mcr p15, 0, {0}, c7, c1, 0", "mcr p15, 0, {0}, c7, c1, 6", "dsb", "isb", in(reg) 0u32,
        options(nostack))
    };
}

/// ARMv7 has no GICv3 system-register interface.
pub fn has_gicv3_sysregs() -> bool {
    false
}
