//! Polled 16550-compatible UART (the Synopsys DesignWare APB UART of Allwinner SoCs, and QEMU's `serial_mm`):
//! transmit, receive and the receive interrupt, all the hypervisor's console needs. The boot loader has already
//! set the line up (baud rate, 8N1, FIFOs); this driver changes none of it, so it never writes the line control
//! register (which a busy DesignWare UART ignores).
//!
//! The registers lie `1 << reg_shift` bytes apart, a stride the board description gives (`UartKind::Ns16550`) and
//! the driver takes at run time. A `register_structs!` block fixes its offsets when it is compiled, so it cannot
//! describe that; one block per stride (the boards have only `reg_shift` 2 so far) would be a copy of the same map
//! for each new board, and a stride nobody wrote a block for could not be driven at all. So each register is a
//! [`Reg`] handle that computes its address from its index and the stride, and implements tock-registers'
//! `Readable` or `Writeable`: the fields are declared with `register_bitfields!` as for the other devices, each
//! access is typed by its register and only goes the way the register allows, and the 32-bit width the boards
//! require (`reg-io-width = <4>`) is fixed in one place.

use core::marker::PhantomData;
use core::ptr;

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::{register_bitfields, RegisterLongName};

register_bitfields! {u32,
    /// Receiver buffer (read at index 0).
    RBR [
        DATA OFFSET(0) NUMBITS(8) []
    ],
    /// Transmitter holding register (written at index 0).
    THR [
        DATA OFFSET(0) NUMBITS(8) []
    ],
    /// Interrupt enable.
    IER [
        /// Received data available (with FIFOs on, also the character timeout, so single keystrokes arrive at
        /// once).
        ERBFI OFFSET(0) NUMBITS(1) [],
        /// Transmitter holding register empty.
        ETBEI OFFSET(1) NUMBITS(1) []
    ],
    /// Line status.
    LSR [
        /// Data ready.
        DR OFFSET(0) NUMBITS(1) [],
        /// Transmitter holding register empty.
        THRE OFFSET(5) NUMBITS(1) []
    ],
}

/// The ways a register may be accessed, as in the 16550's register table. The receiver buffer and the transmitter
/// holding register share index 0, one only read and the other only written: the type keeps each to its way.
mod access {
    pub enum ReadOnly {}
    pub enum WriteOnly {}
    pub enum ReadWrite {}

    pub trait Read {}
    pub trait Write {}

    impl Read for ReadOnly {}
    impl Read for ReadWrite {}
    impl Write for WriteOnly {}
    impl Write for ReadWrite {}
}

/// One register of the UART: 32 bits at `addr`, register `R` (its fields), accessed as `A` allows. Only
/// [`Ns16550::reg`] makes one, from the address its `new` was given.
struct Reg<R: RegisterLongName, A> {
    addr: usize,
    reg: PhantomData<(R, A)>,
}

impl<R: RegisterLongName, A: access::Read> Readable for Reg<R, A> {
    type T = u32;
    type R = R;

    #[inline]
    fn get(&self) -> u32 {
        // SAFETY: `addr` is a register of the UART `Ns16550::new`'s caller vouched for: mapped as device memory,
        // taking 32-bit accesses, used by nobody else.
        unsafe { ptr::read_volatile(self.addr as *const u32) }
    }
}

impl<R: RegisterLongName, A: access::Write> Writeable for Reg<R, A> {
    type T = u32;
    type R = R;

    #[inline]
    fn set(&self, value: u32) {
        // SAFETY: as in `get`.
        unsafe { ptr::write_volatile(self.addr as *mut u32, value) }
    }
}

/// Bytes the transmit FIFO of a 16550A holds: the console's budget per call. This driver still writes only while
/// the holding register says empty (it does not know whether the boot loader enabled the FIFO), so on real
/// hardware a call writes fewer; QEMU's model transmits at once and is always empty.
pub const FIFO_DEPTH: usize = 16;

pub struct Ns16550 {
    base: usize,
    reg_shift: u32,
}

impl Ns16550 {
    /// # Safety
    /// `base` must be the address of a 16550-compatible UART whose registers lie `1 << reg_shift` bytes apart and
    /// take 32-bit accesses, mapped as device memory and used by nobody else concurrently.
    pub const unsafe fn new(base: usize, reg_shift: u32) -> Self {
        Self { base, reg_shift }
    }

    /// Register `index` (its number in the 16550's register table).
    fn reg<R: RegisterLongName, A>(&self, index: usize) -> Reg<R, A> {
        Reg { addr: self.base + (index << self.reg_shift), reg: PhantomData }
    }

    fn rbr(&self) -> Reg<RBR::Register, access::ReadOnly> {
        self.reg(0)
    }

    fn thr(&self) -> Reg<THR::Register, access::WriteOnly> {
        self.reg(0)
    }

    fn ier(&self) -> Reg<IER::Register, access::ReadWrite> {
        self.reg(1)
    }

    fn lsr(&self) -> Reg<LSR::Register, access::ReadOnly> {
        self.reg(5)
    }

    pub fn write_byte(&mut self, b: u8) {
        while !self.lsr().matches_all(LSR::THRE::SET) {
            core::hint::spin_loop();
        }
        self.thr().write(THR::DATA.val(b.into()));
    }

    /// Writes `b` if the transmit holding register is empty; never waits.
    pub fn try_write_byte(&mut self, b: u8) -> bool {
        if !self.lsr().matches_all(LSR::THRE::SET) {
            return false;
        }
        self.thr().write(THR::DATA.val(b.into()));
        true
    }

    /// Interrupts when the transmit holding register empties (`on`), or not. While on and empty the interrupt
    /// stays raised (QEMU re-raises it after every byte it transmits; reading IIR, which this driver never does,
    /// would clear it), so whoever takes it must bound its own work.
    pub fn set_tx_interrupt(&mut self, on: bool) {
        self.ier().modify(IER::ETBEI.val(on.into()));
    }

    /// The next received byte, if any.
    pub fn read_byte(&mut self) -> Option<u8> {
        // `matches_all` rather than `is_set`: see `pl011::read_byte`.
        if !self.lsr().matches_all(LSR::DR::SET) {
            return None;
        }
        Some(self.rbr().read(RBR::DATA) as u8)
    }

    /// Interrupts on received data only (reading the data clears them).
    pub fn enable_rx_interrupt(&mut self) {
        self.ier().modify(IER::ERBFI::SET);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// Line status: data ready, transmitter holding register empty.
    const LSR_DR: u32 = 1 << 0;
    const LSR_THRE: u32 = 1 << 5;

    /// A 16550 made of RAM, its registers 4 bytes apart as on the Allwinner boards (`reg_shift` 2): register `n`
    /// is `mem[n]`.
    fn uart(mem: &[Cell<u32>; 8]) -> Ns16550 {
        // SAFETY: `mem` is ordinary memory that outlives the driver, aligned for 32-bit accesses and 8 registers
        // long; the test reads and writes it only through the same cells.
        unsafe { Ns16550::new(mem.as_ptr() as usize, 2) }
    }

    #[test]
    fn each_register_is_found_one_stride_on() {
        let mem: [Cell<u32>; 8] = Default::default();
        let mut u = uart(&mem);
        assert!(!u.try_write_byte(b'a'), "holding register full");
        mem[5].set(LSR_THRE);
        assert!(u.try_write_byte(b'a'));
        assert_eq!(mem[0].get(), u32::from(b'a'));
        assert_eq!(u.read_byte(), None, "nothing received");
        mem[5].set(LSR_DR);
        mem[0].set(0x100 | u32::from(b'A'));
        assert_eq!(u.read_byte(), Some(b'A'), "only the data bits");
    }

    #[test]
    fn interrupt_enables_change_only_their_own_bit() {
        let mem: [Cell<u32>; 8] = Default::default();
        let mut u = uart(&mem);
        mem[1].set(0xf0);
        u.enable_rx_interrupt();
        assert_eq!(mem[1].get(), 0xf1);
        u.set_tx_interrupt(true);
        assert_eq!(mem[1].get(), 0xf3);
        u.set_tx_interrupt(false);
        assert_eq!(mem[1].get(), 0xf1);
        // The boot loader's line setup (line control, modem control, ...) is never written.
        assert!(mem[2..5].iter().chain(&mem[6..]).all(|r| r.get() == 0));
    }
}
