//! The physical console, shared by the hypervisor and every partition: whole lines only, each with the prefix of
//! its source (`[hv] `, `[name] `), so concurrent writers never garble each other.

pub mod input;
pub mod line;
pub mod ns16550;
pub mod pl011;
#[cfg(target_os = "none")]
pub mod rx;
pub mod uart;

use core::fmt::{self, Write};
use spin::Mutex;

use crate::config::{LogLevel, SYSTEM};
use uart::Uart;

// SAFETY: the board description names the console UART and its kind; the EL2 tables map it as device memory, and
// only this lock touches it.
static UART: Mutex<Uart> = Mutex::new(unsafe { Uart::new(SYSTEM.uart_kind, SYSTEM.uart as usize) });

/// Writes one line `[prefix] text` atomically with respect to other lines.
pub fn write_line(prefix: &str, text: &[u8]) {
    let mut uart = UART.lock();
    uart.write_bytes(b"[");
    uart.write_bytes(prefix.as_bytes());
    uart.write_bytes(b"] ");
    uart.write_bytes(text);
    uart.write_bytes(b"\n");
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
    for l in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        write_line("hv", l);
    }
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
