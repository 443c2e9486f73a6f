//! The physical console, shared by the hypervisor and every partition: whole lines only, each with the prefix of
//! its source (`[hv] `, `[name] `), so concurrent writers never garble each other. Lines are queued per source
//! (`outbox`) and drained as fast as the UART takes them, so printing never waits for the UART, and one FIFO's
//! worth at a time, so no trap writes for long (`pump`).

pub mod input;
pub mod line;
pub mod outbox;
#[cfg(target_os = "none")]
pub mod rx;

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Mutex;

use crate::config::{LogLevel, NUM_PARTITIONS, SYSTEM};
use crate::hw::uart::Uart;
use outbox::Outbox;

// SAFETY: the board description names the console UART and its kind; the EL2 tables map it as device memory, and
// only this lock touches it.
static UART: Mutex<Uart> = Mutex::new(unsafe { Uart::new(SYSTEM.uart_kind, SYSTEM.uart as usize) });

/// Boot CPU, before the first line: readies the UART ([`Uart::enable`]; only the Cadence UART needs it, whose
/// transmitter may still be off, and then every line would be dropped). Here rather than on first use so that no
/// write path, all of which run inside traps later, carries the check.
pub fn init() {
    UART.lock().enable();
}

/// Output sources: partition `i` is source `i`, the hypervisor the last.
const HV_SOURCE: usize = NUM_PARTITIONS;

/// Lines waiting for the UART, per source. Lock order: `OUTBOX`, then `UART`; each is held for bounded work only
/// (copying one line in, or filling the transmit FIFO).
static OUTBOX: Mutex<Outbox<{ NUM_PARTITIONS + 1 }>> = Mutex::new(Outbox::new());

/// Whether the UART's interrupt is set up (`rx::init`). Until then nothing would continue a drain the budget cut
/// short, and nothing needs it cut: only the boot CPU runs, no partition yet.
static INTERRUPT_LIVE: AtomicBool = AtomicBool::new(false);

/// Moves at most one FIFO's worth of queued bytes into the UART while it has room (never waits for it), and leaves
/// the rest to its transmit interrupt, steered to a CPU of the partition whose output goes next (`rx::target`),
/// which continues one slice per entry into the hypervisor. Returns whether bytes remain.
///
/// Why bounded: QEMU's UARTs are never full, so "until the FIFO is full" meant everything queued (a ring per
/// source) within the trap of whichever partition completed a line, and a real-time window due on that CPU began
/// that much later.
pub fn pump() -> bool {
    drain_slice(Some(0))
}

/// [`pump`] right after queueing `bytes`: drains that many (at least one FIFO's worth, at most
/// [`PAID_MAX_FIFOS`]), so that ordinary output never grows faster than it goes out even while the CPU the
/// transmit interrupt points at is slow to take it: the writer pays for its own line, in its own trap. Longer lines
/// (a flood of escapes) leave the rest to the transmit interrupt, so no trap grows with a line's length.
fn pump_after(bytes: usize) -> bool {
    drain_slice(Some(bytes))
}

/// The most a line's own trap drains, in FIFOs' worth: 64 bytes on a PL011, an ordinary line. It was 4 (128 bytes),
/// ~2,100 instructions of UART writes in one trap (~4,800 with the queue's bookkeeping): once window switches got
/// shorter (issue 15), the longest thing a console flood could make hv-static do at a window boundary, over twice a
/// quiet switch. At 1 FIFO an ordinary line was no longer paid for by its writer, the transmit interrupt (re-steered
/// between writers' CPUs slice by slice) fell behind four busy vCPUs on a 2-core host, and the soak suite saw whole
/// lines dropped; at 2 it passes, and the flood's worst window start is within 1.2x of a quiet one.
const PAID_MAX_FIFOS: usize = 2;

/// The transmit interrupt's slice: written only where `rx::target` wants the next bytes paid for (else only
/// re-steered), so an interrupt still raised on a CPU that has moved on to another partition's window costs that
/// partition one entry, not a slice. Returns whether the interrupt stays on.
fn pump_interrupt() -> bool {
    drain_slice(None)
}

/// A writer's drain (`paid`) never waits for the queue: whoever holds it now took it after every line queued so far
/// was in (pushing takes it too), so that holder, or the next, drains those lines and sets the transmit interrupt
/// for them. Waiting instead made every CPU that printed queue up behind each drain, and where CPUs are themselves
/// time-shared (QEMU's vCPU threads on fewer host cores) behind a holder that was not even running: a partition's
/// timer heartbeat then came tens of milliseconds late.
///
/// The transmit interrupt's drain (`paid` = `None`) does wait, for one holder's bounded work: it is the drain of
/// last resort, and giving up would leave the interrupt raised, to be taken again on every entry into the CPU it
/// points at until the holder is done (under host load, dozens of entries into a partition that has nothing to
/// do with it).
///
/// `paid`: bytes to drain whatever the target (at least one FIFO's worth), or `None` for the transmit interrupt,
/// which drains a FIFO's worth only where `rx::target` says.
fn drain_slice(paid: Option<usize>) -> bool {
    let mut out = match paid {
        Some(_) => match OUTBOX.try_lock() {
            Some(out) => out,
            None => return true,
        },
        None => OUTBOX.lock(),
    };
    let mut uart = UART.lock();
    if !INTERRUPT_LIVE.load(Ordering::Acquire) {
        let more = out.drain_runs(usize::MAX, |run| uart.write_run(run));
        uart.set_tx_interrupt(more);
        return more;
    }
    let budget = match paid {
        Some(bytes) => Some(bytes.clamp(uart.fifo_depth(), PAID_MAX_FIFOS * uart.fifo_depth())),
        None => (target(out.next_source()) == Some(here())).then(|| uart.fifo_depth()),
    };
    if let Some(budget) = budget {
        out.drain_runs(budget, |run| write_until_due(&mut uart, run));
    }
    let next = out.next_source();
    WAITING.store(usize::MAX, Ordering::Relaxed);
    match target(next) {
        // Routed before the interrupt is turned on, so it is not taken first where it pointed before.
        Some(cpu) => {
            route(Some(cpu));
            uart.set_tx_interrupt(true);
            TX_ON.store(true, Ordering::Relaxed);
            true
        }
        // Nothing waits (the interrupt goes home, for input), or its partition's CPUs run other partitions now
        // (the next pump continues; the route stays, sparing the distributor a write per window).
        None => {
            uart.set_tx_interrupt(false);
            TX_ON.store(false, Ordering::Relaxed);
            match next {
                None => route(None),
                Some(src) if src < NUM_PARTITIONS => WAITING.store(src, Ordering::Relaxed),
                Some(_) => {}
            }
            false
        }
    }
}

/// Bytes written between two looks at the window boundary: ~150 instructions of UART writes on a PL011.
const BOUNDARY_CHECK_BYTES: usize = 16;

/// Writes `run` into the UART until its FIFO is full or this CPU's window boundary is due, whichever is first, and
/// returns how many bytes it took. The boundary is looked at every [`BOUNDARY_CHECK_BYTES`]: once due, the rest
/// waits for the transmit interrupt or the next line's drain, and the next window starts at most one check late,
/// not a whole slice (a slice of 64 bytes was ~1,200 instructions, longer than a quiet window switch).
fn write_until_due(uart: &mut Uart, run: &[u8]) -> usize {
    let mut done = 0;
    for chunk in run.chunks(BOUNDARY_CHECK_BYTES) {
        if boundary_due() {
            break;
        }
        let n = uart.write_run(chunk);
        done += n;
        if n < chunk.len() {
            break;
        }
    }
    done
}

#[cfg(target_os = "none")]
fn boundary_due() -> bool {
    crate::arch::timer::hyp_deadline_passed()
}

// Host builds have no window boundaries.
#[cfg(not(target_os = "none"))]
fn boundary_due() -> bool {
    false
}

/// Whether the transmit interrupt is on (written under the queue's lock, read without it on the switch path).
static TX_ON: AtomicBool = AtomicBool::new(false);

/// The partition whose output waits with the transmit interrupt off, because none of its CPUs ran it when its
/// turn came (`usize::MAX`: none).
static WAITING: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(usize::MAX);

/// A CPU of a cyclic pool has just switched to partition `part`. The transmit interrupt may still point here for
/// the partition that ran before: re-steered (or turned off) now, in the switch, it does not cost `part` an entry
/// into the hypervisor at the start of its window. And `part`'s own output, if it waited for `part` to run again,
/// continues. Two atomic loads when neither applies.
#[cfg(target_os = "none")]
pub fn on_switch_in(part: usize) {
    let routed_here = TX_ON.load(Ordering::Relaxed) && rx::routed() == here();
    if routed_here || WAITING.load(Ordering::Relaxed) == part {
        drain_slice(None);
    }
}

#[cfg(target_os = "none")]
use rx::{route, target};

#[cfg(target_os = "none")]
fn here() -> usize {
    crate::arch::cpu::id()
}

// Host builds have no interrupt controller (their tests exercise the queue, not the routing).
#[cfg(not(target_os = "none"))]
fn target(_next: Option<usize>) -> Option<usize> {
    None
}

#[cfg(not(target_os = "none"))]
fn route(_cpu: Option<usize>) {}

#[cfg(not(target_os = "none"))]
fn here() -> usize {
    0
}

/// One line of partition `part`'s output, `[name] text`, its text already made visible by the line buffer that
/// assembled it (see [`line::LineBuffer`]): control characters are shown visibly unless the partition has the
/// console's input focus, so the one partition the user is typing into gets its escape sequences through (a
/// shell's line editing needs them), and no other can paint over the screen.
pub fn write_partition_line(part: usize, text: &[u8]) {
    let Some(p) = SYSTEM.partitions.get(part) else { return };
    let queued = OUTBOX.lock().push_line(part, p.name.as_bytes(), text, true);
    // `[name] ` + text + `\r\n`.
    pump_after(if queued { p.name.len() + text.len() + 5 } else { 0 });
}

/// The partition console input goes to (recorded by the input switch), if any.
pub fn focused() -> Option<usize> {
    match FOCUS.load(core::sync::atomic::Ordering::Relaxed) {
        usize::MAX => None,
        p => Some(p),
    }
}

/// Records where console input goes, for [`write_partition_line`].
pub fn set_focused(part: Option<usize>) {
    FOCUS.store(part.unwrap_or(usize::MAX), core::sync::atomic::Ordering::Relaxed);
}

static FOCUS: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(usize::MAX);

/// One `[hv]` line for the panic handler: written under the console lock if it can be had within a bounded wait,
/// otherwise straight to the UART (the lock may be held by this very CPU, which will never release it).
pub fn emergency(args: fmt::Arguments) {
    let mut line = FmtBuf { buf: [0; line::LINE_MAX], len: 0 };
    let _ = line.write_fmt(args);
    let text = &line.buf[..line.len];
    let write = |uart: &mut Uart| {
        // A panic before `init` (on the boot CPU's way to it) would otherwise go unseen on a UART still off.
        uart.enable();
        uart.write_bytes(b"\n[hv] ");
        uart.write_bytes(text);
        uart.write_bytes(b"\n");
    };
    for _ in 0..1_000_000 {
        if let Some(mut uart) = UART.try_lock() {
            // What was queued before goes out first (the board stops: waiting for the UART is allowed now).
            if let Some(mut out) = OUTBOX.try_lock() {
                while out.drain_runs(usize::MAX, |run| uart.write_run(run)) {
                    core::hint::spin_loop();
                }
            }
            write(&mut uart);
            return;
        }
        core::hint::spin_loop();
    }
    // SAFETY: the same UART the lock guards; its holder cannot be trusted to let go while the board stops, and two
    // writers at worst interleave characters of the last lines.
    let mut uart = unsafe { Uart::new(SYSTEM.uart_kind, SYSTEM.uart as usize) };
    write(&mut uart);
}

/// Runs `f` with the physical UART (input side).
pub fn with_uart<R>(f: impl FnOnce(&mut Uart) -> R) -> R {
    f(&mut UART.lock())
}

/// Formats into a fixed buffer, then emits whole lines with the hypervisor's prefix, if the configured log level
/// lets `level` through.
pub fn hv_log(level: LogLevel, args: fmt::Arguments) {
    if level > SYSTEM.log_level {
        return;
    }
    let mut line = FmtBuf { buf: [0; line::LINE_MAX], len: 0 };
    let _ = line.write_fmt(args);
    let text = &line.buf[..line.len];
    let mut queued = 0;
    {
        let mut out = OUTBOX.lock();
        for l in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if out.push_line(HV_SOURCE, b"hv", l, true) {
                queued += l.len() + 7;
            }
        }
    }
    pump_after(queued);
}

struct FmtBuf {
    buf: [u8; line::LINE_MAX],
    len: usize,
}

impl Write for FmtBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The hypervisor's own messages at `Info` level (the banner, partitions starting and stopping).
#[macro_export]
macro_rules! hvprintln {
    ($($arg:tt)*) => { $crate::core::console::hv_log($crate::config::LogLevel::Info, format_args!($($arg)*)) };
}

/// Something went wrong (always shown unless the log level is below `Error`, which does not exist).
#[macro_export]
macro_rules! hverror {
    ($($arg:tt)*) => { $crate::core::console::hv_log($crate::config::LogLevel::Error, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! hvwarn {
    ($($arg:tt)*) => { $crate::core::console::hv_log($crate::config::LogLevel::Warn, format_args!($($arg)*)) };
}
