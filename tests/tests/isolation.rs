//! Stage-2 isolation: a partition that touches memory it does not own is stopped and reported, alone.

use std::time::Duration;

use hv_tests::{boot_until, lines_of};

#[test]
fn probe_is_stopped_and_its_neighbour_keeps_ticking() {
    // hello0 must tick at least three more times after the probe was stopped.
    let until = r"(?s)partition 'probe' stopped.*\[hello0\] tick \d+.*\[hello0\] tick \d+.*\[hello0\] tick \d+";
    let out = boot_until("qemu-aarch64-probe.toml", until, Duration::from_secs(60));
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
