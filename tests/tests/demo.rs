//! The default demo: two partitions on their own CPUs, each ticking on its virtual timer, on both GIC versions.

use std::time::Duration;

use hv_tests::{all_of, boot_until, lines_of};

fn check_demo(config: &str, gic: &str) {
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

#[test]
fn demo_gicv3_both_partitions_tick() {
    check_demo("qemu-aarch64-demo.toml", "v3");
}

#[test]
fn demo_gicv2_both_partitions_tick() {
    check_demo("qemu-aarch64-demo-gicv2.toml", "v2");
}
