//! QEMU's `virt` machine with AArch64 CPUs and the virtualization extensions (`-M virt,virtualization=on`).
//!
//! The memory map and devices are [`crate::qemu_virt`]'s. With `virtualization=on` QEMU starts every CPU at EL2.

use crate::qemu_virt;
use crate::{Arch, Board, BootCommand, BootDtb, CpuStart, Gic, GicV3Frames, GicVersion, Qemu, UBoot, GIB, MIB};

pub use crate::qemu_virt::{PL031, PL061, RAM_BASE};

/// Debian's U-Boot for this machine (`qemu_arm64`, 2023.01), at EL2; see [`qemu_virt::uboot`] for its environment.
pub const UBOOT: UBoot = qemu_virt::uboot("/usr/lib/u-boot/qemu_arm64/u-boot.bin", BootCommand::Booti);

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
    uarts: &[qemu_virt::UART0],
    gic: Gic {
        default_version: GicVersion::V3,
        v3: Some(GicV3Frames { gicd: 0x0800_0000, gicr: 0x080A_0000, gicr_stride: 0x2_0000 }),
        v2: Some(qemu_virt::GIC_V2),
        maintenance_intid: qemu_virt::MAINTENANCE_INTID,
    },
    timer: qemu_virt::TIMER,
    cpu_compatible: "arm,armv8",
    // QEMU loads an arm64 Image at RAM base + its text_offset (0x20_0000) and writes its boot stub at RAM base,
    // below the image. Its device tree goes 128 MiB into RAM or after the image (see `BootDtb::Qemu`).
    hv_load_addr: RAM_BASE + 2 * MIB,
    hv_budget: 2 * MIB,
    boot_dtb: BootDtb::Qemu,
    qemu: Some(Qemu {
        binary: "qemu-system-aarch64",
        package: "qemu-system-arm",
        machine: "virt",
        machine_options: qemu_virt::MACHINE_OPTIONS,
        gic_version_option: true,
        cpu_gicv3: "cortex-a57",
        cpu_gicv2: "cortex-a53",
        kernel_boot: true,
        kernel_dtb: true,
        shape: crate::QemuShape::Free,
        secure_option: false,
        extra_args: &[],
        serials: &[qemu_virt::UART0.path],
        dtb: None,
        backports: false,
    }),
    uboot: Some(UBOOT),
    devices: &[PL031, PL061],
    reserved: &[qemu_virt::GIC_RESERVED],
    // QEMU's built-in PSCI firmware holds the other CPUs.
    cpu_start: CpuStart::Psci,
    // QEMU can give virt a virtio-blk and a virtio-net device for hv-static to share (neither is attached or served
    // yet: see docs/config.md, "PV devices").
    host_disk: true,
    host_net: true,
    virtio_mmio: Some(qemu_virt::VIRTIO_MMIO),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, Irq, Mmio, PropValue, QemuRun, UBootEnv};
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
        assert_eq!((u.boot_command.name(), u.fdt_variable), ("booti", "fdtcontroladdr"));
        assert_eq!((u.disk.uboot_interface(), u.disk_devices), ("virtio", &[0][..]));
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
