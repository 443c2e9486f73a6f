//! Health monitoring (issue 17), on both architectures: a manager partition's calls answer as docs/guest-abi.md
//! says and restart, stop and start the partition it manages, while one it does not manage stays out of its reach;
//! a partition that hangs is caught by its SP805 watchdog and restarted by its `on_fault` policy, then stopped once
//! its budget is spent; a restarted partition finds its virtio device reset, its previous run's queue forgotten.

use std::time::Duration;

use hv_tests::{boot_until, lines_of};

fn check(config: &str) {
    let until = hv_tests::all_of(&[
        r"\[hv\] partition 'dog' stopped: .*\n(.*\n)*\[worker\] tick \d+",
        r"\[stale\] (stale: device works after the restart|stale: (bring-up|read) )",
        r"\[hv\] partition 'dogc' stopped: .*\n(.*\n)*\[filler\] tick \d+",
    ]);
    let out = boot_until(config, &until, Duration::from_secs(120));
    let hv: Vec<&str> = out.output.lines().map(str::trim_end).filter(|l| l.starts_with("[hv] ")).collect();

    let manager = lines_of(&out, "manager");
    let mismatches: Vec<&&str> = manager.iter().filter(|l| l.contains("MISMATCH")).collect();
    assert!(mismatches.is_empty(), "{config}: {mismatches:#?}");
    assert!(manager.contains(&"manager: done (0 mismatches)"), "{config}: {manager:#?}");
    for line in [
        "[hv] partition 'worker' restarting (manager request), restart 1",
        "[hv] partition 'worker' stopped by a partition that manages it",
        "[hv] partition 'worker' restarting (manager request), restart 2",
    ] {
        assert!(hv.contains(&line), "{config}: no `{line}`: {hv:#?}");
    }
    // The worker runs again after the manager's start, from its images: a boot, then ticks from 1.
    let started = out.output.find("[hv] partition 'worker' restarting (manager request), restart 2").unwrap_or(0);
    let after = &out.output[started..];
    let boot = after.find("[worker] hello from worker").unwrap_or_else(|| panic!("{config}: {after}"));
    assert!(after[boot..].contains("[worker] tick 1\n") || after[boot..].contains("[worker] tick 1\r"), "{config}");

    // The dog: three runs, each starting its watchdog and hanging after three ticks; two watchdog restarts, then
    // stopped by its budget. Never a restart before it hangs: the watchdog is fed while it ticks.
    let dog = lines_of(&out, "dog");
    assert_eq!(dog.iter().filter(|l| l.starts_with("watchdog: started (300 ms)")).count(), 3, "{config}: {dog:?}");
    assert_eq!(dog.iter().filter(|l| **l == "hello: hanging").count(), 3, "{config}: {dog:?}");
    let expired = hv.iter().filter(|l| **l == "[hv] partition 'dog' watchdog expired: it stopped feeding it").count();
    assert_eq!(expired, 3, "{config}: {hv:#?}");
    for n in 1..=2 {
        let line = format!("[hv] partition 'dog' restarting (watchdog expiry), restart {n}");
        assert!(hv.contains(&line.as_str()), "{config}: no `{line}`: {hv:#?}");
    }
    assert!(
        hv.iter().any(|l| l.starts_with("[hv] partition 'dog' stopped: restarted 2 times within the last 60 s")),
        "{config}: {hv:#?}"
    );
    // In a cyclic pool the watchdog is looked at when the partition's windows begin: `dogc` is restarted once by
    // it, then stopped, while `filler` on the same CPU keeps ticking.
    let dogc_expired = hv.iter().filter(|l| l.starts_with("[hv] partition 'dogc' watchdog expired")).count();
    assert_eq!(dogc_expired, 2, "{config}: {hv:#?}");
    assert!(hv.contains(&"[hv] partition 'dogc' restarting (watchdog expiry), restart 1"), "{config}: {hv:#?}");
    assert!(hv.iter().any(|l| l.starts_with("[hv] partition 'dogc' stopped: restarted 1 times")), "{config}: {hv:#?}");
    let filler = lines_of(&out, "filler");
    let ticks: Vec<u32> = filler.iter().filter_map(|l| l.strip_prefix("tick ")?.parse().ok()).collect();
    assert!(ticks.len() >= 10 && ticks.windows(2).all(|w| w[1] == w[0] + 1), "{config}: filler {ticks:?}");

    // A restarted partition cannot reach its previous run's virtqueue: the device was reset with it.
    let stale = lines_of(&out, "stale");
    for line in [
        "stale: first read -> used true, status 0x0f",
        "stale: after the restart status 0x00, queue 0 ready 0",
        "stale: previous run's queue ignored: used index 0, status 0x00",
        "stale: device works after the restart",
    ] {
        assert!(stale.contains(&line), "{config}: no `{line}`: {stale:#?}");
    }
    assert!(hv.contains(&"[hv] partition 'stale' restarting (fault), restart 1"), "{config}: {hv:#?}");

    // Each expiry comes after the dog hung, never while it was still feeding: its three ticks precede each one.
    let mut ticks_since_boot = 0;
    for l in out.output.lines().map(str::trim_end) {
        if l == "[dog] tick 3" {
            ticks_since_boot = 3;
        } else if l == "[dog] hello from dog (vcpus=1, gic=v3)" || l == "[dog] hello from dog (vcpus=1, gic=v2)" {
            ticks_since_boot = 0;
        } else if l.starts_with("[hv] partition 'dog' watchdog expired") {
            assert_eq!(ticks_since_boot, 3, "{config}: the watchdog fired while the dog still fed it");
        }
    }
}

#[test]
fn gicv3_manager_and_watchdog() {
    check("qemu-aarch64-health.toml");
}

#[test]
fn a15_manager_and_watchdog() {
    check("qemu-a15-health.toml");
}
