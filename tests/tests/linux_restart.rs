//! Debian's stock Linux restarted by its emulated SP805 watchdog (issue 17), on AArch64 (GICv3) and ARMv7: the
//! initramfs loads `sp805_wdt` and runs busybox's watchdog daemon; a panic (`panic=0`, so Linux hangs) or the
//! daemon killed lets the watchdog expire, and `on_fault = "restart"` brings Linux back from its images three
//! times before its budget is spent and it is stopped, while the bare-metal `hello` keeps ticking
//! (`hv_tests::checks::linux_restart`).
//!
//! The kernels and initramfs come from `tests/fixtures/fetch-linux.sh` (fetched by the check when missing).

use hv_tests::checks;

#[test]
fn linux_restart_gicv3() {
    checks::linux_restart("qemu-aarch64-linux-restart.toml", "arm64");
}

#[test]
fn a15_linux_restart() {
    checks::linux_restart("qemu-a15-linux-restart.toml", "armhf");
}
