//! hv-static's virtual switches (issue 7): partitions exchange Ethernet frames through virtio-net devices the
//! hypervisor serves, with no backend partition.

use hv_tests::net;

#[test]
fn two_linux_partitions_ping_each_other_and_move_4_mib_byte_exact_over_one_switch() {
    net::linux_network("qemu-aarch64-net.toml", "arm64");
}

#[test]
fn a15_two_linux_partitions_ping_each_other_and_move_4_mib_byte_exact_over_one_switch() {
    net::linux_network("qemu-a15-net.toml", "armhf");
}

#[test]
fn bare_metal_partitions_exchange_frames_through_a_learning_switch() {
    net::bare_metal_frames("qemu-aarch64-netprobe.toml");
}

#[test]
fn a15_bare_metal_partitions_exchange_frames_through_a_learning_switch() {
    net::bare_metal_frames("qemu-a15-netprobe.toml");
}
