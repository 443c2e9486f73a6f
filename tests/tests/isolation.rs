//! Stage-2 isolation: a partition that touches memory it does not own is stopped and reported, alone.

use hv_tests::checks;

#[test]
fn probe_is_stopped_and_its_neighbour_keeps_ticking() {
    checks::isolation("qemu-aarch64-probe.toml");
}
