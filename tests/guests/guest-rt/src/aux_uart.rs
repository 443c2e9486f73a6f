//! A UART besides the console ([`crate::dt::AuxUart`]): under hv-static, a SoC UART passed through to the
//! partition. Polled transmission and the transmit interrupt only, enough to prove that the device and its SPI
//! reach the partition: an Arm PL011 (ARM DDI 0183) or a Cadence UART (Zynq UltraScale+ TRM UG1085, UART
//! registers).

use crate::dt::{AuxUart, AuxUartKind};

/// PL011 registers.
mod pl011 {
    /// Data: a write queues one byte.
    pub const DR: usize = 0x00;
    /// Flags: bit 5 TXFF, the transmit FIFO is full.
    pub const FR: usize = 0x18;
    pub const FR_TXFF: u32 = 1 << 5;
    /// Control: bit 0 UARTEN, bit 8 TXE, bit 9 RXE.
    pub const CR: usize = 0x30;
    pub const CR_ENABLE: u32 = 1 << 0 | 1 << 8 | 1 << 9;
    /// Interrupt mask set/clear (a set bit lets the interrupt out) and interrupt clear; bit 5 is TX.
    pub const IMSC: usize = 0x38;
    pub const ICR: usize = 0x44;
    pub const TX: u32 = 1 << 5;
}

/// Cadence UART registers.
mod cadence {
    /// Control: TXEN (bit 4) and RXEN (bit 2), with the disable and reset bits clear.
    pub const CR: usize = 0x00;
    pub const CR_ENABLE: u32 = 1 << 4 | 1 << 2;
    /// Interrupt enable, disable (write 1 to change a bit of the mask) and status (write 1 to clear).
    pub const IER: usize = 0x08;
    pub const IDR: usize = 0x0c;
    pub const ISR: usize = 0x14;
    /// Interrupt bit TEMPTY: the transmit FIFO is empty.
    pub const TEMPTY: u32 = 1 << 3;
    /// Channel status: bit 4 TFUL, the transmit FIFO is full.
    pub const SR: usize = 0x2c;
    pub const SR_TFUL: u32 = 1 << 4;
    /// Transmit and receive FIFO.
    pub const FIFO: usize = 0x30;
}

/// A polled driver for an [`AuxUart`], of either kind.
pub struct Driver {
    kind: AuxUartKind,
    base: usize,
}

impl Driver {
    /// The driver of `uart`. Touches no register.
    ///
    /// # Safety
    /// `uart`'s register page must be mapped as device memory (the MMU is off in guest-rt guests; under hv-static
    /// the device is passed through) and driven by nothing else.
    pub unsafe fn new(uart: &AuxUart) -> Self {
        Self { kind: uart.kind, base: uart.device.reg.base as usize }
    }

    pub fn kind(&self) -> AuxUartKind {
        self.kind
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: a register of the UART inside its `reg` page, mapped and ours alone (`new`'s contract).
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as for read().
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Sends `bytes` as they are, waiting for room in the transmit FIFO. Enables the transmitter first if it is
    /// not: firmware may have left the UART off, and QEMU drops what a disabled UART is given.
    pub fn write_bytes(&self, bytes: &[u8]) {
        let (data, status, full) = match self.kind {
            AuxUartKind::Pl011 => {
                let cr = self.read(pl011::CR);
                if cr & pl011::CR_ENABLE != pl011::CR_ENABLE {
                    self.write(pl011::CR, cr | pl011::CR_ENABLE);
                }
                (pl011::DR, pl011::FR, pl011::FR_TXFF)
            }
            AuxUartKind::Cadence => {
                self.write(cadence::CR, cadence::CR_ENABLE);
                (cadence::FIFO, cadence::SR, cadence::SR_TFUL)
            }
        };
        for &byte in bytes {
            while self.read(status) & full != 0 {
                core::hint::spin_loop();
            }
            self.write(data, u32::from(byte));
        }
    }

    /// Lets the transmit interrupt out: the PL011's TX interrupt (QEMU raises it after every byte, as it sends at
    /// once), the Cadence UART's TEMPTY (set while the transmit FIFO is empty). Either is raised again as soon as
    /// it is cleared while the FIFO stays empty, so the handler must [`Self::disable_and_clear_tx_interrupt`].
    pub fn enable_tx_interrupt(&self) {
        match self.kind {
            AuxUartKind::Pl011 => self.write(pl011::IMSC, self.read(pl011::IMSC) | pl011::TX),
            AuxUartKind::Cadence => self.write(cadence::IER, cadence::TEMPTY),
        }
    }

    /// Masks the transmit interrupt, then clears it: the UART's interrupt line drops and stays down.
    pub fn disable_and_clear_tx_interrupt(&self) {
        match self.kind {
            AuxUartKind::Pl011 => {
                self.write(pl011::IMSC, self.read(pl011::IMSC) & !pl011::TX);
                self.write(pl011::ICR, pl011::TX);
            }
            AuxUartKind::Cadence => {
                self.write(cadence::IDR, cadence::TEMPTY);
                self.write(cadence::ISR, cadence::TEMPTY);
            }
        }
    }
}
