//! Issue 14: a partition's timer heartbeat must never stop, whatever runs beside it. Three partitions beat every
//! 10 ms while SGIs and channel doorbells cross CPUs and a cyclic pool switches every millisecond; the beating
//! partitions mask their timer at the GIC across a deadline every 10 beats (`hv_tests::soak`). GICv3, GICv2, and
//! ARMv7.

use hv_tests::soak;

#[test]
fn soak_gicv3_heartbeats_never_stop() {
    soak::soak("qemu-aarch64-soak.toml");
}

#[test]
fn soak_gicv2_heartbeats_never_stop() {
    soak::soak("qemu-aarch64-soak-gicv2.toml");
}

#[test]
fn a15_soak_heartbeats_never_stop() {
    soak::soak("qemu-a15-soak.toml");
}
