//! The register file of each partition's emulated PL011, as pure logic: what a guest's access at any offset, with
//! any value, does to the model, and when the interrupt line rises. No hypervisor state here, so every access
//! sequence a guest could make is tried on the host (property test below).

use crate::core::console::line::LineBuffer;

pub const SIZE: u64 = 0x1000;

const DR: u64 = 0x000;
const FR: u64 = 0x018;
const IBRD: u64 = 0x024;
const FBRD: u64 = 0x028;
const LCR_H: u64 = 0x02c;
const CR: u64 = 0x030;
const IFLS: u64 = 0x034;
const IMSC: u64 = 0x038;
const RIS: u64 = 0x03c;
const MIS: u64 = 0x040;
const ICR: u64 = 0x044;
const ID_BASE: u64 = 0xfe0;

/// Transmit FIFO empty: output is never busy.
const FR_TXFE: u32 = 1 << 7;
const FR_RXFE: u32 = 1 << 4;
/// Transmit interrupt: always raised, since the FIFO is always empty.
const INT_TX: u32 = 1 << 5;
/// Receive and receive-timeout interrupts: raised while input waits.
const INT_RX: u32 = 1 << 4 | 1 << 6;
/// Input held for a partition that does not read it; more is dropped (and counted).
const RX_CAPACITY: usize = 256;
/// PrimeCell peripheral ID (PL011 r1p5) and component ID bytes, at 0xFE0..0xFFC.
const IDS: [u32; 8] = [0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

pub struct VUart {
    pub line: LineBuffer,
    rx: [u8; RX_CAPACITY],
    rx_head: usize,
    rx_len: usize,
    /// Typed bytes lost because the guest did not read them.
    pub rx_dropped: u32,
    /// The interrupt line as last asserted to the virtual GIC.
    pub irq_high: bool,
    cr: u32,
    lcr_h: u32,
    ibrd: u32,
    fbrd: u32,
    ifls: u32,
    imsc: u32,
}

impl VUart {
    pub const RESET: VUart = VUart {
        line: LineBuffer::new(),
        rx: [0; RX_CAPACITY],
        rx_head: 0,
        rx_len: 0,
        rx_dropped: 0,
        irq_high: false,
        cr: 0x300,
        lcr_h: 0,
        ibrd: 0,
        fbrd: 0,
        ifls: 0x12,
        imsc: 0,
    };

    fn raw_status(&self) -> u32 {
        INT_TX | if self.rx_len > 0 { INT_RX } else { 0 }
    }

    pub fn masked_status(&self) -> u32 {
        self.raw_status() & self.imsc
    }

    /// The next typed byte for the guest (0 when none).
    pub fn pop(&mut self) -> u32 {
        if self.rx_len == 0 {
            return 0;
        }
        let b = self.rx[self.rx_head];
        self.rx_head = (self.rx_head + 1) % RX_CAPACITY;
        self.rx_len -= 1;
        b as u32
    }

    /// Re-evaluates the interrupt line; true when it just went high (the virtual GIC must hear about it).
    pub fn line_rose(&mut self) -> bool {
        let high = self.masked_status() != 0;
        let rose = high && !self.irq_high;
        self.irq_high = high;
        rose
    }
}

impl VUart {
    /// A byte typed for the partition: queued for the guest, or counted as dropped when it does not read.
    /// Returns whether the interrupt line rose.
    pub fn receive(&mut self, byte: u8) -> bool {
        if self.rx_len == RX_CAPACITY {
            self.rx_dropped = self.rx_dropped.saturating_add(1);
            return false;
        }
        let tail = (self.rx_head + self.rx_len) % RX_CAPACITY;
        self.rx[tail] = byte;
        self.rx_len += 1;
        self.line_rose()
    }

    /// Whether [`Self::register`] with this access would complete a line of output.
    pub fn completes_line(&self, offset: u64, write: Option<u32>) -> bool {
        offset == DR && write.is_some_and(|v| self.line.completes_line(v as u8))
    }

    /// A guest access at `offset` (any offset, any width: unknown registers are RAZ/WI); `emit` gets each completed
    /// output line. Returns the value read.
    pub fn register(&mut self, offset: u64, write: Option<u32>, mut emit: impl FnMut(&[u8])) -> u32 {
        match (offset, write) {
            (DR, Some(v)) => {
                if let Some(line) = self.line.push(v as u8) {
                    emit(line);
                }
                0
            }
            (DR, None) => self.pop(),
            (FR, None) => FR_TXFE | if self.rx_len == 0 { FR_RXFE } else { 0 },
            (IBRD, w) => reg(&mut self.ibrd, w),
            (FBRD, w) => reg(&mut self.fbrd, w),
            (LCR_H, w) => reg(&mut self.lcr_h, w),
            (CR, w) => reg(&mut self.cr, w),
            (IFLS, w) => reg(&mut self.ifls, w),
            (IMSC, w) => reg(&mut self.imsc, w),
            (RIS, None) => self.raw_status(),
            (MIS, None) => self.masked_status(),
            (ICR, _) => 0,
            (o, None) if (ID_BASE..ID_BASE + 0x20).contains(&o) => {
                IDS.get(((o - ID_BASE) / 4) as usize).copied().unwrap_or(0)
            }
            _ => 0,
        }
    }
}

fn reg(r: &mut u32, w: Option<u32>) -> u32 {
    match w {
        Some(v) => {
            *r = v;
            0
        }
        None => *r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_like_a_pl011_with_an_empty_transmitter() {
        let mut u = VUart::RESET;
        assert_eq!(u.register(FR, None, |_| {}), FR_TXFE | FR_RXFE);
        assert_eq!(u.register(ID_BASE, None, |_| {}), 0x11);
        assert_eq!(u.register(ID_BASE + 0x1c, None, |_| {}), 0xb1);
        let mut lines = Vec::new();
        for &b in b"hi\n" {
            u.register(DR, Some(u32::from(b)), |l| lines.push(l.to_vec()));
        }
        assert_eq!(lines, [b"hi".to_vec()]);
        u.register(IMSC, Some(INT_RX), |_| {});
        assert!(u.receive(b'x'), "input raises the masked receive interrupt");
        assert_eq!(u.register(DR, None, |_| {}), u32::from(b'x'));
    }

    proptest! {
        /// Any sequence of accesses at any offset with any value, mixed with typed input: no panic, every emitted
        /// line fits the console's line length, a line is emitted exactly when `completes_line` said, reads of
        /// unknown registers are 0, and held input never exceeds the buffer.
        #[test]
        fn any_access_sequence_is_answered(
            ops in proptest::collection::vec(
                (prop_oneof![0u64..0x1000, any::<u64>()], proptest::option::of(any::<u32>()), any::<Option<u8>>()),
                1..400,
            ),
        ) {
            let mut u = VUart::RESET;
            for (offset, write, typed) in ops {
                let mut longest = 0;
                let mut lines = 0;
                let predicted = u.completes_line(offset, write);
                let v = u.register(offset, write, |l| {
                    longest = longest.max(l.len());
                    lines += 1;
                });
                prop_assert!(longest <= crate::core::console::line::LINE_OUT_MAX);
                // What the trap asks before deciding to leave a write for later is exactly what happens.
                prop_assert_eq!(predicted, lines > 0);
                if write.is_none() && offset >= 0x1000 {
                    prop_assert_eq!(v, 0);
                }
                if let Some(b) = typed {
                    u.receive(b);
                }
                prop_assert!(u.rx_len <= RX_CAPACITY);
            }
        }
    }
}
