//! Everything specific to ARMv7-A with the virtualization extensions (Hyp mode). The rest of hv-static reaches
//! the CPU only through this module, with the same interface as `arch::aarch64`.

pub mod boot;
pub mod context;
pub mod cpu;
pub mod exception;
pub mod firmware;
pub mod inject;
pub mod mmu;
pub mod regs;
mod secure;
pub mod sysreg;
pub mod timer;

pub use context::{El1Regs, FpRegs, GuestRegs};

/// Syndrome, faulting address and faulting guest-physical page of the current trap (HSR, HDFAR or HIFAR,
/// HPFAR). HPFAR has the same layout as AArch64's HPFAR_EL2, so the shared decoder serves both.
pub fn trap_syndrome() -> (u64, u64, u64) {
    use aarch32_cpu::register::{Hdfar, Hifar, Hpfar, Hsr};
    let hsr = Hsr::read().raw_value();
    let far = if hsr >> 26 == crate::esr::ec::IABT_LOWER { Hifar::read().0 } else { Hdfar::read().0 };
    (hsr as u64, far as u64, Hpfar::read().0 as u64)
}

/// Address where a secondary CPU enters, for PSCI CPU_ON.
pub fn secondary_entry_address() -> u64 {
    boot::secondary_entry as *const () as u64
}

/// The A32 load/store at the partition's PC, for a data abort whose syndrome does not describe the access.
pub fn decode_unsyndromed(regs: &GuestRegs) -> Option<crate::a32_decode::Decoded> {
    const THUMB: u32 = 1 << 5;
    if regs.cpsr & THUMB != 0 {
        return None;
    }
    let pa = translate_guest_va(regs.pc)?;
    // SAFETY: `pa` is where the partition's own stage-1 and stage-2 translation put its PC: partition RAM, which
    // the hypervisor maps; a word-aligned read of an instruction.
    let instr = unsafe { core::ptr::read_volatile(pa as usize as *const u32) };
    crate::a32_decode::decode(instr)
}

/// Translates a partition virtual address through both stages, as a PL1 read (ATS12NSOPR, result in PAR).
fn translate_guest_va(va: u32) -> Option<u64> {
    let (lo, hi): (u32, u32);
    // SAFETY: an address translation operation; it only writes PAR, which this function reads back at once.
    unsafe {
        core::arch::asm!(
            "mcr p15, 0, {va}, c7, c8, 4",
            "isb",
            "mrrc p15, 0, {lo}, {hi}, c7",
            va = in(reg) va & !3, lo = out(reg) lo, hi = out(reg) hi, options(nostack)
        )
    };
    let par = (hi as u64) << 32 | lo as u64;
    if par & 1 != 0 {
        return None;
    }
    Some((par & 0xff_ffff_f000) | (va & 0xfff) as u64)
}
