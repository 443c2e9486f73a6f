//! QEMU's `virt` machine with ARMv7-A Cortex-A15 CPUs and the virtualization extensions
//! (`qemu-system-arm -M virt,virtualization=on,gic-version=2 -cpu cortex-a15`).
//!
//! The memory map and devices are [`crate::qemu_virt`]'s. With `virtualization=on` QEMU starts every CPU in Hyp
//! mode. A Cortex-A15 has a GICv2 CPU interface (with the virtualization extensions: GICH and GICV), so the board
//! has no GICv3. QEMU loads a raw 32-bit image (hv-static's zImage) at RAM base + 64 KiB, writes its boot stub at
//! RAM base and enters the image with `r2` = its device tree ([`BootDtb::QemuRaw32`]); hv-static then moves
//! itself, payload included, to its link address.

use crate::qemu_virt;
use crate::{Arch, Board, BootCommand, BootDtb, CpuStart, Gic, GicVersion, Qemu, UBoot, GIB, MIB};

pub use crate::qemu_virt::{PL031, PL061, RAM_BASE};

/// Debian's U-Boot for this machine (`qemu_arm`, 2023.01). It stays in Hyp mode, and `bootz` enters the image
/// there, where it lies; see [`qemu_virt::uboot`] for its environment.
pub const UBOOT: UBoot = qemu_virt::uboot("/usr/lib/u-boot/qemu_arm/u-boot.bin", BootCommand::Bootz);

/// The board as the image builder uses it.
pub static BOARD: Board = Board {
    name: "qemu-virt-a15",
    description: "QEMU virt, ARMv7-A (cortex-a15 with GICv2), Hyp mode",
    arch: Arch::Aarch32,
    ram_base: RAM_BASE,
    // The size the image builder runs QEMU with (`-m 1G`) unless a config overrides it.
    ram_size: GIB,
    // RAM up to the end of the 32-bit physical address space: hv-static's ARMv7 Hyp-mode map covers 4 GiB
    // (QEMU would accept more, reachable only through LPAE).
    max_ram_size: 3 * GIB,
    // GICv2's CPU interface serves at most 8 CPUs (QEMU refuses `-smp 9` on virt with a GICv2).
    max_cpus: 8,
    uarts: &[qemu_virt::UART0],
    gic: Gic {
        default_version: GicVersion::V2,
        v3: None,
        v2: Some(qemu_virt::GIC_V2),
        maintenance_intid: qemu_virt::MAINTENANCE_INTID,
    },
    timer: qemu_virt::TIMER,
    cpu_compatible: "arm,cortex-a15",
    // hv-static is linked here; QEMU (and U-Boot's bootz, when the script loads it elsewhere) starts it where it
    // was loaded, and it moves itself here. Its device tree goes 128 MiB into RAM (see `BootDtb::QemuRaw32`).
    hv_load_addr: RAM_BASE + 2 * MIB,
    hv_budget: 2 * MIB,
    boot_dtb: BootDtb::QemuRaw32,
    qemu: Some(Qemu {
        binary: "qemu-system-arm",
        package: "qemu-system-arm",
        machine: "virt",
        machine_options: qemu_virt::MACHINE_OPTIONS,
        gic_version_option: true,
        // The board has no GICv3 (checking a config refuses one): this model is never used with one.
        cpu_gicv3: "cortex-a15",
        cpu_gicv2: "cortex-a15",
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
    use crate::{Irq, Mmio, NotPassthrough, QemuRun, UBootEnv};
    use alloc::vec::Vec;

    #[test]
    fn memory_map() {
        let b = &BOARD;
        assert_eq!(b.arch, Arch::Aarch32);
        assert_eq!((b.arch.rust_target(), b.arch.hv_rust_target()), ("armv7a-none-eabi", "armv7a-none-eabi"));
        assert_eq!((b.ram_base, b.ram_size, b.max_ram_size), (0x4000_0000, 0x4000_0000, 0xC000_0000));
        assert_eq!(b.max_cpus, 8);
        assert_eq!(b.default_uart().base, 0x0900_0000);
        assert_eq!(b.default_uart().irq, Irq::Spi(1));
        assert_eq!((b.hv_load_addr, b.hv_budget), (0x4020_0000, 0x20_0000));
        assert_eq!(b.gic.maintenance_intid, 25);
        assert_eq!(b.gic.default_version, GicVersion::V2);
        assert_eq!(b.gic.versions(), [GicVersion::V2]);
        assert!(!b.gic.supports(GicVersion::V3));
        let v2 = b.gic.v2.unwrap();
        assert_eq!((v2.gicd, v2.gicc, v2.gich, v2.gicv), (0x0800_0000, 0x0801_0000, 0x0803_0000, 0x0804_0000));
        assert_eq!(b.cpu_compatible, "arm,cortex-a15");
        assert_eq!(b.cpu_mpidr(3), 3);
        // The whole of RAM is below 4 GiB.
        assert!(b.ram_end(b.max_ram_size) <= 1 << 32);
    }

    #[test]
    fn passthrough_devices_are_virt_s() {
        let uart = BOARD.default_uart();
        assert_eq!(BOARD.passthrough("/pl031@9010000", uart).unwrap().spis, [34]);
        assert_eq!(BOARD.passthrough("/pl061@9030000", uart).unwrap().regs, [Mmio { base: 0x0903_0000, size: 0x1000 }]);
        assert_eq!(BOARD.passthrough("/pl011@9000000", uart), Err(NotPassthrough::Console(uart)));
        assert!(matches!(BOARD.passthrough("/intc@8000000", uart), Err(NotPassthrough::Reserved(_))));
    }

    #[test]
    fn boot_dtb_stays_128_mib_in() {
        let image = Mmio { base: BOARD.hv_load_addr, size: 2 * MIB + 0x6000 };
        let r = BOARD.boot_dtb.region(BOARD.ram_base, GIB, image);
        assert_eq!((r.base, r.size), (0x4800_0000, 2 * MIB));
    }

    #[test]
    fn qemu_command_line() {
        let args = BOARD
            .qemu_args(&QemuRun { gic: GicVersion::V2, cpus: 2, ram_size: GIB, kernel: "out/x/hv-static.img" })
            .unwrap();
        assert_eq!(
            args.join(" "),
            "qemu-system-arm -M virt,virtualization=on,dtb-randomness=off,gic-version=2 -cpu cortex-a15 -smp 2 \
             -m 1G -nographic -kernel out/x/hv-static.img"
        );
        let small: Vec<_> =
            BOARD.qemu_args(&QemuRun { gic: GicVersion::V2, cpus: 1, ram_size: 512 * MIB, kernel: "k" }).unwrap();
        assert!(small.contains(&"512M".into()));
    }

    #[test]
    fn uboot() {
        let u = BOARD.uboot.unwrap();
        assert_eq!(u.binary, "/usr/lib/u-boot/qemu_arm/u-boot.bin");
        assert_eq!((u.kernel_addr_r, u.scriptaddr, u.fdt_addr_r), (0x4040_0000, 0x4020_0000, None));
        assert_eq!((u.boot_command, u.fdt_variable), (BootCommand::Bootz, "fdtcontroladdr"));
        assert_eq!(u.boot_command.name(), "bootz");
        assert_eq!(u.env.size(), 0x4_0000);
        assert!(matches!(u.env, UBootEnv::Flash { qemu_flash: Some(_), .. }));
        let args = BOARD
            .qemu_uboot_args(&QemuRun { gic: GicVersion::V2, cpus: 2, ram_size: GIB, kernel: "" }, "sd.img")
            .unwrap();
        assert_eq!(
            args.join(" "),
            "qemu-system-arm -M virt,virtualization=on,dtb-randomness=off,gic-version=2 -cpu cortex-a15 -smp 2 \
             -m 1G -nographic -bios /usr/lib/u-boot/qemu_arm/u-boot.bin \
             -drive if=none,file=sd.img,format=raw,id=sd -device virtio-blk-device,drive=sd"
        );
    }
}
