//! What QEMU's `virt` machine is, whatever CPUs it runs: the memory map of QEMU 7.2's `hw/arm/virt.c`
//! (`-machine dumpdtb=FILE` shows it), shared by [`crate::qemu_virt_aarch64`] and [`crate::qemu_virt_a15`].
//!
//! With `virtualization=on` QEMU starts every CPU at EL2 (AArch64) or in Hyp mode (ARMv7) and holds secondaries
//! in its own PSCI firmware (SMC conduit). The device tree QEMU passes differs on every run unless
//! `dtb-randomness=off` (accepted by QEMU 7.2's `qemu-system-aarch64` and `qemu-system-arm`).

use crate::{
    BootCommand, BootDisk, Clock, Device, GicV2Frames, Irq, Mmio, PropValue, QemuFlash, Reserved, TimerIrqs, UBoot,
    UBootEnv, UBootFirmware, Uart, UartKind, VirtioMmioBus, KIB, MIB,
};

/// Start of RAM.
pub const RAM_BASE: u64 = 0x4000_0000;

/// Machine options always given (`-M virt,...`).
pub const MACHINE_OPTIONS: &[&str] = &["virtualization=on", "dtb-randomness=off"];

/// The fixed 24 MHz clock QEMU feeds its PrimeCell peripherals from (`/apb-pclk`).
const APB_PCLK: Clock = Clock { name: "apb_pclk", hz: 24_000_000 };

/// The first PL011, the default console.
pub const UART0: Uart = Uart {
    name: "uart0",
    path: "/pl011@9000000",
    kind: UartKind::Pl011,
    base: 0x0900_0000,
    size: 4 * KIB,
    irq: Irq::Spi(1),
};

/// The PL031 real-time clock.
pub const PL031: Device = Device {
    path: "/pl031@9010000",
    description: "PL031 real-time clock",
    regs: &[Mmio { base: 0x0901_0000, size: 4 * KIB }],
    spis: &[Irq::Spi(2).intid()],
    compatible: &["arm,pl031", "arm,primecell"],
    clocks: &[APB_PCLK],
    props: &[],
    // An RTC or GPIO block: registers only, no bus master.
    dma: false,
};

/// The PL061 GPIO controller (QEMU wires its line 3 to the power button).
pub const PL061: Device = Device {
    path: "/pl061@9030000",
    description: "PL061 GPIO controller",
    regs: &[Mmio { base: 0x0903_0000, size: 4 * KIB }],
    spis: &[Irq::Spi(7).intid()],
    compatible: &["arm,pl061", "arm,primecell"],
    clocks: &[APB_PCLK],
    props: &[("gpio-controller", PropValue::Empty), ("#gpio-cells", PropValue::U32(2))],
    // An RTC or GPIO block: registers only, no bus master.
    dma: false,
};

/// virt's 32 virtio-mmio transports (SPI 16 upward), where QEMU puts `-device virtio-*-device`s.
pub const VIRTIO_MMIO: VirtioMmioBus =
    VirtioMmioBus { base: 0x0a00_0000, stride: 0x200, count: 32, intid_base: Irq::Spi(16).intid() };

/// The GICv2 frames (`gic-version=2`).
pub const GIC_V2: GicV2Frames =
    GicV2Frames { gicd: 0x0800_0000, gicc: 0x0801_0000, gich: 0x0803_0000, gicv: 0x0804_0000 };

/// The GIC's maintenance interrupt: PPI 9.
pub const MAINTENANCE_INTID: u32 = Irq::Ppi(9).intid();

/// The generic timer's PPIs.
pub const TIMER: TimerIrqs = TimerIrqs::SBSA;

/// The interrupt controller, which is never passed through.
pub const GIC_RESERVED: Reserved = Reserved::gic(
    "/intc@8000000",
    // Distributor, CPU interface, GICv2m, hypervisor and virtual CPU interfaces, ITS and redistributors: virt's
    // whole 16 MiB GIC window.
    &[Mmio { base: 0x0800_0000, size: 16 * MIB }],
);

/// The facts Debian's U-Boot 2023.01 builds for `virt` (`qemu_arm64`, `qemu_arm`) share. QEMU runs U-Boot from the
/// first flash (`-bios`); `virt` has no SD controller, so the card is a virtio disk. Their default environment
/// (`printenv`, the same in both): `kernel_addr_r` 0x4040_0000, `scriptaddr` 0x4020_0000, `ramdisk_addr_r`
/// 0x4400_0000, `fdt_addr` 0x4000_0000 (where QEMU puts the tree for firmware), no `fdt_addr_r`, `fdt_high` and
/// `initrd_high` 0xffffffff (device tree and initrd used where they are); `fdtcontroladdr` is set at run time to
/// U-Boot's relocated copy of QEMU's tree near the top of RAM. `bootdelay` is 2, and `bootcmd` runs distro boot,
/// which tries `qfw`, `usb0`, `scsi0`, then `virtio0`, where it sources `boot.scr` from the bootable partition. The
/// environment lives in the second flash only (`CONFIG_ENV_IS_IN_FLASH`, 0x40000 bytes at 0x0400_0000:
/// `Environment size: 4537/262140` on arm64, `4799/262140` on arm); it does not read one from FAT.
pub const fn uboot(binary: &'static str, boot_command: BootCommand) -> UBoot {
    UBoot {
        binary,
        fixture: None,
        firmware: UBootFirmware::Bios,
        package: "u-boot-qemu",
        version: "2023.01",
        kernel_addr_r: RAM_BASE + 4 * MIB,
        fdt_addr_r: None,
        scriptaddr: RAM_BASE + 2 * MIB,
        fdt_variable: "fdtcontroladdr",
        boot_command,
        disk: BootDisk::VirtioMmio,
        disk_devices: &[0],
        env: UBootEnv::Flash {
            addr: 0x0400_0000,
            size: 256 * KIB,
            qemu_flash: Some(QemuFlash { unit: 1, base: 0x0400_0000, size: 64 * MIB }),
        },
        default_bootdelay: 2,
    }
}
