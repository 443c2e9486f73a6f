//! Arm PL011 UART: transmit (waiting or not), receive, and the receive and transmit interrupts, all the
//! hypervisor's console needs.

use core::ptr;

const DR: usize = 0x00;
const FR: usize = 0x18;
const IMSC: usize = 0x38;
const ICR: usize = 0x44;
const FR_TXFF: u32 = 1 << 5;
const FR_TXFE: u32 = 1 << 7;
/// The smallest transmit FIFO of any PL011 revision: an empty FIFO takes this many bytes without further checks.
const MIN_FIFO: usize = 16;
const FR_RXFE: u32 = 1 << 4;
/// Receive and receive-timeout interrupts.
const INT_RX: u32 = 1 << 4 | 1 << 6;
/// Transmit interrupt: the FIFO drained to its trigger level.
const INT_TX: u32 = 1 << 5;

/// Bytes the transmit FIFO holds (PL011 r1p5; earlier revisions hold 16, and then the FIFO says full sooner):
/// the most one call may usefully write, so the console's budget per call.
pub const FIFO_DEPTH: usize = 32;

pub struct Pl011 {
    base: usize,
}

impl Pl011 {
    /// # Safety
    /// `base` must be the address of a PL011 mapped as device memory, used by nobody else concurrently.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    pub fn write_byte(&mut self, b: u8) {
        // SAFETY: `new` guarantees a mapped PL011; these are its documented register offsets.
        unsafe {
            while ptr::read_volatile((self.base + FR) as *const u32) & FR_TXFF != 0 {
                core::hint::spin_loop();
            }
            ptr::write_volatile((self.base + DR) as *mut u32, b as u32);
        }
    }

    /// Writes bytes of `run` while the transmit FIFO has room; never waits. Returns how many it took. An empty FIFO
    /// takes a burst of [`MIN_FIFO`] bytes on one status read: a status read per byte made the console's slice of
    /// 32 bytes ~3 times as long (issue 15).
    pub fn write_run(&mut self, run: &[u8]) -> usize {
        let mut done = 0;
        while let Some(rest) = run.get(done..).filter(|r| !r.is_empty()) {
            // SAFETY: as in `write_byte`.
            let fr = unsafe { ptr::read_volatile((self.base + FR) as *const u32) };
            let room = match (fr & FR_TXFE != 0, fr & FR_TXFF != 0) {
                (true, _) => MIN_FIFO,
                (false, false) => 1,
                (false, true) => break,
            };
            for &b in rest.iter().take(room) {
                // SAFETY: as in `write_byte`; the FIFO has room for `room` bytes.
                unsafe { ptr::write_volatile((self.base + DR) as *mut u32, b as u32) };
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
        // SAFETY: as in `write_byte`.
        unsafe {
            let imsc = ptr::read_volatile((self.base + IMSC) as *const u32);
            let imsc = if on { imsc | INT_TX } else { imsc & !INT_TX };
            ptr::write_volatile((self.base + IMSC) as *mut u32, imsc);
        }
    }

    /// The next received byte, if any.
    pub fn read_byte(&mut self) -> Option<u8> {
        // SAFETY: as in `write_byte`.
        unsafe {
            if ptr::read_volatile((self.base + FR) as *const u32) & FR_RXFE != 0 {
                return None;
            }
            Some(ptr::read_volatile((self.base + DR) as *const u32) as u8)
        }
    }

    /// Interrupts on received data (and on the receive timeout, so single keystrokes arrive at once).
    pub fn enable_rx_interrupt(&mut self) {
        // SAFETY: as in `write_byte`.
        unsafe {
            ptr::write_volatile((self.base + ICR) as *mut u32, INT_RX);
            let imsc = ptr::read_volatile((self.base + IMSC) as *const u32);
            ptr::write_volatile((self.base + IMSC) as *mut u32, imsc | INT_RX);
        }
    }
}
