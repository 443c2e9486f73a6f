//! QEMU's Xilinx Versal virtual board (`-M xlnx-versal-virt`, hw/arm/xlnx-versal-virt.c): the Versal ACAP's APU,
//! two Cortex-A72s with a GICv3 (GIC-500), its two PL011s, and DDR from address 0.
//!
//! QEMU starts `-kernel` at EL2 and answers PSCI calls made with SMC (it models no EL3), so `CPU_ON` starts the
//! second A72. The machine always has its two A72s (`-cpu` and `-smp` are ignored); `-m` sets the low DDR bank
//! (up to 2 GiB at 0; more goes to a second bank at 0x8_0000_0000, which hv-static does not use). QEMU builds the
//! device tree (`-M xlnx-versal-virt,dumpdtb=FILE`); every address below is read from it.

use crate::{
    Arch, Board, BootDtb, Clock, CpuStart, Device, Gic, GicV3Frames, GicVersion, Irq, Mmio, Qemu, QemuShape, Reserved,
    TimerIrqs, Uart, UartKind, GIB, KIB, MIB,
};

/// Start of the low DDR bank.
pub const RAM_BASE: u64 = 0;

/// The APU's first PL011, `/uart@ff000000` (the console the device tree's `stdout-path` names).
pub const UART0: Uart = Uart {
    name: "uart0",
    path: "/uart@ff000000",
    kind: UartKind::Pl011,
    base: 0xFF00_0000,
    size: 4 * KIB,
    irq: Irq::Spi(18),
};

/// The 125 MHz fixed clock (`/clk125`) QEMU's tree feeds both PL011s from, as `uartclk` and `apb_pclk`.
const CLK125: u32 = 125_000_000;

/// The second PL011, `/uart@ff010000`: a device a partition may own (QEMU connects it to its second `-serial`).
pub const UART1: Device = Device {
    path: "/uart@ff010000",
    description: "PL011 UART (the APU's second)",
    regs: &[Mmio { base: 0xFF01_0000, size: 4 * KIB }],
    spis: &[Irq::Spi(19).intid()],
    compatible: &["arm,pl011", "arm,sbsa-uart"],
    clocks: &[Clock { name: "uartclk", hz: CLK125 }, Clock { name: "apb_pclk", hz: CLK125 }],
    props: &[],
    // A UART without its DMA requests wired: registers only.
    dma: false,
};

/// The GIC-500: distributor and the redistributors of both A72s (`/gic@f9000000`).
pub const GIC_V3: GicV3Frames = GicV3Frames { gicd: 0xF900_0000, gicr: 0xF908_0000, gicr_stride: 0x2_0000 };

/// The GIC, which is never passed through.
pub const GIC_RESERVED: Reserved = Reserved::gic(
    "/gic@f9000000",
    // The distributor's 64 KiB and the redistributor region the tree gives (512 KiB).
    &[Mmio { base: 0xF900_0000, size: 64 * KIB }, Mmio { base: 0xF908_0000, size: 512 * KIB }],
);

/// The board as the image builder uses it.
pub static BOARD: Board = Board {
    name: "xlnx-versal-virt",
    description: "QEMU Xilinx Versal virt (2x cortex-a72, GICv3), EL2",
    arch: Arch::Aarch64,
    ram_base: RAM_BASE,
    ram_size: GIB,
    // The low DDR bank.
    max_ram_size: 2 * GIB,
    max_cpus: 2,
    uarts: &[UART0],
    gic: Gic { default_version: GicVersion::V3, v3: Some(GIC_V3), v2: None, maintenance_intid: Irq::Ppi(9).intid() },
    timer: TimerIrqs::SBSA,
    cpu_compatible: "arm,cortex-a72",
    // QEMU loads an arm64 Image at RAM base + its text_offset and writes its boot stub at RAM base, below it; the
    // device tree goes where `BootDtb::Qemu` says.
    hv_load_addr: RAM_BASE + 2 * MIB,
    hv_budget: 2 * MIB,
    boot_dtb: BootDtb::Qemu,
    qemu: Some(Qemu {
        binary: "qemu-system-aarch64",
        package: "qemu-system-arm",
        machine: "xlnx-versal-virt",
        machine_options: &[],
        gic_version_option: false,
        cpu_gicv3: "cortex-a72",
        cpu_gicv2: "cortex-a72",
        kernel_boot: true,
        kernel_dtb: true,
        shape: QemuShape::FixedCpus,
        secure_option: false,
        extra_args: &[],
        serials: &[UART0.path, UART1.path],
        dtb: None,
        backports: false,
    }),
    uboot: None,
    devices: &[UART1],
    reserved: &[GIC_RESERVED],
    cpu_start: CpuStart::Psci,
    // QEMU gives the machine eight virtio-mmio transports (at 0xa000_0000, edge-triggered SPIs 111-118); hv-static
    // does not serve its board disk or network from them yet.
    host_disk: false,
    host_net: false,
    virtio_mmio: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QemuRun;
    use alloc::format;

    #[test]
    fn memory_map() {
        let b = &BOARD;
        assert_eq!((b.ram_base, b.hv_load_addr, b.hv_text_offset()), (0, 0x20_0000, 0x20_0000));
        assert_eq!(b.default_uart().base, 0xFF00_0000);
        assert_eq!(b.default_uart().irq.intid(), 50);
        assert_eq!(b.gic.versions(), [GicVersion::V3]);
        assert_eq!(b.timer.hyp_phys, 26);
        // Both redistributors inside the reserved region.
        let gic = &GIC_RESERVED.regs[1];
        assert!(GIC_V3.gicr >= gic.base && GIC_V3.gicr + 2 * GIC_V3.gicr_stride <= gic.end());
    }

    #[test]
    fn the_second_uart_may_be_passed_through() {
        let b = &BOARD;
        let d = b.passthrough("/uart@ff010000", &UART0).unwrap();
        assert_eq!((d.regs[0].base, d.spis), (0xFF01_0000, &[51][..]));
        assert_eq!(b.passthrough("/uart@ff000000", &UART0), Err(crate::NotPassthrough::Console(&UART0)));
        assert!(b.passthrough("/gic@f9000000", &UART0).is_err());
    }

    #[test]
    fn qemu_command_line_chooses_only_the_ram() {
        let args = BOARD
            .qemu_args(&QemuRun { gic: GicVersion::V3, cpus: 2, ram_size: GIB, kernel: "hv.img" })
            .unwrap()
            .join(" ");
        assert_eq!(args, "qemu-system-aarch64 -M xlnx-versal-virt -m 1G -nographic -kernel hv.img");
    }

    #[test]
    fn a_passed_through_uart_gets_qemus_second_serial() {
        let file = |path: &str| format!("out{path}.txt");
        assert_eq!(
            BOARD.qemu_serial_args(UART0.path, &["/uart@ff010000"], file).join(" "),
            "-serial mon:stdio -serial file:out/uart@ff010000.txt"
        );
        assert!(BOARD.qemu_serial_args(UART0.path, &[], file).is_empty(), "the console alone: -nographic's default");
    }
}
