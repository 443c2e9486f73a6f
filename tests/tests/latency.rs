//! Smoke test of the latency probe (tests/guests/latprobe), so that CI catches a broken probe without running the
//! bench: the quiet AArch64 GICv3 system (configs/qemu-aarch64-latency.toml) with 200 events per measurement under
//! `-icount`, the PL031 left out (its alarm is a second of guest time per event). Every measurement line must be
//! there and ordered: 0 < min <= median <= p99 <= max.

use std::path::Path;
use std::time::{Duration, Instant};

use hv_tests::latency;

#[test]
fn latprobe_measures_every_path_on_aarch64() {
    hv_tests::require_system("qemu-aarch64-latency.toml");
    let config = latency::with_latprobe_bootargs(
        "qemu-aarch64-latency.toml",
        "events=200 skip=device",
        "qemu-aarch64-latency-smoke.toml",
    );
    let started = Instant::now();
    let out = latency::boot_hv(Path::new(&config), 1, Duration::from_secs(120));
    let results = latency::parse(&out, Some("lat"));
    for event in latency::EVENTS.iter().filter(|e| !["device", "window"].contains(e)) {
        let m = results.get(*event).unwrap_or_else(|| panic!("no `lat: {event}` line\n--- console ---\n{out}"));
        assert_eq!(m.count, 200, "{event}: {m:?}");
        assert!(
            0 < m.min && m.min <= m.median && m.median <= m.p99 && m.p99 <= m.max,
            "{event}: {m:?}\n--- console ---\n{out}"
        );
    }
    eprintln!("latency smoke test: {:.1} s", started.elapsed().as_secs_f64());
}
