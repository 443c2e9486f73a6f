//! Boot time of Debian's stock kernels, native against a partition of hv-static, and what the difference is made of
//! (issue 15). For each kernel in the fixture cache (`tests/fixtures/cache/{arm64,armhf}`), with the same 2 CPUs,
//! 256 MiB, GIC and command line on both sides (`hv_tests::boot`):
//!
//! 1. wall time from spawning QEMU to the initramfs's marker, native and under hv-static, median of `BOOT_RUNS`
//!    (default 3) interleaved runs; split at the kernel's first console line, and the kernel's own clock at
//!    `Run /init`;
//! 2. the same once under `-icount shift=0,align=off,sleep=off`, where the kernel's clock counts instructions
//!    (`BOOT_ICOUNT=0` skips it);
//! 3. one run of hv-static built with its trace (`--trace`): the counter when the partition was launched and
//!    when it first exited to EL2, and every trap, physical interrupt and injection by class until the marker.
//!
//! `cargo bench -p hv-tests --bench boot`; `BOOT_KERNELS=arm64` picks kernels. Run it on an otherwise idle
//! machine: QEMU's TCG speed is the host's. Findings: docs/performance-boot.md.

use std::time::Duration;

use hv_tests::boot::{self, median, Kernel, Timed, MARKER};
use image_builder::qemu::{run_traced, RunOptions};

const T: Duration = Duration::from_secs(300);
/// Under `-icount` a run that has not reached the marker by then is given up (armhf never does: see the file).
const T_ICOUNT: Duration = Duration::from_secs(120);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ratio(hv: f64, native: f64) -> String {
    if hv.is_finite() && native.is_finite() && native > 0.0 {
        format!("{:.2}x", hv / native)
    } else {
        "-".into()
    }
}

fn secs(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "-".into()
    }
}

fn row(what: &str, native: f64, hv: f64) {
    println!("  {what:<42} {:>9} {:>9} {:>7} {:>+8.3}", secs(native), secs(hv), ratio(hv, native), hv - native);
}

/// Medians of the timed runs' fields.
struct Medians {
    marker: f64,
    first: f64,
    after_first: f64,
    run_init: f64,
    banner: f64,
}

fn medians(runs: &[Timed]) -> Medians {
    let m = |f: &dyn Fn(&Timed) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    Medians {
        marker: m(&|t| t.marker),
        first: m(&|t| t.first_output),
        after_first: m(&|t| t.marker - t.first_output),
        run_init: m(&|t| t.run_init.unwrap_or(f64::NAN)),
        banner: m(&|t| t.banner.unwrap_or(f64::NAN)),
    }
}

fn mib(path: &std::path::Path) -> f64 {
    std::fs::metadata(path).map_or(f64::NAN, |m| m.len() as f64 / (1 << 20) as f64)
}

fn bench(k: &Kernel, runs: usize, icount: bool) {
    let _one = hv_tests::serial();
    hv_tests::require_qemu(k.qemu);
    let config = boot::write_config(k);
    println!(
        "\n== {} ({}: kernel {:.1} MiB, initramfs {:.1} MiB), 2 vCPUs, {} MiB, `{}`",
        k.arch,
        k.version,
        mib(&k.image),
        mib(&k.initrd),
        boot::MEMORY_MIB,
        boot::BOOTARGS
    );

    // 1. Wall time, interleaved: native, hv, native, hv...
    let hv_cmd = boot::hv_command(&config, false);
    let native_cmd = boot::native_command(k, false);
    let (mut nat, mut hv) = (Vec::new(), Vec::new());
    for i in 0..runs {
        for (cmd, into, what) in [(&native_cmd, &mut nat, "native"), (&hv_cmd, &mut hv, "hv-static")] {
            match boot::timed_run(cmd, T) {
                Some(t) => into.push(t),
                None => println!("  run {i} {what}: no marker within {T:?}"),
            }
        }
    }
    let (n, h) = (medians(&nat), medians(&hv));
    println!(
        "wall time, s (median of {}/{} native/hv runs, interleaved)      native hv-static   ratio     diff",
        nat.len(),
        hv.len()
    );
    row("QEMU spawned -> init marker", n.marker, h.marker);
    row("QEMU spawned -> kernel's first line", n.first, h.first);
    row("kernel's first line -> init marker", n.after_first, h.after_first);
    row("kernel's clock at 'Run /init' (printk)", n.run_init, h.run_init);
    println!("  {:<42} {:>9} {:>9}", "QEMU spawned -> hv-static's banner", "", secs(h.banner));
    let all = |v: &[Timed]| v.iter().map(|t| format!("{:.2}", t.marker)).collect::<Vec<_>>().join(" ");
    println!("  every run to the marker: native [{}], hv-static [{}]", all(&nat), all(&hv));

    // 2. Under -icount: the kernel's clock is instructions (1 ns each).
    if icount {
        let a = boot::timed_run(&boot::native_command(k, true), T_ICOUNT);
        let b = boot::timed_run(&boot::hv_command(&config, true), T_ICOUNT);
        match (a, b) {
            (Some(a), Some(b)) => {
                println!("-icount shift=0,align=off,sleep=off (1 run each; guest time = instructions)");
                row(
                    "kernel's clock at 'Run /init', guest s",
                    a.run_init.unwrap_or(f64::NAN),
                    b.run_init.unwrap_or(f64::NAN),
                );
                row("wall: QEMU spawned -> init marker", a.marker, b.marker);
            }
            (a, b) => println!(
                "-icount: could not measure: native {}, hv-static {} (no marker within {T_ICOUNT:?})",
                if a.is_some() { "done" } else { "timed out" },
                if b.is_some() { "done" } else { "timed out" }
            ),
        }
    } else {
        println!("-icount: skipped (BOOT_ICOUNT=0)");
    }

    // 3. One traced run: the partition's start and the traps by class until the marker.
    let opts = RunOptions {
        config: config.clone(),
        timeout: Some(T),
        until: Some(MARKER.to_string()),
        quiet: true,
        echo: false,
        secure: None,
        icount: false,
        host_disk: None,
    };
    match run_traced(&opts, false) {
        Ok((out, Some(Ok(rec)))) if out.matched => match &rec.counts {
            Some(c) => {
                println!("trace build, 1 run (counter at {} Hz from when QEMU started the CPUs)", c.freq);
                let ms = |t: u64| t as f64 * 1000.0 / c.freq.max(1) as f64;
                if let Some(&[start, exit, loaded]) = c.stamps.first() {
                    println!("  hv-static init (CPUs started -> partition launched)   {:>9.3} ms", ms(start));
                    if loaded >= start && loaded > 0 {
                        println!(
                            "  image copy (launched -> images in RAM)                {:>9.3} ms",
                            ms(loaded - start)
                        );
                    } else {
                        println!("  image copy: no stamp (partition::launch has no trace::loaded! call site)");
                    }
                    println!(
                        "  launch -> first exit (copy + guest code to its first trap{}) {:>9.3} ms",
                        if k.arch == "armhf" { ", zImage decompression included" } else { "" },
                        ms(exit.saturating_sub(start))
                    );
                }
                print!("{}", image_builder::trace::by_class(c, &["linux"]));
            }
            None => println!("trace build: no counts in the dump (hv-static built without them?)"),
        },
        Ok((out, Some(Ok(_)))) => println!("trace build: no marker within {T:?}\n{}", out.output),
        Ok((_, Some(Err(e)))) => println!("trace build: the trace could not be read: {e}"),
        Ok((_, None)) => println!("trace build: QEMU exited by itself, nothing to read"),
        Err(e) => println!("trace build: building or booting failed: {e}"),
    }
}

fn main() {
    let runs = env_usize("BOOT_RUNS", 3).max(1);
    let icount = env_usize("BOOT_ICOUNT", 1) != 0;
    let only = std::env::var("BOOT_KERNELS").ok();
    let kernels: Vec<Kernel> = boot::kernels()
        .into_iter()
        .filter(|k| only.as_deref().is_none_or(|o| o.split(',').any(|a| a == k.arch)))
        .collect();
    println!("Linux boot, native QEMU against one partition of hv-static (wall time on the host; see the file)");
    if kernels.is_empty() {
        println!("no kernel in tests/fixtures/cache: run tests/fixtures/fetch-linux.sh arm64 (or armhf) first");
    }
    for k in &kernels {
        bench(k, runs, icount);
    }
}
