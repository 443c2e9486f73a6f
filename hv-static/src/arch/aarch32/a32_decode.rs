//! Decoding the A32 load/store a partition used on an emulated device when the abort syndrome does not describe
//! it (ARMv7 gives no syndrome for loads and stores with base writeback, e.g. `ldr r2, [r1, #0x400]!`, which
//! compilers emit freely). Like Xen, hv-static decodes the single-register forms with an immediate offset;
//! anything else stays a fault.

use crate::esr::DataAbort;

/// The access, plus the base-register update to apply after it (register, signed offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub access: DataAbort,
    pub writeback: Option<(u8, i32)>,
}

impl Decoded {
    pub fn parts(self) -> (DataAbort, Option<(u8, i32)>) {
        (self.access, self.writeback)
    }
}

pub fn decode(instr: u32) -> Option<Decoded> {
    let p = instr >> 24 & 1 == 1;
    let u = instr >> 23 & 1 == 1;
    let w = instr >> 21 & 1 == 1;
    let load = instr >> 20 & 1 == 1;
    let rn = (instr >> 16 & 0xf) as u8;
    let rt = (instr >> 12 & 0xf) as u8;
    let (size, sign_extend, imm) = match instr >> 25 & 0b111 {
        // LDR, STR, LDRB, STRB (immediate).
        0b010 => (if instr >> 22 & 1 == 1 { 1 } else { 4 }, false, instr & 0xfff),
        // LDRH, STRH, LDRSB, LDRSH (immediate): bit 22 set, bits 7 and 4 set.
        0b000 if instr >> 22 & 1 == 1 && instr >> 7 & 1 == 1 && instr >> 4 & 1 == 1 => {
            let imm = (instr >> 4 & 0xf0) | (instr & 0xf);
            match (load, instr >> 5 & 0b11) {
                (_, 0b01) => (2, false, imm),
                (true, 0b10) => (1, true, imm),
                (true, 0b11) => (2, true, imm),
                _ => return None, // LDRD / STRD: two registers.
            }
        }
        _ => return None,
    };
    if rt == 15 || rn == 15 {
        return None;
    }
    let offset = if u { imm as i32 } else { -(imm as i32) };
    let writeback = (!p || w).then_some((rn, offset));
    let access = DataAbort {
        valid: true,
        size,
        sign_extend,
        reg: rt,
        sixty_four: false,
        write: !load,
        s1ptw: false,
        cache_maintenance: false,
        fsc: 0,
    };
    Some(Decoded { access, writeback })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_indexed_word_load_with_writeback() {
        // ldr r2, [r1, #0x400]!
        let d = decode(0xe5b1_2400).unwrap();
        assert_eq!((d.access.size, d.access.reg, d.access.write), (4, 2, false));
        assert_eq!(d.writeback, Some((1, 0x400)));
    }

    #[test]
    fn post_indexed_byte_store_subtracts() {
        // strb r3, [r0], #-4
        let d = decode(0xe440_3004).unwrap();
        assert_eq!((d.access.size, d.access.reg, d.access.write), (1, 3, true));
        assert_eq!(d.writeback, Some((0, -4)));
    }

    #[test]
    fn halfwords_and_signed_loads() {
        // ldrh r4, [r5, #0x12]!
        let d = decode(0xe1f5_41b2).unwrap();
        assert_eq!((d.access.size, d.access.sign_extend, d.writeback), (2, false, Some((5, 0x12))));
        // ldrsb r0, [r1], #1
        let d = decode(0xe0d1_00d1).unwrap();
        assert_eq!((d.access.size, d.access.sign_extend, d.writeback), (1, true, Some((1, 1))));
        // strh r2, [r3] (no writeback)
        let d = decode(0xe1c3_20b0).unwrap();
        assert_eq!((d.access.write, d.writeback), (true, None));
    }

    #[test]
    fn everything_else_is_refused() {
        assert_eq!(decode(0xe1c3_20d0), None, "ldrd");
        assert_eq!(decode(0xe791_2003), None, "ldr r2, [r1, r3]: register offset");
        assert_eq!(decode(0xe8b1_000c), None, "ldm");
        assert_eq!(decode(0xe59f_f004), None, "ldr pc, ...");
    }
}
