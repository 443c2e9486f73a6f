//! The console: a PL011 found in the device tree, written by polling, behind a lock so that lines from
//! different vCPUs never interleave. Output before the console is set up (or without a UART) is dropped.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

use crate::arch;

register_structs! {
    /// The PL011 registers a polled transmitter needs (PL011 TRM §3.2).
    Pl011Regs {
        (0x000 => dr: ReadWrite<u32>),
        (0x004 => _reserved),
        (0x018 => fr: ReadOnly<u32>),
        (0x01c => @END),
    }
}

/// UARTFR.TXFF: transmit FIFO full.
const FR_TXFF: u32 = 1 << 5;
/// UARTFR.RXFE: receive FIFO empty.
const FR_RXFE: u32 = 1 << 4;

/// Base address of the PL011; 0 until [`init`].
static BASE: AtomicUsize = AtomicUsize::new(0);
/// Held for a whole `print!`/`println!`, with IRQs masked on the holder.
static LOCK: Mutex<()> = Mutex::new(());

/// The next byte typed at the console, if any (polled: the guests only look when their timer ticks).
pub fn read_byte() -> Option<u8> {
    Pl011::current()?.get()
}

/// Directs output to the PL011 at `base`. No initialisation is needed: firmware, QEMU or hv-static's emulation
/// leave it enabled, and hv-static's reports a never-full FIFO.
pub fn init(base: usize) {
    BASE.store(base, Ordering::Release);
}

struct Pl011(usize);

impl Pl011 {
    fn current() -> Option<Self> {
        match BASE.load(Ordering::Acquire) {
            0 => None,
            base => Some(Self(base)),
        }
    }

    fn regs(&self) -> &Pl011Regs {
        // SAFETY: the base came from the device tree's `arm,pl011` node (or the boot fallback), a device that
        // stays mapped for the guest's lifetime; the registers are only accessed through volatile cells.
        unsafe { &*(self.0 as *const Pl011Regs) }
    }

    fn get(&self) -> Option<u8> {
        if self.regs().fr.get() & FR_RXFE != 0 {
            return None;
        }
        Some(self.regs().dr.get() as u8)
    }

    fn put(&self, byte: u8) {
        while self.regs().fr.get() & FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        self.regs().dr.set(u32::from(byte));
    }
}

impl Write for Pl011 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.put(b'\r');
            }
            self.put(byte);
        }
        Ok(())
    }
}

/// Backs [`print!`](crate::print).
pub fn print(args: fmt::Arguments) {
    write_locked(args, false);
}

/// Backs [`println!`](crate::println): text and newline under one lock.
pub fn print_line(args: fmt::Arguments) {
    write_locked(args, true);
}

fn write_locked(args: fmt::Arguments, newline: bool) {
    let Some(mut uart) = Pl011::current() else { return };
    let _irqs = arch::IrqGuard::new();
    let _lock = LOCK.lock();
    let _ = uart.write_fmt(args);
    if newline {
        let _ = uart.write_str("\n");
    }
}

/// For fault and panic reports: takes the lock if it can, but writes anyway after a while, because the vCPU that
/// holds it may be the one that faulted.
pub fn emergency(args: fmt::Arguments) {
    let Some(mut uart) = Pl011::current() else { return };
    let _irqs = arch::IrqGuard::new();
    let lock = (0..1_000_000).find_map(|_| LOCK.try_lock());
    let _ = uart.write_fmt(args);
    drop(lock);
}

/// Prints to the console; the output of one call is never interleaved with another vCPU's.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!($($arg)*))
    };
}

/// Prints a line to the console; the line is never interleaved with another vCPU's output.
#[macro_export]
macro_rules! println {
    () => {
        $crate::console::print_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::console::print_line(format_args!($($arg)*))
    };
}
