//! What each system test checks of a boot, shared by the AArch64 tests and their ARMv7 twins
//! (`tests/tests/armv7.rs`): the same system on another board must print the same console.

use std::time::Duration;

use crate::{all_of, boot_until, config, lines_of, qemu_program, require_qemu, serial, Session};

/// Two partitions on their own CPUs, each ticking on its virtual timer; `gic` is how hello names the GIC (`v3`).
pub fn demo(config: &str, gic: &str) {
    let until = all_of(&[r"\[hello0\] tick 5\b", r"\[hello1\] tick 5\b"]);
    let out = boot_until(config, &until, Duration::from_secs(60));
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
    // hello0 must tick at least three more times after the probe was stopped.
    let until = r"(?s)partition 'probe' stopped.*\[hello0\] tick \d+.*\[hello0\] tick \d+.*\[hello0\] tick \d+";
    let out = boot_until(config, until, Duration::from_secs(60));
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
    // Two restarts of `reboot`, then `steady` still ticking.
    let until =
        r"(?s)partition 'reboot' restarting.*partition 'reboot' restarting.*\[steady\] tick \d+.*\[steady\] tick";
    let out = boot_until(config, until, Duration::from_secs(60));
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

    let steady = lines_of(&out, "steady");
    let ticks: Vec<u32> = steady.iter().filter_map(|l| l.strip_prefix("tick ")?.parse().ok()).collect();
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "steady never restarts or skips: {ticks:?}");
    assert!(!out.output.contains("fault"), "{}", out.output);
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

/// Console input goes to one partition at a time; `Ctrl-]` commands move it (see hv-static's console/input.rs).
pub fn console_input(config_name: &str) {
    const T: Duration = Duration::from_secs(30);
    require_qemu(qemu_program(config_name));
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

    let out = s.output();
    assert!(!out.contains("[hello1] input: first"), "input leaked to the partition without focus:\n{out}");
    assert!(!out.contains("[hello0] input: second"), "input leaked to the partition without focus:\n{out}");
    assert_eq!(out.matches("input: ").count(), 3, "each line reaches exactly one partition:\n{out}");
}
