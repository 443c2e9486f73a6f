//! SMP inside a partition: vCPU 0 starts vCPU 1 with PSCI CPU_ON, both print and take timer interrupts, and SGIs
//! travel between them; a second partition runs beside it.

use std::time::Duration;

use hv_tests::{all_of, boot_until, lines_of};

#[test]
fn two_vcpus_start_with_psci_and_exchange_sgis() {
    let until = all_of(&[r"\[smp\] cpu1 tick 3\b", r"\[smp\] cpu0 tick 3\b", r"\[hello1\] tick 3\b"]);
    let out = boot_until("qemu-aarch64-smp.toml", &until, Duration::from_secs(60));
    let smp = lines_of(&out, "smp");
    assert!(smp.iter().any(|l| l.starts_with("hello from smp (vcpus=2")), "{smp:?}");
    for expected in ["cpu1 up (mpidr 0x80000001)", "cpu1 got sgi 1 from cpu0", "affinity ok"] {
        assert!(smp.contains(&expected), "missing {expected:?} in {smp:?}");
    }
    assert!(!out.output.contains("fault"), "{}", out.output);
}
