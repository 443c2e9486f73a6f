//! The latency probe (tests/guests/latprobe) from the host: boots it under hv-static and natively on QEMU alone,
//! both under `-icount shift=0,align=off,sleep=off` with the PL031 on the virtual clock, and parses its result
//! lines. Used by `tests/benches/latency.rs` (the table) and `tests/tests/latency.rs` (the smoke test).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use image_builder::pipeline::{build, BuildOptions};
use image_builder::qemu::{command_line, ICOUNT};
use regex::Regex;

use crate::Session;

/// The events latprobe measures, in table order; `window` is a cyclic partition's, the others `main`'s.
pub const EVENTS: [&str; 8] = ["timer", "device", "sgi", "doorbell", "hvc", "gicd", "uart", "window"];

/// QEMU's PL031 follows the host's clock unless told otherwise; the device measurement needs guest time.
pub const RTC_ON_GUEST_TIME: [&str; 2] = ["-rtc", "clock=vm"];

/// One `lat:` line: nanoseconds of guest time, which `-icount shift=0` makes instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measurement {
    pub count: u64,
    pub min: i64,
    pub median: i64,
    pub p99: i64,
    pub max: i64,
}

/// The result lines of partition `partition` (`None`: lines without a partition prefix, a native run), by event.
pub fn parse(output: &str, partition: Option<&str>) -> BTreeMap<String, Measurement> {
    let re = Regex::new(r"^lat: (\w+) n=(\d+) min=(-?\d+) median=(-?\d+) p99=(-?\d+) max=(-?\d+) ns").unwrap();
    lines(output, partition)
        .filter_map(|l| {
            let c = re.captures(l)?;
            let n = |i: usize| c[i].parse::<i64>().ok();
            let m = Measurement { count: n(2)? as u64, min: n(3)?, median: n(4)?, p99: n(5)?, max: n(6)? };
            Some((c[1].to_string(), m))
        })
        .collect()
}

/// The events partition `partition` reported as skipped, with the reason.
pub fn skipped(output: &str, partition: Option<&str>) -> BTreeMap<String, String> {
    let re = Regex::new(r"^lat: (\w+) skipped \((.*)\)").unwrap();
    lines(output, partition).filter_map(|l| re.captures(l).map(|c| (c[1].to_string(), c[2].to_string()))).collect()
}

fn lines<'a>(output: &'a str, partition: Option<&'a str>) -> impl Iterator<Item = &'a str> + 'a {
    let prefix = partition.map(|p| format!("[{p}] "));
    output.lines().map(|l| l.trim_end_matches('\r')).filter_map(move |l| match &prefix {
        Some(p) => l.strip_prefix(p.as_str()),
        None => (!l.starts_with('[')).then_some(l),
    })
}

/// Builds `config` (a path, or a name under `configs/`) and boots it under `-icount` with the RTC on guest time,
/// until `done` partitions have printed `latprobe: done`; returns the console. Panics with the console on timeout.
pub fn boot_hv(config: &Path, done: usize, timeout: Duration) -> String {
    let config = crate::config(&config.to_string_lossy());
    let built = build(&BuildOptions { config: config.clone(), quiet: true })
        .unwrap_or_else(|e| panic!("building {} failed: {e}", config.display()));
    let mut command = command_line(&built).expect("QEMU command line");
    command.extend(ICOUNT.iter().chain(&RTC_ON_GUEST_TIME).map(|s| s.to_string()));
    let _one_at_a_time = crate::serial();
    let mut session = Session::spawn(command);
    session.wait_for(&format!(r"(?s)(latprobe: done.*){{{done}}}"), timeout);
    session.output()
}

/// A QEMU board without hv-static, for the native baseline: the same CPUs and GIC as the hv-static configs use.
#[derive(Clone, Copy, Debug)]
pub struct Native {
    pub qemu: &'static str,
    pub machine: &'static str,
    pub cpu: &'static str,
    pub target: &'static str,
}

pub const NATIVE_A64_GICV3: Native = Native {
    qemu: "qemu-system-aarch64",
    machine: "virt,gic-version=3,dtb-randomness=off",
    cpu: "cortex-a57",
    target: "aarch64-unknown-none",
};
pub const NATIVE_A64_GICV2: Native = Native {
    qemu: "qemu-system-aarch64",
    machine: "virt,gic-version=2,dtb-randomness=off",
    cpu: "cortex-a53",
    target: "aarch64-unknown-none",
};
pub const NATIVE_A15: Native = Native {
    qemu: "qemu-system-arm",
    machine: "virt,dtb-randomness=off",
    cpu: "cortex-a15",
    target: "armv7a-none-eabi",
};

/// Builds latprobe for `target` and flattens it into the image QEMU's `-kernel` boots with a device tree (as
/// `llvm-objcopy -O binary` would); returns its path under `out/bench/`.
pub fn native_image(target: &str) -> PathBuf {
    let root = image_builder::workspace_root();
    let cargo = image_builder::cargo::Cargo::new(&root);
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(program)
        .current_dir(&root)
        .args(["build", "--release", "-q", "-p", "guest-latprobe", "--target", target])
        .env("CARGO_TARGET_DIR", &cargo.target_dir)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building guest-latprobe for {target} failed");
    let elf = std::fs::read(cargo.release_dir(target).join("guest-latprobe")).expect("latprobe ELF");
    let flat = image_builder::image::flatten(&elf).unwrap_or_else(|e| panic!("latprobe ELF: {e}"));
    let dir = root.join("out/bench");
    std::fs::create_dir_all(&dir).expect("out/bench");
    let path = dir.join(format!("latprobe-{target}.bin"));
    std::fs::write(&path, flat.bytes).expect("write the native image");
    path
}

/// Boots latprobe on `board` without hv-static (two CPUs, `bootargs`) under `-icount`; returns the console.
pub fn boot_native(board: Native, bootargs: &str, timeout: Duration) -> String {
    let image = native_image(board.target);
    let mut command: Vec<String> = [board.qemu, "-M", board.machine, "-cpu", board.cpu, "-smp", "2", "-m", "256M"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    command.extend(["-nographic", "-kernel"].map(String::from));
    command.push(image.display().to_string());
    command.extend(["-append".to_string(), bootargs.to_string()]);
    command.extend(ICOUNT.iter().chain(&RTC_ON_GUEST_TIME).map(|s| s.to_string()));
    let _one_at_a_time = crate::serial();
    let mut session = Session::spawn(command);
    session.wait_for("latprobe: done", timeout);
    session.output()
}

/// `config` (a file under `configs/`) with `extra` added to the bootargs of every latprobe partition (those that
/// start `bootargs = "role=`), written under `out/bench/` as `name`; returns its path. For runs with fewer events
/// than the checked-in configs.
pub fn with_latprobe_bootargs(config: &str, extra: &str, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(crate::config(config)).expect("config");
    let text = text.replace("bootargs = \"role=", &format!("bootargs = \"{extra} role="));
    let dir = image_builder::workspace_root().join("out/bench");
    std::fs::create_dir_all(&dir).expect("out/bench");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the config");
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_result_lines_by_partition() {
        let out = "[lat] lat: timer n=3 min=1 median=2 p99=3 max=3 ns (max at event 2)\r\n\
                   [lat] lat: hvc skipped (skip=hvc)\n\
                   [win-a] lat: window n=5 min=-1 median=0 p99=4 max=9 ns\n\
                   lat: sgi n=2 min=7 median=7 p99=8 max=8 ns\n";
        let lat = parse(out, Some("lat"));
        assert_eq!(lat.len(), 1);
        assert_eq!(lat["timer"], Measurement { count: 3, min: 1, median: 2, p99: 3, max: 3 });
        assert_eq!(parse(out, Some("win-a"))["window"].min, -1);
        assert_eq!(parse(out, None).keys().collect::<Vec<_>>(), ["sgi"]);
        assert_eq!(skipped(out, Some("lat"))["hvc"], "skip=hvc");
    }
}
