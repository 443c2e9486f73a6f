//! The physical console UART, driven by whichever driver the configuration names (`SystemConfig::uart_kind`).
//! A plain enum: no heap, no vtable, one compare per call. (Every driver is compiled in: the console's lock holds
//! the value, so the optimiser does not see that the kind is a build-time constant.)
//!
//! Not `embedded-io`: its `Write::write` must block until the device takes at least one byte, and `Read::read`
//! until one arrives, while the console must never wait on the UART inside a trap (it writes what the FIFO takes,
//! possibly nothing, and leaves the rest to the transmit interrupt: `write_run`). Expressing that through
//! `WriteReady` plus `write` would read the status register twice per run. The guests' PL011, which may wait, does
//! implement it (`guest-rt`'s console).

pub mod cadence;
pub mod ns16550;
pub mod pl011;

use crate::config::UartKind;
use cadence::Cadence;
use ns16550::Ns16550;
use pl011::Pl011;

pub enum Uart {
    Pl011(Pl011),
    Ns16550(Ns16550),
    Cadence(Cadence),
}

impl Uart {
    /// # Safety
    /// `base` must be the address of a UART of this kind, mapped as device memory and used by nobody else
    /// concurrently.
    pub const unsafe fn new(kind: UartKind, base: usize) -> Self {
        match kind {
            // SAFETY: the caller's guarantee, for the kind it names.
            UartKind::Pl011 => Uart::Pl011(unsafe { Pl011::new(base) }),
            // SAFETY: as above.
            UartKind::Ns16550 { reg_shift } => Uart::Ns16550(unsafe { Ns16550::new(base, reg_shift) }),
            // SAFETY: as above.
            UartKind::Cadence => Uart::Cadence(unsafe { Cadence::new(base) }),
        }
    }

    /// Makes the UART able to send and receive, where the boot loader may not have (once, on the boot CPU, before
    /// the first line; again in the panic path, in case that came first). Not part of `new`: the console's UART is
    /// a static built in a const context, which cannot touch the device. Only the Cadence UART needs it: QEMU's
    /// comes out of reset with its transmitter and receiver off and drops everything written to it. The PL011 and
    /// 16550 are left exactly as the boot loader configured them.
    pub fn enable(&mut self) {
        match self {
            Uart::Pl011(_) | Uart::Ns16550(_) => {}
            Uart::Cadence(u) => u.enable(),
        }
    }

    pub fn write_byte(&mut self, b: u8) {
        match self {
            Uart::Pl011(u) => u.write_byte(b),
            Uart::Ns16550(u) => u.write_byte(b),
            Uart::Cadence(u) => u.write_byte(b),
        }
    }

    /// The transmit FIFO's depth: the most bytes one call of the console's drain writes (see `outbox::drain`).
    pub fn fifo_depth(&self) -> usize {
        match self {
            Uart::Pl011(_) => pl011::FIFO_DEPTH,
            Uart::Ns16550(_) => ns16550::FIFO_DEPTH,
            Uart::Cadence(_) => cadence::FIFO_DEPTH,
        }
    }

    /// Writes bytes of `run` while the transmitter has room; returns how many it took. One dispatch on the UART's
    /// kind per run, not per byte.
    pub fn write_run(&mut self, run: &[u8]) -> usize {
        match self {
            Uart::Pl011(u) => u.write_run(run),
            Uart::Ns16550(u) => run.iter().take_while(|&&b| u.try_write_byte(b)).count(),
            Uart::Cadence(u) => u.write_run(run),
        }
    }

    /// Interrupts when the transmitter has room again (`on`), or not.
    pub fn set_tx_interrupt(&mut self, on: bool) {
        match self {
            Uart::Pl011(u) => u.set_tx_interrupt(on),
            Uart::Ns16550(u) => u.set_tx_interrupt(on),
            Uart::Cadence(u) => u.set_tx_interrupt(on),
        }
    }

    /// The next received byte, if any.
    pub fn read_byte(&mut self) -> Option<u8> {
        match self {
            Uart::Pl011(u) => u.read_byte(),
            Uart::Ns16550(u) => u.read_byte(),
            Uart::Cadence(u) => u.read_byte(),
        }
    }

    /// Interrupts on received data, so console input needs no polling.
    pub fn enable_rx_interrupt(&mut self) {
        match self {
            Uart::Pl011(u) => u.enable_rx_interrupt(),
            Uart::Ns16550(u) => u.enable_rx_interrupt(),
            Uart::Cadence(u) => u.enable_rx_interrupt(),
        }
    }

    /// Writes `bytes`, each `\n` as `\r\n` (terminals want both).
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
    }
}
