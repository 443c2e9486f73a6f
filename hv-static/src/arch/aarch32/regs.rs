//! Thin accessors for the ARMv7 CP15 registers hv-static uses in Hyp mode. `aarch32-cpu` lacks the stage-2 and
//! Hyp translation registers (HTTBR, HTCR, VTTBR, VTCR) and a few others, so they are written here, by name.

/// Defines a reader and a writer for a 32-bit CP15 register.
macro_rules! cp15_32 {
    ($read:ident, $write:ident, $op1:literal, $crn:ident, $crm:ident, $op2:literal) => {
        #[allow(dead_code)]
        #[inline]
        pub fn $read() -> u32 {
            let v: u32;
            // SAFETY: reading a CP15 register in Hyp mode has no side effects.
            unsafe {
                core::arch::asm!(concat!("mrc p15, ", $op1, ", {}, ", stringify!($crn), ", ", stringify!($crm), ", ", $op2), out(reg) v,
                    options(nomem, nostack))
            };
            v
        }
        #[allow(dead_code)]
        #[inline]
        pub fn $write(v: u32) {
            // SAFETY: Hyp mode owns these registers; callers write architecturally valid values.
            unsafe {
                core::arch::asm!(concat!("mcr p15, ", $op1, ", {}, ", stringify!($crn), ", ", stringify!($crm), ", ", $op2), in(reg) v,
                    options(nostack))
            };
        }
    };
}

/// Defines a reader and a writer for a 64-bit CP15 register (MRRC/MCRR).
macro_rules! cp15_64 {
    ($read:ident, $write:ident, $op1:literal, $crm:ident) => {
        #[allow(dead_code)]
        #[inline]
        pub fn $read() -> u64 {
            let (lo, hi): (u32, u32);
            // SAFETY: as for 32-bit reads.
            unsafe {
                core::arch::asm!(concat!("mrrc p15, ", $op1, ", {}, {}, ", stringify!($crm)), out(reg) lo, out(reg) hi,
                    options(nomem, nostack))
            };
            (hi as u64) << 32 | lo as u64
        }
        #[allow(dead_code)]
        #[inline]
        pub fn $write(v: u64) {
            // SAFETY: as for 32-bit writes.
            unsafe {
                core::arch::asm!(concat!("mcrr p15, ", $op1, ", {}, {}, ", stringify!($crm)), in(reg) v as u32,
                    in(reg) (v >> 32) as u32, options(nostack))
            };
        }
    };
}

pub(crate) use {cp15_32, cp15_64};

cp15_32!(midr, _set_midr, 0, c0, c0, 0);
cp15_32!(mpidr, _set_mpidr, 0, c0, c0, 5);
cp15_32!(vpidr, set_vpidr, 4, c0, c0, 0);
cp15_32!(vmpidr, set_vmpidr, 4, c0, c0, 5);
cp15_32!(hsctlr, set_hsctlr, 4, c1, c0, 0);
cp15_32!(hcr, set_hcr, 4, c1, c1, 0);
cp15_32!(hcptr, set_hcptr, 4, c1, c1, 2);
cp15_32!(hstr, set_hstr, 4, c1, c1, 3);
cp15_32!(htcr, set_htcr, 4, c2, c0, 2);
cp15_32!(vtcr, set_vtcr, 4, c2, c1, 2);
cp15_32!(hsr, _set_hsr, 4, c5, c2, 0);
cp15_32!(hdfar, _set_hdfar, 4, c6, c0, 0);
cp15_32!(hifar, _set_hifar, 4, c6, c0, 2);
cp15_32!(hpfar, _set_hpfar, 4, c6, c0, 4);
cp15_32!(hmair0, set_hmair0, 4, c10, c2, 0);
cp15_32!(hmair1, set_hmair1, 4, c10, c2, 1);
cp15_32!(hvbar, set_hvbar, 4, c12, c0, 0);
cp15_32!(htpidr, set_htpidr, 4, c13, c0, 2);
cp15_32!(cnthctl, set_cnthctl, 4, c14, c1, 0);
cp15_64!(httbr, set_httbr, 4, c2);
cp15_64!(vttbr, set_vttbr, 6, c2);
cp15_64!(cntvoff, set_cntvoff, 4, c14);
