//! The PL031 real-time clock (ARM DDI 0224): a seconds counter and a match register whose interrupt, a level,
//! stays raised until cleared. hello uses its alarm as a device interrupt (an SPI) to prove that a
//! passed-through interrupt reaches its partition.

/// Data register: the seconds counter.
const RTCDR: usize = 0x00;
/// Match register: the interrupt is raised when the counter reaches it.
const RTCMR: usize = 0x04;
/// Interrupt mask set/clear: bit 0 lets the match interrupt out.
const RTCIMSC: usize = 0x10;
/// Interrupt clear: writing bit 0 clears the match interrupt.
const RTCICR: usize = 0x1c;

pub struct Pl031 {
    base: usize,
}

impl Pl031 {
    /// The PL031 whose registers are at `base` (from the device tree; the MMU is off, so accesses are to
    /// Device memory).
    pub const fn new(base: usize) -> Self {
        Self { base }
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: a PL031 register inside the device's `reg` region, which the device tree gives this partition.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as for read().
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Masks and clears the alarm, which a previous run (before a partition reset) may have left raised.
    pub fn quiesce(&self) {
        self.write(RTCIMSC, 0);
        self.write(RTCICR, 1);
    }

    /// Raises the alarm one second from now.
    pub fn arm_in_one_second(&self) {
        self.write(RTCMR, self.read(RTCDR).wrapping_add(1));
        self.write(RTCIMSC, 1);
    }

    /// Lowers the alarm's interrupt line.
    pub fn clear(&self) {
        self.write(RTCICR, 1);
    }
}
