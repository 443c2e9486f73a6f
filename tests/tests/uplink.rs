//! A switch's uplink (issue 7): the board's own network device, driven by hv-static, joins a virtual switch so that
//! partitions reach the outside (QEMU's user-mode network and, through it, the host).

use hv_tests::uplink;

#[test]
fn bare_metal_partition_gets_an_arp_reply_from_outside_through_the_uplink() {
    uplink::bare_metal_arp("qemu-aarch64-uplink.toml");
}

#[test]
fn a15_bare_metal_partition_gets_an_arp_reply_from_outside_through_the_uplink() {
    uplink::bare_metal_arp("qemu-a15-uplink.toml");
}

#[test]
fn linux_partition_opens_a_tcp_connection_to_the_host_through_the_uplink() {
    uplink::linux_reaches_the_host("qemu-aarch64-linux-uplink.toml", "arm64");
}

#[test]
fn a15_linux_partition_opens_a_tcp_connection_to_the_host_through_the_uplink() {
    uplink::linux_reaches_the_host("qemu-a15-linux-uplink.toml", "armhf");
}
