//! Names of the faults a DFSR or IFSR reports (Arm ARM, DDI 0406C, B3.13.3 for the short-descriptor format and
//! B3.13.4 for the long-descriptor one). Pure code, so it is also built and tested on the host.

/// DFSR/IFSR.LPAE: the status is in the long-descriptor format (TTBCR.EAE = 1, or a fault taken to Hyp mode).
const LPAE: u32 = 1 << 9;

/// The fault in a DFSR or IFSR value, named; the write/read bit, ExT and domain do not change the name.
pub fn status_name(fsr: u32) -> &'static str {
    if fsr & LPAE != 0 {
        long_descriptor(fsr & 0x3f)
    } else {
        // FS[4] is bit 10, FS[3:0] bits 3:0.
        short_descriptor(((fsr >> 6) & 0x10) | (fsr & 0xf))
    }
}

fn short_descriptor(fs: u32) -> &'static str {
    match fs {
        0b00001 => "alignment fault",
        0b00010 => "debug event",
        0b00011 => "access flag fault (section)",
        0b00100 => "fault on instruction cache maintenance",
        0b00101 => "translation fault (section)",
        0b00110 => "access flag fault (page)",
        0b00111 => "translation fault (page)",
        0b01000 => "synchronous external abort",
        0b01001 => "domain fault (section)",
        0b01011 => "domain fault (page)",
        0b01100 | 0b01110 => "synchronous external abort on translation table walk",
        0b01101 => "permission fault (section)",
        0b01111 => "permission fault (page)",
        0b10000 => "TLB conflict abort",
        0b10110 => "asynchronous external abort",
        0b11000 => "asynchronous parity error",
        0b11001 => "synchronous parity error",
        0b11100 | 0b11110 => "synchronous parity error on translation table walk",
        0b10100 | 0b11010 => "implementation defined fault",
        _ => "reserved fault status",
    }
}

fn long_descriptor(status: u32) -> &'static str {
    match status {
        0b000100..=0b000111 => "translation fault",
        0b001000..=0b001011 => "access flag fault",
        0b001100..=0b001111 => "permission fault",
        0b010000 => "synchronous external abort",
        0b010001 => "asynchronous external abort",
        0b011000 => "synchronous parity error",
        0b011001 => "asynchronous parity error",
        0b010100..=0b010111 => "synchronous external abort on translation table walk",
        0b011100..=0b011111 => "synchronous parity error on translation table walk",
        0b100001 => "alignment fault",
        0b100010 => "debug event",
        0b110000 => "TLB conflict abort",
        0b110100 | 0b111010 => "implementation defined fault",
        _ => "reserved fault status",
    }
}

#[cfg(test)]
mod tests {
    use super::status_name;

    #[test]
    fn short_descriptor_statuses() {
        // What QEMU reports for a load from an unmapped address with the MMU off, and for a store (WnR, bit 11).
        assert_eq!(status_name(0x0000_0008), "synchronous external abort");
        assert_eq!(status_name(0x0000_0808), "synchronous external abort");
        assert_eq!(status_name(0x0000_1008), "synchronous external abort", "ExT does not change the name");
        assert_eq!(status_name(0x0000_0001), "alignment fault");
        assert_eq!(status_name(0x0000_0405), "reserved fault status", "FS[4] (bit 10) is part of the status");
        assert_eq!(status_name(0x0000_0406), "asynchronous external abort");
        assert_eq!(status_name(0x0000_00f5), "translation fault (section)", "domain bits are not the status");
    }

    #[test]
    fn long_descriptor_statuses() {
        assert_eq!(status_name(0x0000_0210), "synchronous external abort");
        assert_eq!(status_name(0x0000_0205), "translation fault", "level 1");
        assert_eq!(status_name(0x0000_020f), "permission fault", "level 3");
        assert_eq!(status_name(0x0000_0221), "alignment fault");
        assert_eq!(status_name(0x0000_0201), "reserved fault status");
    }
}
