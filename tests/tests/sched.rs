//! Scheduling: cyclic (time-partitioned) pools on both architectures. Partitions share CPUs by windows of a 2 ms
//! major frame and lose nothing while descheduled (`checks::cyclic`).

use hv_tests::checks;

#[test]
fn cyclic_pool_shares_cpus_and_loses_no_interrupt() {
    checks::cyclic("qemu-aarch64-cyclic.toml");
}

#[test]
fn a15_cyclic_pool_shares_cpus_and_loses_no_interrupt() {
    checks::cyclic("qemu-a15-cyclic.toml");
}

#[test]
fn windows_start_on_time_without_drift_and_the_pinned_cpu_is_never_entered() {
    checks::schedprobe("qemu-aarch64-schedprobe.toml");
}

#[test]
fn a15_windows_start_on_time_without_drift_and_the_pinned_cpu_is_never_entered() {
    checks::schedprobe("qemu-a15-schedprobe.toml");
}

#[test]
fn linux_runs_in_a_cyclic_pool_beside_a_pinned_real_time_partition() {
    checks::mixed("qemu-aarch64-mixed.toml", "arm64");
}

#[test]
fn a15_linux_runs_in_a_cyclic_pool_beside_a_pinned_real_time_partition() {
    checks::mixed("qemu-a15-mixed.toml", "armhf");
}
