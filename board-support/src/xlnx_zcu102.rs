//! Xilinx ZCU102 (Zynq UltraScale+ MPSoC: four Cortex-A53s with an Arm GIC-400, Cadence UARTs), as QEMU 7.2
//! emulates it (`-M xlnx-zcu102,virtualization=on`, hw/arm/xlnx-zcu102.c and xlnx-zynqmp.c). The SoC of the
//! published latency figures for Bao, Jailhouse and Xen (ZCU102/ZCU104).
//!
//! With `virtualization=on` QEMU starts `-kernel` at EL2 and answers PSCI calls made with SMC, so `CPU_ON` starts
//! the other A53s (at EL2). `-smp N` gives N A53s (up to four; more would be the R5s). QEMU builds no device tree
//! for this machine: it is given Debian's `xilinx/zynqmp-zcu102-rev1.0.dtb` (kernel package), whose memory node
//! QEMU replaces with one bank of `-m` bytes at 0; above 2 GiB that bank would cover the MMIO hole, so at most 2 GiB.
//! Every address below is in that tree and QEMU's map.
//!
//! The GIC-400's 4 KiB register pages are each aliased over 64 KiB (the SoC's GIC-400 integration): the CPU
//! interface and the virtual CPU interface use their last 4 KiB alias of page 0 so that page 1 follows at once, an
//! 8 KiB frame as GICv2 wants (Linux does the same: GICC 0xF902_F000, GICV 0xF906_F000).

use crate::{
    Arch, Board, BootCommand, BootDisk, BootDtb, Clock, CpuStart, Device, Gic, GicV2Frames, GicVersion, Irq, Mmio,
    Qemu, QemuShape, Reserved, TimerIrqs, UBoot, UBootEnv, UBootFirmware, Uart, UartKind, GIB, KIB, MIB,
};

/// Start of the low DDR bank.
pub const RAM_BASE: u64 = 0;

/// UART0 (`/axi/serial@ff000000`, the tree's `serial0` and `stdout-path`): the console. QEMU's model sends nothing
/// until the transmitter is enabled in its control register (the hypervisor's driver does it).
pub const UART0: Uart = Uart {
    name: "uart0",
    path: "/axi/serial@ff000000",
    kind: UartKind::Cadence,
    base: 0xFF00_0000,
    size: 4 * KIB,
    irq: Irq::Spi(21),
};

/// The clock the real board feeds the UARTs (`uart_clk`, `pclk`) from the PS reference clock: 100 MHz. Under
/// hv-static a partition's tree gets it as a fixed clock, as it has no Xilinx clock firmware to ask.
const UART_CLK: u32 = 100_000_000;

/// UART1 (`/axi/serial@ff010000`): a device a partition may own (QEMU connects it to its second `-serial`).
pub const UART1: Device = Device {
    path: "/axi/serial@ff010000",
    description: "Cadence UART (the PS's second)",
    regs: &[Mmio { base: 0xFF01_0000, size: 4 * KIB }],
    spis: &[Irq::Spi(22).intid()],
    compatible: &["xlnx,zynqmp-uart", "cdns,uart-r1p12"],
    clocks: &[Clock { name: "uart_clk", hz: UART_CLK }, Clock { name: "pclk", hz: UART_CLK }],
    props: &[],
    // Registers only: the UART has no DMA of its own.
    dma: false,
};

/// The GIC-400's frames (see the module's note on aliases).
pub const GIC_V2: GicV2Frames =
    GicV2Frames { gicd: 0xF901_0000, gicc: 0xF902_F000, gich: 0xF904_0000, gicv: 0xF906_F000 };

/// The GIC, which is never passed through.
pub const GIC_RESERVED: Reserved = Reserved::gic(
    "/axi/interrupt-controller@f9010000",
    // Distributor, CPU interface, virtual interface control and virtual CPU interface with all their aliases.
    &[Mmio { base: 0xF901_0000, size: 0x7_0000 }],
);

/// The board's device tree in Debian's arm64 kernel package (`/usr/lib/linux-image-*/`).
pub const DTB: &str = "xilinx/zynqmp-zcu102-rev1.0.dtb";

/// The U-Boot of the user's `BOOT.BIN` (Xilinx's `xilinx_zynqmp_virt_defconfig`; Debian packages no ZynqMP boot
/// chain). The card carries the user's `BOOT.BIN` beside hv-static and `boot.scr`; the boot ROM (boot mode SD) runs
/// its FSBL, which loads the PMU firmware, TF-A (EL3, PSCI) and U-Boot at EL2. U-Boot's distro boot scans `mmc 0`
/// (the SD slot) and then `mmc 1` for `boot.scr`, which uses only variables every U-Boot defines (`kernel_addr_r`,
/// `fdtcontroladdr`): no address of the user's build is assumed, and no stored environment is written (where it
/// lives is the build's choice). The addresses below are those of the defconfig's default environment, which the
/// card does not depend on.
pub const UBOOT: UBoot = UBoot {
    binary: "u-boot.elf (xilinx_zynqmp_virt_defconfig), inside BOOT.BIN",
    fixture: None,
    firmware: UBootFirmware::InUserFile {
        name: "BOOT.BIN",
        what: "the ZynqMP boot image: FSBL, PMU firmware, TF-A's bl31 and U-Boot, made with Xilinx's bootgen",
    },
    package: "(none: the user's BOOT.BIN)",
    version: "the user's",
    kernel_addr_r: 0x1800_0000,
    fdt_addr_r: Some(0x4000_0000),
    scriptaddr: 0x2000_0000,
    fdt_variable: "fdtcontroladdr",
    boot_command: BootCommand::Booti,
    disk: BootDisk::Sd,
    disk_devices: &[0, 1],
    env: UBootEnv::Unknown,
    default_bootdelay: 2,
};

/// The board as the image builder uses it.
pub static BOARD: Board = Board {
    name: "xlnx-zcu102",
    description: "Xilinx ZCU102 in QEMU (Zynq UltraScale+: 4x cortex-a53, GIC-400, Cadence UART), EL2",
    arch: Arch::Aarch64,
    ram_base: RAM_BASE,
    ram_size: GIB,
    max_ram_size: 2 * GIB,
    max_cpus: 4,
    uarts: &[UART0],
    gic: Gic { default_version: GicVersion::V2, v3: None, v2: Some(GIC_V2), maintenance_intid: Irq::Ppi(9).intid() },
    timer: TimerIrqs::SBSA,
    cpu_compatible: "arm,cortex-a53",
    // As on QEMU virt: the Image at RAM base + its text_offset, QEMU's boot stub below it, the tree where
    // `BootDtb::Qemu` says.
    hv_load_addr: RAM_BASE + 2 * MIB,
    hv_budget: 2 * MIB,
    boot_dtb: BootDtb::Qemu,
    qemu: Some(Qemu {
        binary: "qemu-system-aarch64",
        package: "qemu-system-arm",
        machine: "xlnx-zcu102",
        machine_options: &["virtualization=on"],
        gic_version_option: false,
        cpu_gicv3: "cortex-a53",
        cpu_gicv2: "cortex-a53",
        kernel_boot: true,
        kernel_dtb: true,
        shape: QemuShape::FixedCpuModel,
        secure_option: false,
        // The DisplayPort's audio would open the host's sound card (ALSA errors on a headless machine); QEMU 7.2
        // then warns once that the device takes this backend by default.
        extra_args: &["-audiodev", "none,id=snd0"],
        serials: &[UART0.path, UART1.path],
        dtb: Some(DTB),
        backports: false,
    }),
    uboot: Some(UBOOT),
    devices: &[UART1],
    reserved: &[GIC_RESERVED],
    cpu_start: CpuStart::Psci,
    host_disk: false,
    host_net: false,
    virtio_mmio: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QemuRun;

    #[test]
    fn memory_map() {
        let b = &BOARD;
        assert_eq!((b.ram_base, b.hv_text_offset()), (0, 0x20_0000));
        assert_eq!((b.default_uart().base, b.default_uart().irq.intid()), (0xFF00_0000, 53));
        assert_eq!(b.gic.versions(), [GicVersion::V2]);
        // The 8 KiB CPU-interface frames end inside the 64 KiB alias windows of pages 0 and 1.
        assert_eq!((GIC_V2.gicc + 0x1000) % 0x1_0000, 0);
        assert_eq!((GIC_V2.gicv + 0x1000) % 0x1_0000, 0);
        let gic = GIC_RESERVED.regs[0];
        for frame in [GIC_V2.gicd, GIC_V2.gicc, GIC_V2.gich, GIC_V2.gicv] {
            assert!(gic.base <= frame && frame + 0x2000 <= gic.end(), "{frame:#x}");
        }
    }

    #[test]
    fn the_second_uart_goes_under_the_partitions_root() {
        let d = BOARD.passthrough("/axi/serial@ff010000", &UART0).unwrap();
        assert_eq!((d.node_name(), d.spis), ("serial@ff010000", &[54][..]));
    }

    #[test]
    fn qemu_command_line() {
        let args = BOARD
            .qemu_args(&QemuRun { gic: GicVersion::V2, cpus: 4, ram_size: 2 * GIB, kernel: "hv.img" })
            .unwrap()
            .join(" ");
        assert_eq!(
            args,
            "qemu-system-aarch64 -M xlnx-zcu102,virtualization=on -smp 4 -m 2G -nographic \
             -audiodev none,id=snd0 -kernel hv.img"
        );
    }
}
