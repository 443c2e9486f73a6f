//! GICv3 CPU interface (`ICC_*`) and virtual interface control (`ICH_*`) system registers at EL2.
//!
//! aarch64-cpu has the list registers as separate types; the vGIC needs them by index, and a few ICC registers it
//! lacks, so these are thin `mrs`/`msr` wrappers by name.

use core::arch::asm;

macro_rules! sysreg_rw {
    ($read:ident, $write:ident, $name:literal) => {
        #[inline]
        pub fn $read() -> u64 {
            let v: u64;
            // SAFETY: reading a GIC system register at EL2 has no side effect beyond what the GIC defines for it.
            unsafe { asm!(concat!("mrs {}, ", $name), out(reg) v, options(nomem, nostack)) };
            v
        }
        #[inline]
        pub fn $write(v: u64) {
            // SAFETY: EL2 owns the GIC CPU interface; callers write architecturally valid values.
            unsafe { asm!(concat!("msr ", $name, ", {}"), in(reg) v, options(nomem, nostack)) };
        }
    };
}

sysreg_rw!(icc_iar1, _icc_iar1_w, "icc_iar1_el1");
sysreg_rw!(_icc_eoir1_r, icc_eoir1, "icc_eoir1_el1");
sysreg_rw!(_icc_dir_r, icc_dir, "icc_dir_el1");
sysreg_rw!(_icc_sgi1r_r, icc_sgi1r, "icc_sgi1r_el1");
sysreg_rw!(icc_sre_el2, set_icc_sre_el2, "icc_sre_el2");
sysreg_rw!(icc_ctlr, set_icc_ctlr, "icc_ctlr_el1");
sysreg_rw!(_icc_pmr_r, set_icc_pmr, "icc_pmr_el1");
sysreg_rw!(_icc_igrpen1_r, set_icc_igrpen1, "icc_igrpen1_el1");
sysreg_rw!(ich_hcr, set_ich_hcr, "ich_hcr_el2");
sysreg_rw!(ich_vtr, _set_ich_vtr, "ich_vtr_el2");
sysreg_rw!(ich_elrsr, _set_ich_elrsr, "ich_elrsr_el2");
sysreg_rw!(ich_vmcr, set_ich_vmcr, "ich_vmcr_el2");
sysreg_rw!(ich_ap0r0, set_ich_ap0r0, "ich_ap0r0_el2");
sysreg_rw!(ich_ap0r1, set_ich_ap0r1, "ich_ap0r1_el2");
sysreg_rw!(ich_ap0r2, set_ich_ap0r2, "ich_ap0r2_el2");
sysreg_rw!(ich_ap0r3, set_ich_ap0r3, "ich_ap0r3_el2");
sysreg_rw!(ich_ap1r0, set_ich_ap1r0, "ich_ap1r0_el2");
sysreg_rw!(ich_ap1r1, set_ich_ap1r1, "ich_ap1r1_el2");
sysreg_rw!(ich_ap1r2, set_ich_ap1r2, "ich_ap1r2_el2");
sysreg_rw!(ich_ap1r3, set_ich_ap1r3, "ich_ap1r3_el2");

const ICH_HCR_EN: u64 = 1;
const ICH_HCR_UIE: u64 = 1 << 1;
/// ICC_SRE_EL2: system register interface on (SRE) and EL1 may use it (Enable).
const SRE_SRE_ENABLE: u64 = 1 | 1 << 3;
/// ICC_CTLR_EL1.EOImode: EOIR only drops priority; DIR deactivates.
const CTLR_EOIMODE: u64 = 1 << 1;

pub fn init_cpu_interface() {
    set_icc_sre_el2(icc_sre_el2() | SRE_SRE_ENABLE);
    isb();
    set_icc_pmr(0xff);
    set_icc_ctlr(icc_ctlr() | CTLR_EOIMODE);
    set_icc_igrpen1(1);
    set_ich_vmcr(0);
    set_ich_hcr(ICH_HCR_EN);
    isb();
}

fn isb() {
    // SAFETY: a barrier has no memory effects beyond ordering.
    unsafe { asm!("isb", options(nomem, nostack)) };
}

pub fn ack() -> u32 {
    (icc_iar1() & 0xff_ffff) as u32
}

pub fn priority_drop(intid: u32) {
    icc_eoir1(intid as u64);
    isb();
}

pub fn deactivate(intid: u32) {
    icc_dir(intid as u64);
    isb();
}

/// Sends SGI `sgi` to the CPU with affinity `mpidr`.
pub fn send_sgi(mpidr: u64, sgi: u32) {
    let aff1 = (mpidr >> 8) & 0xff;
    let aff2 = (mpidr >> 16) & 0xff;
    let aff3 = (mpidr >> 32) & 0xff;
    let target = 1u64 << (mpidr & 0xf);
    let rs = (mpidr & 0xff) >> 4;
    icc_sgi1r(aff3 << 48 | rs << 44 | aff2 << 32 | (sgi as u64) << 24 | aff1 << 16 | target);
    isb();
}

pub fn nr_lrs() -> usize {
    ((ich_vtr() & 0x1f) + 1) as usize
}

/// How many ICH_AP0R<n>_EL2 (and ICH_AP1R<n>_EL2) the virtual CPU interface implements: 1, 2 or 4, from
/// ICH_VTR_EL2.PREbits. Only those exist; accessing another is undefined.
pub fn nr_aprs() -> usize {
    crate::hwstate::gicv3_apr_count(ich_vtr())
}

/// Reads the first `n` (from [`nr_aprs`]) group 0 and group 1 active-priority registers.
pub fn read_aprs(n: usize) -> ([u32; 4], [u32; 4]) {
    let mut ap0 = [ich_ap0r0() as u32, 0, 0, 0];
    let mut ap1 = [ich_ap1r0() as u32, 0, 0, 0];
    if n > 1 {
        (ap0[1], ap1[1]) = (ich_ap0r1() as u32, ich_ap1r1() as u32);
    }
    if n > 2 {
        (ap0[2], ap1[2], ap0[3], ap1[3]) =
            (ich_ap0r2() as u32, ich_ap1r2() as u32, ich_ap0r3() as u32, ich_ap1r3() as u32);
    }
    (ap0, ap1)
}

/// Writes the first `n` (from [`nr_aprs`]) group 0 and group 1 active-priority registers.
pub fn write_aprs(n: usize, ap0: &[u32; 4], ap1: &[u32; 4]) {
    set_ich_ap0r0(ap0[0] as u64);
    set_ich_ap1r0(ap1[0] as u64);
    if n > 1 {
        set_ich_ap0r1(ap0[1] as u64);
        set_ich_ap1r1(ap1[1] as u64);
    }
    if n > 2 {
        set_ich_ap0r2(ap0[2] as u64);
        set_ich_ap1r2(ap1[2] as u64);
        set_ich_ap0r3(ap0[3] as u64);
        set_ich_ap1r3(ap1[3] as u64);
    }
}

pub fn set_underflow(on: bool) {
    let hcr = ich_hcr();
    set_ich_hcr(if on { hcr | ICH_HCR_UIE } else { hcr & !ICH_HCR_UIE });
}

/// ICH_ELRSR_EL2: bit `i` set when list register `i` holds nothing.
pub fn empty_lrs() -> u32 {
    ich_elrsr() as u32
}

/// `ich_lr<n>_el2` accessed by a run-time index `i` (0..16): a branch into a table of 16 two-instruction entries
/// (the access, then a branch past the table). A `match` compiled to a tree of compares cost ~27 instructions per
/// access; this costs 6, and list registers are accessed on every interrupt and window switch (issue 15).
macro_rules! lr_table {
    ($op:literal, $reg:ident, $dir:ident, $i:expr) => {
        // SAFETY: `$i & 15` < 16 selects one of the table's entries; callers pass `i` < ICH_VTR_EL2.ListRegs + 1
        // (`nr_lrs`), so the register exists. Accessing a list register has no effect beyond the guest's virtual
        // CPU interface.
        unsafe {
            asm!(
                "adr {t}, 2f",
                "add {t}, {t}, {i}, lsl #3",
                "br {t}",
                "2:",
                concat!($op, "\n b 3f"),
                "3:",
                i = in(reg) $i & 15,
                t = out(reg) _,
                $reg = $dir(reg) $reg,
                options(nomem, nostack),
            )
        }
    };
}

/// `ICH_LR<i>_EL2`, raw (the physical GIC driver decodes it).
pub fn read_lr(i: usize) -> u64 {
    let v: u64;
    lr_table!(
        "mrs {v}, ich_lr0_el2\n b 3f\n mrs {v}, ich_lr1_el2\n b 3f\n mrs {v}, ich_lr2_el2\n b 3f\n \
         mrs {v}, ich_lr3_el2\n b 3f\n mrs {v}, ich_lr4_el2\n b 3f\n mrs {v}, ich_lr5_el2\n b 3f\n \
         mrs {v}, ich_lr6_el2\n b 3f\n mrs {v}, ich_lr7_el2\n b 3f\n mrs {v}, ich_lr8_el2\n b 3f\n \
         mrs {v}, ich_lr9_el2\n b 3f\n mrs {v}, ich_lr10_el2\n b 3f\n mrs {v}, ich_lr11_el2\n b 3f\n \
         mrs {v}, ich_lr12_el2\n b 3f\n mrs {v}, ich_lr13_el2\n b 3f\n mrs {v}, ich_lr14_el2\n b 3f\n \
         mrs {v}, ich_lr15_el2",
        v,
        out,
        i
    );
    v
}

/// Writes `ICH_LR<i>_EL2`, raw.
pub fn write_lr(i: usize, v: u64) {
    lr_table!(
        "msr ich_lr0_el2, {v}\n b 3f\n msr ich_lr1_el2, {v}\n b 3f\n msr ich_lr2_el2, {v}\n b 3f\n \
         msr ich_lr3_el2, {v}\n b 3f\n msr ich_lr4_el2, {v}\n b 3f\n msr ich_lr5_el2, {v}\n b 3f\n \
         msr ich_lr6_el2, {v}\n b 3f\n msr ich_lr7_el2, {v}\n b 3f\n msr ich_lr8_el2, {v}\n b 3f\n \
         msr ich_lr9_el2, {v}\n b 3f\n msr ich_lr10_el2, {v}\n b 3f\n msr ich_lr11_el2, {v}\n b 3f\n \
         msr ich_lr12_el2, {v}\n b 3f\n msr ich_lr13_el2, {v}\n b 3f\n msr ich_lr14_el2, {v}\n b 3f\n \
         msr ich_lr15_el2, {v}",
        v,
        in,
        i
    );
}
