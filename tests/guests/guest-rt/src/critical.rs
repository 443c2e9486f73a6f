//! The `critical-section` implementation of every guest-rt guest, so that guest code shares data with interrupt
//! handlers through `critical_section::with` and `critical_section::Mutex` instead of hand-rolled guards.
//!
//! Guests run several vCPUs at once, so masking IRQs alone would exclude only the calling vCPU's handlers. A
//! critical section therefore masks IRQs on the calling vCPU *and* holds one spin lock shared by all vCPUs:
//!
//! - Entering masks IRQs first, then takes the lock. With IRQs masked, no handler on this vCPU can run between the
//!   two steps and see a half-entered section.
//! - The lock records *which* vCPU holds it. A vCPU entering again while it holds the lock (a nested `with`, or a
//!   fault hook running on top of a section) finds its own index there and goes on without waiting; only the
//!   vCPU itself ever writes its index, so reading it back cannot be a stale value left by someone else.
//! - The restore state (`Restore`, the crate's `restore-state-u8`) says whether IRQs were unmasked before and
//!   whether this entry was nested. Leaving releases the lock only for the outermost entry, then unmasks IRQs only
//!   if they were unmasked before.
//!
//! Taking the lock is an `Acquire` and releasing it a `Release`, which is the ordering the crate's contract asks
//! for; the IRQ mask and unmask are compiler barriers, so no access inside the section is moved outside the mask.
//!
//! Code inside a critical section must be short and must never wait for another vCPU: every other vCPU entering
//! one spins meanwhile, with its IRQs masked. Sleeping (WFI) inside one would stall them all, which is why
//! [`crate::irq::wait_until`] masks IRQs without taking the lock.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::arch;

/// The lock of every critical section on every vCPU.
static LOCK: Lock = Lock::new();

/// How many times [`forced`] tries the lock before it gives up on the holder.
const FORCED_ATTEMPTS: usize = 1_000_000;

/// For fault and panic reports: masks IRQs and runs `f` holding the lock if it can be had within a bounded wait,
/// and without it after that, because a vCPU that faulted inside a critical section stops for good while holding
/// it. `f` gets no `CriticalSection` token since it may run without exclusion: it must only touch what tolerates
/// that, such as the UART's registers.
pub(crate) fn forced<R>(f: impl FnOnce() -> R) -> R {
    let irqs_were_on = arch::mask_irqs();
    let entry = LOCK.try_take(arch::cpu_index(), FORCED_ATTEMPTS);
    let result = f();
    if entry == Some(Entry::Outer) {
        LOCK.release();
    }
    if irqs_were_on {
        arch::enable_irqs();
    }
    result
}

/// How a vCPU got into the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// It took the lock, and must release it when it leaves.
    Outer,
    /// It already held the lock, further out on its own stack: leaving must not release it.
    Nested,
}

/// A spin lock that knows its holder (a vCPU index), so that the holder can enter again without deadlocking.
/// Pure code, unit-tested on the host; masking IRQs is the caller's part.
struct Lock {
    holder: AtomicUsize,
}

/// [`Lock::holder`] when nobody holds it (vCPU indices are below [`crate::MAX_CPUS`]).
const FREE: usize = usize::MAX;

impl Lock {
    const fn new() -> Self {
        Self { holder: AtomicUsize::new(FREE) }
    }

    /// Takes the lock for vCPU `cpu`, waiting as long as another vCPU holds it.
    #[cfg(any(test, target_os = "none"))]
    fn take(&self, cpu: usize) -> Entry {
        loop {
            if let Some(entry) = self.try_take(cpu, usize::MAX) {
                return entry;
            }
        }
    }

    /// Takes the lock for vCPU `cpu`, giving up after `attempts` tries while another vCPU holds it.
    fn try_take(&self, cpu: usize, attempts: usize) -> Option<Entry> {
        // Only `cpu` itself stores `cpu`, and the caller runs on `cpu` with IRQs masked: if the lock says `cpu`,
        // an enclosing section of this very vCPU took it and is still inside.
        if self.holder.load(Ordering::Relaxed) == cpu {
            return Some(Entry::Nested);
        }
        for _ in 0..attempts {
            // Spins on a plain load, and tries the exclusive write only once the lock looks free.
            if self.holder.load(Ordering::Relaxed) == FREE
                && self.holder.compare_exchange_weak(FREE, cpu, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return Some(Entry::Outer);
            }
            core::hint::spin_loop();
        }
        None
    }

    /// Releases the lock taken by an [`Entry::Outer`].
    fn release(&self) {
        self.holder.store(FREE, Ordering::Release);
    }
}

/// What leaving a critical section must undo, kept in the crate's `RawRestoreState` (a `u8`).
#[cfg(any(test, target_os = "none"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Restore {
    /// IRQs were unmasked on entry: unmask them again on exit.
    irqs_were_on: bool,
    /// The vCPU already held the lock on entry: leave it held.
    nested: bool,
}

#[cfg(any(test, target_os = "none"))]
impl Restore {
    const IRQS_WERE_ON: u8 = 1 << 0;
    const NESTED: u8 = 1 << 1;

    fn to_raw(self) -> u8 {
        (if self.irqs_were_on { Self::IRQS_WERE_ON } else { 0 }) | if self.nested { Self::NESTED } else { 0 }
    }

    fn from_raw(raw: u8) -> Self {
        Self { irqs_were_on: raw & Self::IRQS_WERE_ON != 0, nested: raw & Self::NESTED != 0 }
    }
}

/// The implementation itself; on the host, `critical-section`'s `std` feature provides one instead.
#[cfg(target_os = "none")]
mod bare_metal {
    use super::{Entry, Restore, LOCK};
    use crate::arch;

    struct GuestRt;

    critical_section::set_impl!(GuestRt);

    // SAFETY: `acquire` masks IRQs on the calling vCPU and then holds `LOCK` (or finds that this vCPU already
    // holds it further out), so no other vCPU and no handler on this one is inside a critical section until the
    // matching `release`; taking the lock is an `Acquire` and releasing it a `Release` on `LOCK`, which every
    // critical section shares; `release` undoes exactly what its `acquire` did, as recorded in the restore state.
    unsafe impl critical_section::Impl for GuestRt {
        unsafe fn acquire() -> critical_section::RawRestoreState {
            let irqs_were_on = arch::mask_irqs();
            let nested = LOCK.take(arch::cpu_index()) == Entry::Nested;
            Restore { irqs_were_on, nested }.to_raw()
        }

        unsafe fn release(restore_state: critical_section::RawRestoreState) {
            let restore = Restore::from_raw(restore_state);
            if !restore.nested {
                LOCK.release();
            }
            if restore.irqs_were_on {
                arch::enable_irqs();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Entry, Lock, Restore};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_holder_enters_again_and_others_wait() {
        let lock = Lock::new();
        assert_eq!(lock.take(0), Entry::Outer);
        assert_eq!(lock.take(0), Entry::Nested);
        assert_eq!(lock.try_take(1, 100), None);
        lock.release();
        assert_eq!(lock.try_take(1, 1), Some(Entry::Outer));
        assert_eq!(lock.try_take(0, 100), None);
    }

    #[test]
    fn restore_state_round_trips() {
        for irqs_were_on in [false, true] {
            for nested in [false, true] {
                let restore = Restore { irqs_were_on, nested };
                assert_eq!(Restore::from_raw(restore.to_raw()), restore);
            }
        }
    }

    /// Two "vCPUs" (threads) increment a counter with a separate load and store: any overlap loses updates.
    #[test]
    fn excludes_other_cpus() {
        const ROUNDS: usize = 20_000;
        let lock = Lock::new();
        let counter = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for cpu in 0..2 {
                let (lock, counter) = (&lock, &counter);
                s.spawn(move || {
                    for _ in 0..ROUNDS {
                        let entry = lock.take(cpu);
                        assert_eq!(entry, Entry::Outer);
                        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                        lock.release();
                    }
                });
            }
        });
        assert_eq!(counter.load(Ordering::Relaxed), 2 * ROUNDS);
    }
}
