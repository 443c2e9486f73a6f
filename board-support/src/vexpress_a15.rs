//! Arm's Versatile Express with the CoreTile Express A15x2 (V2P-CA15) daughterboard, as QEMU 7.2 emulates it
//! (`qemu-system-arm -M vexpress-a15`, hw/arm/vexpress.c; `info mtree` shows the map).
//!
//! The Cortex-A15 cluster's private region holds the GICv2 with the virtualization extensions; the motherboard's
//! peripherals (UARTs, RTC, system registers) sit in the 0x1C00_0000 window and RAM starts at 2 GiB.
//!
//! The machine has the Security Extensions as a switch: with `secure=on` (QEMU's default, and what the real board
//! does out of reset) every CPU starts in Secure SVC mode and hv-static's monitor trampoline takes it to
//! Non-secure Hyp mode; with `secure=off` the CPUs have no Secure state and start in Hyp mode directly.
//! `virtualization` defaults to the value of `secure`, so the command line always turns it on.
//!
//! QEMU generates no device tree for this machine: booting a raw image it passes an ATAG list in `r2` (at RAM
//! base + 0x100) unless `-dtb` names a tree, which then goes where [`BootDtb::QemuRaw32`] says. hv-static treats
//! anything but a device tree in `r2` as "no tree". There is no PSCI: QEMU's boot stub (in SRAM at 0x1400_0000)
//! parks the other CPUs in WFI polling the system register block's SYS_FLAGS, as Arm's boot monitor does
//! ([`CpuStart::SysFlags`]).

use crate::{
    Arch, Board, BootDtb, Clock, CpuStart, Device, Gic, GicV2Frames, GicVersion, Irq, Mmio, Qemu, Reserved, TimerIrqs,
    Uart, UartKind, GIB, KIB, MIB,
};

/// Start of RAM (the daughterboard's DDR; QEMU's `vexpress.highmem`).
pub const RAM_BASE: u64 = 0x8000_0000;

/// The motherboard's system registers (`arm-sysctl`).
pub const SYSREGS: u64 = 0x1C01_0000;
/// SYS_FLAGSSET: writing sets bits of SYS_FLAGS, the register the parked CPUs poll (reading returns SYS_FLAGS).
pub const SYS_FLAGSSET: u64 = SYSREGS + 0x30;
/// SYS_FLAGSCLR: writing clears bits of SYS_FLAGS.
pub const SYS_FLAGSCLR: u64 = SYSREGS + 0x34;

/// The 24 MHz reference clock the motherboard's PrimeCell peripherals run from (`v2m:oscclk2`).
const OSCCLK2: Clock = Clock { name: "apb_pclk", hz: 24_000_000 };

/// UART0 of the motherboard, the default console (QEMU's first serial port).
pub const UART0: Uart = Uart {
    name: "uart0",
    path: "/pl011@1c090000",
    kind: UartKind::Pl011,
    base: 0x1C09_0000,
    size: 4 * KIB,
    irq: Irq::Spi(5),
};

/// The motherboard's PL031 real-time clock.
pub const PL031: Device = Device {
    path: "/pl031@1c170000",
    description: "PL031 real-time clock",
    regs: &[Mmio { base: 0x1C17_0000, size: 4 * KIB }],
    spis: &[Irq::Spi(4).intid()],
    compatible: &["arm,pl031", "arm,primecell"],
    clocks: &[OSCCLK2],
    props: &[],
    // An RTC or GPIO block: registers only, no bus master.
    dma: false,
};

/// The A15 cluster's GICv2 (PERIPHBASE 0x2C00_0000): distributor at +0x1000, CPU interface at +0x2000 (8 KiB),
/// virtual interface control at +0x4000 (its per-CPU aliases at +0x5000 are not used), virtual CPU interface at
/// +0x6000.
pub const GIC_V2: GicV2Frames =
    GicV2Frames { gicd: 0x2C00_1000, gicc: 0x2C00_2000, gich: 0x2C00_4000, gicv: 0x2C00_6000 };

/// The interrupt controller, which is never passed through: the cluster's whole 32 KiB private region.
pub const GIC_RESERVED: Reserved = Reserved {
    path: "/interrupt-controller@2c001000",
    what: "the GIC",
    why: crate::qemu_virt::GIC_RESERVED.why,
    regs: &[Mmio { base: 0x2C00_0000, size: 32 * KIB }],
};

/// The system registers, which hv-static uses to start the other CPUs.
pub const SYSREGS_RESERVED: Reserved = Reserved {
    path: "/sysreg@1c010000",
    what: "the system registers",
    why: "hv-static starts the other CPUs through SYS_FLAGS, and a partition could restart or power off the board",
    regs: &[Mmio { base: SYSREGS, size: 4 * KIB }],
};

/// The board as the image builder uses it.
pub static BOARD: Board = Board {
    name: "vexpress-a15",
    description: "Arm Versatile Express V2P-CA15 (cortex-a15 with GICv2), Secure SVC or Hyp mode at reset",
    arch: Arch::Aarch32,
    ram_base: RAM_BASE,
    // The size the image builder runs QEMU with unless a config overrides it.
    ram_size: GIB,
    // RAM up to the end of the 32-bit physical address space (QEMU puts more above 4 GiB, which hv-static's
    // Hyp-mode map does not reach).
    max_ram_size: 2 * GIB,
    // The daughterboard's cluster has at most 4 CPUs (QEMU refuses `-smp 5`).
    max_cpus: 4,
    uarts: &[UART0],
    gic: Gic { default_version: GicVersion::V2, v3: None, v2: Some(GIC_V2), maintenance_intid: Irq::Ppi(9).intid() },
    timer: TimerIrqs::SBSA,
    cpu_compatible: "arm,cortex-a15",
    // QEMU loads the image at RAM base + 64 KiB and it moves itself here, as on qemu-virt-a15.
    hv_load_addr: RAM_BASE + 2 * MIB,
    hv_budget: 2 * MIB,
    // Only with `-dtb`; by default QEMU passes ATAGs below the image, which need no room kept.
    boot_dtb: BootDtb::QemuRaw32,
    qemu: Some(Qemu {
        binary: "qemu-system-arm",
        package: "qemu-system-arm",
        machine: "vexpress-a15",
        machine_options: &["secure=on", "virtualization=on"],
        gic_version_option: false,
        // The board has no GICv3 (checking a config refuses one): this model is never used with one.
        cpu_gicv3: "cortex-a15",
        cpu_gicv2: "cortex-a15",
        kernel_boot: true,
        kernel_dtb: false,
        shape: crate::QemuShape::Free,
        secure_option: true,
        // The motherboard's PL041 audio codec would try every host audio backend at start-up and complain about
        // each on stderr: give it a silent one.
        extra_args: &["-audiodev", "none,id=snd0", "-global", "pl041.audiodev=snd0"],
        serials: &[UART0.path],
        dtb: None,
        backports: false,
    }),
    uboot: None,
    devices: &[PL031],
    reserved: &[GIC_RESERVED, SYSREGS_RESERVED],
    cpu_start: CpuStart::SysFlags { set: SYS_FLAGSSET, clear: SYS_FLAGSCLR },
    // No block or network device of its own that hv-static could share.
    host_disk: false,
    host_net: false,
    virtio_mmio: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NotPassthrough, QemuRun};
    use alloc::string::String;
    use alloc::vec::Vec;

    #[test]
    fn memory_map() {
        let b = &BOARD;
        assert_eq!(b.arch, Arch::Aarch32);
        assert_eq!((b.ram_base, b.ram_size, b.max_ram_size), (0x8000_0000, 0x4000_0000, 0x8000_0000));
        assert!(b.ram_end(b.max_ram_size) <= 1 << 32);
        assert_eq!(b.max_cpus, 4);
        assert_eq!((b.default_uart().base, b.default_uart().irq), (0x1C09_0000, Irq::Spi(5)));
        assert_eq!(b.default_uart().irq.intid(), 37);
        assert_eq!((b.hv_load_addr, b.hv_budget), (0x8020_0000, 0x20_0000));
        assert_eq!(b.gic.versions(), [GicVersion::V2]);
        let v2 = b.gic.v2.unwrap();
        assert_eq!((v2.gicd, v2.gicc, v2.gich, v2.gicv), (0x2C00_1000, 0x2C00_2000, 0x2C00_4000, 0x2C00_6000));
        assert_eq!(b.gic.maintenance_intid, 25);
        assert_eq!((b.timer.virt, b.timer.hyp_phys, b.timer.nonsecure_phys), (27, 26, 30));
        assert_eq!(b.cpu_mpidr(2), 2);
        // The GIC frames lie below RAM, where hv-static's Hyp-mode map has device memory.
        assert!(v2.gicv + 8 * KIB <= b.ram_base);
    }

    #[test]
    fn secondaries_start_through_sys_flags() {
        assert_eq!(BOARD.cpu_start, CpuStart::SysFlags { set: 0x1C01_0030, clear: 0x1C01_0034 });
        // The registers lie in a page the hypervisor keeps and maps as device memory (below RAM).
        let page = BOARD.reserved.iter().find(|r| r.what == "the system registers").unwrap().regs[0];
        assert!(page.overlaps(SYS_FLAGSSET, 4) && page.overlaps(SYS_FLAGSCLR, 4));
        assert!(page.end() <= BOARD.ram_base);
    }

    #[test]
    fn passthrough_devices() {
        let uart = BOARD.default_uart();
        let rtc = BOARD.passthrough("/pl031@1c170000", uart).unwrap();
        assert_eq!((rtc.regs[0].base, rtc.spis), (0x1C17_0000, &[36][..]));
        assert_eq!(BOARD.passthrough("/pl011@1c090000", uart), Err(NotPassthrough::Console(uart)));
        assert!(matches!(BOARD.passthrough("/interrupt-controller@2c001000", uart), Err(NotPassthrough::Reserved(_))));
        assert!(matches!(BOARD.passthrough("/sysreg@1c010000", uart), Err(NotPassthrough::Reserved(_))));
    }

    fn run() -> QemuRun<'static> {
        QemuRun { gic: GicVersion::V2, cpus: 2, ram_size: GIB, kernel: "out/x/hv-static.img" }
    }

    #[test]
    fn qemu_command_line_defaults_to_secure() {
        let args = BOARD.qemu_args(&run()).unwrap();
        assert_eq!(
            args.join(" "),
            "qemu-system-arm -M vexpress-a15,secure=on,virtualization=on -cpu cortex-a15 -smp 2 -m 1G -nographic \
             -audiodev none,id=snd0 -global pl041.audiodev=snd0 -kernel out/x/hv-static.img"
        );
        assert!(BOARD.uboot.is_none() && BOARD.qemu_uboot_args(&run(), "sd.img").is_none());
    }

    #[test]
    fn a_run_chooses_the_security_state() {
        let mut args = BOARD.qemu_args(&run()).unwrap();
        assert!(BOARD.qemu_set_secure(&mut args, false));
        assert_eq!(args[2], "vexpress-a15,virtualization=on,secure=off");
        assert!(BOARD.qemu_set_secure(&mut args, true));
        assert_eq!(args[2], "vexpress-a15,virtualization=on,secure=on");
        // A board whose QEMU model has no such switch is left alone.
        let mut virt: Vec<String> = crate::qemu_virt_a15::BOARD.qemu_args(&run()).unwrap();
        let before = virt.clone();
        assert!(!crate::qemu_virt_a15::BOARD.qemu_set_secure(&mut virt, false));
        assert_eq!(virt, before);
    }
}
