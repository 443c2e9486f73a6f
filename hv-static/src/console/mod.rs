//! The physical console, shared by the hypervisor and every partition: whole lines only, each with the prefix of
//! its source (`[hv] `, `[name] `), so concurrent writers never garble each other. Lines are queued per source
//! (`outbox`) and drained as fast as the UART takes them, so printing never waits for the UART.

pub mod input;
pub mod line;
pub mod ns16550;
pub mod outbox;
pub mod pl011;
#[cfg(target_os = "none")]
pub mod rx;
pub mod uart;

use core::fmt::{self, Write};
use spin::Mutex;

use crate::config::{LogLevel, NUM_PARTITIONS, SYSTEM};
use outbox::Outbox;
use uart::Uart;

// SAFETY: the board description names the console UART and its kind; the EL2 tables map it as device memory, and
// only this lock touches it.
static UART: Mutex<Uart> = Mutex::new(unsafe { Uart::new(SYSTEM.uart_kind, SYSTEM.uart as usize) });

/// Output sources: partition `i` is source `i`, the hypervisor the last.
const HV_SOURCE: usize = NUM_PARTITIONS;

/// Lines waiting for the UART, per source. Lock order: `OUTBOX`, then `UART`; each is held for bounded work only
/// (copying one line in, or filling the transmit FIFO).
static OUTBOX: Mutex<Outbox<{ NUM_PARTITIONS + 1 }>> = Mutex::new(Outbox::new());

/// Moves queued bytes into the UART while its transmit FIFO has room, and asks for its transmit interrupt when
/// bytes remain (the interrupt calls this again). Never waits for the UART.
pub fn pump() {
    let mut out = OUTBOX.lock();
    let mut uart = UART.lock();
    let more = out.drain(|b| uart.try_write_byte(b));
    uart.set_tx_interrupt(more);
}

/// One line of partition `part`'s output, `[name] text`. Control characters are shown visibly (see
/// [`line::visible`]) unless the partition has the console's input focus: the one partition the user is typing
/// into gets its escape sequences through (a shell's line editing needs them), no other can paint over the screen.
pub fn write_partition_line(part: usize, text: &[u8]) {
    let Some(p) = SYSTEM.partitions.get(part) else { return };
    let raw = focused() == Some(part);
    OUTBOX.lock().push_line(part, p.name.as_bytes(), text, raw);
    pump();
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
        uart.write_bytes(b"\n[hv] ");
        uart.write_bytes(text);
        uart.write_bytes(b"\n");
    };
    for _ in 0..1_000_000 {
        if let Some(mut uart) = UART.try_lock() {
            // What was queued before goes out first (the board stops: waiting for the UART is allowed now).
            if let Some(mut out) = OUTBOX.try_lock() {
                while out.drain(|b| uart.try_write_byte(b)) {
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
    {
        let mut out = OUTBOX.lock();
        for l in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            out.push_line(HV_SOURCE, b"hv", l, true);
        }
    }
    pump();
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
    ($($arg:tt)*) => { $crate::console::hv_log($crate::config::LogLevel::Info, format_args!($($arg)*)) };
}

/// Something went wrong (always shown unless the log level is below `Error`, which does not exist).
#[macro_export]
macro_rules! hverror {
    ($($arg:tt)*) => { $crate::console::hv_log($crate::config::LogLevel::Error, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! hvwarn {
    ($($arg:tt)*) => { $crate::console::hv_log($crate::config::LogLevel::Warn, format_args!($($arg)*)) };
}
