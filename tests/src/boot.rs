//! Boot time of Debian's kernels, native against a partition of hv-static (`tests/benches/boot.rs`): the kernels
//! the fixture cache holds, the one-partition systems and native QEMU command lines that boot them alike, and a
//! run that stamps on the host clock when the console first showed each milestone.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use image_builder::pipeline::{build, BuildOptions};
use image_builder::qemu::{command_line, ICOUNT};
use regex::Regex;

/// The initramfs's marker (`tests/fixtures/fetch-linux.sh`) once both vCPUs are up.
pub const MARKER: &str = r"LINUX-READY linux cpus=2";
/// The same command line on both sides, as `configs/qemu-*-linux.toml` give it.
pub const BOOTARGS: &str = "console=ttyAMA0 earlycon=pl011,0x9000000 hvname=linux";
/// Partition RAM, and the native machine's.
pub const MEMORY_MIB: u64 = 256;

/// A kernel of the fixture cache and the board that runs it.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// The cache folder: `arm64` or `armhf`.
    pub arch: &'static str,
    /// Debian's package version (`VERSION` in the cache), e.g. `6.1.0-57-arm64`.
    pub version: String,
    pub image: PathBuf,
    pub initrd: PathBuf,
    pub board: &'static str,
    pub qemu: &'static str,
    pub cpu: &'static str,
    /// The native machine: the same GIC as the board's, and no random seeds in QEMU's device tree, as hv-static's
    /// command line has it (with QEMU's `kaslr-seed` the arm64 kernel turns on KASLR and with it page-table
    /// isolation, which a partition's device tree, without the seed, does not: a different kernel to compare).
    pub machine: &'static str,
}

/// The kernels the fixture cache holds (none is fetched: the bench measures what is there).
pub fn kernels() -> Vec<Kernel> {
    let cache = image_builder::workspace_root().join("tests/fixtures/cache");
    [
        (
            "arm64",
            "Image",
            "qemu-virt-aarch64",
            "qemu-system-aarch64",
            "cortex-a57",
            "virt,gic-version=3,dtb-randomness=off",
        ),
        ("armhf", "zImage", "qemu-virt-a15", "qemu-system-arm", "cortex-a15", "virt,gic-version=2,dtb-randomness=off"),
    ]
    .into_iter()
    .filter_map(|(arch, file, board, qemu, cpu, machine)| {
        let dir = cache.join(arch);
        let (image, initrd) = (dir.join(file), dir.join("initramfs.cpio.gz"));
        (image.exists() && initrd.exists()).then(|| Kernel {
            arch,
            version: std::fs::read_to_string(dir.join("VERSION")).unwrap_or_default().trim().to_owned(),
            image,
            initrd,
            board,
            qemu,
            cpu,
            machine,
        })
    })
    .collect()
}

/// Writes `out/bench/boot-ARCH.toml`: the kernel as the only partition, 2 vCPUs on CPUs 0 and 1, pinned.
pub fn write_config(k: &Kernel) -> PathBuf {
    let dir = image_builder::workspace_root().join("out/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join(format!("boot-{}.toml", k.arch));
    std::fs::write(
        &config,
        format!(
            "# Written by tests/benches/boot.rs: Debian's kernel alone, as in configs/qemu-*-linux.toml.\n\
             [board]\nname = \"{}\"\n\n[[pool]]\nname = \"rt\"\ncpus = [0, 1]\nscheduler = \"pinned\"\n\n\
             [[partition]]\nname = \"linux\"\npool = \"rt\"\nvcpus = [0, 1]\nmemory = {{ size = \"{MEMORY_MIB}MiB\" }}\n\
             kernel = \"{}\"\nramdisk = \"{}\"\nbootargs = \"{BOOTARGS}\"\n",
            k.board,
            k.image.display(),
            k.initrd.display()
        ),
    )
    .unwrap();
    config
}

/// QEMU booting the kernel with no hypervisor: same CPUs, RAM, command line and GIC as the partition.
pub fn native_command(k: &Kernel, icount: bool) -> Vec<String> {
    let mut cmd: Vec<String> = [
        k.qemu,
        "-M",
        k.machine,
        "-cpu",
        k.cpu,
        "-smp",
        "2",
        "-m",
        &format!("{MEMORY_MIB}M"),
        "-nographic",
        "-kernel",
        &k.image.display().to_string(),
        "-initrd",
        &k.initrd.display().to_string(),
        "-append",
        BOOTARGS,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if icount {
        cmd.extend(ICOUNT.map(String::from));
    }
    cmd
}

/// Builds `config` (without the trace) and gives its QEMU command line.
pub fn hv_command(config: &Path, icount: bool) -> Vec<String> {
    let built = build(&BuildOptions { config: config.to_path_buf(), quiet: true })
        .unwrap_or_else(|e| panic!("building {} failed: {e}", config.display()));
    let mut cmd = command_line(&built).expect("QEMU command line");
    if icount {
        cmd.extend(ICOUNT.map(String::from));
    }
    cmd
}

/// When a run showed what, in seconds of the host clock from just before QEMU was spawned.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timed {
    /// hv-static's banner (`[hv] hv-static ...`); `None` natively.
    pub banner: Option<f64>,
    /// The kernel's first line (natively the first byte QEMU prints; under hv-static the first `[linux] ` line).
    pub first_output: f64,
    /// The init marker.
    pub marker: f64,
    /// The kernel's own clock (printk's stamp) at `Run /init as init process`, in seconds.
    pub run_init: Option<f64>,
}

/// Runs `cmd` until the console shows [`MARKER`] or `timeout` passes (`None` then), stamping each milestone with
/// the time of the read that brought it (the console is read as it comes, in chunks of at most 4 KiB).
pub fn timed_run(cmd: &[String], timeout: Duration) -> Option<Timed> {
    let marker = Regex::new(MARKER).unwrap();
    let run_init = Regex::new(r"\[\s*(\d+\.\d+)\] Run /init as init process").unwrap();
    let t0 = Instant::now();
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", cmd[0]));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel::<(f64, Vec<u8>)>();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send((t0.elapsed().as_secs_f64(), buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    let mut out = String::new();
    let mut t = Timed::default();
    let mut first = None;
    let result = loop {
        let left = timeout.saturating_sub(t0.elapsed());
        let Ok((at, chunk)) = rx.recv_timeout(left) else { break None };
        out.push_str(&String::from_utf8_lossy(&chunk));
        if t.banner.is_none() && out.contains("[hv] hv-static") {
            t.banner = Some(at);
        }
        let kernel_spoke = if cmd.iter().any(|a| a.contains("hv-static.img")) {
            out.contains("[linux] ")
        } else {
            !out.trim().is_empty()
        };
        if first.is_none() && kernel_spoke {
            first = Some(at);
        }
        if marker.is_match(&out) {
            t.first_output = first.unwrap_or(at);
            t.marker = at;
            t.run_init = run_init.captures(&out).and_then(|c| c[1].parse().ok());
            break Some(t);
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// The median of `xs` (the mean of the middle two for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
