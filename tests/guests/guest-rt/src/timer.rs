//! A periodic tick per vCPU on the virtual timer, kept on absolute deadlines so it does not drift with handler
//! latency.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::{arch, MAX_CPUS};

/// Per vCPU: the tick period in counter ticks (0 = stopped) and the next deadline.
static PERIOD: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static DEADLINE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Counter ticks in `ms` milliseconds at `frequency` Hz, at least 1, without overflowing.
pub const fn ticks_for_ms(frequency: u64, ms: u64) -> u64 {
    ticks_for(frequency, ms, 1_000)
}

/// Counter ticks in `us` microseconds at `frequency` Hz, at least 1, without overflowing. Measuring guests size
/// thresholds and busy-wait runs with it.
pub const fn ticks_for_us(frequency: u64, us: u64) -> u64 {
    ticks_for(frequency, us, 1_000_000)
}

/// Microseconds in `ticks` counter ticks at `frequency` Hz (rounded down; 0 for a zero frequency), so measurements
/// taken in ticks can also be printed in time.
pub const fn us_for_ticks(frequency: u64, ticks: u64) -> u64 {
    if frequency == 0 {
        return 0;
    }
    let us = ticks as u128 * 1_000_000 / frequency as u128;
    if us > u64::MAX as u128 {
        u64::MAX
    } else {
        us as u64
    }
}

/// `amount` units, of which `per_second` make a second, in ticks at `frequency` Hz: at least 1 (a zero period would
/// fire continuously), saturating at `u64::MAX`. The product is taken in 128 bits, so nothing overflows.
const fn ticks_for(frequency: u64, amount: u64, per_second: u64) -> u64 {
    let ticks = (frequency as u128 * amount as u128) / per_second as u128;
    if ticks == 0 {
        1
    } else if ticks > u64::MAX as u128 {
        u64::MAX
    } else {
        ticks as u64
    }
}

/// The deadline after `previous`: one period later, or one period from `now` if the vCPU fell behind by more
/// than a period (it was descheduled, or the handler was slow), so missed ticks are skipped, not replayed.
pub const fn next_deadline(previous: u64, period: u64, now: u64) -> u64 {
    let next = previous.saturating_add(period);
    if next > now {
        next
    } else {
        now.saturating_add(period)
    }
}

/// Starts a tick every `period_ms` on the calling vCPU. The timer PPI must be enabled at the GIC.
pub fn start_periodic(period_ms: u64) {
    let cpu = arch::cpu_index();
    let period = ticks_for_ms(arch::timer::frequency(), period_ms);
    let deadline = arch::timer::now().saturating_add(period);
    PERIOD[cpu].store(period, Ordering::Relaxed);
    DEADLINE[cpu].store(deadline, Ordering::Relaxed);
    arch::timer::set_deadline(deadline);
}

/// Moves the calling vCPU's deadline one period on; call it from the timer interrupt, which it also clears
/// (the timer's output is a level that drops once the deadline is in the future).
pub fn rearm() {
    let cpu = arch::cpu_index();
    let period = PERIOD[cpu].load(Ordering::Relaxed);
    if period == 0 {
        arch::timer::stop();
        return;
    }
    let deadline = next_deadline(DEADLINE[cpu].load(Ordering::Relaxed), period, arch::timer::now());
    DEADLINE[cpu].store(deadline, Ordering::Relaxed);
    arch::timer::set_deadline(deadline);
}

/// Stops the calling vCPU's tick.
pub fn stop() {
    PERIOD[arch::cpu_index()].store(0, Ordering::Relaxed);
    arch::timer::stop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_to_ticks() {
        assert_eq!(ticks_for_ms(62_500_000, 100), 6_250_000, "QEMU virt's 62.5 MHz counter");
        assert_eq!(ticks_for_ms(1_000, 0), 1, "a zero period would fire continuously");
        assert_eq!(ticks_for_ms(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn us_to_ticks_and_back() {
        assert_eq!(ticks_for_us(62_500_000, 50), 3_125);
        assert_eq!(ticks_for_us(24_000_000, 1_000), 24_000, "Allwinner's 24 MHz counter");
        assert_eq!(ticks_for_us(1_000, 1), 1, "never zero");
        assert_eq!(us_for_ticks(62_500_000, 62_500), 1_000);
        assert_eq!(us_for_ticks(24_000_000, 23), 0, "rounded down");
        assert_eq!(us_for_ticks(0, 5), 0);
        assert_eq!(us_for_ticks(1, u64::MAX), u64::MAX);
    }

    #[test]
    fn deadlines_stay_on_the_grid_unless_behind() {
        assert_eq!(next_deadline(1_000, 100, 1_050), 1_100, "on time: no drift from handler latency");
        assert_eq!(next_deadline(1_000, 100, 1_350), 1_450, "late: skip missed ticks");
        assert_eq!(next_deadline(u64::MAX - 1, 100, 0), u64::MAX);
    }
}
