//! Debian's stock arm64 kernel as a 2-vCPU partition beside a bare-metal one, on GICv3 and GICv2: it boots to
//! its initramfs marker with both vCPUs, takes timer interrupts on both, answers typed commands once the console
//! focus moves to it, logs no warnings from the interrupt, timer or PSCI code, and never starves its neighbour
//! (`hv_tests::checks::linux`; the ARMv7 twin is in `armv7.rs`).
//!
//! The kernel and initramfs come from `tests/fixtures/fetch-linux.sh arm64` (run by `.ci/run`, and by the check
//! itself when they are missing).

use hv_tests::checks;

#[test]
fn linux_gicv3() {
    checks::linux("qemu-aarch64-linux.toml", "arm64");
}

#[test]
fn linux_gicv2() {
    checks::linux("qemu-aarch64-linux-gicv2.toml", "arm64");
}
