//! Each partition's emulated PL011. Output bytes are assembled into lines and written to the physical console
//! with the partition's name as prefix; input arrives from the console switch when the partition has the focus.
//! The identification, status and interrupt registers read like a real PL011 whose transmitter is always empty,
//! so Linux's amba-pl011 driver binds to it unchanged and drives it with interrupts.

use spin::Mutex;

use crate::config::{NUM_PARTITIONS, SYSTEM};
use crate::console::{self, line::LineBuffer};
use crate::vcpu::VcpuRef;
use crate::vgic;

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

struct VUart {
    line: LineBuffer,
    rx: [u8; RX_CAPACITY],
    rx_head: usize,
    rx_len: usize,
    rx_dropped: u32,
    /// The interrupt line as last asserted to the virtual GIC.
    irq_high: bool,
    cr: u32,
    lcr_h: u32,
    ibrd: u32,
    fbrd: u32,
    ifls: u32,
    imsc: u32,
}

impl VUart {
    const RESET: VUart = VUart {
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

    fn masked_status(&self) -> u32 {
        self.raw_status() & self.imsc
    }

    fn pop(&mut self) -> u32 {
        if self.rx_len == 0 {
            return 0;
        }
        let b = self.rx[self.rx_head];
        self.rx_head = (self.rx_head + 1) % RX_CAPACITY;
        self.rx_len -= 1;
        b as u32
    }

    /// Re-evaluates the interrupt line; true when it just went high (the virtual GIC must hear about it).
    fn line_rose(&mut self) -> bool {
        let high = self.masked_status() != 0;
        let rose = high && !self.irq_high;
        self.irq_high = high;
        rose
    }
}

static UARTS: [Mutex<VUart>; NUM_PARTITIONS] = [const { Mutex::new(VUart::RESET) }; NUM_PARTITIONS];

pub fn reset(part: usize) {
    *UARTS[part].lock() = VUart::RESET;
}

/// Emits whatever the partition left without a newline (it stopped mid-line).
pub fn flush(part: usize) {
    let mut u = UARTS[part].lock();
    if !u.line.is_empty() {
        console::write_partition_line(part, u.line.take());
    }
}

/// A byte typed for partition `part`.
pub fn receive(part: usize, byte: u8) {
    let rose = {
        let mut u = UARTS[part].lock();
        if u.rx_len == RX_CAPACITY {
            u.rx_dropped += 1;
            return;
        }
        let tail = (u.rx_head + u.rx_len) % RX_CAPACITY;
        u.rx[tail] = byte;
        u.rx_len += 1;
        u.line_rose()
    };
    if rose {
        raise(part);
    }
}

/// The guest completed the UART interrupt: if the line is still high, it fires again (level-triggered).
pub fn resample(part: usize) {
    let still_high = {
        let mut u = UARTS[part].lock();
        u.irq_high = u.masked_status() != 0;
        u.irq_high
    };
    if still_high {
        raise(part);
    }
}

fn raise(part: usize) {
    vgic::inject(VcpuRef { part, idx: 0 }, SYSTEM.partitions[part].vdev.uart_irq, 0);
}

/// A guest access at `offset` in the UART frame; returns the read value.
pub fn access(part: usize, offset: u64, write: Option<u32>) -> u32 {
    let (value, rose) = {
        let mut u = UARTS[part].lock();
        let value = register(&mut u, part, offset, write);
        (value, u.line_rose())
    };
    if rose {
        raise(part);
    }
    value
}

fn register(u: &mut VUart, part: usize, offset: u64, write: Option<u32>) -> u32 {
    match (offset, write) {
        (DR, Some(v)) => {
            if let Some(line) = u.line.push(v as u8) {
                console::write_partition_line(part, line);
            }
            0
        }
        (DR, None) => u.pop(),
        (FR, None) => FR_TXFE | if u.rx_len == 0 { FR_RXFE } else { 0 },
        (IBRD, w) => reg(&mut u.ibrd, w),
        (FBRD, w) => reg(&mut u.fbrd, w),
        (LCR_H, w) => reg(&mut u.lcr_h, w),
        (CR, w) => reg(&mut u.cr, w),
        (IFLS, w) => reg(&mut u.ifls, w),
        (IMSC, w) => reg(&mut u.imsc, w),
        (RIS, None) => u.raw_status(),
        (MIS, None) => u.masked_status(),
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
