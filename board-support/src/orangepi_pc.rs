//! Orange Pi PC: Allwinner H3 (four Cortex-A7 with the virtualization extensions, an Arm GIC-400), 1 GiB of RAM.
//! QEMU 7.2 emulates it as `qemu-system-arm -M orangepi-pc` (hw/arm/orangepi.c, hw/arm/allwinner-h3.c).
//!
//! The board boots as the real one does, from its SD card alone: the H3's boot ROM loads U-Boot's SPL from 8 KiB
//! into the card, the SPL brings up DRAM and loads U-Boot proper, and U-Boot switches the CPU to non-secure Hyp
//! mode before `bootz` enters hv-static (`r2` = the device tree). QEMU's machine is fixed: four CPUs, 1 GiB, no
//! `-bios`; its CPUs have EL3 and EL2, and QEMU answers PSCI calls made with SMC, so CPU_ON starts the secondaries.
//! Debian has no U-Boot built for the Orange Pi PC; its `orangepi_plus` build (same SoC) boots QEMU's machine
//! (`Model: Xunlong Orange Pi Plus / Plus 2`).
//!
//! Every address below is in QEMU's memory map and in the device tree U-Boot carries (Linux's
//! `sun8i-h3-orangepi-plus.dts`), and was read back from U-Boot (`fdt print`, `bdinfo`, `printenv`).

use crate::{
    Arch, Board, BootCommand, BootDisk, BootDtb, Gic, GicV2Frames, GicVersion, Irq, Mmio, Qemu, Reserved, TimerIrqs,
    UBoot, UBootEnv, UBootFirmware, Uart, UartKind, GIB, KIB, MIB,
};

/// Start of DRAM.
pub const RAM_BASE: u64 = 0x4000_0000;

/// UART0 (`/soc/serial@1c28000`, `snps,dw-apb-uart`, `reg-shift = <2>`, `reg-io-width = <4>`): the console U-Boot
/// and Linux use. QEMU models it as a plain 16550 with 32-bit-spaced registers.
pub const UART0: Uart = Uart {
    name: "uart0",
    path: "/soc/serial@1c28000",
    kind: UartKind::Ns16550 { reg_shift: 2 },
    base: 0x01C2_8000,
    size: KIB,
    irq: Irq::Spi(0),
};

/// The GIC-400's frames (`reg` of `/soc/interrupt-controller@1c81000`: 4 KiB distributor, then 8 KiB each).
pub const GIC_V2: GicV2Frames =
    GicV2Frames { gicd: 0x01C8_1000, gicc: 0x01C8_2000, gich: 0x01C8_4000, gicv: 0x01C8_6000 };

/// The GIC, which is never passed through.
pub const GIC_RESERVED: Reserved = Reserved::gic(
    "/soc/interrupt-controller@1c81000",
    // Distributor, CPU interface, virtual interface control and virtual CPU interface.
    &[Mmio { base: 0x01C8_1000, size: 0x7000 }],
);

/// Debian's `u-boot-sunxi` 2023.01, `orangepi_plus` build. Its default environment (`printenv`): `kernel_addr_r`
/// 0x4200_0000, `fdt_addr_r` 0x4300_0000, `scriptaddr` 0x4310_0000, `bootm_size` 0xa00_0000, no `fdt_high`;
/// `bootdelay` 2; `preboot` is `usb start` and `stdout` includes `vidconsole` (probing USB and HDMI costs QEMU
/// seconds); `bootcmd` runs distro boot, which finds `boot.scr` on the bootable partition of `mmc 0`.
/// `fdtcontroladdr` is U-Boot's own tree near the top of RAM. The environment is a file in the FAT partition
/// (`CONFIG_ENV_IS_IN_FAT`, "Loading Environment from FAT"; `Environment size: 4757/65532`, so 64 KiB with its
/// CRC); Debian's build reads no other.
pub const UBOOT: UBoot = UBoot {
    binary: "/usr/lib/u-boot/orangepi_plus/u-boot-sunxi-with-spl.bin",
    fixture: Some("u-boot-sunxi"),
    firmware: UBootFirmware::OnCard { offset: 8 * KIB },
    package: "u-boot-sunxi",
    version: "2023.01",
    kernel_addr_r: 0x4200_0000,
    fdt_addr_r: Some(0x4300_0000),
    scriptaddr: 0x4310_0000,
    fdt_variable: "fdtcontroladdr",
    boot_command: BootCommand::Bootz,
    disk: BootDisk::Sd,
    disk_devices: &[0],
    env: UBootEnv::Fat { file: "uboot.env", size: 64 * KIB },
    default_bootdelay: 2,
};

/// `bootm_size` of U-Boot's environment: `bootz` copies the device tree below RAM base + this.
pub const BOOTM_SIZE: u64 = 0xa00_0000;

/// The board as the image builder uses it.
pub static BOARD: Board = Board {
    name: "orangepi-pc",
    description: "Orange Pi PC (Allwinner H3: 4x cortex-a7, GIC-400), Hyp mode, booted from its SD card by U-Boot",
    arch: Arch::Aarch32,
    ram_base: RAM_BASE,
    ram_size: GIB,
    // QEMU's machine has exactly 1 GiB (it refuses any other -m), as has the real board.
    max_ram_size: GIB,
    max_cpus: 4,
    uarts: &[UART0],
    gic: Gic { default_version: GicVersion::V2, v3: None, v2: Some(GIC_V2), maintenance_intid: Irq::Ppi(9).intid() },
    timer: TimerIrqs::SBSA,
    cpu_compatible: "arm,cortex-a7",
    // The boot script loads hv-static straight here and bootz starts it where it lies.
    hv_load_addr: RAM_BASE + 2 * MIB,
    hv_budget: 2 * MIB,
    boot_dtb: BootDtb::UBootBootm { bootm_size: BOOTM_SIZE },
    qemu: Some(Qemu {
        binary: "qemu-system-arm",
        package: "qemu-system-arm",
        machine: "orangepi-pc",
        machine_options: &[],
        gic_version_option: false,
        cpu_gicv3: "cortex-a7",
        cpu_gicv2: "cortex-a7",
        kernel_boot: false,
        kernel_dtb: false,
        shape: crate::QemuShape::Fixed,
        secure_option: false,
        extra_args: &[],
        serials: &[UART0.path],
        dtb: None,
        backports: false,
    }),
    uboot: Some(UBOOT),
    devices: &[],
    reserved: &[GIC_RESERVED],
    // U-Boot's PSCI (its `nonsec` switch) starts the other CPUs.
    cpu_start: crate::CpuStart::Psci,
    // No block or network device of its own that hv-static could share.
    host_disk: false,
    host_net: false,
    virtio_mmio: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NotPassthrough, QemuRun};

    #[test]
    fn memory_map() {
        let b = &BOARD;
        assert_eq!(b.arch, Arch::Aarch32);
        assert_eq!((b.ram_base, b.ram_size, b.max_ram_size), (0x4000_0000, GIB, GIB));
        assert_eq!(b.max_cpus, 4);
        assert_eq!(b.cpu_compatible, "arm,cortex-a7");
        assert_eq!((0..4).map(|i| b.cpu_mpidr(i)).collect::<alloc::vec::Vec<_>>(), [0, 1, 2, 3]);
        let uart = b.default_uart();
        assert_eq!((uart.base, uart.size, uart.irq.intid()), (0x01C2_8000, 0x400, 32));
        assert_eq!(uart.kind, UartKind::Ns16550 { reg_shift: 2 });
        assert_eq!(b.gic.versions(), [GicVersion::V2]);
        let v2 = b.gic.v2.unwrap();
        assert_eq!((v2.gicd, v2.gicc, v2.gich, v2.gicv), (0x01C8_1000, 0x01C8_2000, 0x01C8_4000, 0x01C8_6000));
        assert_eq!(b.gic.maintenance_intid, 25);
        assert_eq!(b.timer, TimerIrqs { secure_phys: 29, nonsecure_phys: 30, virt: 27, hyp_phys: 26 });
        assert_eq!((b.hv_load_addr, b.hv_budget), (0x4020_0000, 2 * MIB));
        // Every device lies below RAM, in the hypervisor's device mapping.
        assert!(uart.base + uart.size <= b.ram_base && v2.gicv + 0x2000 <= b.ram_base);
    }

    #[test]
    fn the_console_and_the_gic_are_never_passed_through() {
        let uart = BOARD.default_uart();
        assert_eq!(BOARD.passthrough("/soc/serial@1c28000", uart), Err(NotPassthrough::Console(uart)));
        assert!(matches!(
            BOARD.passthrough("/soc/interrupt-controller@1c81000", uart),
            Err(NotPassthrough::Reserved(_))
        ));
        let gic = GIC_RESERVED.regs[0];
        assert!(gic.base <= GIC_V2.gicd && GIC_V2.gicv + 0x2000 <= gic.end());
    }

    /// U-Boot copies the tree (44 KiB with its padding) to just below 0x4a00_0000: `bootz` printed "Loading Device
    /// Tree to 49ff5000, end 49fffb97".
    #[test]
    fn u_boot_puts_the_device_tree_below_bootm_size() {
        let image = Mmio { base: BOARD.hv_load_addr, size: 3 * MIB };
        let r = BOARD.boot_dtb.region(BOARD.ram_base, GIB, image);
        assert_eq!((r.base, r.end()), (0x49E0_0000, 0x4A00_0000));
        assert!((r.base..r.end()).contains(&0x49ff_5000));
    }

    #[test]
    fn u_boot_is_on_the_card() {
        let u = BOARD.uboot.unwrap();
        assert_eq!(u.firmware, UBootFirmware::OnCard { offset: 0x2000 });
        assert_eq!((u.kernel_addr_r, u.fdt_addr_r, u.scriptaddr), (0x4200_0000, Some(0x4300_0000), 0x4310_0000));
        assert_eq!((u.disk.uboot_interface(), u.disk.uboot_init()), ("mmc", None));
        assert_eq!(u.env, UBootEnv::Fat { file: "uboot.env", size: 0x1_0000 });
        assert_eq!(u.boot_command, BootCommand::Bootz);
    }

    /// QEMU boots the machine from the card alone, and not with `-kernel`.
    #[test]
    fn qemu_command_line() {
        let run = QemuRun { gic: GicVersion::V2, cpus: 2, ram_size: GIB, kernel: "hv-static.img" };
        assert_eq!(BOARD.qemu_args(&run), None);
        let args = BOARD.qemu_uboot_args(&run, "out/x/sdcard.img").unwrap();
        assert_eq!(
            args.join(" "),
            "qemu-system-arm -M orangepi-pc -nographic -drive if=sd,format=raw,file=out/x/sdcard.img"
        );
    }
}
