//! The ARMv7-A twins of the AArch64 system tests, on `qemu-virt-a15` (`qemu-system-arm -cpu cortex-a15`, GICv2,
//! hv-static in Hyp mode, the guests built for armv7a-none-eabi as zImages): the same systems, checked the same
//! way (`hv_tests::checks`).

use hv_tests::checks;

#[test]
fn a15_demo_both_partitions_tick() {
    checks::demo("qemu-a15-demo.toml", "v2");
}

#[test]
fn a15_probe_is_stopped_and_its_neighbour_keeps_ticking() {
    checks::isolation("qemu-a15-probe.toml");
}

#[test]
fn a15_two_vcpus_start_with_psci_and_exchange_sgis() {
    checks::smp("qemu-a15-smp.toml");
}

#[test]
fn a15_power_off_and_reset_touch_only_the_caller() {
    checks::lifecycle("qemu-a15-lifecycle.toml");
}

#[test]
fn a15_rtc_interrupt_reaches_only_its_owner() {
    checks::passthrough("qemu-a15-passthrough.toml");
}

#[test]
fn a15_input_follows_the_focus() {
    checks::console_input("qemu-a15-demo.toml");
}

/// Debian's armhf kernel (armmp-lpae zImage) from `tests/fixtures/fetch-linux.sh armhf`, fetched when missing.
#[test]
fn a15_linux() {
    checks::linux("qemu-a15-linux.toml", "armhf");
}
