//! PSCI SYSTEM_OFF and SYSTEM_RESET act on the calling partition only: one partition powers off, another
//! restarts from its original images (twice here), and a third keeps ticking throughout.

use hv_tests::checks;

#[test]
fn power_off_and_reset_touch_only_the_caller() {
    checks::lifecycle("qemu-aarch64-lifecycle.toml");
}
