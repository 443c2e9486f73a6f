//! Debian's stock arm64 kernel as a 2-vCPU partition beside a bare-metal one, on GICv3 and GICv2: it boots to
//! its initramfs marker with both vCPUs, takes timer interrupts on both, answers typed commands once the console
//! focus moves to it, logs no warnings from the interrupt, timer or PSCI code, and never starves its neighbour.
//!
//! The kernel and initramfs come from `tests/fixtures/fetch-linux.sh arm64` (run by `.ci/run`).

use std::time::{Duration, Instant};

use hv_tests::{config, require_qemu, serial, Session};

const BOOT: Duration = Duration::from_secs(120);
const T: Duration = Duration::from_secs(30);

/// Fetches the kernel and builds the initramfs when they are not cached yet (the script is a no-op otherwise),
/// so `cargo test --workspace` works on a fresh machine too.
fn require_fixtures() {
    static FETCH: std::sync::Once = std::sync::Once::new();
    let root = image_builder::workspace_root();
    FETCH.call_once(|| {
        let cache = root.join("tests/fixtures/cache/arm64");
        if cache.join("Image").exists() && cache.join("initramfs.cpio.gz").exists() {
            return;
        }
        let status = std::process::Command::new("bash")
            .arg(root.join("tests/fixtures/fetch-linux.sh"))
            .arg("arm64")
            .status()
            .expect("run tests/fixtures/fetch-linux.sh");
        assert!(status.success(), "tests/fixtures/fetch-linux.sh arm64 failed ({status}); see its output above");
    });
}

fn hello_ticks(out: &str) -> Vec<u32> {
    out.lines().filter_map(|l| l.trim_end_matches('\r').strip_prefix("[hello] tick ")?.parse().ok()).collect()
}

fn check_linux(config_name: &str) {
    require_qemu("qemu-system-aarch64");
    require_fixtures();
    let _one = serial();
    let mut s = Session::start(&config(config_name));
    s.wait_for(r"\[hello\] tick 1\b", T);
    let (t0, ticks0) = (Instant::now(), hello_ticks(&s.output()).len());
    s.wait_for(r"\[linux\] LINUX-READY linux cpus=2", BOOT);
    let (elapsed, ticks1) = (t0.elapsed(), hello_ticks(&s.output()).len());

    // The bare-metal partition kept its 10 Hz tick while Linux booted on the other CPUs.
    let ticks = hello_ticks(&s.output());
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "hello skipped or repeated ticks: {ticks:?}");
    let expected = elapsed.as_secs_f64() * 10.0;
    let got = (ticks1 - ticks0) as f64;
    assert!(got >= expected * 0.5, "hello ticked {got} times in {elapsed:?} of Linux boot (expected ~{expected:.0})");

    // Move the console's input to Linux (partition 1) and use its shell.
    s.send(b"\x1d1");
    s.wait_for(r"\[hv\] console input -> 'linux'", T);
    s.send(b"\r");
    s.send(b"echo round-$((6*7))-trip\r");
    s.wait_for(r"\[linux\] round-42-trip", T);
    s.send(b"cat /proc/interrupts\r");
    let timer = s.wait_for(r"\[linux\] +\d+: +\d+ +\d+ +GIC(v3|-0)? +27 Level +arch_timer", T);
    let counts: Vec<u64> = timer.split_whitespace().skip(2).take(2).map(|c| c.parse().unwrap()).collect();
    assert!(counts.iter().all(|&c| c > 0), "arch timer interrupts on both vCPUs: {timer}");

    let out = s.output();
    let linux: Vec<&str> = out.lines().filter(|l| l.starts_with("[linux]")).collect();
    for bad in ["WARNING", "Bad", "timed out", "BUG"] {
        let hits: Vec<&&str> = linux.iter().filter(|l| l.contains(bad)).collect();
        assert!(hits.is_empty(), "Linux logged {bad:?}: {hits:#?}");
    }
    assert!(!out.contains("vcpu 0 fault") && !out.contains("vcpu 1 fault"), "{out}");
    // Input went to Linux only, never to hello.
    assert!(!out.contains("[hello] input:"), "{out}");
}

#[test]
fn linux_gicv3() {
    check_linux("qemu-aarch64-linux.toml");
}

#[test]
fn linux_gicv2() {
    check_linux("qemu-aarch64-linux-gicv2.toml");
}
