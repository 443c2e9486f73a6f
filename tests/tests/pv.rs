//! PV devices served by hv-static itself: virtio-blk on RAM-backed disks, with bare-metal drivers and stock Linux
//! drivers, on both architectures.

use hv_tests::checks;

#[test]
fn two_linux_partitions_mount_one_read_only_ext4_disk_at_once() {
    checks::linux_shared_disk("arm64");
}

#[test]
fn a15_two_linux_partitions_mount_one_read_only_ext4_disk_at_once() {
    checks::linux_shared_disk("armhf");
}

#[test]
fn bare_metal_drivers_use_their_disks_and_a_hostile_one_breaks_only_its_own_device() {
    checks::disks("qemu-aarch64-disk.toml");
}

#[test]
fn a15_bare_metal_drivers_use_their_disks_and_a_hostile_one_breaks_only_its_own_device() {
    checks::disks("qemu-a15-disk.toml");
}
