//! The demo and isolation systems on `vexpress-a15` (`qemu-system-arm -M vexpress-a15`), booted twice from the
//! same image: with `secure=on` every CPU starts in Secure SVC mode and hv-static's monitor trampoline takes it to
//! Non-secure Hyp mode; with `secure=off` the CPUs start in Hyp mode. The secondary CPU is released from QEMU's
//! SYS_FLAGS holding pen in both. Checked like the qemu-virt twins (`hv_tests::checks`).

use hv_tests::checks;

#[test]
fn vexpress_secure_demo_both_partitions_tick() {
    checks::demo_in("vexpress-a15-demo.toml", Some(true), "v2");
}

#[test]
fn vexpress_nonsecure_demo_both_partitions_tick() {
    checks::demo_in("vexpress-a15-demo.toml", Some(false), "v2");
}

#[test]
fn vexpress_secure_probe_is_stopped_and_its_neighbour_keeps_ticking() {
    checks::isolation_in("vexpress-a15-probe.toml", Some(true));
}

#[test]
fn vexpress_nonsecure_probe_is_stopped_and_its_neighbour_keeps_ticking() {
    checks::isolation_in("vexpress-a15-probe.toml", Some(false));
}
