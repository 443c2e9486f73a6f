//! Raspberry Pi 4 Model B: Broadcom BCM2711 (four Cortex-A72s, an Arm GIC-400), as QEMU 10's `raspi4b` emulates it
//! (QEMU 7.2, the system's, has no model: the board runs on the QEMU of Debian's bookworm-backports, which
//! `tests/fixtures/fetch-qemu-backports.sh` unpacks beside it; [`Qemu::backports`]).
//!
//! There is no PSCI firmware: the boot loader (the Pi's firmware stub, or QEMU's) enters the image at EL2 with the
//! device tree in x0 and parks the other CPUs in a spin table at 0xd8 + 8 × n (`cpu-release-addr`), where they
//! wait at EL2; an SMC is never answered, so hv-static asks the firmware nothing. QEMU's machine is fixed: four
//! CPUs, 2 GiB (`-smp`, `-m` and `-cpu` are refused). QEMU builds no device tree for it: it is given Debian's
//! `broadcom/bcm2711-rpi-4-b.dtb` (kernel package), whose memory node QEMU fills with the low RAM the ARM cores
//! own, 0 to 960 MiB (the VideoCore's share follows). The peripherals sit at bus address 0x7E00_0000 in the tree,
//! which the `/soc` ranges put at 0xFE00_0000; the GIC at 0x4004_1000 on `/scb`, put at 0xFF84_1000. Every address
//! below is the CPU's.
//!
//! The generic timer runs at 54 MHz on the board and 62.5 MHz in QEMU: hv-static reads CNTFRQ, never assumes it.

use crate::{
    Arch, Board, BootCommand, BootDisk, BootDtb, BootFirmware, CpuStart, Gic, GicV2Frames, GicVersion, Irq, Mmio,
    PackageFile, Qemu, QemuShape, Reserved, TimerIrqs, UBoot, UBootEnv, UBootFirmware, Uart, UartKind, KIB, MIB,
};

/// Start of RAM. Its first page holds the spin table (the CPUs' code and release addresses): the layout keeps the
/// first 2 MiB free of everything (the hypervisor is linked at RAM base + 2 MiB).
pub const RAM_BASE: u64 = 0;

/// The ARM cores' low RAM: 960 MiB (the tree QEMU passes, and the firmware's on a 1 GiB board).
pub const RAM_SIZE: u64 = 960 * MIB;

/// The PL011 (`/soc/serial@7e201000`, the tree's `serial0`): QEMU's first serial, and on the board GPIO 14/15
/// once `config.txt` gives it to the header (`dtoverlay=disable-bt`).
pub const UART0: Uart = Uart {
    name: "uart0",
    path: "/soc/serial@7e201000",
    kind: UartKind::Pl011,
    base: 0xFE20_1000,
    size: 4 * KIB,
    irq: Irq::Spi(121),
};

/// The mini UART (`/soc/serial@7e215040`, the tree's `serial1` and `stdout-path`; `brcm,bcm2835-aux-uart`): QEMU's
/// second serial, and on the board the UART the firmware puts on GPIO 14/15 while Bluetooth has the PL011
/// (`enable_uart=1`). Its registers are a 16550's, 4 bytes apart from 0x40 into the AUX block (IO, IER, IIR, LCR,
/// MCR, LSR), which is all hv-static's `ns16550` driver uses; its interrupt is the AUX block's, shared with the
/// two SPI masters hv-static leaves off. Its baud rate follows the core clock: the firmware fixes both.
pub const UART1: Uart = Uart {
    name: "uart1",
    path: "/soc/serial@7e215040",
    kind: UartKind::Ns16550 { reg_shift: 2 },
    base: 0xFE21_5040,
    size: 0x40,
    irq: Irq::Spi(93),
};

/// The GIC-400's frames (`/soc/interrupt-controller@40041000` in the tree's own numbering: `/scb` puts 0x4000_0000
/// at 0xFF80_0000).
pub const GIC_V2: GicV2Frames =
    GicV2Frames { gicd: 0xFF84_1000, gicc: 0xFF84_2000, gich: 0xFF84_4000, gicv: 0xFF84_6000 };

/// The GIC, which is never passed through.
pub const GIC_RESERVED: Reserved =
    Reserved::gic("/soc/interrupt-controller@40041000", &[Mmio { base: 0xFF84_1000, size: 0x7000 }]);

/// The board's device tree in Debian's arm64 kernel package (`/usr/lib/linux-image-*/`).
pub const DTB: &str = "broadcom/bcm2711-rpi-4-b.dtb";

/// The Pi 4's VideoCore firmware from Debian's `raspi-firmware` (component non-free-firmware), as a boot card uses
/// it. At power-on the SoC's ROM (or the EEPROM boot loader) runs `start4.elf` from the card's FAT partition; it
/// reads `config.txt`, loads [`DTB`] (filling in the memory node, as QEMU does), loads U-Boot as its `kernel=` at
/// 0x8_0000 and starts the ARM cores in AArch64 at EL2, CPU 0 there with the tree in x0, the others in its spin
/// table ([`CpuStart::SpinTable`]). The lines are those Debian's own `z50-raspi-firmware` writes for a 64-bit Pi 4,
/// with U-Boot as the kernel and the tree named:
/// - `enable_uart=1` puts the mini UART ([`UART1`]) on the header (GPIO 14/15) and fixes the core clock it counts
///   baud from; the PL011 ([`UART0`]) stays wired to the Bluetooth chip, since moving it needs the `disable-bt`
///   overlay, which Debian does not ship;
/// - `upstream_kernel=1`: the firmware takes mainline's tree names and leaves the tree's devices alone;
/// - `gpu_mem=64` leaves the ARM cores the low 960 MiB ([`RAM_SIZE`]) on every memory size (the default gives the
///   VideoCore 76 MiB: 948 MiB).
pub static FIRMWARE: BootFirmware = BootFirmware {
    what: "the Raspberry Pi 4's VideoCore firmware",
    files: &[
        PackageFile { package: "raspi-firmware", path: "/usr/lib/raspi-firmware/start4.elf" },
        PackageFile { package: "raspi-firmware", path: "/usr/lib/raspi-firmware/fixup4.dat" },
    ],
    uboot_file: "u-boot.bin",
    dtb: DTB,
    config_file: "config.txt",
    config: &[
        "arm_64bit=1",
        "enable_uart=1",
        "upstream_kernel=1",
        "device_tree=bcm2711-rpi-4-b.dtb",
        "gpu_mem=64",
        "kernel=u-boot.bin",
    ],
    header_uarts: &["uart1"],
};

/// Debian's `u-boot-rpi` 2023.01, `rpi_arm64` build (64-bit Pi 3 and 4), as the firmware starts it. Its default
/// environment (`printenv` on QEMU's raspi4b): `kernel_addr_r` 0x8_0000, `fdt_addr_r` 0x260_0000, `scriptaddr`
/// 0x240_0000, `fdt_high` and `initrd_high` all ones (the tree is passed where it lies: `fdtcontroladdr`, U-Boot's
/// copy of the firmware's tree near the top of RAM), `bootdelay` 2, `preboot` `pci enum; usb start;`, `stdout`
/// `serial,vidconsole`, the console on the tree's `stdout-path` (the mini UART). Its environment is `uboot.env` in
/// the FAT partition of `mmc 0:1` (`Environment size: 4081/16380`). The SD slot is `mmc 0` in QEMU's model (which
/// attaches the card to the SDHCI at 0xFE30_0000) and may be `mmc 1` on the board (EMMC2 at 0xFE34_0000), so the
/// stored boot command tries both; when the environment is not found, distro boot scans every device itself.
pub const UBOOT: UBoot = UBoot {
    binary: "/usr/lib/u-boot/rpi_arm64/u-boot.bin",
    fixture: Some("rpi-boot"),
    firmware: UBootFirmware::Soc(&FIRMWARE),
    package: "u-boot-rpi",
    version: "2023.01",
    kernel_addr_r: 0x8_0000,
    fdt_addr_r: Some(0x260_0000),
    scriptaddr: 0x240_0000,
    fdt_variable: "fdtcontroladdr",
    boot_command: BootCommand::Booti,
    disk: BootDisk::Sd,
    disk_devices: &[0, 1],
    env: UBootEnv::Fat { file: "uboot.env", size: 16 * KIB },
    default_bootdelay: 2,
};

/// The board as the image builder uses it.
pub static BOARD: Board = Board {
    name: "rpi4",
    description:
        "Raspberry Pi 4 Model B (BCM2711: 4x cortex-a72, GIC-400), EL2, spin-table CPU start; QEMU 10's raspi4b",
    arch: Arch::Aarch64,
    ram_base: RAM_BASE,
    ram_size: RAM_SIZE,
    max_ram_size: RAM_SIZE,
    max_cpus: 4,
    uarts: &[UART0, UART1],
    gic: Gic { default_version: GicVersion::V2, v3: None, v2: Some(GIC_V2), maintenance_intid: Irq::Ppi(9).intid() },
    timer: TimerIrqs::SBSA,
    cpu_compatible: "arm,cortex-a72",
    hv_load_addr: RAM_BASE + 2 * MIB,
    hv_budget: 2 * MIB,
    // QEMU 10 places the tree as 7.2 does for an arm64 Image (128 MiB into RAM for 2 GiB).
    boot_dtb: BootDtb::Qemu,
    qemu: Some(Qemu {
        binary: "qemu-system-aarch64",
        package: "qemu-system-arm",
        machine: "raspi4b",
        machine_options: &[],
        gic_version_option: false,
        cpu_gicv3: "cortex-a72",
        cpu_gicv2: "cortex-a72",
        kernel_boot: true,
        kernel_dtb: true,
        shape: QemuShape::Fixed,
        secure_option: false,
        // QEMU 10 would otherwise look for 7.2's audio modules on the system and warn.
        extra_args: &["-audio", "none"],
        serials: &[UART0.path, UART1.path],
        dtb: Some(DTB),
        backports: true,
    }),
    uboot: Some(UBOOT),
    devices: &[],
    reserved: &[GIC_RESERVED],
    cpu_start: CpuStart::SpinTable { release_base: 0xd8 },
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
        assert_eq!((b.ram_base, b.ram_size, b.hv_text_offset()), (0, 0x3C00_0000, 0x20_0000));
        assert_eq!((b.default_uart().base, b.default_uart().irq.intid()), (0xFE20_1000, 153));
        assert_eq!(b.cpu_start, CpuStart::SpinTable { release_base: 0xd8 });
        // The spin table lies below the hypervisor.
        assert!(0xd8 + 8 * u64::from(b.max_cpus) <= b.hv_load_addr);
    }

    /// The firmware's configuration starts the U-Boot the card carries, with the tree the card carries; the mini
    /// UART is the one it puts on the header.
    #[test]
    fn the_firmware_starts_the_cards_u_boot_with_the_cards_tree() {
        let fw = &FIRMWARE;
        assert!(fw.config.contains(&"kernel=u-boot.bin") && fw.uboot_file == "u-boot.bin");
        assert!(fw.config.contains(&"device_tree=bcm2711-rpi-4-b.dtb") && fw.dtb_file() == "bcm2711-rpi-4-b.dtb");
        assert_eq!(BOARD.uboot.map(|u| u.firmware), Some(UBootFirmware::Soc(&FIRMWARE)));
        assert_eq!(fw.header_uarts, [UART1.name]);
        assert!(fw.files.iter().map(|f| f.name()).eq(["start4.elf", "fixup4.dat"]));
    }

    #[test]
    fn the_mini_uart_console_is_qemus_second_serial() {
        assert_eq!(BOARD.uart("uart1").map(|u| (u.base, u.irq.intid())), Some((0xFE21_5040, 125)));
        let args = BOARD.qemu_serial_args(UART1.path, &[], |p| p.into()).join(" ");
        assert_eq!(args, "-serial null -serial mon:stdio");
        assert!(BOARD.qemu_serial_args(UART0.path, &[], |p| p.into()).is_empty());
    }

    #[test]
    fn qemu_command_line_chooses_nothing_of_the_machine() {
        let args = BOARD
            .qemu_args(&QemuRun { gic: GicVersion::V2, cpus: 4, ram_size: RAM_SIZE, kernel: "hv.img" })
            .unwrap()
            .join(" ");
        assert_eq!(args, "qemu-system-aarch64 -M raspi4b -nographic -audio none -kernel hv.img");
    }
}
