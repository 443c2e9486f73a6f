//! The console: a PL011 found in the device tree, written by polling inside a critical section ([`crate::critical`]),
//! so that lines from different vCPUs never interleave and an interrupt handler that prints cannot deadlock against
//! the code it interrupted. Output before the console is set up (or without a UART) is dropped.

use core::convert::Infallible;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

use crate::critical;

register_structs! {
    /// The PL011 registers a polled transmitter needs (PL011 TRM §3.2).
    Pl011Regs {
        (0x000 => dr: ReadWrite<u32>),
        (0x004 => _reserved),
        (0x018 => fr: ReadOnly<u32>),
        (0x01c => @END),
    }
}

/// UARTFR.BUSY: still transmitting.
const FR_BUSY: u32 = 1 << 3;
/// UARTFR.TXFF: transmit FIFO full.
const FR_TXFF: u32 = 1 << 5;
/// UARTFR.RXFE: receive FIFO empty.
const FR_RXFE: u32 = 1 << 4;

/// Base address of the PL011; 0 until [`init`].
static BASE: AtomicUsize = AtomicUsize::new(0);

/// The next byte typed at the console, if any (polled: the guests only look when their timer ticks).
pub fn read_byte() -> Option<u8> {
    Pl011::current()?.get()
}

/// Directs output to the PL011 at `base`. No initialisation is needed: firmware, QEMU or hv-static's emulation
/// leave it enabled, and hv-static's reports a never-full FIFO.
pub fn init(base: usize) {
    BASE.store(base, Ordering::Release);
}

/// Runs `f` with the console to itself, in a critical section: nothing else reaches the UART until `f` returns, so
/// keep it short. `None`, and `f` is not run, while there is no console.
pub fn with<R>(f: impl FnOnce(&mut Pl011) -> R) -> Option<R> {
    let mut uart = Pl011::current()?;
    Some(critical_section::with(|_| f(&mut uart)))
}

/// The console UART, as [`with`] lends it out. [`core::fmt::Write`], which `print!` uses, turns each `\n` into
/// `\r\n` for terminals; [`embedded_io::Write`] sends bytes exactly as given.
pub struct Pl011(usize);

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

/// Polled: the UART never fails, it only makes the writer wait.
impl embedded_io::ErrorType for Pl011 {
    type Error = Infallible;
}

impl embedded_io::Write for Pl011 {
    /// Sends all of `buf`, waiting for room in the transmit FIFO as needed.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        buf.iter().for_each(|&byte| self.put(byte));
        Ok(buf.len())
    }

    /// Waits until the UART has shifted out everything it was given.
    fn flush(&mut self) -> Result<(), Infallible> {
        while self.regs().fr.get() & FR_BUSY != 0 {
            core::hint::spin_loop();
        }
        Ok(())
    }
}

/// Backs [`print!`](crate::print).
pub fn print(args: fmt::Arguments) {
    // A formatting error (a `Display` impl failing) leaves the output cut short; there is nowhere to report it.
    let _ = with(|uart| uart.write_fmt(args));
}

/// Backs [`println!`](crate::println): text and newline in one critical section.
pub fn print_line(args: fmt::Arguments) {
    let _ = with(|uart| uart.write_fmt(args).and_then(|()| uart.write_str("\n")));
}

/// For fault and panic reports: enters the critical section if it can, but writes anyway after a while, because the
/// vCPU inside it may have faulted there and stopped for good (see [`crate::critical`]).
pub fn emergency(args: fmt::Arguments) {
    let Some(mut uart) = Pl011::current() else { return };
    let _ = critical::forced(|| uart.write_fmt(args));
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
