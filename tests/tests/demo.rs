//! The default demo: two partitions on their own CPUs, each ticking on its virtual timer, on both GIC versions.

use hv_tests::checks;

#[test]
fn demo_gicv3_both_partitions_tick() {
    checks::demo("qemu-aarch64-demo.toml", "v3");
}

#[test]
fn demo_gicv2_both_partitions_tick() {
    checks::demo("qemu-aarch64-demo-gicv2.toml", "v2");
}
