//! Polled 16550-compatible UART (the Synopsys DesignWare APB UART of Allwinner SoCs, and QEMU's `serial_mm`):
//! transmit, receive and the receive interrupt, all the hypervisor's console needs. The boot loader has already
//! set the line up (baud rate, 8N1, FIFOs); this driver changes none of it, so it never writes the line control
//! register (which a busy DesignWare UART ignores).

use core::ptr;

/// Receive buffer (read) / transmit holding register (write).
const RBR_THR: usize = 0;
/// Interrupt enable.
const IER: usize = 1;
/// Line status.
const LSR: usize = 5;
/// IER: received data available (with FIFOs on, also the character timeout, so single keystrokes arrive at once).
const IER_ERBFI: u32 = 1 << 0;
/// IER: transmit holding register empty.
const IER_ETBEI: u32 = 1 << 1;
/// LSR: data ready.
const LSR_DR: u32 = 1 << 0;
/// LSR: transmit holding register empty.
const LSR_THRE: u32 = 1 << 5;

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

    fn reg(&self, index: usize) -> *mut u32 {
        (self.base + (index << self.reg_shift)) as *mut u32
    }

    pub fn write_byte(&mut self, b: u8) {
        // SAFETY: `new` guarantees a mapped 16550 with this register spacing; these are its register indices.
        unsafe {
            while ptr::read_volatile(self.reg(LSR)) & LSR_THRE == 0 {
                core::hint::spin_loop();
            }
            ptr::write_volatile(self.reg(RBR_THR), b as u32);
        }
    }

    /// Writes `b` if the transmit holding register is empty; never waits.
    pub fn try_write_byte(&mut self, b: u8) -> bool {
        // SAFETY: as in `write_byte`.
        unsafe {
            if ptr::read_volatile(self.reg(LSR)) & LSR_THRE == 0 {
                return false;
            }
            ptr::write_volatile(self.reg(RBR_THR), b as u32);
        }
        true
    }

    /// Interrupts when the transmit holding register empties (`on`), or not. While on and empty the interrupt
    /// stays raised (QEMU re-raises it after every byte it transmits; reading IIR, which this driver never does,
    /// would clear it), so whoever takes it must bound its own work.
    pub fn set_tx_interrupt(&mut self, on: bool) {
        // SAFETY: as in `write_byte`.
        unsafe {
            let ier = ptr::read_volatile(self.reg(IER));
            let ier = if on { ier | IER_ETBEI } else { ier & !IER_ETBEI };
            ptr::write_volatile(self.reg(IER), ier);
        }
    }

    /// The next received byte, if any.
    pub fn read_byte(&mut self) -> Option<u8> {
        // SAFETY: as in `write_byte`.
        unsafe {
            if ptr::read_volatile(self.reg(LSR)) & LSR_DR == 0 {
                return None;
            }
            Some(ptr::read_volatile(self.reg(RBR_THR)) as u8)
        }
    }

    /// Interrupts on received data only (reading the data clears them).
    pub fn enable_rx_interrupt(&mut self) {
        // SAFETY: as in `write_byte`.
        unsafe {
            let ier = ptr::read_volatile(self.reg(IER));
            ptr::write_volatile(self.reg(IER), ier | IER_ERBFI);
        }
    }
}
