//! A passed-through device's interrupt reaches its owner and nobody else: `hello0` owns the PL031 RTC and gets
//! its alarms (the SPI goes through the list registers with the HW bit); `hello1` has no such device and never
//! sees the interrupt.

use hv_tests::checks;

#[test]
fn rtc_interrupt_reaches_only_its_owner() {
    checks::passthrough("qemu-aarch64-passthrough.toml");
}
