//! Arm PL011 UART: transmit (waiting or not), receive, and the receive and transmit interrupts, all the
//! hypervisor's console needs. Its registers are a tock-registers block, named as in the PL011 Technical Reference
//! Manual (Arm DDI 0183).

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Data: the byte received or to send (the receive error flags above it are not looked at).
    UARTDR [
        DATA OFFSET(0) NUMBITS(8) []
    ],
    /// Flags.
    UARTFR [
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Transmit FIFO empty.
        TXFE OFFSET(7) NUMBITS(1) []
    ],
    /// Interrupt mask set/clear: a set bit lets that interrupt through.
    UARTIMSC [
        /// Receive: the receive FIFO reached its trigger level.
        RXIM OFFSET(4) NUMBITS(1) [],
        /// Transmit: the transmit FIFO drained to its trigger level.
        TXIM OFFSET(5) NUMBITS(1) [],
        /// Receive timeout: data waits in the receive FIFO below its trigger level.
        RTIM OFFSET(6) NUMBITS(1) []
    ],
    /// Interrupt clear: a set bit clears that interrupt.
    UARTICR [
        RXIC OFFSET(4) NUMBITS(1) [],
        RTIC OFFSET(6) NUMBITS(1) []
    ],
}

register_structs! {
    /// The registers this driver uses, and the gaps between them.
    Regs {
        (0x00 => dr: ReadWrite<u32, UARTDR::Register>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, UARTFR::Register>),
        (0x1C => _reserved1),
        (0x38 => imsc: ReadWrite<u32, UARTIMSC::Register>),
        (0x3C => _reserved2),
        (0x44 => icr: WriteOnly<u32, UARTICR::Register>),
        (0x48 => @END),
    }
}

/// The smallest transmit FIFO of any PL011 revision: an empty FIFO takes this many bytes without further checks.
const MIN_FIFO: usize = 16;

/// Bytes the transmit FIFO holds (PL011 r1p5; earlier revisions hold 16, and then the FIFO says full sooner):
/// the most one call may usefully write, so the console's budget per call.
pub const FIFO_DEPTH: usize = 32;

pub struct Pl011 {
    /// The registers' address. Kept as a number, not a reference, so that `new` stays a `const fn` a static can
    /// be built with: a constant cannot hold a reference to device memory.
    base: usize,
}

impl Pl011 {
    /// # Safety
    /// `base` must be the address of a PL011 mapped as device memory, used by nobody else concurrently.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    fn regs(&self) -> &Regs {
        // SAFETY: `new` guarantees a mapped PL011 at `base`, which nobody else uses; its registers are
        // tock-registers cells, read and written only through volatile accesses.
        unsafe { &*(self.base as *const Regs) }
    }

    pub fn write_byte(&mut self, b: u8) {
        let regs = self.regs();
        while regs.fr.matches_all(UARTFR::TXFF::SET) {
            core::hint::spin_loop();
        }
        regs.dr.write(UARTDR::DATA.val(b.into()));
    }

    /// Writes bytes of `run` while the transmit FIFO has room; never waits. Returns how many it took. An empty FIFO
    /// takes a burst of [`MIN_FIFO`] bytes on one status read: a status read per byte made the console's slice of
    /// 32 bytes ~3 times as long (issue 15).
    pub fn write_run(&mut self, run: &[u8]) -> usize {
        let regs = self.regs();
        let mut done = 0;
        while let Some(rest) = run.get(done..).filter(|r| !r.is_empty()) {
            let fr = regs.fr.extract();
            let room = match (fr.matches_all(UARTFR::TXFE::SET), fr.matches_all(UARTFR::TXFF::SET)) {
                (true, _) => MIN_FIFO,
                (false, false) => 1,
                (false, true) => break,
            };
            for &b in rest.iter().take(room) {
                regs.dr.write(UARTDR::DATA.val(b.into()));
            }
            done += room.min(rest.len());
        }
        done
    }

    /// Interrupts when the transmit FIFO has drained to its trigger level (`on`), or not. Only the mask changes,
    /// never the raw status: turned on while output waits, the interrupt must come. On a PL011 the status follows
    /// the FIFO's level, so it does; QEMU 7.2's sets it on every write to DR and clears it only through ICR, so a
    /// write to ICR here (on or off) would make the next "on" wait for a byte nobody writes, and the queue would
    /// stall until some partition completed another line.
    pub fn set_tx_interrupt(&mut self, on: bool) {
        self.regs().imsc.modify(UARTIMSC::TXIM.val(on.into()));
    }

    /// The next received byte, if any.
    pub fn read_byte(&mut self) -> Option<u8> {
        // Flags are tested with `matches_all`, not `is_set`, here and in the other register maps: `is_set` compares
        // through a tock-registers helper not marked inline (`UIntLike::zero`), and that call, which only
        // link-time optimisation removes, changed the code around it. This function is inlined into the interrupt
        // handler, and with `is_set` every interrupt took one instruction more (issue 15).
        let regs = self.regs();
        if regs.fr.matches_all(UARTFR::RXFE::SET) {
            return None;
        }
        Some(regs.dr.read(UARTDR::DATA) as u8)
    }

    /// Interrupts on received data (and on the receive timeout, so single keystrokes arrive at once).
    pub fn enable_rx_interrupt(&mut self) {
        let regs = self.regs();
        regs.icr.write(UARTICR::RXIC::SET + UARTICR::RTIC::SET);
        regs.imsc.modify(UARTIMSC::RXIM::SET + UARTIMSC::RTIM::SET);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// The registers' word indices, from the offsets in the PL011 TRM (UARTDR at 0).
    const DR: usize = 0;
    const FR: usize = 0x18 / 4;
    const IMSC: usize = 0x38 / 4;
    const ICR: usize = 0x44 / 4;
    const FR_RXFE: u32 = 1 << 4;
    const FR_TXFF: u32 = 1 << 5;
    const FR_TXFE: u32 = 1 << 7;

    /// A PL011 made of RAM, up to UARTICR.
    fn uart(mem: &[Cell<u32>; 18]) -> Pl011 {
        // SAFETY: `mem` is ordinary memory that outlives the driver and covers every register it uses; the test
        // reads and writes it only through the same cells.
        unsafe { Pl011::new(mem.as_ptr() as usize) }
    }

    #[test]
    fn write_run_writes_while_the_fifo_has_room() {
        let mem: [Cell<u32>; 18] = Default::default();
        let mut u = uart(&mem);
        mem[FR].set(FR_TXFF);
        assert_eq!(u.write_run(b"hello"), 0, "full");
        mem[FR].set(FR_TXFE);
        assert_eq!(u.write_run(b"hello"), 5);
        assert_eq!(mem[DR].get(), u32::from(b'o'));
        mem[FR].set(0);
        assert_eq!(u.write_run(b"hi"), 2, "neither empty nor full: a byte per status read");
        assert_eq!(mem[DR].get(), u32::from(b'i'));
    }

    #[test]
    fn read_byte_takes_the_data_bits_unless_the_fifo_is_empty() {
        let mem: [Cell<u32>; 18] = Default::default();
        let mut u = uart(&mem);
        mem[DR].set(0x400 | u32::from(b'x'));
        mem[FR].set(FR_RXFE);
        assert_eq!(u.read_byte(), None);
        mem[FR].set(0);
        assert_eq!(u.read_byte(), Some(b'x'));
    }

    #[test]
    fn interrupts_change_only_their_own_mask_bits() {
        let mem: [Cell<u32>; 18] = Default::default();
        let mut u = uart(&mem);
        mem[IMSC].set(1 << 1);
        u.enable_rx_interrupt();
        assert_eq!(mem[ICR].get(), 1 << 4 | 1 << 6, "receive and receive-timeout cleared first");
        assert_eq!(mem[IMSC].get(), 1 << 1 | 1 << 4 | 1 << 6);
        u.set_tx_interrupt(true);
        assert_eq!(mem[IMSC].get(), 1 << 1 | 1 << 4 | 1 << 5 | 1 << 6);
        u.set_tx_interrupt(false);
        assert_eq!(mem[IMSC].get(), 1 << 1 | 1 << 4 | 1 << 6);
    }
}
