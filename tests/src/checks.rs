//! What each system test checks of a boot, shared by the AArch64 tests and their ARMv7 twins
//! (`tests/tests/armv7.rs`): the same system on another board must print the same console.

use std::time::{Duration, Instant};

use crate::{all_of, boot_until, boot_until_in, config, lines_of, require_qemu, require_system, serial, Session};

/// Two partitions on their own CPUs, each ticking on its virtual timer; `gic` is how hello names the GIC (`v3`).
pub fn demo(config: &str, gic: &str) {
    demo_in(config, None, gic)
}

/// [`demo`] with the CPUs started in the Secure or Non-secure state (see [`crate::boot_until_in`]).
pub fn demo_in(config: &str, secure: Option<bool>, gic: &str) {
    let until = all_of(&[r"\[hello0\] tick 5\b", r"\[hello1\] tick 5\b"]);
    let out = boot_until_in(config, secure, &until, Duration::from_secs(60));
    for name in ["hello0", "hello1"] {
        let lines = lines_of(&out, name);
        let hello = format!("hello from {name} (vcpus=1, gic={gic})");
        assert!(lines.contains(&hello.as_str()), "{name} did not greet: {lines:?}");
        for abi in ["PSCI version 1.1", "SMCCC version 1.1", "abi: unknown calls return NOT_SUPPORTED"] {
            assert!(lines.contains(&abi), "{name}: missing {abi:?} in {lines:?}");
        }
        let ticks: Vec<u32> = lines.iter().filter_map(|l| l.strip_prefix("tick ")?.parse().ok()).collect();
        assert!(ticks.len() >= 5, "{name} ticked {} times", ticks.len());
        assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{name} ticks not consecutive: {ticks:?}");
    }
    assert!(out.output.contains("[hv] hv-static"), "hypervisor banner missing");
    assert!(!out.output.contains("fault"), "no partition may fault:\n{}", out.output);
}

/// Stage-2 isolation: the probe, which touches memory it does not own, is stopped and reported, alone; `hello0`
/// keeps ticking.
pub fn isolation(config: &str) {
    isolation_in(config, None)
}

/// [`isolation`] with the CPUs started in the Secure or Non-secure state (see [`crate::boot_until_in`]).
pub fn isolation_in(config: &str, secure: Option<bool>) {
    // hello0 must tick at least three more times after the probe was stopped.
    let until = r"(?s)partition 'probe' stopped.*\[hello0\] tick \d+.*\[hello0\] tick \d+.*\[hello0\] tick \d+";
    let out = boot_until_in(config, secure, until, Duration::from_secs(60));
    let fault = out
        .output
        .lines()
        .find(|l| l.starts_with("[hv] partition 'probe' vcpu 0 fault: data abort"))
        .unwrap_or_else(|| panic!("no fault report:\n{}", out.output));
    assert!(fault.contains("at IPA 0x") && fault.contains("(PC 0x"), "report names address and PC: {fault}");
    let probe = lines_of(&out, "probe");
    assert!(probe.iter().any(|l| l.starts_with("probe: reading")), "probe did not run: {probe:?}");
    assert!(!out.output.contains("ESCAPED"), "the probe escaped its partition:\n{}", out.output);
    assert!(!out.output.contains("'hello0' vcpu 0 fault"), "hello0 must not be affected");
    // The reported address is the one the probe announced.
    let announced = probe.iter().find_map(|l| l.strip_prefix("probe: reading ")).expect("announced address");
    let announced = announced.split_whitespace().next().unwrap();
    assert!(fault.contains(announced), "fault {fault:?} should name {announced}");
}

/// SMP inside a partition: vCPU 0 starts vCPU 1 with PSCI CPU_ON, both print and take timer interrupts, and SGIs
/// travel between them; `hello1` runs beside it.
pub fn smp(config: &str) {
    let until = all_of(&[r"\[smp\] cpu1 tick 3\b", r"\[smp\] cpu0 tick 3\b", r"\[hello1\] tick 3\b"]);
    let out = boot_until(config, &until, Duration::from_secs(60));
    let smp = lines_of(&out, "smp");
    assert!(smp.iter().any(|l| l.starts_with("hello from smp (vcpus=2")), "{smp:?}");
    for expected in ["cpu1 up (mpidr 0x80000001)", "cpu1 got sgi 1 from cpu0", "affinity ok"] {
        assert!(smp.contains(&expected), "missing {expected:?} in {smp:?}");
    }
    assert!(!out.output.contains("fault"), "{}", out.output);
}

/// PSCI SYSTEM_OFF and SYSTEM_RESET act on the calling partition only: `off` powers off, `reboot` restarts from
/// its original images (twice here), and `steady` keeps ticking throughout.
pub fn lifecycle(config: &str) {
    // Two restarts of `reboot` and three of `twin` (whose vCPUs reset together), `budget` stopped once its restart
    // budget is spent, then `steady` still ticking.
    let until = all_of(&[
        r"partition 'reboot' restarting.*partition 'reboot' restarting",
        r"partition 'twin' restarting.*partition 'twin' restarting.*partition 'twin' restarting.*\[twin\] hello from twin",
        r"partition 'budget' stopped: ",
    ]) + r".*\[steady\] tick \d+.*\[steady\] tick";
    let out = boot_until(config, &until, Duration::from_secs(90));
    assert!(out.output.contains("[hv] partition 'off' powered off"), "{}", out.output);

    let off = lines_of(&out, "off");
    let off_ticks = off.iter().filter(|l| l.starts_with("tick ")).count();
    assert_eq!(off_ticks, 3, "`off` ticks exactly three times, then is gone: {off:?}");
    assert_eq!(off.last(), Some(&"hello: done"));

    let reboot = lines_of(&out, "reboot");
    let boots = reboot.iter().filter(|l| l.starts_with("hello from reboot")).count();
    assert!(boots >= 3, "`reboot` booted {boots} times: {reboot:?}");
    // Each boot starts from fresh images: its tick count starts again at 1.
    let firsts = reboot.iter().filter(|l| **l == "tick 1").count();
    assert!(firsts >= 2, "{reboot:?}");
    // ... and from scrubbed RAM: nothing the previous run wrote is left.
    let checks: Vec<&&str> = reboot.iter().filter(|l| l.starts_with("ram: ")).collect();
    assert!(checks.len() >= 3 && checks.iter().all(|l| **l == "ram: clean"), "{checks:?}");

    // Both of twin's vCPUs call SYSTEM_RESET at once, every time: each round is one restart, never a hang, and
    // the partition comes back with both vCPUs.
    let twin = lines_of(&out, "twin");
    // Restarts the run saw through to the next boot: it may stop while a last one is under way.
    let last_boot = out.output.rfind("[twin] hello from twin").unwrap_or(0);
    let restarts = out.output[..last_boot].matches("partition 'twin' restarting").count();
    let boots = twin.iter().filter(|l| l.starts_with("hello from twin (vcpus=2")).count();
    assert!(restarts >= 3 && boots > restarts, "twin: {restarts} restarts, {boots} boots: {twin:?}");
    assert!(twin.iter().filter(|l| l.contains("cpu1 up")).count() >= restarts, "{twin:?}");

    // `budget` faults in each run: restarted twice by its policy (numbered, after its 50 ms delay, from scrubbed
    // RAM), then stopped for good.
    let hv: Vec<&str> = out.output.lines().map(str::trim_end).filter(|l| l.contains("partition 'budget'")).collect();
    let faulted = "[hv] partition 'budget' vcpu 0 fault: data abort (write) at IPA 0x10";
    assert_eq!(hv.iter().filter(|l| l.starts_with(faulted)).count(), 3, "{hv:#?}");
    for n in 1..=2 {
        let line = format!("[hv] partition 'budget' restarting (fault), restart {n}");
        assert!(hv.contains(&line.as_str()), "no `{line}`: {hv:#?}");
    }
    for l in hv.iter().filter(|l| l.contains("' restarted ")) {
        let ms: u64 = l.split(" restarted ").nth(1).and_then(|r| r.split(' ').next()?.parse().ok()).unwrap_or(0);
        assert!(ms >= 50, "restart_delay is 50 ms: {l}");
    }
    assert_eq!(
        hv.last(),
        Some(&"[hv] partition 'budget' stopped: restarted 2 times within the last 60 s already (on_fault = \"restart\", max_restarts = 2); other partitions continue"),
        "{hv:#?}"
    );
    let budget = lines_of(&out, "budget");
    assert_eq!(budget.iter().filter(|l| l.starts_with("hello from budget")).count(), 3, "{budget:?}");
    assert_eq!(budget.iter().filter(|l| **l == "ram: clean").count(), 3, "{budget:?}");

    let steady = lines_of(&out, "steady");
    let ticks: Vec<u32> = steady.iter().filter_map(|l| l.strip_prefix("tick ")?.parse().ok()).collect();
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "steady never restarts or skips: {ticks:?}");
    let faults: Vec<&str> = out.output.lines().filter(|l| l.contains("fault") && !l.contains("'budget'")).collect();
    assert!(faults.is_empty(), "{faults:#?}");
}

/// A passed-through device's interrupt reaches its owner and nobody else: `hello0` owns the PL031 RTC and gets its
/// alarms (the SPI goes through the list registers with the HW bit); `hello1` never sees the interrupt.
pub fn passthrough(config: &str) {
    let until = all_of(&[r"\[hello0\] rtc alarm 3 \(irq 34\)", r"\[hello1\] tick 5\b"]);
    let out = boot_until(config, &until, Duration::from_secs(60));
    let owner = lines_of(&out, "hello0");
    assert!(owner.contains(&"rtc: pl031 at 0x9010000 irq 34"), "{owner:?}");
    let other = lines_of(&out, "hello1");
    assert!(other.iter().all(|l| !l.contains("rtc") && !l.contains("irq 34")), "hello1 saw the RTC: {other:?}");
    assert!(!out.output.contains("unexpected irq"), "{}", out.output);
    assert!(!out.output.contains("fault"), "{}", out.output);
}

/// A UART of the SoC passed through to `hello0` (`configs/xlnx-*-passthrough.toml`): hello0 finds it in its device
/// tree (`kind` at `base`, its SPI `intid`), writes a line to the real device, which reaches QEMU's second serial
/// (`out/NAME/serial-NODE.txt`, NODE the board node's name), and takes its transmit interrupt once; `hello1`, which
/// owns nothing, sees no such UART, and nobody faults.
pub fn uart_passthrough(config_name: &str, kind: &str, base: u64, intid: u32, node: &str) {
    let until = all_of(&[&format!(r"\[hello0\] aux uart irq {intid}\b"), r"\[hello1\] tick 3\b"]);
    let out = boot_until(config_name, &until, Duration::from_secs(60));
    let owner = lines_of(&out, "hello0");
    let found = format!("aux uart: {kind} at {base:#x} irq {intid}");
    assert!(owner.contains(&found.as_str()), "{owner:?}");
    assert_eq!(owner.iter().filter(|l| l.starts_with("aux uart irq")).count(), 1, "one interrupt: {owner:?}");
    let other = lines_of(&out, "hello1");
    assert!(other.iter().all(|l| !l.contains("aux uart")), "hello1 saw the UART: {other:?}");
    assert!(!out.output.contains("fault"), "{}", out.output);
    let name = config_name.trim_end_matches(".toml");
    let file = image_builder::workspace_root().join(format!("out/{name}/serial-{node}.txt"));
    let written = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(written.contains("hello from hello0 on its own UART"), "{}: {written:?}", file.display());
    assert!(!out.output.contains("on its own UART"), "the line went to the console, not the device");
}

/// Console input goes to one partition at a time; `Ctrl-]` commands move it (see hv-static's console/input.rs).
pub fn console_input(config_name: &str) {
    const T: Duration = Duration::from_secs(30);
    require_system(config_name);
    let _one = serial();
    let mut s = Session::start(&config(config_name));
    s.wait_for(r"console input goes to 'hello0'", T);
    s.wait_for(r"\[hello1\] tick 1\b", T);

    s.send(b"first\r");
    s.wait_for(r"\[hello0\] input: first\r?\n", T);

    s.send(b"\x1dn");
    s.wait_for(r"\[hv\] console input -> 'hello1'", T);
    s.send(b"second\r");
    s.wait_for(r"\[hello1\] input: second\r?\n", T);

    s.send(b"\x1d0third\r");
    s.wait_for(r"\[hv\] console input -> 'hello0'", T);
    s.wait_for(r"\[hello0\] input: third\r?\n", T);

    s.send(b"\x1d?");
    s.wait_for(r"0: hello0 <- input", T);

    // The status view: every partition's state and counters; the key goes to no partition.
    s.send(b"\x1ds");
    s.wait_for(r"\[hv\] status: partition, state, restarts", T);
    s.wait_for(r"\[hv\]   0: hello0 running, restarts 0, entries \d+, last: none\r?\n", T);
    s.wait_for(r"\[hv\]   1: hello1 running, restarts 0, entries \d+, last: none\r?\n", T);

    let out = s.output();
    assert!(!out.contains("[hello1] input: first"), "input leaked to the partition without focus:\n{out}");
    assert!(!out.contains("[hello0] input: second"), "input leaked to the partition without focus:\n{out}");
    assert_eq!(out.matches("input: ").count(), 3, "each line reaches exactly one partition:\n{out}");
}

/// Fetches the Debian kernel and builds the initramfs of `arch` (`arm64`, `armhf`: `tests/fixtures/fetch-linux.sh`'s
/// argument) when they are not cached yet (see `provision::fixtures`), so `cargo test --workspace` works on a fresh
/// machine too.
pub fn require_linux_fixtures(arch: &str) {
    let fixture = match arch {
        "arm64" => provision::fixtures::LINUX_ARM64,
        "armhf" => provision::fixtures::LINUX_ARMHF,
        other => panic!("no Linux fixture for `{other}`"),
    };
    if let Err(e) = provision::fixtures::ensure(&fixture) {
        panic!("{e}");
    }
}

fn hello_ticks(out: &str) -> Vec<u32> {
    out.lines().filter_map(|l| l.trim_end_matches('\r').strip_prefix("[hello] tick ")?.parse().ok()).collect()
}

/// Debian's stock kernel for `arch` (fixtures as in [`require_linux_fixtures`]) as the 2-vCPU partition `linux`
/// beside the bare-metal `hello`: it boots to its initramfs marker with both vCPUs while `hello` keeps ticking,
/// answers typed commands once the console focus moves to it, takes timer interrupts on both vCPUs, and logs no
/// warnings (from the interrupt, timer, PSCI or any other code).
pub fn linux(config_name: &str, arch: &str) {
    linux_with(config_name, arch, 2);
}

/// [`linux`] with the `linux` partition's vCPU count (`vcpus`: a board with fewer CPUs gives it one).
pub fn linux_with(config_name: &str, arch: &str, vcpus: usize) {
    const BOOT: Duration = Duration::from_secs(120);
    const T: Duration = Duration::from_secs(30);
    require_system(config_name);
    require_linux_fixtures(arch);
    let _one = serial();
    let mut s = Session::start(&config(config_name));
    s.wait_for(r"\[hello\] tick 1\b", T);
    let (t0, ticks0) = (Instant::now(), hello_ticks(&s.output()).len());
    s.wait_for(&format!(r"\[linux\] LINUX-READY linux cpus={vcpus}"), BOOT);
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
    let timer = s.wait_for(&format!(r"\[linux\] +\d+:( +\d+){{{vcpus}}} +GIC(v3|-0)? +27 Level +arch_timer"), T);
    let counts: Vec<u64> = timer.split_whitespace().skip(2).take(vcpus).map(|c| c.parse().unwrap()).collect();
    assert!(counts.iter().all(|&c| c > 0), "arch timer interrupts on every vCPU: {timer}");

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

/// Debian's stock kernel for `arch` restarted by its SP805 watchdog (`configs/*-linux-restart.toml`: the `linux`
/// partition with `watchdog = true`, `on_fault = "restart"`, `max_restarts = 3`, busybox's watchdog daemon at 3 s).
/// Four crashes from its shell: a panic (`panic=0`: Linux hangs), the daemon killed (Linux runs on, unfed), two
/// more panics. The first three are each caught by the watchdog and restart Linux from its images, back to its
/// marker with the console focus still on it; the fourth finds the budget spent and stops the partition. `hello`
/// keeps consecutive ticks throughout, no other fault is reported and hv-static never panics.
pub fn linux_restart(config_name: &str, arch: &str) {
    const BOOT: Duration = Duration::from_secs(180);
    const T: Duration = Duration::from_secs(30);
    const PANIC: &[u8] = b"echo c > /proc/sysrq-trigger\r";
    const UNFED: &[u8] = b"kill -9 $(pidof watchdog)\r";
    require_system(config_name);
    require_linux_fixtures(arch);
    let _one = serial();
    let t0 = Instant::now();
    let mut s = Session::start(&config(config_name));
    // Each run of Linux loads sp805_wdt and starts the daemon before its marker: the output since `from` holds both.
    let ready = |s: &mut Session, from: usize, run: usize| {
        let t = Instant::now();
        s.wait_for(r"\[linux\] LINUX-READY linux cpus=2", BOOT);
        let out = s.output();
        assert!(out[from..].contains("[linux] init: watchdog 3 s"), "run {run}: no watchdog:\n{}", &out[from..]);
        eprintln!("{config_name}: run {run} ready after {:.1} s", t.elapsed().as_secs_f64());
    };
    ready(&mut s, 0, 0);
    s.send(b"\x1d1");
    s.wait_for(r"\[hv\] console input -> 'linux'", T);

    let mut restarted_ms = Vec::new();
    for (n, crash) in [PANIC, UNFED, PANIC, PANIC].into_iter().enumerate().map(|(i, c)| (i + 1, c)) {
        // The shell answers: the focus (a partition index) survived the restart.
        s.send(b"\r");
        s.send(format!("echo crash-{n}-$((6*7))\r").as_bytes());
        s.wait_for(&format!(r"\[linux\] crash-{n}-42"), T);
        s.send(crash);
        let sent = Instant::now();
        if crash == PANIC {
            s.wait_for(r"\[linux\] .*Kernel panic - not syncing: sysrq triggered crash", T);
        } else {
            s.wait_for(r"\[linux\] .*watchdog did not stop!", T);
        }
        s.wait_for(r"\[hv\] partition 'linux' watchdog expired: it stopped feeding it\r?\n", T);
        eprintln!("{config_name}: crash {n}: watchdog expired {:.1} s later", sent.elapsed().as_secs_f64());
        if n == 4 {
            break;
        }
        s.wait_for(&format!(r"\[hv\] partition 'linux' restarting \(watchdog expiry\), restart {n}\r?\n"), T);
        let line = s.wait_for(r"\[hv\] partition 'linux' restarted \d+ ms after it stopped: RAM scrubbed", T);
        let ms: u64 = line.split(" restarted ").nth(1).and_then(|r| r.split(' ').next()?.parse().ok()).unwrap();
        restarted_ms.push(ms);
        let from = s.output().len();
        ready(&mut s, from, n);
    }
    let stopped = "[hv] partition 'linux' stopped: restarted 3 times within the last 600 s already (on_fault = \
                   \"restart\", max_restarts = 3); other partitions continue";
    s.wait_for(&regex::escape(stopped), T);
    // hello ticks on after Linux is gone.
    let last = *hello_ticks(&s.output()).last().expect("hello ticked");
    s.wait_for(&format!(r"\[hello\] tick {}\b", last + 5), T);
    eprintln!("{config_name}: restarts took {restarted_ms:?} ms; {:.0} s in all", t0.elapsed().as_secs_f64());

    let out = s.output();
    let ticks = hello_ticks(&out);
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "hello skipped or repeated ticks: {ticks:?}");
    assert_eq!(ticks.first(), Some(&1), "hello restarted or started late: {ticks:?}");
    assert_eq!(out.matches("[linux] LINUX-READY linux cpus=2").count(), 4, "{out}");
    assert_eq!(out.matches("[linux] init: watchdog 3 s").count(), 4, "{out}");
    assert_eq!(out.matches("[hv] partition 'linux' watchdog expired").count(), 4, "{out}");
    assert_eq!(out.matches("[hv] partition 'linux' restarting ").count(), 3, "{out}");
    // The only `fault` hv-static prints is the stopped line's `on_fault`; it never panics.
    let faults: Vec<&str> =
        out.lines().filter(|l| l.starts_with("[hv]") && l.contains("fault") && !l.contains("on_fault")).collect();
    assert!(faults.is_empty(), "{faults:#?}");
    assert!(!out.contains("[hv] PANIC"), "{out}");
    let linux: Vec<&str> = out.lines().filter(|l| l.starts_with("[linux]")).collect();
    for bad in ["WARNING", "BUG", "failed to stop"] {
        let hits: Vec<&&str> = linux.iter().filter(|l| l.contains(bad)).collect();
        assert!(hits.is_empty(), "Linux logged {bad:?}: {hits:#?}");
    }
    assert!(!out.contains("[hello] input:"), "{out}");
}

/// A cyclic pool time-sharing two CPUs between a two-vCPU partition and two single-vCPU ones: every partition
/// greets, passes its ABI checks and keeps counting consecutive ticks, SGIs travel between the SMP partition's
/// vCPUs, and the passed-through RTC's interrupts all reach their owner, although each partition is descheduled
/// half of the time: no interrupt for a descheduled vCPU is lost.
pub fn cyclic(config: &str) {
    let until = all_of(&[
        r"\[smp\] cpu1 tick 5\b",
        r"\[smp\] cpu0 tick 5\b",
        r"\[hello0\] rtc alarm 3 \(irq 34\)",
        r"\[hello1\] tick 5\b",
        r"\[hello0\] tick 5\b",
    ]);
    let out = boot_until(config, &until, Duration::from_secs(60));
    let consecutive = |name: &str, prefix: &str| {
        let ticks: Vec<u32> =
            lines_of(&out, name).iter().filter_map(|l| l.strip_prefix(prefix)?.parse().ok()).collect();
        assert!(ticks.len() >= 5, "{name} {prefix}: {ticks:?}");
        assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{name} lost ticks: {ticks:?}");
    };
    consecutive("hello0", "tick ");
    consecutive("hello1", "tick ");
    consecutive("smp", "cpu0 tick ");
    consecutive("smp", "cpu1 tick ");
    let alarms: Vec<&str> = lines_of(&out, "hello0").into_iter().filter(|l| l.starts_with("rtc alarm")).collect();
    assert_eq!(alarms, ["rtc alarm 1 (irq 34)", "rtc alarm 2 (irq 34)", "rtc alarm 3 (irq 34)"]);
    let smp = lines_of(&out, "smp");
    assert!(smp.iter().any(|l| l.contains("sgi")), "no SGI between smp's vCPUs: {smp:?}");
    assert!(lines_of(&out, "hello1").iter().all(|l| !l.contains("rtc")), "hello1 saw the RTC");
    assert!(!out.output.contains("fault") && !out.output.contains("unexpected irq"), "{}", out.output);
}

/// What `schedprobe` measured in one partition (its `sched:` lines).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowStats {
    pub windows: u64,
    pub frames: u64,
    pub min: i64,
    pub max: i64,
    pub mean: f64,
    pub drift: f64,
    pub missed: u64,
    pub unexpected: u64,
}

/// Parses `name`'s `sched:` summary lines.
pub fn window_stats(out: &crate::RunOutcome, name: &str) -> WindowStats {
    let lines = lines_of(out, name);
    let summary =
        lines.iter().find(|l| l.starts_with("sched: windows=")).unwrap_or_else(|| panic!("{name}: {lines:?}"));
    let counts = lines.iter().find(|l| l.starts_with("sched: missed=")).unwrap_or_else(|| panic!("{name}: {lines:?}"));
    let field = |line: &str, key: &str| -> String {
        let rest = line.split(&format!("{key}=")).nth(1).unwrap_or_else(|| panic!("no {key} in {line:?}"));
        rest.split([' ', ';']).next().unwrap().to_owned()
    };
    WindowStats {
        windows: field(summary, "windows").parse().unwrap(),
        frames: field(summary, "frames").parse().unwrap(),
        min: field(summary, "min").parse().unwrap(),
        max: field(summary, "max").parse().unwrap(),
        mean: field(summary, "mean").parse().unwrap(),
        drift: field(summary, "drift").parse().unwrap(),
        missed: field(counts, "missed").parse().unwrap(),
        unexpected: field(counts, "unexpected").parse().unwrap(),
    }
}

/// How many times the pinned `schedprobe` saw hv-static entered on its CPU while it measured.
pub fn pinned_entries(out: &crate::RunOutcome, name: &str) -> u64 {
    let lines = lines_of(out, name);
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix("pinned: hv entries during run="))
        .unwrap_or_else(|| panic!("{name}: {lines:?}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

/// The deviation bound the scheduling tests hold hv-static to under `-icount`: a window starts at most this many
/// counter ticks (16 ns, i.e. 16 instructions, each at QEMU's 62.5 MHz) after its scheduled instant. Measured: 62-63
/// ticks (AArch64) and 76-77 (ARMv7) with another CPU running, `cargo bench -p hv-tests --bench sched` for more.
pub const MAX_DEVIATION_TICKS: i64 = 250;

/// Determinism of the cyclic scheduler, measured by `schedprobe` under `-icount`: `a` and `b` time-share one CPU
/// in a 1 ms frame, `steady` is pinned to another. Over 1000 frames every window is found where it should be, each
/// starts late by a bounded, nearly constant amount (the switch's own cost), the lateness does not grow from the
/// first frames to the last (absolute deadlines: no accumulated drift), and the pinned CPU never enters hv-static.
pub fn schedprobe(config: &str) {
    let until = r"(?s)(schedprobe: done.*){3}";
    let out = crate::boot_until_icount(config, until, Duration::from_secs(600));
    for name in ["a", "b"] {
        let s = window_stats(&out, name);
        eprintln!("{config} {name}: {s:?}");
        assert_eq!((s.windows, s.frames, s.missed, s.unexpected), (1000, 1000, 0, 0), "{name}: {s:?}");
        assert!(0 <= s.min && s.max <= MAX_DEVIATION_TICKS, "{name}: deviation out of bounds: {s:?}");
        // Bounded jitter, and no trend: the first and last hundred frames start equally late to within it.
        assert!(s.max - s.min <= 16, "{name}: jitter: {s:?}");
        assert!(s.drift.abs() <= (s.max - s.min) as f64, "{name}: drift: {s:?}");
    }
    assert_eq!(pinned_entries(&out, "steady"), 0, "hv-static ran on the pinned CPU:\n{}", out.output);
    assert!(!out.output.contains("fault"), "{}", out.output);
}

/// Mixed criticality (`configs/qemu-*-mixed.toml`): a real-time partition alone on a pinned CPU, and Debian's Linux
/// with two vCPUs time-sharing a cyclic pool with two bare-metal partitions. Linux boots to its shell with no kernel
/// complaint (no RCU stall, no lost timer) although it runs only in its windows; every bare-metal partition keeps
/// counting consecutive ticks; input typed into Linux's shell is answered.
pub fn mixed(config_name: &str, arch: &str) {
    const BOOT: Duration = Duration::from_secs(180);
    require_system(config_name);
    require_linux_fixtures(arch);
    let _one = serial();
    let mut s = Session::start(&config(config_name));
    s.wait_for(r"\[linux\] LINUX-READY linux cpus=2", BOOT);
    s.send(b"\x1d1");
    s.wait_for(r"\[hv\] console input -> 'linux'", Duration::from_secs(30));
    s.send(b"\r");
    s.send(b"echo cyclic-$((6*7))\r");
    s.wait_for(r"\[linux\] cyclic-42", Duration::from_secs(30));
    let out = s.output();
    for name in ["rt", "logger", "sensor"] {
        let prefix = format!("[{name}] tick ");
        let ticks: Vec<u32> =
            out.lines().filter_map(|l| l.trim_end().strip_prefix(prefix.as_str())?.parse().ok()).collect();
        assert!(ticks.len() >= 10, "{name} ticked {} times:\n{out}", ticks.len());
        assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{name} lost ticks: {ticks:?}");
    }
    let linux: Vec<&str> = out.lines().filter(|l| l.starts_with("[linux]")).collect();
    for bad in ["WARNING", "Bad", "timed out", "BUG", "rcu_sched self-detected stall", "rcu: INFO"] {
        let hits: Vec<&&str> = linux.iter().filter(|l| l.contains(bad)).collect();
        assert!(hits.is_empty(), "Linux logged {bad:?}: {hits:#?}");
    }
    assert!(!out.contains(" fault"), "{out}");
}

/// A RAM-backed virtio disk shared read-only by two Linux partitions: the test builds an ext4 image with
/// `mke2fs -d` (no root needed), both partitions mount it at the same time through hv-static's virtio-blk, read a
/// file whose sha256 the test computed on the host, and cannot write to it.
pub fn linux_shared_disk(arch: &str) {
    const BOOT: Duration = Duration::from_secs(180);
    const T: Duration = Duration::from_secs(30);
    let (board, kernel) = match arch {
        "arm64" => ("qemu-virt-aarch64", "Image"),
        _ => ("qemu-virt-a15", "zImage"),
    };
    let root = image_builder::workspace_root();
    require_linux_fixtures(arch);
    let dir = root.join("out/tests").join(format!("shared-disk-{arch}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("files")).unwrap();
    // 1 MiB of deterministic bytes (an LCG), so the hash proves every block arrived intact.
    let mut x: u32 = 0x1234_5678;
    let data: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(dir.join("files/data.bin"), &data).unwrap();
    let image = dir.join("ext4.img");
    crate::require(&[provision::packages::MKE2FS]);
    let mkfs = std::process::Command::new(provision::packages::find_program("mke2fs").expect("mke2fs installed"))
        .args(["-q", "-t", "ext4", "-L", "hvshared", "-d"])
        .arg(dir.join("files"))
        .arg(&image)
        .arg("8M")
        .status()
        .expect("mke2fs (Debian's e2fsprogs) runs");
    assert!(mkfs.success(), "mke2fs failed");
    let sha = std::process::Command::new("sha256sum").arg(dir.join("files/data.bin")).output().unwrap();
    let sha = String::from_utf8(sha.stdout).unwrap().split_whitespace().next().unwrap().to_owned();
    let cache = root.join("tests/fixtures/cache").join(arch);
    let linux = |name: &str, cpu: u32| {
        format!(
            "[[partition]]\nname = \"{name}\"\npool = \"rt\"\nvcpus = [{cpu}]\nmemory = {{ size = \"160MiB\" }}\n\
             kernel = \"{}\"\nramdisk = \"{}\"\n\
             bootargs = \"console=ttyAMA0 hvname={name} hvmodprobe=virtio_mmio,virtio_blk,crc32c_generic,ext4\"\n\
             disks = [{{ disk = \"shared\", access = \"ro\" }}]\n\n",
            cache.join(kernel).display(),
            cache.join("initramfs.cpio.gz").display()
        )
    };
    let config = format!(
        "[board]\nname = \"{board}\"\n\n[[pool]]\nname = \"rt\"\ncpus = [0, 1]\n\n\
         [[disk]]\nname = \"shared\"\nimage = \"{}\"\n\n{}{}",
        image.display(),
        linux("linux0", 0),
        linux("linux1", 1)
    );
    let config_path = dir.join("shared-disk.toml");
    std::fs::write(&config_path, config).unwrap();

    require_qemu(if arch == "arm64" { "qemu-system-aarch64" } else { "qemu-system-arm" });
    crate::require(&[provision::packages::IPXE_VIRTIO]);
    let _one = serial();
    let mut s = Session::start(&config_path);
    // Either may be ready first (the session's cursor only moves forward): wait for both at once.
    s.wait_for(&all_of(&[r"\[linux0\] LINUX-READY linux0 cpus=1", r"\[linux1\] LINUX-READY linux1 cpus=1"]), BOOT);
    for (i, name) in ["linux0", "linux1"].iter().enumerate() {
        s.send(format!("\x1d{i}").as_bytes());
        s.wait_for(&format!(r"\[hv\] console input -> '{name}'"), T);
        s.send(b"\r");
        s.send(b"mkdir -p /mnt && mount -t ext4 -o ro /dev/vda /mnt && echo mounted-$((40+2))\r");
        s.wait_for(&format!(r"\[{name}\] mounted-42"), T);
        s.send(b"sha256sum /mnt/data.bin\r");
        s.wait_for(&format!(r"\[{name}\] {sha}  /mnt/data.bin"), T);
        s.send(b"touch /mnt/new 2>&1 | grep -c Read-only\r");
        s.wait_for(&format!(r"\[{name}\] 1\r?\n"), T);
    }
    // Both still have it mounted.
    s.send(b"\x1d0");
    s.send(b"grep -c ' /mnt ext4 ro' /proc/mounts\r");
    s.wait_for(r"\[linux0\] 1\r?\n", T);
    let out = s.output();
    let vda: Vec<&str> = out.lines().filter(|l| l.contains("[vda]")).collect();
    assert_eq!(vda.len(), 2, "each partition sees one virtio disk: {vda:?}");
    for bad in ["WARNING", "BUG", "I/O error", "vcpu 0 fault"] {
        assert!(!out.contains(bad), "{bad}:\n{out}");
    }
}

/// Bare-metal drivers (`diskprobe`, through the `virtio-drivers` crate) on hv-static's virtio-blk: `writer` writes
/// and reads back a pattern on its read-write disk, `reader` finds its disk read-only (the RO feature) and a write
/// refused, both get an error for a read past the end; `hostile` posts a buffer outside its memory, a looping chain
/// and an avail-index jump: each breaks only its own device (DEVICE_NEEDS_RESET, reported by hv-static, nothing
/// returned), a reset brings it back; and `hello` keeps consecutive ticks throughout.
pub fn disks(config: &str) {
    let until = all_of(&[
        r"\[writer\] diskprobe: done",
        r"\[reader\] diskprobe: done",
        r"\[hostile\] diskprobe: done",
        r"\[hello\] tick 5\b",
    ]);
    let out = boot_until(config, &until, Duration::from_secs(60));
    let writer = lines_of(&out, "writer");
    for want in ["disk: virtio-blk at 0xa000000 capacity 2048 sectors, rw", "disk: out-of-range read refused"] {
        assert!(writer.contains(&want), "writer: missing {want:?} in {writer:?}");
    }
    assert!(writer.iter().any(|l| l.starts_with("disk: wrote and verified 64 sectors")), "{writer:?}");
    let reader = lines_of(&out, "reader");
    for want in [
        "disk: virtio-blk at 0xa000000 capacity 2048 sectors, ro",
        "disk: read-only as expected; write refused",
        "disk: out-of-range read refused",
    ] {
        assert!(reader.contains(&want), "reader: missing {want:?} in {reader:?}");
    }
    let hostile = lines_of(&out, "hostile");
    for want in [
        "hostile: out-of-partition buffer -> status 0x4f (needs reset: yes), used ring advanced: no",
        "hostile: looping chain -> status 0x4f (needs reset: yes)",
        "hostile: avail index jump -> status 0x4f (needs reset: yes)",
        "hostile: after reset a valid read completed with status 0",
    ] {
        assert!(hostile.contains(&want), "hostile: missing {want:?} in {hostile:?}");
    }
    let reports = lines_of(&out, "hv").into_iter().filter(|l| l.starts_with("partition 'hostile' virtio-blk")).count();
    assert_eq!(reports, 3, "hv-static reports each break once:\n{}", out.output);
    let ticks: Vec<u32> =
        lines_of(&out, "hello").iter().filter_map(|l| l.strip_prefix("tick ")?.parse().ok()).collect();
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "hello lost ticks: {ticks:?}");
    assert!(!out.output.contains("mismatch") && !out.output.contains(" fault"), "{}", out.output);
}
