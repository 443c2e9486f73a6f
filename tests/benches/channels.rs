//! Channel round trips, measured under QEMU's `-icount shift=0,align=off,sleep=off` (1 instruction = 1 ns of guest
//! time, reproducible): a message written into a channel, the peer's doorbell rung, the peer's answer read back.
//!
//! `cargo bench -p hv-tests --bench channels` prints one row per path:
//! - bare metal <-> bare metal (`qemu-aarch64-channel.toml`, chanprobe ping/pong): a word protocol, rings with
//!   `HV_CHANNEL_SIGNAL`, the pong side in a cyclic pool (descheduled half the time: its rows are windows apart);
//! - Linux <-> bare metal (`qemu-aarch64-linux-channel.toml`): `hvchan ping` in Debian's stock kernel through the
//!   sram file and the PL061 doorbell lines, over the message ring, against chanprobe `role=echo` on a pinned CPU.
//!   The Linux side's time includes its system calls (pwrite/pread on the sram file, GPIO line ioctls) and the
//!   scheduling of the waiting process.

use std::time::{Duration, Instant};

use hv_tests::{boot_until_icount, lines_of};

/// `min A avg B max C` after `key` on a line of `name`'s, in the unit the line gives.
fn triple(out: &image_builder::qemu::RunOutcome, name: &str, key: &str) -> Option<(f64, f64, f64, String)> {
    let line = lines_of(out, name).into_iter().find(|l| l.starts_with(key))?;
    let num =
        |k: &str| -> Option<f64> { line.split(&format!(" {k} ")).nth(1)?.split_whitespace().next()?.parse().ok() };
    Some((num("min")?, num("avg")?, num("max")?, line.to_owned()))
}

fn main() {
    println!("channel round trips under -icount shift=0 (1 instruction = 1 ns): message out, doorbell, answer back");
    println!("{:<44} {:>8} {:>26} {:>8}", "path", "messages", "round trip us min/avg/max", "wall s");
    // Bare metal both ends: the counter runs at the frequency the line gives.
    let started = Instant::now();
    let out = boot_until_icount("qemu-aarch64-channel.toml", r"\[ping\] chanprobe: done", Duration::from_secs(600));
    let wall = started.elapsed().as_secs_f64();
    let row = triple(&out, "ping", "chan: round trip ticks").and_then(|(a, b, c, line)| {
        let hz: f64 = line.split("(counter ").nth(1)?.split_whitespace().next()?.parse().ok()?;
        Some((a / hz * 1e6, b / hz * 1e6, c / hz * 1e6))
    });
    print_row("bare metal <-> bare metal (HV_CHANNEL_SIGNAL)", 100, row, wall);

    let started = Instant::now();
    // The whole line: matching its start alone could stop QEMU before the figures arrive.
    let out = boot_until_icount(
        "qemu-aarch64-linux-channel.toml",
        r"hvchan: round trip ns min \d+ avg \d+ max \d+\r?\n",
        Duration::from_secs(1800),
    );
    let wall = started.elapsed().as_secs_f64();
    let row = triple(&out, "linux", "hvchan: round trip ns").map(|(a, b, c, _)| (a / 1e3, b / 1e3, c / 1e3));
    print_row("Linux (sram file, PL061 lines) <-> bare metal", 200, row, wall);
}

fn print_row(path: &str, messages: u32, row: Option<(f64, f64, f64)>, wall: f64) {
    let spread = row.map_or_else(|| "-".to_owned(), |(a, b, c)| format!("{a:.1}/{b:.1}/{c:.1}"));
    println!("{path:<44} {messages:>8} {spread:>26} {wall:>8.1}");
}
