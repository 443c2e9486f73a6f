//! Cadence UART (`cdns,uart-r1p12`, Xilinx `xlnx,xuartps`: the Zynq UltraScale+ and Zynq-7000 consoles):
//! transmit (waiting or not), receive, and the receive and transmit interrupts, all the hypervisor's console needs.
//! Registers named as in the Zynq UltraScale+ TRM (UG1085, chapter "UART Controller"); QEMU's model is
//! `hw/char/cadence_uart.c`.
//!
//! The boot loader has set the line up (baud rate, 8N1): the mode and baud rate registers are not in the register
//! block below at all, so no code here can write them. What this driver does set: the transmitter and receiver
//! on ([`Cadence::enable`]: both are off after reset, control register 0x128, and QEMU's model silently drops every
//! byte written to a disabled transmitter), and the receive trigger level.
//!
//! Interrupts. The line is raised while `ISR & IMR` is non-zero, and the status bits (ISR) are sticky until written
//! with 1. QEMU ORs the FIFO state into them after every register access (TEMPTY while the transmit FIFO is empty,
//! RTRIG while the receive FIFO holds at least the trigger level); on hardware a bit may be set only when its
//! condition arises, and this driver relies on neither. Either way nothing may stay raised with nothing to clear
//! it (an interrupt storm on one CPU would take another partition's time), so:
//! - `enable` masks every source; only two are ever unmasked, RTRIG and TEMPTY.
//! - RTRIG: the console's interrupt handler reads until [`Cadence::read_byte`] says empty on every take, and that
//!   call acknowledges RTRIG (then looks once more, so a byte arriving in between is not left without an
//!   interrupt on hardware that signals only the event).
//! - TEMPTY: the console unmasks it only while output waits, and masks it once nothing does. Its status is cleared
//!   just before each write into the FIFO ([`Cadence::write_run`], [`Cadence::write_byte`]), never when the
//!   interrupt is switched: so a set TEMPTY always means "the FIFO emptied since the last byte went in". Turned on
//!   while output waits, the interrupt therefore comes (now, if the FIFO is already empty, even where TEMPTY is only
//!   an event), and when taken the FIFO has room, so the console's drain on its target CPU writes, which clears it.
//!   Where TEMPTY is re-set while the FIFO is empty (QEMU, which transmits at once), it stays raised while output
//!   waits: the console keeps it active until the CPU leaves the hypervisor, one slice per entry, as for the PL011.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Control. The reset and timeout-restart bits are commands that clear themselves, the break bits matter only
    /// while a break is sent, and each disable bit wins over its enable: writing only the two enables turns both
    /// directions on (their disables cleared) and leaves nothing else pending.
    CR [
        /// Receiver enable (ignored while RXDIS is set).
        RXEN OFFSET(2) NUMBITS(1) [],
        /// Transmitter enable (ignored while TXDIS is set).
        TXEN OFFSET(4) NUMBITS(1) []
    ],
    /// The interrupt sources, as laid out in IER, IDR, IMR and ISR.
    INT [
        /// The receive FIFO holds at least RXWM bytes.
        RTRIG OFFSET(0) NUMBITS(1) [],
        /// The transmit FIFO is empty.
        TEMPTY OFFSET(3) NUMBITS(1) [],
        /// Receive timeout (not used: with RXWM at 1, RTRIG already announces every byte).
        TIMEOUT OFFSET(8) NUMBITS(1) [],
        /// Every source (RTRIG to TOVR).
        ALL OFFSET(0) NUMBITS(13) []
    ],
    /// Receive FIFO trigger level.
    RXWM [
        LEVEL OFFSET(0) NUMBITS(6) []
    ],
    /// Channel status: the FIFOs' state now (not sticky).
    SR [
        /// Receive FIFO empty.
        REMPTY OFFSET(1) NUMBITS(1) [],
        /// Transmit FIFO empty.
        TEMPTY OFFSET(3) NUMBITS(1) [],
        /// Transmit FIFO full.
        TFUL OFFSET(4) NUMBITS(1) []
    ],
    /// The FIFOs: written, the byte to send; read, the byte received.
    FIFO [
        DATA OFFSET(0) NUMBITS(8) []
    ],
}

register_structs! {
    /// The registers this driver uses, and the gaps between them. The mode register (0x04) and the baud rate
    /// generator and divider (0x18, 0x34) are left out on purpose: they are the boot loader's.
    Regs {
        (0x00 => cr: WriteOnly<u32, CR::Register>),
        (0x04 => _mode),
        (0x08 => ier: WriteOnly<u32, INT::Register>),
        (0x0C => idr: WriteOnly<u32, INT::Register>),
        (0x10 => _imr),
        /// Sticky status, cleared by writing 1: write-only here, so that no read-modify-write can clear bits it
        /// did not mean to.
        (0x14 => isr: WriteOnly<u32, INT::Register>),
        (0x18 => _baud_and_timeout),
        (0x20 => rxwm: WriteOnly<u32, RXWM::Register>),
        (0x24 => _modem),
        (0x2C => sr: ReadOnly<u32, SR::Register>),
        (0x30 => fifo: ReadWrite<u32, FIFO::Register>),
        (0x34 => @END),
    }
}

/// Bytes an empty transmit FIFO takes without further checks: QEMU's model holds 16 (and drops what overflows it
/// when its back end is slow), the UltraScale+ 64.
const MIN_FIFO: usize = 16;

/// Bytes the transmit FIFO of the UltraScale+ holds: the most one call may usefully write, so the console's budget
/// per call.
pub const FIFO_DEPTH: usize = 64;

pub struct Cadence {
    /// The registers' address, kept as a number so that `new` stays a `const fn` (see `Pl011::base`).
    base: usize,
}

impl Cadence {
    /// # Safety
    /// `base` must be the address of a Cadence UART mapped as device memory, used by nobody else concurrently.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    fn regs(&self) -> &Regs {
        // SAFETY: `new` guarantees a mapped Cadence UART at `base`, which nobody else uses; its registers are
        // tock-registers cells, read and written only through volatile accesses.
        unsafe { &*(self.base as *const Regs) }
    }

    /// Masks every interrupt source (whatever the boot loader or an earlier system left unmasked could raise the
    /// line with nothing here to clear it), then turns transmitter and receiver on. Idempotent; the baud rate and
    /// line format stay as the boot loader left them.
    pub fn enable(&mut self) {
        let regs = self.regs();
        regs.idr.write(INT::ALL::SET);
        regs.cr.write(CR::TXEN::SET + CR::RXEN::SET);
    }

    /// Waits for room, then writes `b` (the polled path: boot and panic).
    pub fn write_byte(&mut self, b: u8) {
        let regs = self.regs();
        while regs.sr.matches_all(SR::TFUL::SET) {
            core::hint::spin_loop();
        }
        // Before the byte goes in, so that TEMPTY means "emptied since": see the module's doc.
        regs.isr.write(INT::TEMPTY::SET);
        regs.fifo.write(FIFO::DATA.val(b.into()));
    }

    /// Writes bytes of `run` while the transmit FIFO has room; never waits. Returns how many it took. An empty FIFO
    /// takes a burst of [`MIN_FIFO`] bytes on one status read (as on the PL011); TEMPTY's status is cleared once,
    /// before the first byte (see the module's doc).
    pub fn write_run(&mut self, run: &[u8]) -> usize {
        let regs = self.regs();
        let mut done = 0;
        while let Some(rest) = run.get(done..).filter(|r| !r.is_empty()) {
            let sr = regs.sr.extract();
            let room = match (sr.matches_all(SR::TEMPTY::SET), sr.matches_all(SR::TFUL::SET)) {
                (true, _) => MIN_FIFO,
                (false, false) => 1,
                (false, true) => break,
            };
            if done == 0 {
                regs.isr.write(INT::TEMPTY::SET);
            }
            for &b in rest.iter().take(room) {
                regs.fifo.write(FIFO::DATA.val(b.into()));
            }
            done += room.min(rest.len());
        }
        done
    }

    /// Interrupts when the transmit FIFO has emptied (`on`), or not. Only the mask changes, never the status: a
    /// status cleared while the FIFO is already empty would, where TEMPTY is an event, never be set again, and
    /// output would stall with the interrupt on (the PL011 driver keeps away from its status for the same reason).
    /// A status left set while masked does no harm: it means the FIFO has room.
    pub fn set_tx_interrupt(&mut self, on: bool) {
        let regs = self.regs();
        if on {
            regs.ier.write(INT::TEMPTY::SET);
        } else {
            regs.idr.write(INT::TEMPTY::SET);
        }
    }

    /// The next received byte, if any. Found empty, it acknowledges the receive interrupt, so that the line drops,
    /// and looks once more: a byte that arrived between the two looks is returned (the caller asks again, and that
    /// call acknowledges), not left in the FIFO with its interrupt already acknowledged.
    pub fn read_byte(&mut self) -> Option<u8> {
        // `matches_all` rather than `is_set`: see `pl011::read_byte`.
        let regs = self.regs();
        if regs.sr.matches_all(SR::REMPTY::SET) {
            regs.isr.write(INT::RTRIG::SET + INT::TIMEOUT::SET);
            if regs.sr.matches_all(SR::REMPTY::SET) {
                return None;
            }
        }
        Some(regs.fifo.read(FIFO::DATA) as u8)
    }

    /// Interrupts on every received byte (trigger level 1, so single keystrokes arrive at once and the receive
    /// timeout is not needed). A stale status is cleared first.
    pub fn enable_rx_interrupt(&mut self) {
        let regs = self.regs();
        regs.rxwm.write(RXWM::LEVEL.val(1));
        regs.isr.write(INT::RTRIG::SET + INT::TIMEOUT::SET);
        regs.ier.write(INT::RTRIG::SET);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// The registers' word indices, from the offsets in UG1085 (the mode register at 0x04).
    const CR: usize = 0;
    const MR: usize = 1;
    const IER: usize = 0x08 / 4;
    const IDR: usize = 0x0C / 4;
    const ISR: usize = 0x14 / 4;
    const BAUDGEN: usize = 0x18 / 4;
    const RXWM: usize = 0x20 / 4;
    const SR: usize = 0x2C / 4;
    const FIFO: usize = 0x30 / 4;
    const BAUDDIV: usize = 0x34 / 4;
    const SR_REMPTY: u32 = 1 << 1;
    const SR_TEMPTY: u32 = 1 << 3;
    const SR_TFUL: u32 = 1 << 4;
    const INT_RTRIG: u32 = 1 << 0;
    const INT_TEMPTY: u32 = 1 << 3;
    const INT_TIMEOUT: u32 = 1 << 8;
    /// What the RAM holds before the driver runs: a register it never writes keeps it.
    const UNTOUCHED: u32 = 0xdead_beef;

    /// A Cadence UART made of RAM, up to TXWM (0x44), every register [`UNTOUCHED`] but the status.
    fn uart(mem: &[Cell<u32>; 18]) -> Cadence {
        mem.iter().for_each(|r| r.set(UNTOUCHED));
        mem[SR].set(SR_REMPTY | SR_TEMPTY);
        // SAFETY: `mem` is ordinary memory that outlives the driver and covers every register it uses; the test
        // reads and writes it only through the same cells.
        unsafe { Cadence::new(mem.as_ptr() as usize) }
    }

    #[test]
    fn enable_masks_everything_and_turns_both_directions_on() {
        let mem: [Cell<u32>; 18] = Default::default();
        let mut u = uart(&mem);
        u.enable();
        assert_eq!(mem[IDR].get(), 0x1fff, "every source masked");
        assert_eq!(mem[CR].get(), 1 << 4 | 1 << 2, "TXEN and RXEN, no disable, reset or break bit");
        assert_eq!(mem[IER].get(), UNTOUCHED);
        assert_eq!(mem[ISR].get(), UNTOUCHED);
    }

    #[test]
    fn write_run_clears_tempty_first_and_stops_when_the_fifo_is_full() {
        let mem: [Cell<u32>; 18] = Default::default();
        let mut u = uart(&mem);
        mem[SR].set(SR_TFUL);
        assert_eq!(u.write_run(b"hello"), 0, "full");
        assert_eq!(mem[ISR].get(), UNTOUCHED, "nothing written, status kept");
        assert_eq!(mem[FIFO].get(), UNTOUCHED);
        mem[SR].set(SR_TEMPTY);
        assert_eq!(u.write_run(b"hello"), 5, "an empty FIFO takes a burst");
        assert_eq!(mem[FIFO].get(), u32::from(b'o'));
        assert_eq!(mem[ISR].get(), INT_TEMPTY, "TEMPTY cleared, nothing else");
        assert_eq!(u.write_run(&[b'x'; 40]), 40, "bursts of MIN_FIFO while it says empty");
        mem[SR].set(0);
        assert_eq!(u.write_run(b"hi"), 2, "neither empty nor full: a byte per status read");
        assert_eq!(mem[FIFO].get(), u32::from(b'i'));
        mem[SR].set(SR_TEMPTY);
        u.write_byte(b'z');
        assert_eq!(mem[FIFO].get(), u32::from(b'z'));
    }

    #[test]
    fn read_byte_takes_the_data_bits_and_acknowledges_once_empty() {
        let mem: [Cell<u32>; 18] = Default::default();
        let mut u = uart(&mem);
        mem[FIFO].set(0x400 | u32::from(b'x'));
        mem[SR].set(0);
        assert_eq!(u.read_byte(), Some(b'x'), "only the data bits");
        assert_eq!(mem[ISR].get(), UNTOUCHED, "not acknowledged while data is there");
        mem[SR].set(SR_REMPTY);
        assert_eq!(u.read_byte(), None);
        assert_eq!(mem[ISR].get(), INT_RTRIG | INT_TIMEOUT, "receive status acknowledged, TEMPTY kept");
    }

    #[test]
    fn the_transmit_interrupt_changes_only_its_mask() {
        let mem: [Cell<u32>; 18] = Default::default();
        let mut u = uart(&mem);
        u.set_tx_interrupt(true);
        assert_eq!(mem[IER].get(), INT_TEMPTY);
        assert_eq!(mem[IDR].get(), UNTOUCHED);
        u.set_tx_interrupt(false);
        assert_eq!(mem[IDR].get(), INT_TEMPTY);
        assert_eq!(mem[ISR].get(), UNTOUCHED, "the status is never cleared by switching");
    }

    #[test]
    fn the_receive_interrupt_fires_per_byte() {
        let mem: [Cell<u32>; 18] = Default::default();
        let mut u = uart(&mem);
        u.enable_rx_interrupt();
        assert_eq!(mem[RXWM].get(), 1);
        assert_eq!(mem[ISR].get(), INT_RTRIG | INT_TIMEOUT, "stale status cleared");
        assert_eq!(mem[IER].get(), INT_RTRIG);
    }

    #[test]
    fn the_boot_loaders_line_setup_is_never_written() {
        let mem: [Cell<u32>; 18] = Default::default();
        let mut u = uart(&mem);
        u.enable();
        u.enable_rx_interrupt();
        u.set_tx_interrupt(true);
        u.set_tx_interrupt(false);
        u.write_byte(b'a');
        u.write_run(b"bc");
        mem[SR].set(0);
        u.read_byte();
        mem[SR].set(SR_REMPTY);
        u.read_byte();
        for r in [MR, BAUDGEN, BAUDDIV] {
            assert_eq!(mem[r].get(), UNTOUCHED, "register {:#x}", r * 4);
        }
        // Nor anything past the FIFO (flow delay, pulse widths, TXWM) or the other untouched registers.
        for r in [0x10 / 4, 0x1c / 4, 0x24 / 4, 0x28 / 4].into_iter().chain(BAUDDIV..18) {
            assert_eq!(mem[r].get(), UNTOUCHED, "register {:#x}", r * 4);
        }
    }
}
