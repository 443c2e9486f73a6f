//! Each partition's emulated PL011: transmit only for now. Bytes are assembled into lines and written to the
//! physical console with the partition's name as prefix. The identification and status registers read like a
//! real PL011, so Linux's amba-pl011 driver binds to it unchanged.

use spin::Mutex;

use crate::config::{NUM_PARTITIONS, SYSTEM};
use crate::console::{self, line::LineBuffer};

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

/// Receive FIFO empty and transmit FIFO empty: output is never busy, input never arrives (yet).
const FR_IDLE: u32 = 1 << 4 | 1 << 7;
/// Transmit interrupt: always raised, since the FIFO is always empty.
const INT_TX: u32 = 1 << 5;
/// PrimeCell peripheral ID (PL011 r1p5) and component ID bytes, at 0xFE0..0xFFC.
const IDS: [u32; 8] = [0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

struct VUart {
    line: LineBuffer,
    cr: u32,
    lcr_h: u32,
    ibrd: u32,
    fbrd: u32,
    ifls: u32,
    imsc: u32,
}

impl VUart {
    const RESET: VUart =
        VUart { line: LineBuffer::new(), cr: 0x300, lcr_h: 0, ibrd: 0, fbrd: 0, ifls: 0x12, imsc: 0 };
}

static UARTS: [Mutex<VUart>; NUM_PARTITIONS] = [const { Mutex::new(VUart::RESET) }; NUM_PARTITIONS];

pub fn reset(part: usize) {
    *UARTS[part].lock() = VUart::RESET;
}

/// Emits whatever the partition left without a newline (it stopped mid-line).
pub fn flush(part: usize) {
    let mut u = UARTS[part].lock();
    if !u.line.is_empty() {
        console::write_line(SYSTEM.partitions[part].name, u.line.take());
    }
}

/// A guest access at `offset` in the UART frame; returns the read value.
pub fn access(part: usize, offset: u64, write: Option<u32>) -> u32 {
    let mut u = UARTS[part].lock();
    match (offset, write) {
        (DR, Some(v)) => {
            if let Some(line) = u.line.push(v as u8) {
                console::write_line(SYSTEM.partitions[part].name, line);
            }
            0
        }
        (FR, None) => FR_IDLE,
        (IBRD, w) => reg(&mut u.ibrd, w),
        (FBRD, w) => reg(&mut u.fbrd, w),
        (LCR_H, w) => reg(&mut u.lcr_h, w),
        (CR, w) => reg(&mut u.cr, w),
        (IFLS, w) => reg(&mut u.ifls, w),
        (IMSC, w) => reg(&mut u.imsc, w),
        (RIS, None) => INT_TX,
        (MIS, None) => INT_TX & u.imsc,
        (ICR, _) => 0,
        (o, None) if (ID_BASE..ID_BASE + 0x20).contains(&o) => IDS[((o - ID_BASE) / 4) as usize],
        _ => 0,
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
