//! The Raspberry Pi 4 (`rpi4`) on QEMU 10's `raspi4b` (Debian's bookworm-backports QEMU, which the run fetches and
//! unpacks into the fixture cache itself; every other board stays on the system's QEMU 7.2): a board without PSCI
//! firmware, whose secondary CPUs hv-static releases from the boot loader's spin table, with its PL011 console and
//! GIC-400 above RAM that starts at 0. The demo and Debian's stock arm64 kernel beside a bare-metal partition,
//! checked like the qemu-virt twins (`hv_tests::checks`).

use hv_tests::checks;

#[test]
fn rpi4_demo_both_partitions_tick() {
    checks::demo("rpi4-demo.toml", "v2");
}

#[test]
fn rpi4_linux_beside_a_bare_metal_partition() {
    checks::linux("rpi4-linux.toml", "arm64");
}

#[test]
fn rpi4_probe_is_stopped_and_its_neighbour_keeps_ticking() {
    checks::isolation_in("rpi4-probe.toml", None);
}

/// hv-static's console on the mini UART (QEMU's second serial): output, and input through its receive interrupt
/// (the AUX block's SPI 93) moved between partitions with `Ctrl-]`.
#[test]
fn rpi4_mini_uart_console_in_and_out() {
    checks::demo("rpi4-miniuart.toml", "v2");
    checks::console_input("rpi4-miniuart.toml");
}
