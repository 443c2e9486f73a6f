//! One line per check, and the counts for the summary. Every vCPU reports through here (the console is locked
//! per line), so the counters are atomics.

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use guest_rt::{arch, println, timer};

use crate::ids;

static CHECKS: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);

/// Pause after each line, in µs of the virtual counter. hv-static queues a partition's console output in a 2 KiB
/// ring and drops whole lines when it is full (saying so on the console): its writer pays for about 64 bytes of
/// each line in its own trap, and the UART's transmit interrupt drains the rest in slices. Two partitions printing a
/// line per check back to back overran the ring now and then on a busy 2-core host, and a lost line is a lost
/// check; a pause per line lets the interrupt catch up, for ~0.3 s over a whole run.
const LINE_PAUSE_US: u64 = 1000;

/// Prints one line and paces the output (see [`LINE_PAUSE_US`]).
fn line(args: fmt::Arguments) {
    println!("{args}");
    let until = arch::timer::now() + timer::ticks_for_us(arch::timer::frequency(), LINE_PAUSE_US);
    while arch::timer::now() < until {
        core::hint::spin_loop();
    }
}

/// Starts a group of checks: the test requires every section, so one skipped whole cannot pass unnoticed.
pub fn section(name: &str) {
    line(format_args!("abi: section {name}"));
}

/// Counts one check: `abi ok: <what> = <got>` or `abi FAIL: <what> = <got>, expected <want>`. hv-static cuts console
/// lines at 160 bytes: a longer one continues on a line of its own, which the test does not count.
pub fn check(ok: bool, what: fmt::Arguments, got: fmt::Arguments, want: fmt::Arguments) {
    CHECKS.fetch_add(1, Ordering::Relaxed);
    if ok {
        line(format_args!("abi ok: {what} = {got}"));
    } else {
        FAILED.fetch_add(1, Ordering::Relaxed);
        line(format_args!("abi FAIL: {what} = {got}, expected {want}"));
    }
}

/// A status in `x0` against the one the document gives.
pub fn status(what: fmt::Arguments, got: i32, want: i32) {
    check(
        got == want,
        what,
        format_args!("{got} ({})", ids::status_name(got)),
        format_args!("{want} ({})", ids::status_name(want)),
    );
}

/// A status that may be either of two the document allows (a state still changing).
pub fn status_either(what: fmt::Arguments, got: i32, a: i32, b: i32) {
    check(
        got == a || got == b,
        what,
        format_args!("{got} ({})", ids::status_name(got)),
        format_args!("{a} ({}) or {b} ({})", ids::status_name(a), ids::status_name(b)),
    );
}

/// An `AFFINITY_INFO` answer: a state ("0 on, 1 off, 2 on pending") or an error.
pub fn affinity(what: fmt::Arguments, got: i32, want: i32) {
    check(
        got == want,
        what,
        format_args!("{got} ({})", ids::affinity_name(got)),
        format_args!("{want} ({})", ids::affinity_name(want)),
    );
}

/// A value printed in hex against the documented one.
pub fn hex(what: fmt::Arguments, got: u64, want: u64) {
    check(got == want, what, format_args!("{got:#x}"), format_args!("{want:#x}"));
}

/// A value printed in decimal against the documented one.
pub fn dec(what: fmt::Arguments, got: u64, want: u64) {
    check(got == want, what, format_args!("{got}"), format_args!("{want}"));
}

/// A string (a device-tree property) against the documented one; `None` is a missing property.
pub fn text(what: fmt::Arguments, got: Option<&str>, want: &str) {
    check(got == Some(want), what, format_args!("{:?}", Opt(got)), format_args!("{want:?}"));
}

/// Something that holds or not, with what was seen and what the document asks for in words.
pub fn holds(what: fmt::Arguments, ok: bool, seen: fmt::Arguments, want: &str) {
    check(ok, what, seen, format_args!("{want}"));
}

/// What the document leaves open or the probe cannot check without ending its run: printed, not counted.
pub fn note(args: fmt::Arguments) {
    line(format_args!("abi note: {args}"));
}

/// The last line: how many checks ran and how many failed.
pub fn summary() {
    line(format_args!("abi: {} checks, {} failed", CHECKS.load(Ordering::Relaxed), FAILED.load(Ordering::Relaxed)));
}

/// Debug-prints an optional string as the value or `<absent>`.
struct Opt<'a>(Option<&'a str>);

impl fmt::Debug for Opt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "{s:?}"),
            None => f.write_str("<absent>"),
        }
    }
}
