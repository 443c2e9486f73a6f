//! Latency of hv-static's paths as a partition sees them (issue 15, item 1), measured by `latprobe`
//! (tests/guests/latprobe) under QEMU's `-icount shift=0,align=off,sleep=off`: guest time advances one nanosecond
//! per instruction executed by the whole machine, so every figure is an instruction count, the same on every run
//! and every host. Each event is measured 10,000 times.
//!
//! `cargo bench -p hv-tests --bench latency` prints one table: a row per event and system (AArch64 with GICv3 and
//! GICv2, ARMv7 Cortex-A15 with GICv2), with min / median / p99 / max under hv-static on a quiet system, the median
//! of the same guest on QEMU alone (where the event exists without a hypervisor), the ratio and the difference to
//! it, and the median and p99 with hostile neighbours on the other CPUs (configs/qemu-*-latency-noisy*.toml) with
//! the change of the median. The noisy systems measure only the paths whose vCPU never waits for an interrupt
//! (hvc, gicd, uart): under -icount QEMU runs the CPUs in turns, and a spinning neighbour keeps its turn for up to
//! 100 ms of guest time while a due interrupt waits. docs/performance.md explains what each row brackets.
//!
//! Environment: `LATENCY_SYSTEMS=a64v3,a64v2,a15` picks systems; `LATENCY_NOISY=0` leaves the noisy runs out.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use hv_tests::latency::{self, Measurement, Native, EVENTS};

const TIMEOUT: Duration = Duration::from_secs(900);

struct System {
    key: &'static str,
    name: &'static str,
    native: Native,
    quiet: &'static str,
    noisy: &'static str,
    window: &'static str,
}

const SYSTEMS: [System; 3] = [
    System {
        key: "a64v3",
        name: "aarch64 GICv3",
        native: latency::NATIVE_A64_GICV3,
        quiet: "qemu-aarch64-latency.toml",
        noisy: "qemu-aarch64-latency-noisy.toml",
        window: "qemu-aarch64-latency-window.toml",
    },
    System {
        key: "a64v2",
        name: "aarch64 GICv2",
        native: latency::NATIVE_A64_GICV2,
        quiet: "qemu-aarch64-latency-gicv2.toml",
        noisy: "qemu-aarch64-latency-noisy-gicv2.toml",
        window: "qemu-aarch64-latency-window-gicv2.toml",
    },
    System {
        key: "a15",
        name: "a15 GICv2",
        native: latency::NATIVE_A15,
        quiet: "qemu-a15-latency.toml",
        noisy: "qemu-a15-latency-noisy.toml",
        window: "qemu-a15-latency-window.toml",
    },
];

/// `main`'s results on `config`.
fn measure(config: &str, log: &mut Vec<String>) -> BTreeMap<String, Measurement> {
    let started = Instant::now();
    let out = latency::boot_hv(Path::new(config), 1, TIMEOUT);
    // Skips the config asks for (`skip=` in its bootargs) are by design; others say what is missing.
    for (event, why) in latency::skipped(&out, Some("lat")).into_iter().filter(|(_, why)| !why.starts_with("skip=")) {
        log.push(format!("{config}: {event} skipped ({why})"));
    }
    log.push(format!("{config}: {:.0} s wall", started.elapsed().as_secs_f64()));
    latency::parse(&out, Some("lat"))
}

/// The two cyclic partitions' results on `config`, as `window a` and `window b`.
fn measure_windows(config: &str, log: &mut Vec<String>) -> BTreeMap<String, Measurement> {
    let started = Instant::now();
    let out = latency::boot_hv(Path::new(config), 2, TIMEOUT);
    log.push(format!("{config}: {:.0} s wall", started.elapsed().as_secs_f64()));
    [("win-a", "window a"), ("win-b", "window b")]
        .into_iter()
        .filter_map(|(partition, row)| Some((row.to_string(), *latency::parse(&out, Some(partition)).get("window")?)))
        .collect()
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".into())
}

fn main() {
    let picked = std::env::var("LATENCY_SYSTEMS").unwrap_or_default();
    let noisy_too = std::env::var("LATENCY_NOISY").map_or(true, |v| v != "0");
    let mut log = Vec::new();
    let mut rows = Vec::new();
    for system in SYSTEMS.iter().filter(|s| picked.is_empty() || picked.split(',').any(|p| p == s.key)) {
        hv_tests::require_system(system.quiet);
        let started = Instant::now();
        let native = latency::parse(&latency::boot_native(system.native, "role=main", TIMEOUT), None);
        log.push(format!("{} native: {:.0} s wall", system.name, started.elapsed().as_secs_f64()));
        let mut quiet = measure(system.quiet, &mut log);
        quiet.extend(measure_windows(system.window, &mut log));
        let noisy = if noisy_too { measure(system.noisy, &mut log) } else { BTreeMap::new() };
        let events = EVENTS.iter().filter(|e| **e != "window").map(|e| e.to_string());
        for event in events.chain(["window a".to_string(), "window b".to_string()]) {
            let Some(q) = quiet.get(&event) else { continue };
            let n = native.get(&event);
            let z = noisy.get(&event);
            rows.push([
                event.clone(),
                system.name.to_string(),
                q.min.to_string(),
                q.median.to_string(),
                q.p99.to_string(),
                q.max.to_string(),
                or_dash(n.map(|n| n.median.to_string())),
                or_dash(n.filter(|n| n.median > 0).map(|n| format!("{:.0}x", q.median as f64 / n.median as f64))),
                or_dash(n.map(|n| format!("+{}", q.median - n.median))),
                or_dash(z.map(|z| z.median.to_string())),
                or_dash(
                    z.filter(|_| q.median > 0)
                        .map(|z| format!("{:+.1}%", (z.median - q.median) as f64 * 100.0 / q.median as f64)),
                ),
                or_dash(z.map(|z| z.p99.to_string())),
            ]);
        }
    }
    println!(
        "latency under QEMU -icount shift=0 (1 ns = 1 instruction of the whole machine), 10,000 events per row; \
         ns = instructions"
    );
    let header = [
        "event",
        "system",
        "min",
        "median",
        "p99",
        "max",
        "native med",
        "ratio",
        "over native",
        "noisy med",
        "change",
        "noisy p99",
    ];
    let widths = [9, 14, 9, 9, 9, 11, 10, 7, 11, 10, 9, 11];
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i < 2 {
                s.push_str(&format!("{c:<w$} "));
            } else {
                s.push_str(&format!("{c:>w$} "));
            }
        }
        println!("{}", s.trim_end());
    };
    line(&header.map(String::from));
    for row in &rows {
        line(row);
    }
    println!();
    for l in log {
        println!("{l}");
    }
}
