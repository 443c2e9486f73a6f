//! Small per-CPU operations: identity, sleeping, barriers, cache maintenance, and the EL2 controls that make
//! EL1 a partition (stage-2 on, traps, timer access, identity registers, debug and PMU, branch predictors).

use aarch64_cpu::registers::{
    ReadWriteable, Readable, Writeable, CNTHCTL_EL2, CNTVOFF_EL2, CPTR_EL2, HCR_EL2, ID_AA64DFR0_EL1, ID_AA64PFR0_EL1,
    MIDR_EL1, MPIDR_EL1, TPIDR_EL2, VMPIDR_EL2, VTCR_EL2, VTTBR_EL2,
};
use core::arch::asm;
use core::sync::atomic::{AtomicU16, AtomicU8, Ordering};

use super::firmware;
use crate::config::{CpuStart, NUM_CPUS, NUM_PARTITIONS, SYSTEM};
use crate::hwstate::{self, BranchPredictor, DebugFeatures};

// VTTBR_EL2 carries an 8-bit VMID (VTCR_EL2.VS = 0), and partition `p` runs with VMID p + 1.
const _: () = assert!(NUM_PARTITIONS < 256, "one 8-bit VMID per partition, 0 unused");

/// Logical index of this CPU (set once at boot in TPIDR_EL2).
#[inline]
pub fn id() -> usize {
    TPIDR_EL2.get() as usize
}

pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & 0xff_00ff_ffff
}

/// Per-CPU EL2 setup common to every CPU (after `exception::install_vectors`): identity and the controls every
/// partition runs under.
pub fn init_el2(cpu: usize) {
    TPIDR_EL2.set(cpu as u64);
    // TACR: ACTLR_EL1 accesses trap (reads see the CPU's value, writes are ignored: `sysreg`); TIDCP: so do the
    // IMPLEMENTATION DEFINED registers (S3_*_C11_*, S3_*_C15_*), which become undefined. TSW stays clear, see
    // docs/architecture.md, "Containment": SWIO already makes a partition's set/way invalidation clean first.
    HCR_EL2.write(
        HCR_EL2::RW::EL1IsAarch64
            + HCR_EL2::TACR::SET
            + HCR_EL2::TIDCP::SET
            + HCR_EL2::TSC::EnableTrapEl1SmcToEl2
            + HCR_EL2::AMO::SET
            + HCR_EL2::IMO::EnableVirtualIRQ
            + HCR_EL2::FMO::EnableVirtualFIQ
            + HCR_EL2::FB::SET
            + HCR_EL2::BSU::InnerShareable
            + HCR_EL2::SWIO::SET
            + HCR_EL2::VM::Enable,
    );
    // 39-bit guest-physical space starting at level 1, 4 KiB granule, 40-bit output, walks cacheable.
    VTCR_EL2.write(
        VTCR_EL2::T0SZ.val(25)
            + VTCR_EL2::SL0.val(1)
            + VTCR_EL2::IRGN0::NormalWBRAWA
            + VTCR_EL2::ORGN0::NormalWBRAWA
            + VTCR_EL2::SH0::Inner
            + VTCR_EL2::TG0::Granule4KB
            + VTCR_EL2::PS::PA_40B_1TB,
    );
    VTCR_EL2.set(VTCR_EL2.get() | 1 << 31);
    // Counter readable at EL1; the EL1 physical timer traps (partitions use the virtual timer).
    CNTHCTL_EL2.set(CNTHCTL_EL2_EL1PCTEN);
    CNTVOFF_EL2.set(0);
    // SAFETY: VPIDR_EL2 only changes what EL1 reads from MIDR_EL1.
    unsafe { asm!("msr vpidr_el2, {}", in(reg) MIDR_EL1.get(), options(nomem, nostack)) };
    init_debug_and_pmu();
    // SAFETY: drops every EL1&0 translation this CPU may hold from before hv-static, of any VMID. From here on a
    // partition's entries carry its own VMID and its stage-2 tables never change, so no switch between partitions
    // needs TLB maintenance (see `load_stage2`).
    unsafe { asm!("dsb nshst", "tlbi alle1", "dsb nsh", options(nostack)) };
    init_branch_predictor(cpu);
    isb();
}

const CNTHCTL_EL2_EL1PCTEN: u64 = 1 << 0;

/// Debug and PMU state (see `hwstate`): every EL1/EL0 access traps and is emulated as absent; the hardware is left
/// with debug events off for EL1/EL0 and every counter stopped.
fn init_debug_and_pmu() {
    let dfr0 = ID_AA64DFR0_EL1.get();
    let pmcr = hwstate::aa64_has_pmu(dfr0).then(|| {
        let pmcr: u64;
        // SAFETY: reading PMCR_EL0 at EL2 has no side effect; the PMU exists (ID_AA64DFR0_EL1.PMUVer).
        unsafe { asm!("mrs {}, pmcr_el0", out(reg) pmcr, options(nomem, nostack)) };
        // SAFETY: stops every counter (PMCR.E = 0), resets them (P, C), disables them, their overflow interrupts and
        // EL0 access, and clears their overflow flags. Only EL2 reaches the PMU from now on, and it counts nothing.
        unsafe {
            asm!(
                "msr pmcr_el0, {reset}",
                "msr pmcntenclr_el0, {all}",
                "msr pmintenclr_el1, {all}",
                "msr pmovsclr_el0, {all}",
                "msr pmuserenr_el0, xzr",
                reset = in(reg) 0b110u64, all = in(reg) u32::MAX as u64, options(nomem, nostack)
            )
        };
        pmcr
    });
    let mdcr = hwstate::mdcr(DebugFeatures::from_aa64dfr0(dfr0, pmcr));
    // SAFETY: MDCR_EL2 only decides which EL1/EL0 debug and PMU accesses trap to EL2; MDSCR_EL1 turns EL1/EL0 debug
    // events off. Neither affects EL2 itself.
    unsafe {
        asm!(
            "msr mdcr_el2, {mdcr}",
            "msr mdscr_el1, {mdscr}",
            mdcr = in(reg) mdcr, mdscr = in(reg) hwstate::DEBUG_CONTROL_OFF, options(nomem, nostack)
        )
    };
}

/// Per CPU: how it keeps one partition's branch-predictor training from steering the next one's speculation
/// (a [`BranchPredictor`] as u8), decided at bring-up; only CPUs of cyclic pools that run several partitions ask.
static BRANCH_PREDICTOR: [AtomicU8; NUM_CPUS] = [const { AtomicU8::new(BranchPredictor::Unaffected as u8) }; NUM_CPUS];

/// Per CPU: the VMID of the partition it last ran (0: none yet), to see when the CPU changes hands.
static LAST_VMID: [AtomicU16; NUM_CPUS] = [const { AtomicU16::new(0) }; NUM_CPUS];

/// Whether `cpu` is in a cyclic pool whose table gives it to more than one partition.
pub fn shares_partitions(cpu: usize) -> bool {
    SYSTEM.cpus[cpu].schedule.is_some_and(|s| hwstate::shares_cpu(s.slots.iter().map(|slot| slot.vcpu.map(|(p, _)| p))))
}

/// Finds how this CPU invalidates its branch predictors (FEAT_CSV2 needs nothing; else SMCCC_ARCH_WORKAROUND_1 if
/// the firmware offers it), when it is a CPU that switches partitions. Pinned CPUs never ask the firmware.
fn init_branch_predictor(cpu: usize) {
    if !shares_partitions(cpu) {
        return;
    }
    let csv2 = hwstate::aa64_has_csv2(ID_AA64PFR0_EL1.get());
    // Only a board whose firmware answers SMC calls (it starts the CPUs with PSCI) is asked.
    let how = if matches!(SYSTEM.cpu_start, CpuStart::Psci) {
        hwstate::branch_predictor(csv2, firmware::smccc_call)
    } else if csv2 {
        BranchPredictor::Unaffected
    } else {
        BranchPredictor::Unmitigated
    };
    BRANCH_PREDICTOR[cpu].store(how as u8, Ordering::Relaxed);
    if how == BranchPredictor::Unmitigated {
        crate::hvprintln!(
            "note: CPU {cpu} switches partitions but cannot invalidate its branch predictors (no FEAT_CSV2, and the \
             firmware offers no SMCCC_ARCH_WORKAROUND_1)"
        );
    }
}

/// Points stage 2 at a partition's tables and tells the vCPU who it is. When the CPU changes hands (it last ran
/// another partition), its branch predictors are invalidated first, if it can.
///
/// No TLB maintenance: each partition has its own VMID for its whole life, and its stage-2 tables are written once,
/// at boot, before any partition runs. Entries of the outgoing partition are tagged with its VMID and cannot hit
/// for the incoming one; a vCPU that starts afresh drops its partition's old entries (`flush_guest_tlb`).
pub fn load_stage2(root: u64, vmid: u16, vcpu_mpidr: u64) {
    VTTBR_EL2.set((vmid as u64) << 48 | root);
    VMPIDR_EL2.set(vcpu_mpidr);
    let cpu = id();
    let last = LAST_VMID[cpu].swap(vmid, Ordering::Relaxed);
    if hwstate::branch_predictor_switch(last, vmid)
        && BRANCH_PREDICTOR[cpu].load(Ordering::Relaxed) == BranchPredictor::FirmwareWorkaround as u8
    {
        firmware::arch_workaround_1();
    }
    isb();
}

/// Drops this CPU's TLB entries (stage 1 and 2) of the partition whose stage 2 is loaded: a vCPU that is powered
/// on (partition start or restart, PSCI CPU_ON) finds nothing of its partition's previous run, as a CPU out of
/// reset would. Local only: every other CPU of the partition does the same when its vCPU starts.
pub fn flush_guest_tlb() {
    // SAFETY: TLB maintenance for the current VMID on this CPU only; no mapping changes.
    unsafe { asm!("dsb nshst", "tlbi vmalls12e1", "dsb nsh", "isb", options(nostack)) };
}

pub fn isb() {
    // SAFETY: barrier only.
    unsafe { asm!("isb", options(nomem, nostack)) };
}

pub fn dsb() {
    // SAFETY: barrier only.
    unsafe { asm!("dsb ish", options(nostack)) };
}

/// Sleeps until an interrupt is pending (taken or not: EL2 runs with IRQs masked and polls the GIC after).
pub fn wfi() {
    // SAFETY: only waits.
    unsafe { asm!("dsb sy", "wfi", options(nomem, nostack)) };
}

/// CPTR_EL2 as `boot` sets it: RES1 bits 13:12 and 9:0, TTA (20) trapping the shared trace unit's registers.
/// aarch64-cpu's `CPTR_EL2` has no TFP field: the values are written whole.
const CPTR_EL2_BASE: u64 = 0x33ff | 1 << 20;
/// CPTR_EL2.TFP: FP/SIMD instructions trap to EL2, at EL2 too.
const CPTR_EL2_TFP: u64 = 1 << 10;

/// Whether FP/SIMD instructions trap (CPTR_EL2.TFP): on while this CPU's FP registers hold another vCPU's state
/// than the one running (lazy FP switching, `run::fp_access`). Synchronised here, so that EL2 may save and load
/// the registers right after turning the trap off.
pub fn trap_fp(on: bool) {
    CPTR_EL2.set(if on { CPTR_EL2_BASE | CPTR_EL2_TFP } else { CPTR_EL2_BASE });
    isb();
}

/// Whether the running partition's WFI traps to EL2 (HCR_EL2.TWI), set on every vCPU entry.
pub fn trap_wfi(on: bool) {
    HCR_EL2.modify(if on { HCR_EL2::TWI::SET } else { HCR_EL2::TWI::CLEAR });
}

pub fn wfe() {
    // SAFETY: only waits.
    unsafe { asm!("wfe", options(nomem, nostack)) };
}

pub fn sev() {
    // SAFETY: only signals an event to other CPUs.
    unsafe { asm!("dsb ish", "sev", options(nomem, nostack)) };
}

/// Copies `len` bytes from `src` to `dst` 64 bytes per iteration with load/store pairs when both are 8-byte
/// aligned (the target is built with strict alignment, and SCTLR_EL2.A is not assumed clear): a partition's boot
/// images and virtio data (whole sectors and frames in guest RAM) are the bulk copies, and the target's `memcpy`
/// moves 8 bytes per 4-instruction loop, which QEMU's TCG emulates at ~160 MB/s (~200 ms for a 31 MiB `Image`;
/// issue 15, docs/performance-boot.md). The tail below 64 bytes, and unaligned copies, go through
/// `copy_nonoverlapping`.
///
/// # Safety
/// `src..src + len` must be readable and `dst..dst + len` writable, mapped as normal memory, and not overlapping.
#[inline]
pub unsafe fn copy_bulk(dst: *mut u8, src: *const u8, len: usize) {
    let bulk = if (src as usize | dst as usize) & 7 == 0 { len & !63 } else { 0 };
    if bulk != 0 {
        // SAFETY: the caller's contract covers the `bulk` bytes read and written, both 8-byte aligned; the loop
        // advances both pointers by 64 until `bulk` is used up (a non-zero multiple of 64), touching nothing else.
        unsafe {
            asm!(
                "2:",
                "ldp {a}, {b}, [{s}], #16",
                "ldp {c}, {d}, [{s}], #16",
                "stp {a}, {b}, [{t}], #16",
                "stp {c}, {d}, [{t}], #16",
                "ldp {a}, {b}, [{s}], #16",
                "ldp {c}, {d}, [{s}], #16",
                "stp {a}, {b}, [{t}], #16",
                "stp {c}, {d}, [{t}], #16",
                "subs {n}, {n}, #64",
                "b.ne 2b",
                s = inout(reg) src => _, t = inout(reg) dst => _, n = inout(reg) bulk => _,
                a = out(reg) _, b = out(reg) _, c = out(reg) _, d = out(reg) _,
                options(nostack)
            );
        }
    }
    // SAFETY: the remaining `len - bulk` bytes lie within the caller's ranges.
    unsafe { core::ptr::copy_nonoverlapping(src.add(bulk), dst.add(bulk), len - bulk) };
}

/// Zeroes `len` bytes at `dst`, 64 bytes per iteration with pairs of zero-register stores when `dst` is 8-byte
/// aligned: a restarting partition's RAM is zeroed in steps (`core::restart`) that must each stay far shorter than
/// a window switch, and the target's `memset` stores 16 bytes per loop iteration at best. The tail below 64 bytes,
/// and unaligned ranges, go through `write_bytes`.
///
/// # Safety
/// `dst..dst + len` must be writable and mapped as normal memory.
#[inline]
pub unsafe fn zero_bulk(dst: *mut u8, len: usize) {
    let bulk = if dst as usize & 7 == 0 { len & !63 } else { 0 };
    if bulk != 0 {
        // SAFETY: the caller's contract covers the `bulk` bytes written, 8-byte aligned; the loop advances the
        // pointer by 64 until `bulk` is used up (a non-zero multiple of 64), touching nothing else.
        unsafe {
            asm!(
                "2:",
                "stp xzr, xzr, [{t}], #16",
                "stp xzr, xzr, [{t}], #16",
                "stp xzr, xzr, [{t}], #16",
                "stp xzr, xzr, [{t}], #16",
                "subs {n}, {n}, #64",
                "b.ne 2b",
                t = inout(reg) dst => _, n = inout(reg) bulk => _,
                options(nostack)
            );
        }
    }
    // SAFETY: the remaining `len - bulk` bytes lie within the caller's range.
    unsafe { core::ptr::write_bytes(dst.add(bulk), 0, len - bulk) };
}

/// Cleans data cache lines covering `[start, start + len)` to the point of coherency, so a partition that starts
/// with its MMU and caches off sees what the hypervisor copied.
pub fn clean_dcache(start: u64, len: u64) {
    const LINE: u64 = 64;
    let mut a = start & !(LINE - 1);
    while a < start + len {
        // SAFETY: cache maintenance by address on memory the hypervisor maps; no data changes.
        unsafe { asm!("dc cvac, {}", in(reg) a, options(nostack)) };
        a += LINE;
    }
    dsb();
}

/// Invalidates the instruction cache (a partition's code was (re)loaded).
pub fn invalidate_icache() {
    // SAFETY: cache maintenance only.
    unsafe { asm!("ic ialluis", "dsb ish", "isb", options(nostack)) };
}

/// ID_AA64PFR0_EL1.GIC: the GICv3 system-register CPU interface exists.
pub fn has_gicv3_sysregs() -> bool {
    use aarch64_cpu::registers::ID_AA64PFR0_EL1;
    (ID_AA64PFR0_EL1.get() >> 24) & 0xf != 0
}
