//! A passed-through device's interrupt reaches its owner and nobody else: `hello0` owns the PL031 RTC and gets
//! its alarms (the SPI goes through the list registers with the HW bit); `hello1` has no such device and never
//! sees the interrupt.

use std::time::Duration;

use hv_tests::{all_of, boot_until, lines_of};

#[test]
fn rtc_interrupt_reaches_only_its_owner() {
    let until = all_of(&[r"\[hello0\] rtc alarm 3 \(irq 34\)", r"\[hello1\] tick 5\b"]);
    let out = boot_until("qemu-aarch64-passthrough.toml", &until, Duration::from_secs(60));
    let owner = lines_of(&out, "hello0");
    assert!(owner.contains(&"rtc: pl031 at 0x9010000 irq 34"), "{owner:?}");
    let other = lines_of(&out, "hello1");
    assert!(other.iter().all(|l| !l.contains("rtc") && !l.contains("irq 34")), "hello1 saw the RTC: {other:?}");
    assert!(!out.output.contains("unexpected irq"), "{}", out.output);
    assert!(!out.output.contains("fault"), "{}", out.output);
}
