//! Stage-2 isolation: a partition that touches memory it does not own is stopped and reported, alone.

use hv_tests::checks;

#[test]
fn probe_is_stopped_and_its_neighbour_keeps_ticking() {
    checks::isolation("qemu-aarch64-probe.toml");
}

/// FP/SIMD registers survive window switches and never show another partition's values (lazy FP switching).
#[test]
fn fp_simd_state_is_kept_and_never_crosses_partitions_aarch64() {
    hv_tests::hostile::fpregs("qemu-aarch64");
}

#[test]
fn vfp_state_is_kept_and_never_crosses_partitions_a15() {
    hv_tests::hostile::fpregs("qemu-a15");
}

/// General-purpose, banked and thread registers survive window switches and never show another partition's values
/// (each vCPU's registers in its own frame, EL1/PL1 registers moved at each switch).
#[test]
fn general_and_banked_registers_are_kept_and_never_cross_partitions_aarch64() {
    hv_tests::hostile::gpregs("qemu-aarch64");
}

#[test]
fn general_and_banked_registers_are_kept_and_never_cross_partitions_a15() {
    hv_tests::hostile::gpregs("qemu-a15");
}
