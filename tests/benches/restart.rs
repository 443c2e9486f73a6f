//! What a partition restart costs, measured under QEMU's `-icount shift=0,align=off,sleep=off` (1 instruction = 1
//! ns of guest time, every number reproducible): from a bare-metal partition's fault (the counter it reads right
//! before its faulting write) to the first thing it does in its next run (the counter read first in `main`), over
//! every restart of the run. In between hv-static reports the fault, zeroes all of the partition's RAM, copies its
//! images in again from the boot image's payload (the pristine copy, which costs the RAM of the images: the table
//! gives it), resets its devices and enters it.
//!
//! `cargo bench -p hv-tests --bench restart` prints one row per system: on a pinned CPU the restart runs at full
//! speed; in a cyclic pool (qemu-*-restart.toml, the partition's windows 1.5 ms of every 2.4 ms) only in the
//! partition's own windows, so it takes longer in wall-clock terms and none of it in its neighbours' time.

use std::time::{Duration, Instant};

use hv_tests::{boot_until_icount, lines_of};

/// Counter values of `name`'s `hello: faulting at counter N` and `hello: entered at counter N (F Hz)` lines, in
/// order, and the counter frequency.
fn stamps(out: &image_builder::qemu::RunOutcome, name: &str) -> (Vec<(bool, u64)>, u64) {
    let mut freq = 0;
    let mut seen = Vec::new();
    for l in lines_of(out, name) {
        if let Some(rest) = l.strip_prefix("hello: faulting at counter ") {
            seen.push((true, rest.trim().parse().unwrap()));
        } else if let Some(rest) = l.strip_prefix("hello: entered at counter ") {
            let (n, hz) = rest.split_once(" (").unwrap();
            freq = hz.trim_end_matches(" Hz)").parse().unwrap();
            seen.push((false, n.parse().unwrap()));
        }
    }
    (seen, freq)
}

/// The partition's RAM and its images' bytes (kernel, ramdisk, device tree), from the build's layout.txt.
fn sizes(config: &str, name: &str) -> (String, u64) {
    let layout = std::fs::read_to_string(format!("out/{}/layout.txt", config.trim_end_matches(".toml")))
        .or_else(|_| std::fs::read_to_string(format!("../out/{}/layout.txt", config.trim_end_matches(".toml"))))
        .unwrap_or_default();
    let ram = layout
        .lines()
        .find(|l| l.trim_end().ends_with(&format!("partition {name} RAM")))
        .and_then(|l| l.split_whitespace().nth(1).map(|n| format!("{n} MiB")))
        .unwrap_or_else(|| "?".into());
    let mut images = 0.0;
    for l in layout.lines().map(str::trim) {
        let Some(rest) = l.split_once("  ").map(|(_, r)| r.trim()) else { continue };
        if [" kernel", " device tree", " ramdisk"].iter().any(|w| rest.ends_with(&format!("{name}{w}"))) {
            let mut parts = rest.split_whitespace();
            let (n, unit) = (parts.next().unwrap_or("0"), parts.next().unwrap_or("B"));
            let n: f64 = n.parse().unwrap_or(0.0);
            images += n * match unit {
                "KiB" => 1024.0,
                "MiB" => 1048576.0,
                _ => 1.0,
            };
        }
    }
    (ram, images as u64)
}

/// Debian's Linux restarted by its watchdog, in host time (no `-icount`: Linux's boot under QEMU TCG is what it
/// is): three times, `echo c > /proc/sysrq-trigger` panics it (with `panic=0` it hangs), its SP805 expires 3 s
/// later; from the expiry the table gives hv-static's own figure for the restart (RAM zeroed, images copied: its
/// `restarted X ms after it stopped` line) and the time until the new run's `LINUX-READY` marker, against the
/// first boot's QEMU start to marker.
fn linux(config: &str, arch: &str) {
    const T: Duration = Duration::from_secs(180);
    hv_tests::require_system(config);
    hv_tests::checks::require_linux_fixtures(arch);
    let started = Instant::now();
    let mut s = hv_tests::Session::start(&hv_tests::config(config));
    s.wait_for(r"\[linux\] LINUX-READY linux cpus=2", T);
    let first = started.elapsed().as_secs_f64();
    s.send(b"\x1d1");
    s.wait_for(r"\[hv\] console input -> 'linux'", T);
    let (mut hv_ms, mut ready_s) = (Vec::new(), Vec::new());
    for n in 1..=3 {
        s.send(b"\r");
        s.send(format!("echo crash-{n}-$((6*7))\r").as_bytes());
        s.wait_for(&format!(r"\[linux\] crash-{n}-42"), T);
        s.send(b"echo c > /proc/sysrq-trigger\r");
        s.wait_for(r"\[hv\] partition 'linux' watchdog expired: it stopped feeding it", T);
        let expired = Instant::now();
        let line = s.wait_for(r"\[hv\] partition 'linux' restarted \d+ ms after it stopped", T);
        hv_ms
            .push(line.split(" restarted ").nth(1).and_then(|r| r.split(' ').next()?.parse::<u64>().ok()).unwrap_or(0));
        s.wait_for(r"\[linux\] LINUX-READY linux cpus=2", T);
        ready_s.push(expired.elapsed().as_secs_f64());
    }
    let list = |v: Vec<String>| v.join("/");
    println!(
        "{:<28} {:>12} {:>24} {:>26} {:>22}",
        config.trim_end_matches(".toml"),
        format!("{first:.1}"),
        list(hv_ms.iter().map(|m| m.to_string()).collect()),
        list(ready_s.iter().map(|r| format!("{r:.1}")).collect()),
        format!("{:.0}", started.elapsed().as_secs_f64())
    );
}

fn main() {
    println!(
        "partition restart under -icount shift=0 (1 instruction = 1 ns): a fault to the next run's first instructions"
    );
    println!(
        "{:<28} {:>10} {:>9} {:>12} {:>9} {:>30} {:>8}",
        "system", "pool", "RAM", "images (KiB)", "restarts", "fault -> entry ms min/med/max", "wall s"
    );
    for (config, pool, until) in [
        ("qemu-aarch64-restartbench.toml", "pinned", r"(?s)(restarted .*){6}"),
        ("qemu-a15-restartbench.toml", "pinned", r"(?s)(restarted .*){6}"),
        ("qemu-aarch64-restart.toml", "cyclic 62%", r"(?s)(restarted .*){6}"),
        ("qemu-a15-restart.toml", "cyclic 62%", r"(?s)(restarted .*){6}"),
    ] {
        let started = Instant::now();
        let out = boot_until_icount(config, until, Duration::from_secs(900));
        let wall = started.elapsed().as_secs_f64();
        let name = if pool == "pinned" { "crash" } else { "crashy" };
        let (seen, freq) = stamps(&out, name);
        let mut ms: Vec<f64> = seen
            .windows(2)
            .filter(|w| w[0].0 && !w[1].0)
            .map(|w| (w[1].1 - w[0].1) as f64 * 1000.0 / freq as f64)
            .collect();
        ms.sort_by(f64::total_cmp);
        let (ram, images) = sizes(config, name);
        let spread = match (ms.first(), ms.get(ms.len() / 2), ms.last()) {
            (Some(a), Some(m), Some(b)) => format!("{a:.2}/{m:.2}/{b:.2}"),
            _ => "-".into(),
        };
        println!(
            "{:<28} {:>10} {:>9} {:>12.1} {:>9} {:>30} {:>8.1}",
            config.trim_end_matches(".toml"),
            pool,
            ram,
            images as f64 / 1024.0,
            ms.len(),
            spread,
            wall
        );
    }

    println!();
    println!("Debian's Linux restarted by its watchdog after a sysrq crash, host time (QEMU TCG, no -icount)");
    println!(
        "{:<28} {:>12} {:>24} {:>26} {:>22}",
        "system", "first boot s", "hv restart ms (x3)", "expiry -> LINUX-READY s", "wall s"
    );
    linux("qemu-aarch64-linux-restart.toml", "arm64");
    linux("qemu-a15-linux-restart.toml", "armhf");
}
