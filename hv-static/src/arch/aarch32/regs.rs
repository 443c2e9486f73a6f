//! The CP15 registers hv-static uses that `aarch32-cpu` does not provide. Every other CP15 register comes from
//! `aarch32_cpu::register`. These are declared with that crate's own encoding traits ([`SysReg`], [`SysReg64`]
//! and their read/write halves), so they are used the same way as the crate's: `read_raw()` is safe and
//! `write_raw()` is `unsafe`.
//!
//! Hand-written here, and why (checked against aarch32-cpu 0.4.0):
//! - HTCR and HTTBR, the Hyp-mode translation registers: the crate has HMAIR0/1 and HSCTLR but not these two.
//! - VTCR and VTTBR, the stage-2 translation registers: the crate has neither.
//! - TTBCR, TTBR1, and the 64-bit (MRRC/MCRR) forms of TTBR0 and PAR, which hold a partition's PL1 translation
//!   state: the crate has only the 32-bit TTBR0 and PAR (which see the low word alone once a partition turns LPAE
//!   on), and no TTBCR or TTBR1.
//! - CNTHP_CVAL: the crate has a `CnthpCval`, but it is encoded with opc1 = 2, which is CNTP_CVAL; the Arm ARM
//!   puts CNTHP_CVAL at opc1 = 6.
//!
//! The cache and TLB maintenance operations the crate lacks (ICIALLUIS, BPIALLIS, TLBIALLH, TLBIALLNSNHIS) and the
//! ATS12NSOPR translation stay inline assembly where they are used, together with the barriers they need.

use aarch32_cpu::register::{SysReg, SysReg64, SysRegRead, SysRegRead64, SysRegWrite, SysRegWrite64};

/// Declares a readable and writable 32-bit CP15 register: `mrc/mcr p15, opc1, <Rt>, c<CRn>, c<CRm>, opc2`.
macro_rules! cp15_32 {
    ($(#[$doc:meta])* $name:ident = opc1 $op1:literal, CRn $crn:literal, CRm $crm:literal, opc2 $op2:literal) => {
        $(#[$doc])*
        pub struct $name;

        impl SysReg for $name {
            const CP: u32 = 15;
            const CRN: u32 = $crn;
            const OP1: u32 = $op1;
            const CRM: u32 = $crm;
            const OP2: u32 = $op2;
        }

        impl SysRegRead for $name {}

        impl SysRegWrite for $name {}
    };
}

/// Declares a readable and writable 64-bit CP15 register: `mrrc/mcrr p15, opc1, <Rt>, <Rt2>, c<CRm>`.
macro_rules! cp15_64 {
    ($(#[$doc:meta])* $name:ident = opc1 $op1:literal, CRm $crm:literal) => {
        $(#[$doc])*
        pub struct $name;

        impl SysReg64 for $name {
            const CP: u32 = 15;
            const OP1: u32 = $op1;
            const CRM: u32 = $crm;
        }

        impl SysRegRead64 for $name {}

        impl SysRegWrite64 for $name {}
    };
}

cp15_32!(
    /// HTCR, Hyp Translation Control Register.
    Htcr = opc1 4, CRn 2, CRm 0, opc2 2
);
cp15_64!(
    /// HTTBR, Hyp Translation Table Base Register.
    Httbr = opc1 4, CRm 2
);
cp15_32!(
    /// VTCR, Virtualization Translation Control Register (stage 2).
    Vtcr = opc1 4, CRn 2, CRm 1, opc2 2
);
cp15_64!(
    /// VTTBR, Virtualization Translation Table Base Register (stage 2 root and VMID).
    Vttbr = opc1 6, CRm 2
);
cp15_32!(
    /// TTBCR, Translation Table Base Control Register (PL1).
    Ttbcr = opc1 0, CRn 2, CRm 0, opc2 2
);
cp15_64!(
    /// TTBR0, Translation Table Base Register 0 (PL1), in its 64-bit form.
    Ttbr0Lpae = opc1 0, CRm 2
);
cp15_64!(
    /// TTBR1, Translation Table Base Register 1 (PL1), in its 64-bit form.
    Ttbr1Lpae = opc1 1, CRm 2
);
cp15_64!(
    /// PAR, Physical Address Register, in its 64-bit form.
    ParLpae = opc1 0, CRm 7
);
cp15_64!(
    /// CNTHP_CVAL, the Hyp physical timer's compare value (not `aarch32_cpu::register::CnthpCval`, which is
    /// CNTP_CVAL).
    CnthpCval = opc1 6, CRm 14
);
