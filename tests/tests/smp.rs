//! SMP inside a partition: vCPU 0 starts vCPU 1 with PSCI CPU_ON, both print and take timer interrupts, and SGIs
//! travel between them; a second partition runs beside it.

use hv_tests::checks;

#[test]
fn two_vcpus_start_with_psci_and_exchange_sgis() {
    checks::smp("qemu-aarch64-smp.toml");
}
