//! Decoding the syndrome of a trap from a partition (ESR_EL2 on AArch64; HSR on ARMv7 uses the same classes and
//! the same data-abort syndrome, so this decoder serves both).

/// Exception classes hv-static handles (ESR.EC, bits 31:26).
pub mod ec {
    pub const WFX: u32 = 0x01;
    /// FP/SIMD access trapped by CPTR_EL2.TFP (HCPTR.TCP10/11 on ARMv7).
    pub const FP: u32 = 0x07;
    pub const HVC32: u32 = 0x12;
    pub const SMC32: u32 = 0x13;
    pub const HVC64: u32 = 0x16;
    pub const SMC64: u32 = 0x17;
    pub const SYSREG64: u32 = 0x18;
    pub const IABT_LOWER: u32 = 0x20;
    pub const DABT_LOWER: u32 = 0x24;
    /// Data abort taken without a change in exception level: only ever injected, never trapped.
    #[cfg_attr(target_arch = "arm", allow(dead_code))] // Injected into AArch64 partitions only.
    pub const DABT_CURRENT: u32 = 0x25;
}

/// What the partition did, as far as the hypervisor cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// WFI (`wfe == false`) or WFE.
    Wait { wfe: bool },
    /// A hypercall with its immediate.
    Hvc { imm: u16 },
    /// A trapped SMC: the return address must step over the instruction.
    Smc { imm: u16 },
    /// An FP/SIMD instruction while its registers hold another vCPU's state (lazy switching, `run::fp_access`).
    FpAccess,
    /// An MSR/MRS/SYS to a trapped system register.
    SysReg(SysRegAccess),
    /// An AArch32 MCR/MRC/MCRR/MRRC/LDC/STC to a trapped coprocessor register.
    Coprocessor { ec: u32 },
    /// A stage-2 data abort.
    DataAbort(DataAbort),
    /// A stage-2 instruction abort (executing memory the partition does not own).
    InstructionAbort { fsc: u8 },
    /// Anything else: reported and treated as a partition fault.
    Other { ec: u32, iss: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysRegAccess {
    pub op0: u8,
    pub op1: u8,
    pub crn: u8,
    pub crm: u8,
    pub op2: u8,
    /// General-purpose register transferred (31 = xzr).
    pub rt: u8,
    pub read: bool,
}

#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))] // MSR/MRS traps are AArch64's.
impl SysRegAccess {
    /// Packs the encoding like the `S<op0>_<op1>_C<n>_C<m>_<op2>` names, for matching against constants.
    pub const fn key(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> u32 {
        (op0 as u32) << 14 | (op1 as u32) << 11 | (crn as u32) << 7 | (crm as u32) << 3 | op2 as u32
    }

    pub fn encoding(&self) -> u32 {
        Self::key(self.op0, self.op1, self.crn, self.crm, self.op2)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataAbort {
    /// The syndrome describes the access (ISV): only then can it be emulated.
    pub valid: bool,
    /// Access size in bytes.
    pub size: u8,
    /// Sign-extend the loaded value.
    pub sign_extend: bool,
    /// Register transferred (31 = xzr/wzr).
    pub reg: u8,
    /// 64-bit register (else 32-bit, upper half zeroed on loads).
    pub sixty_four: bool,
    pub write: bool,
    /// Fault happened walking the guest's own stage-1 tables.
    pub s1ptw: bool,
    /// A cache maintenance instruction (DC/IC by address; ESR.CM, bit 8), not a load or store: `write` is set
    /// and nothing is transferred.
    pub cache_maintenance: bool,
    pub fsc: u8,
}

impl DataAbort {
    /// Shapes a value read from an emulated device as the load instruction expects: truncated to the access size,
    /// sign-extended if asked, and with the upper half cleared for a 32-bit destination register.
    pub fn load_value(&self, raw: u64) -> u64 {
        let bits = self.size as u32 * 8;
        let mut v = if bits >= 64 { raw } else { raw & ((1u64 << bits) - 1) };
        if self.sign_extend && bits < 64 {
            let shift = 64 - bits;
            v = (((v << shift) as i64) >> shift) as u64;
        }
        if !self.sixty_four {
            v &= 0xffff_ffff;
        }
        v
    }
}

/// The instruction was 32 bits long (ESR.IL), i.e. how far to step the PC after emulating it.
pub fn instr_len(esr: u64) -> u64 {
    if esr & (1 << 25) != 0 {
        4
    } else {
        2
    }
}

pub fn decode(esr: u64) -> Trap {
    let ec = ((esr >> 26) & 0x3f) as u32;
    let iss = (esr & 0x1ff_ffff) as u32;
    match ec {
        ec::WFX => Trap::Wait { wfe: iss & 1 != 0 },
        ec::FP => Trap::FpAccess,
        ec::HVC64 | ec::HVC32 => Trap::Hvc { imm: iss as u16 },
        ec::SMC64 | ec::SMC32 => Trap::Smc { imm: iss as u16 },
        ec::SYSREG64 => Trap::SysReg(SysRegAccess {
            op0: ((iss >> 20) & 3) as u8,
            op2: ((iss >> 17) & 7) as u8,
            op1: ((iss >> 14) & 7) as u8,
            crn: ((iss >> 10) & 0xf) as u8,
            rt: ((iss >> 5) & 0x1f) as u8,
            crm: ((iss >> 1) & 0xf) as u8,
            read: iss & 1 != 0,
        }),
        ec::DABT_LOWER => Trap::DataAbort(DataAbort {
            valid: iss & (1 << 24) != 0,
            size: 1 << ((iss >> 22) & 3),
            sign_extend: iss & (1 << 21) != 0,
            reg: ((iss >> 16) & 0x1f) as u8,
            sixty_four: iss & (1 << 15) != 0,
            write: iss & (1 << 6) != 0,
            s1ptw: iss & (1 << 7) != 0,
            cache_maintenance: iss & (1 << 8) != 0,
            fsc: (iss & 0x3f) as u8,
        }),
        0x03..=0x06 | 0x0c => Trap::Coprocessor { ec },
        ec::IABT_LOWER => Trap::InstructionAbort { fsc: (iss & 0x3f) as u8 },
        _ => Trap::Other { ec, iss },
    }
}

/// ESR_EL1 of the synchronous external abort an AArch64 partition takes when it reaches an emulated device with
/// an access the hypervisor cannot emulate (no syndrome: LDP/STP, writeback, SIMD, exclusives...), as a device
/// that signals an error on the bus would make it (Arm ARM D17.2.40, ESR_EL1 for EC 0x24/0x25): EC 0x25 "data
/// abort without a change in exception level" from EL1, 0x24 "from a lower exception level" from EL0; IL as the
/// trapped instruction's (`trap_esr`, ESR_EL2); ISV 0, as the trap had none; WnR for a store; DFSC 0b010000
/// "synchronous external abort, not on a translation table walk", so FAR_EL1 is valid.
#[cfg_attr(target_arch = "arm", allow(dead_code))] // ARMv7 partitions get a DFSR instead.
pub fn injected_data_abort_esr(from_el1: bool, trap_esr: u64, write: bool) -> u64 {
    const IL: u64 = 1 << 25;
    const WNR: u64 = 1 << 6;
    const DFSC_SYNC_EXTERNAL: u64 = 0x10;
    let ec = if from_el1 { ec::DABT_CURRENT } else { ec::DABT_LOWER } as u64;
    ec << 26 | (trap_esr & IL) | if write { WNR } else { 0 } | DFSC_SYNC_EXTERNAL
}

/// DFSR of the same synchronous external abort for an ARMv7 partition (Arm ARM DDI 0406C B4.1.52), in the format
/// its translation regime uses (TTBCR.EAE, `lpae`): short-descriptor FS = 0b01000 (FS[4] in bit 10, FS[3:0] in
/// bits 3:0; the domain is UNKNOWN for this fault and left zero), or long-descriptor (LPAE, bit 9) STATUS =
/// 0b010000. WnR (bit 11) for a store; ExT (bit 12, IMPLEMENTATION DEFINED classification) zero.
#[cfg_attr(target_arch = "aarch64", allow(dead_code))] // AArch64 partitions get an ESR instead.
pub fn injected_data_abort_dfsr(lpae: bool, write: bool) -> u32 {
    const WNR: u32 = 1 << 11;
    const LPAE: u32 = 1 << 9;
    let status = if lpae { LPAE | 0x10 } else { 0x08 };
    status | if write { WNR } else { 0 }
}

/// The faulting guest-physical address of a stage-2 abort, from HPFAR (page) and FAR (offset in page).
pub fn fault_ipa(hpfar: u64, far: u64) -> u64 {
    ((hpfar >> 4) & 0xff_ffff_ffff) << 12 | (far & 0xfff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_w1_is_a_32bit_write_of_x1() {
        // EC=0x24, IL=1, ISV=1, SAS=2 (word), SRT=1, WnR=1, DFSC=translation fault level 3.
        let esr = (0x24 << 26) | (1 << 25) | (1 << 24) | (2 << 22) | (1 << 16) | (1 << 6) | 0x07;
        let Trap::DataAbort(d) = decode(esr) else { panic!("not a data abort") };
        assert!(d.valid && d.write && !d.sixty_four && !d.sign_extend && !d.s1ptw);
        assert_eq!((d.size, d.reg, d.fsc), (4, 1, 0x07));
        assert_eq!(instr_len(esr), 4);
    }

    #[test]
    fn ldrsb_x3_sign_extends_into_64_bits() {
        let esr = (0x24 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (3 << 16) | (1 << 15) | 0x06;
        let Trap::DataAbort(d) = decode(esr) else { panic!() };
        assert!(d.valid && !d.write && d.sign_extend && d.sixty_four);
        assert_eq!((d.size, d.reg), (1, 3));
    }

    #[test]
    fn hypercalls_and_smc() {
        assert_eq!(decode((0x16 << 26) | (1 << 25)), Trap::Hvc { imm: 0 });
        assert_eq!(decode((0x17 << 26) | (1 << 25) | 0x42), Trap::Smc { imm: 0x42 });
        assert_eq!(decode(0x01 << 26 | 1), Trap::Wait { wfe: true });
    }

    #[test]
    fn icc_sgi1r_write_decodes() {
        // msr ICC_SGI1R_EL1, x2: op0=3 op1=0 CRn=12 CRm=11 op2=5, write.
        let iss = (3 << 20) | (5 << 17) | (12 << 10) | (2 << 5) | (11 << 1);
        let Trap::SysReg(a) = decode((0x18 << 26) | (1 << 25) | iss) else { panic!() };
        assert_eq!(a.encoding(), SysRegAccess::key(3, 0, 12, 11, 5));
        assert!(!a.read);
        assert_eq!(a.rt, 2);
    }

    fn load(size: u8, sign: bool, sf: bool) -> DataAbort {
        DataAbort {
            valid: true,
            size,
            sign_extend: sign,
            reg: 0,
            sixty_four: sf,
            write: false,
            s1ptw: false,
            cache_maintenance: false,
            fsc: 7,
        }
    }

    #[test]
    fn ldp_and_dc_civac_have_no_syndrome() {
        // ldp x0, x1, [x2] at a stage-2 translation fault: EC 0x24, IL, ISV 0, DFSC level 3.
        let Trap::DataAbort(d) = decode((0x24 << 26) | (1 << 25) | 0x07) else { panic!() };
        assert!(!d.valid && !d.write && !d.cache_maintenance);
        // dc civac: CM and WnR set.
        let Trap::DataAbort(d) = decode((0x24 << 26) | (1 << 25) | (1 << 8) | (1 << 6) | 0x07) else { panic!() };
        assert!(!d.valid && d.write && d.cache_maintenance);
    }

    #[test]
    fn injected_aborts_are_synchronous_external() {
        let trap = (0x24 << 26) | (1 << 25) | 0x07;
        // From EL1: EC 0x25; from EL0: EC 0x24. IL kept, WnR for stores, DFSC 0x10.
        assert_eq!(injected_data_abort_esr(true, trap, false), 0x9600_0010);
        assert_eq!(injected_data_abort_esr(true, trap, true), 0x9600_0050);
        assert_eq!(injected_data_abort_esr(false, trap, false), 0x9200_0010);
        assert_eq!(injected_data_abort_esr(false, trap & !(1 << 25), true), 0x9000_0050);
        // The result decodes back as a data abort with the same direction and no syndrome.
        let Trap::DataAbort(d) = decode(injected_data_abort_esr(false, trap, true)) else { panic!() };
        assert!(d.write && !d.valid && d.fsc == 0x10);
        // ARMv7: short-descriptor FS 0b01000, long-descriptor STATUS 0b010000 with the LPAE bit.
        assert_eq!(injected_data_abort_dfsr(false, false), 0x008);
        assert_eq!(injected_data_abort_dfsr(false, true), 0x808);
        assert_eq!(injected_data_abort_dfsr(true, false), 0x210);
        assert_eq!(injected_data_abort_dfsr(true, true), 0xa10);
    }

    #[test]
    fn loaded_values_are_truncated_and_extended() {
        assert_eq!(load(1, false, false).load_value(0x1ff), 0xff);
        assert_eq!(load(1, true, true).load_value(0x80), 0xffff_ffff_ffff_ff80);
        assert_eq!(load(2, true, false).load_value(0x8000), 0xffff_8000);
        assert_eq!(load(8, false, true).load_value(u64::MAX), u64::MAX);
    }

    #[test]
    fn ipa_combines_page_and_offset() {
        assert_eq!(fault_ipa((0x0409_0000 >> 12) << 4, 0xffff_0000_0000_0a18), 0x0409_0a18);
    }

    mod hostile {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever a partition's trap leaves in ESR (any exception class, any ISS, the IL bit, and garbage in
            /// the RES0 upper half): decoding never panics; a data abort describes a 1, 2, 4 or 8-byte access to a
            /// register x0..x30 or the zero register; the value a load returns fits its size and register; the
            /// PC steps by 2 or 4.
            #[test]
            fn any_syndrome_decodes(esr in any::<u64>(), raw in any::<u64>()) {
                prop_assert!(matches!(instr_len(esr), 2 | 4));
                if let Trap::DataAbort(d) = decode(esr) {
                    prop_assert!(matches!(d.size, 1 | 2 | 4 | 8));
                    prop_assert!(d.reg <= 31);
                    let v = d.load_value(raw);
                    if !d.sixty_four {
                        prop_assert_eq!(v >> 32, 0);
                    }
                    if !d.sign_extend && d.size < 8 {
                        prop_assert_eq!(v >> (8 * d.size as u32), 0);
                    }
                }
            }

            /// A stage-2 abort's IPA keeps the page HPFAR names (up to 52 bits, bits 51:12 of the IPA in HPFAR
            /// bits 43:4) and takes only the offset in the page from FAR, whatever else either register holds.
            #[test]
            fn ipa_is_page_from_hpfar_and_offset_from_far(hpfar in any::<u64>(), far in any::<u64>()) {
                let ipa = fault_ipa(hpfar, far);
                prop_assert_eq!(ipa & 0xfff, far & 0xfff);
                prop_assert_eq!(ipa >> 12, (hpfar >> 4) & 0xff_ffff_ffff);
                prop_assert!(ipa < 1 << 52);
            }
        }
    }
}
