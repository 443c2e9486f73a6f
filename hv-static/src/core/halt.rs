//! Stopping the board: the flag the first CPU that panics raises, and the halt every CPU ends in.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch;

/// Set by the first CPU that panics: every CPU that takes an interrupt afterwards halts instead of going back to a
/// partition.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// Whether a CPU has panicked: the board is stopping.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::Acquire)
}

/// Marks the board as stopping. Returns whether it already was (a second panic).
pub fn raise() -> bool {
    PANICKED.swap(true, Ordering::AcqRel)
}

/// Stops this CPU for good, at EL2.
pub fn halt() -> ! {
    loop {
        arch::cpu::wfe();
    }
}
