//! List-register encodings: the hardware's slots for virtual interrupts, GICv3 (`ICH_LR<n>_EL2`, 64-bit) and
//! GICv2 (`GICH_LR<n>`, 32-bit). The rest of the vGIC works with the neutral [`Lr`].

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LrState {
    Invalid,
    Pending,
    Active,
    PendingActive,
}

impl LrState {
    fn bits(self) -> u64 {
        match self {
            LrState::Invalid => 0,
            LrState::Pending => 1,
            LrState::Active => 2,
            LrState::PendingActive => 3,
        }
    }

    fn from_bits(b: u64) -> Self {
        match b & 3 {
            0 => LrState::Invalid,
            1 => LrState::Pending,
            2 => LrState::Active,
            _ => LrState::PendingActive,
        }
    }
}

/// 16 bytes, aligned to 8, so that a copy is two word moves and an array of them is cleared with a few stores: at 20
/// bytes with alignment 4, the targets' strict alignment made every copy (each `read_lr`) a `memcpy` call, and at
/// 24 clearing a refill's 16 entries cost ~100 instructions (issue 15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(align(8))]
pub struct Lr {
    pub vintid: u32,
    /// Physical interrupt deactivated by hardware when the guest deactivates the virtual one (the HW bit).
    /// (INTIDs of hardware-linked interrupts are below 1020: a `u16` keeps the whole register in 16 bytes.)
    pub pintid: Option<u16>,
    pub priority: u8,
    pub state: LrState,
    pub group1: bool,
    /// GICv2 only: the vCPU that sent an SGI.
    pub source: u8,
    /// Ask for a maintenance interrupt when the guest completes it (software level-triggered interrupts, so the
    /// device model can re-assert the line if it is still high).
    pub eoi: bool,
}

const _: () = assert!(core::mem::size_of::<Lr>() == 16);

impl Lr {
    pub const EMPTY: Lr =
        Lr { vintid: 0, pintid: None, priority: 0, state: LrState::Invalid, group1: false, source: 0, eoi: false };

    pub fn pending(vintid: u32, pintid: Option<u32>, priority: u8, group1: bool, source: u8) -> Self {
        let pintid = pintid.and_then(|p| u16::try_from(p).ok());
        Lr { vintid, pintid, priority, state: LrState::Pending, group1, source, eoi: false }
    }

    /// The guest completed a level-triggered interrupt that asked to be told (the LR is free again).
    pub fn completed_level(&self) -> bool {
        self.state == LrState::Invalid && self.eoi && self.pintid.is_none()
    }

    /// Waiting for the guest to take it (pending, or pending and active).
    pub fn is_pending(&self) -> bool {
        matches!(self.state, LrState::Pending | LrState::PendingActive)
    }

    pub fn is_free(&self) -> bool {
        self.state == LrState::Invalid
    }

    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))] // GICv3 list registers are AArch64's.
    pub fn encode_v3(&self) -> u64 {
        let mut v = self.state.bits() << 62 | (self.priority as u64) << 48 | self.vintid as u64;
        if self.group1 {
            v |= 1 << 60;
        }
        match self.pintid {
            Some(p) => v |= 1 << 61 | ((p as u64) & 0x3ff) << 32,
            None if self.eoi => v |= 1 << 41,
            None => {}
        }
        v
    }

    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub fn decode_v3(v: u64) -> Self {
        let hw = v & (1 << 61) != 0;
        Lr {
            vintid: v as u32,
            pintid: hw.then_some(((v >> 32) & 0x3ff) as u16),
            priority: (v >> 48) as u8,
            state: LrState::from_bits(v >> 62),
            group1: v & (1 << 60) != 0,
            source: 0,
            eoi: !hw && v & (1 << 41) != 0,
        }
    }

    /// GICv2 keeps only the top five priority bits.
    pub fn encode_v2(&self) -> u32 {
        let mut v = (self.state.bits() as u32) << 28 | ((self.priority as u32) >> 3) << 23 | (self.vintid & 0x3ff);
        if self.group1 {
            v |= 1 << 30;
        }
        match self.pintid {
            Some(p) => v |= 1 << 31 | (u32::from(p) & 0x3ff) << 10,
            None => {
                if self.vintid < 16 {
                    v |= ((self.source as u32) & 7) << 10;
                }
                if self.eoi {
                    v |= 1 << 19;
                }
            }
        }
        v
    }

    pub fn decode_v2(v: u32) -> Self {
        let hw = v & (1 << 31) != 0;
        Lr {
            vintid: v & 0x3ff,
            pintid: hw.then_some(((v >> 10) & 0x3ff) as u16),
            priority: (((v >> 23) & 0x1f) << 3) as u8,
            state: LrState::from_bits((v >> 28) as u64),
            group1: v & (1 << 30) != 0,
            source: if hw { 0 } else { ((v >> 10) & 7) as u8 },
            eoi: !hw && v & (1 << 19) != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_hw_timer_lr() {
        let lr = Lr::pending(27, Some(27), 0xa0, true, 0);
        let v = lr.encode_v3();
        assert_eq!(v, 1 << 62 | 1 << 61 | 1 << 60 | 0xa0 << 48 | 27 << 32 | 27);
        assert_eq!(Lr::decode_v3(v), lr);
    }

    #[test]
    fn v3_software_sgi_lr_has_no_physical_part() {
        let v = Lr::pending(1, None, 0x80, true, 0).encode_v3();
        assert_eq!(v >> 61 & 1, 0);
        assert_eq!(v >> 32 & 0x3ff, 0);
    }

    #[test]
    fn v2_sgi_carries_source_cpu() {
        let lr = Lr::pending(1, None, 0x80, false, 3);
        let v = lr.encode_v2();
        assert_eq!(v, 1 << 28 | (0x80 >> 3) << 23 | 3 << 10 | 1);
        assert_eq!(Lr::decode_v2(v), lr);
    }

    #[test]
    fn level_interrupts_ask_for_eoi_maintenance() {
        let lr = Lr { eoi: true, ..Lr::pending(33, None, 0xa0, true, 0) };
        assert_eq!(lr.encode_v3() >> 41 & 1, 1);
        assert_eq!(lr.encode_v2() >> 19 & 1, 1);
        assert_eq!(Lr::decode_v3(lr.encode_v3()), lr);
        let done = Lr { state: LrState::Invalid, ..lr };
        assert!(Lr::decode_v2(done.encode_v2()).completed_level());
    }

    #[test]
    fn v2_hw_and_state_round_trip() {
        let lr = Lr { state: LrState::PendingActive, ..Lr::pending(48, Some(48), 0xf8, false, 0) };
        assert_eq!(Lr::decode_v2(lr.encode_v2()), lr);
        assert!(Lr::decode_v2(0).is_free());
    }
}
