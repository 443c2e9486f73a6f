//! PSCI SYSTEM_OFF and SYSTEM_RESET act on the calling partition only: one partition powers off, another
//! restarts from its original images (twice here), and a third keeps ticking throughout.

use std::time::Duration;

use hv_tests::{boot_until, lines_of};

#[test]
fn power_off_and_reset_touch_only_the_caller() {
    // Two restarts of `reboot`, then `steady` still ticking.
    let until =
        r"(?s)partition 'reboot' restarting.*partition 'reboot' restarting.*\[steady\] tick \d+.*\[steady\] tick";
    let out = boot_until("qemu-aarch64-lifecycle.toml", until, Duration::from_secs(60));
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
