//! Each partition's emulated PL011. Output bytes are assembled into lines and written to the physical console
//! with the partition's name as prefix; input arrives from the console switch when the partition has the focus.
//! The identification, status and interrupt registers read like a real PL011 whose transmitter is always empty,
//! so Linux's amba-pl011 driver binds to it unchanged and drives it with interrupts.

use spin::Mutex;

use crate::arch;
use crate::config::{NUM_PARTITIONS, SYSTEM};
use crate::core::console;
use crate::core::vcpu::VcpuRef;
use crate::vdev::{vgic, Later};

pub mod regs;
mod vdev;

use regs::VUart;
pub use regs::SIZE;
pub use vdev::Console;

static UARTS: [Mutex<VUart>; NUM_PARTITIONS] = [const { Mutex::new(VUart::RESET) }; NUM_PARTITIONS];

fn reset(part: usize) {
    *UARTS[part].lock() = VUart::RESET;
}

/// Emits whatever the partition left without a newline (it stopped mid-line).
fn flush(part: usize) {
    let mut u = UARTS[part].lock();
    if !u.line.is_empty() {
        console::write_partition_line(part, u.line.take());
    }
}

/// A byte typed for partition `part`.
pub fn receive(part: usize, byte: u8) {
    let rose = UARTS[part].lock().receive(byte);
    if rose {
        raise(part);
    }
}

/// The guest completed the UART interrupt: if the line is still high, it fires again (level-triggered).
fn resample(part: usize) {
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

/// A guest access at `offset` in the UART frame; returns the read value, or [`Later`] for a write that would
/// complete a line while this CPU's window boundary is due (the line's copy and drain would start the next window
/// late; the guest writes the byte again in its own next window).
fn access(part: usize, offset: u64, write: Option<u32>) -> Result<u32, Later> {
    let (value, rose) = {
        let mut u = UARTS[part].lock();
        if u.completes_line(offset, write) && arch::timer::hyp_deadline_passed() {
            return Err(Later);
        }
        u.line.set_raw(console::focused() == Some(part));
        let value = u.register(offset, write, |line| console::write_partition_line(part, line));
        (value, u.line_rose())
    };
    if rose {
        raise(part);
    }
    Ok(value)
}
