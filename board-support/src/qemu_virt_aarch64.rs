//! QEMU's `virt` machine with AArch64 CPUs and the virtualization extensions (`-M virt,virtualization=on`).
//!
//! Addresses are QEMU 7.2's `hw/arm/virt.c` memory map (`-machine dumpdtb=FILE` shows them). With
//! `virtualization=on` QEMU starts every CPU at EL2 and holds secondaries in its own PSCI firmware (SMC conduit).
//! The device tree QEMU passes differs on every run unless `dtb-randomness=off` (accepted by QEMU 7.2).

use crate::{
    Arch, Board, BootDisk, BootDtb, Clock, Device, Gic, GicV2Frames, GicV3Frames, GicVersion, Irq, Mmio, PropValue,
    Qemu, QemuFlash, Reserved, TimerIrqs, UBoot, UBootEnv, Uart, UartKind, GIB, KIB, MIB,
};

/// Start of RAM.
pub const RAM_BASE: u64 = 0x4000_0000;

/// The fixed 24 MHz clock QEMU feeds its PrimeCell peripherals from (`/apb-pclk`).
const APB_PCLK: Clock = Clock { name: "apb_pclk", hz: 24_000_000 };

/// The PL031 real-time clock.
pub const PL031: Device = Device {
    path: "/pl031@9010000",
    description: "PL031 real-time clock",
    regs: &[Mmio { base: 0x0901_0000, size: 4 * KIB }],
    spis: &[Irq::Spi(2).intid()],
    compatible: &["arm,pl031", "arm,primecell"],
    clocks: &[APB_PCLK],
    props: &[],
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
};

/// Debian's U-Boot for this machine (`qemu_arm64`, 2023.01). QEMU runs it from the first flash (`-bios`), at EL2;
/// `virt` has no SD controller, so the card is a virtio disk. Its default environment (`printenv`): `kernel_addr_r`
/// 0x4040_0000, `scriptaddr` 0x4020_0000, `ramdisk_addr_r` 0x4400_0000, `fdt_addr` 0x4000_0000 (where QEMU puts
/// the tree for firmware), no `fdt_addr_r`; `fdtcontroladdr` is set at run time to U-Boot's relocated copy of
/// QEMU's tree near the top of RAM. `bootdelay` is 2, and `bootcmd` runs distro boot, which tries `qfw`, `usb0`,
/// `scsi0`, then `virtio0`, where it sources `boot.scr` from the bootable partition. The environment lives in the
/// second flash only (`CONFIG_ENV_IS_IN_FLASH`, 0x40000 bytes at 0x0400_0000: `Environment size: 4537/262140`);
/// it does not read one from FAT.
pub const UBOOT: UBoot = UBoot {
    binary: "/usr/lib/u-boot/qemu_arm64/u-boot.bin",
    package: "u-boot-qemu",
    version: "2023.01",
    kernel_addr_r: RAM_BASE + 4 * MIB,
    fdt_addr_r: None,
    scriptaddr: RAM_BASE + 2 * MIB,
    fdt_variable: "fdtcontroladdr",
    boot_command: "booti",
    disk: BootDisk::VirtioMmio,
    disk_device: 0,
    env: UBootEnv::Flash {
        addr: 0x0400_0000,
        size: 256 * KIB,
        qemu_flash: Some(QemuFlash { unit: 1, base: 0x0400_0000, size: 64 * MIB }),
    },
    default_bootdelay: 2,
};

/// The board as the image builder uses it.
pub static BOARD: Board = Board {
    name: "qemu-virt-aarch64",
    description: "QEMU virt, AArch64 (cortex-a57 with GICv3, cortex-a53 with GICv2), EL2",
    arch: Arch::Aarch64,
    ram_base: RAM_BASE,
    // The size the image builder runs QEMU with (`-m 1G`) unless a config overrides it.
    ram_size: GIB,
    // virt's low RAM window ends at 256 GiB.
    max_ram_size: 255 * GIB,
    // GICv2 limits virt to 8 CPUs; keep one limit for both versions.
    max_cpus: 8,
    uarts: &[Uart {
        name: "uart0",
        path: "/pl011@9000000",
        kind: UartKind::Pl011,
        base: 0x0900_0000,
        size: 4 * KIB,
        irq: Irq::Spi(1),
    }],
    gic: Gic {
        default_version: GicVersion::V3,
        v3: Some(GicV3Frames { gicd: 0x0800_0000, gicr: 0x080A_0000, gicr_stride: 0x2_0000 }),
        v2: Some(GicV2Frames { gicd: 0x0800_0000, gicc: 0x0801_0000, gich: 0x0803_0000, gicv: 0x0804_0000 }),
        maintenance_intid: 25,
    },
    timer: TimerIrqs { secure_phys: 29, nonsecure_phys: 30, virt: 27, hyp_phys: 26 },
    // QEMU loads an arm64 Image at RAM base + its text_offset (0x20_0000) and writes its boot stub at RAM base,
    // below the image. Its device tree goes 128 MiB into RAM or after the image (see `BootDtb::Qemu`).
    hv_load_addr: RAM_BASE + 2 * MIB,
    hv_budget: 2 * MIB,
    boot_dtb: BootDtb::Qemu,
    qemu: Some(Qemu {
        binary: "qemu-system-aarch64",
        package: "qemu-system-arm",
        machine: "virt",
        machine_options: &["virtualization=on", "dtb-randomness=off"],
        gic_version_option: true,
        cpu_gicv3: "cortex-a57",
        cpu_gicv2: "cortex-a53",
    }),
    uboot: Some(UBOOT),
    devices: &[PL031, PL061],
    reserved: &[Reserved {
        path: "/intc@8000000",
        what: "the GIC",
        why: "hv-static owns the interrupt controller: every partition gets an emulated distributor, through which \
              it enables and routes its passed-through interrupts",
        // Distributor, CPU interface, GICv2m, hypervisor and virtual CPU interfaces, ITS and redistributors:
        // virt's whole 16 MiB GIC window.
        regs: &[Mmio { base: 0x0800_0000, size: 16 * MIB }],
    }],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QemuRun;
    use alloc::vec::Vec;

    #[test]
    fn memory_map() {
        let b = &BOARD;
        assert_eq!(b.arch, Arch::Aarch64);
        assert_eq!(b.ram_base, 0x4000_0000);
        assert_eq!(b.ram_size, 0x4000_0000);
        assert_eq!(b.max_cpus, 8);
        assert_eq!(b.default_uart().base, 0x0900_0000);
        assert_eq!(b.default_uart().irq, Irq::Spi(1));
        assert_eq!(b.hv_load_addr, 0x4020_0000);
        assert_eq!(b.hv_text_offset(), 0x20_0000);
        assert_eq!(b.hv_budget, 0x20_0000);
        assert_eq!(b.gic.maintenance_intid, 25);
        assert_eq!(b.gic.default_version, GicVersion::V3);
        let v3 = b.gic.v3.unwrap();
        assert_eq!((v3.gicd, v3.gicr, v3.gicr_stride), (0x0800_0000, 0x080A_0000, 0x2_0000));
        let v2 = b.gic.v2.unwrap();
        assert_eq!((v2.gicd, v2.gicc, v2.gich, v2.gicv), (0x0800_0000, 0x0801_0000, 0x0803_0000, 0x0804_0000));
        assert_eq!(b.gic.versions(), [GicVersion::V2, GicVersion::V3]);
        assert_eq!(b.cpu_mpidr(3), 3);
    }

    #[test]
    fn passthrough_devices() {
        let b = &BOARD;
        let uart = b.default_uart();
        let rtc = b.passthrough("/pl031@9010000", uart).unwrap();
        assert_eq!(rtc.regs, [Mmio { base: 0x0901_0000, size: 0x1000 }]);
        assert_eq!(rtc.spis, [34]);
        assert_eq!(rtc.compatible, ["arm,pl031", "arm,primecell"]);
        assert_eq!(rtc.clocks, [Clock { name: "apb_pclk", hz: 24_000_000 }]);
        assert_eq!(rtc.node_name(), "pl031@9010000");
        let gpio = b.passthrough("/pl061@9030000", uart).unwrap();
        assert_eq!(gpio.regs, [Mmio { base: 0x0903_0000, size: 0x1000 }]);
        assert_eq!(gpio.spis, [39]);
        assert_eq!(gpio.compatible, ["arm,pl061", "arm,primecell"]);
        assert_eq!(gpio.props, [("gpio-controller", PropValue::Empty), ("#gpio-cells", PropValue::U32(2))]);
        assert_eq!(b.passthrough("/pl011@9000000", uart), Err(crate::NotPassthrough::Console(uart)));
        assert!(matches!(
            b.passthrough("/intc@8000000", uart),
            Err(crate::NotPassthrough::Reserved(r)) if r.what == "the GIC"
        ));
        assert_eq!(b.passthrough("/pl031", uart), Err(crate::NotPassthrough::Unknown));
    }

    #[test]
    fn the_gic_is_reserved_whole() {
        let gic = &BOARD.reserved[0];
        let covered = |base: u64, size: u64| gic.regs.iter().any(|r| r.base <= base && base + size <= r.end());
        let v3 = BOARD.gic.v3.unwrap();
        assert!(covered(v3.gicd, 0x1_0000));
        assert!(covered(v3.gicr, v3.gicr_stride * u64::from(BOARD.max_cpus)));
        let v2 = BOARD.gic.v2.unwrap();
        for frame in [v2.gicd, v2.gicc, v2.gich, v2.gicv] {
            assert!(covered(frame, 0x1000), "{frame:#x}");
        }
    }

    #[test]
    fn qemu_command_lines() {
        let v3 = BOARD
            .qemu_args(&QemuRun { gic: GicVersion::V3, cpus: 2, ram_size: GIB, kernel: "out/x/hv-static.img" })
            .unwrap();
        assert_eq!(
            v3.join(" "),
            "qemu-system-aarch64 -M virt,virtualization=on,dtb-randomness=off,gic-version=3 -cpu cortex-a57 \
             -smp 2 -m 1G -nographic -kernel out/x/hv-static.img"
        );
        let v2: Vec<_> =
            BOARD.qemu_args(&QemuRun { gic: GicVersion::V2, cpus: 1, ram_size: 512 * MIB, kernel: "k" }).unwrap();
        assert!(v2.contains(&"virt,virtualization=on,dtb-randomness=off,gic-version=2".into()));
        assert!(v2.contains(&"cortex-a53".into()));
        assert!(v2.contains(&"512M".into()));
        assert_eq!(BOARD.qemu_cpu(GicVersion::V3), Some("cortex-a57"));
    }

    #[test]
    fn uboot() {
        let u = BOARD.uboot.unwrap();
        assert_eq!(u.binary, "/usr/lib/u-boot/qemu_arm64/u-boot.bin");
        assert_eq!((u.kernel_addr_r, u.scriptaddr, u.fdt_addr_r), (0x4040_0000, 0x4020_0000, None));
        assert_eq!((u.boot_command, u.fdt_variable), ("booti", "fdtcontroladdr"));
        assert_eq!((u.disk.uboot_interface(), u.disk_device), ("virtio", 0));
        assert_eq!(u.env.size(), 0x4_0000);
        // booti moves the image down to RAM base + text_offset (an overlapping move is fine).
        assert!(u.kernel_addr_r >= BOARD.hv_load_addr);
        let args = BOARD
            .qemu_uboot_args(&QemuRun { gic: GicVersion::V3, cpus: 2, ram_size: GIB, kernel: "" }, "sd.img")
            .unwrap();
        assert_eq!(
            args.join(" "),
            "qemu-system-aarch64 -M virt,virtualization=on,dtb-randomness=off,gic-version=3 -cpu cortex-a57 \
             -smp 2 -m 1G -nographic -bios /usr/lib/u-boot/qemu_arm64/u-boot.bin \
             -drive if=none,file=sd.img,format=raw,id=sd -device virtio-blk-device,drive=sd"
        );
        let UBootEnv::Flash { addr, qemu_flash: Some(f), .. } = u.env else { panic!("{:?}", u.env) };
        assert!(f.base <= addr && addr + u.env.size() <= f.base + f.size);
        assert_eq!(f.qemu_args("f.img"), ["-drive", "if=pflash,unit=1,format=raw,file=f.img"]);
    }
}
