//! The Xilinx SoC boards in QEMU 7.2: `xlnx-zcu102` (Zynq UltraScale+, four Cortex-A53s, GIC-400, Cadence UART
//! console; booted with Debian's own device tree for the board) and `xlnx-versal-virt` (Versal, two Cortex-A72s,
//! GICv3, PL011 console). Each runs the two-partition demo and Debian's stock arm64 kernel beside a bare-metal
//! partition, checked like the qemu-virt twins (`hv_tests::checks`), and passes its second UART, a real SoC device,
//! through to one partition, which drives it directly. The RAM of both starts at 0 and their devices lie above it,
//! unlike QEMU virt's.

use hv_tests::checks;

#[test]
fn zcu102_demo_both_partitions_tick() {
    checks::demo("xlnx-zcu102-demo.toml", "v2");
}

#[test]
fn versal_demo_both_partitions_tick() {
    checks::demo("xlnx-versal-demo.toml", "v3");
}

#[test]
fn zcu102_linux_beside_a_bare_metal_partition() {
    checks::linux("xlnx-zcu102-linux.toml", "arm64");
}

#[test]
fn versal_linux_beside_a_bare_metal_partition() {
    checks::linux_with("xlnx-versal-linux.toml", "arm64", 1);
}

#[test]
fn zcu102_second_uart_passed_through() {
    checks::uart_passthrough("xlnx-zcu102-passthrough.toml", "cadence", 0xFF01_0000, 54, "serial@ff010000");
}

#[test]
fn versal_second_uart_passed_through() {
    checks::uart_passthrough("xlnx-versal-passthrough.toml", "pl011", 0xFF01_0000, 51, "uart@ff010000");
}

#[test]
fn zcu102_probe_is_stopped_and_its_neighbour_keeps_ticking() {
    checks::isolation_in("xlnx-zcu102-probe.toml", None);
}
