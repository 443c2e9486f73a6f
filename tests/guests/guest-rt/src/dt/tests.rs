use std::string::ToString;
use std::vec::Vec;

use vm_fdt::FdtWriter;

use super::*;

const QEMU_V3: &[u8] = include_bytes!("../../fixtures/qemu-virt-gicv3-smp2.dtb");
const QEMU_V2: &[u8] = include_bytes!("../../fixtures/qemu-virt-gicv2-smp2.dtb");

fn region(base: u64, size: u64) -> Region {
    Region { base, size }
}

#[test]
fn reads_qemu_virt_gicv3() {
    let p = Platform::parse(QEMU_V3).unwrap();
    assert_eq!(p.memory, region(0x4000_0000, 0x1000_0000));
    assert_eq!(p.uart, Some(region(0x0900_0000, 0x1000)));
    let gic = p.gic.unwrap();
    assert_eq!(gic.version, GicVersion::V3);
    assert_eq!(gic.distributor, region(0x0800_0000, 0x1_0000));
    assert_eq!(gic.per_cpu, region(0x080A_0000, 0xF6_0000));
    assert_eq!(p.timer_intid, Some(27));
    assert_eq!(p.rtc, Some(Device { reg: region(0x0901_0000, 0x1000), intid: Some(34) }), "SPI 2");
    assert_eq!(p.cpus(), [0, 1], "cpu-map is not a cpu");
    let virtio: Vec<Device> =
        (0..32).map(|n| Device { reg: region(0x0a00_0000 + n * 0x200, 0x200), intid: Some(48 + n as u32) }).collect();
    assert_eq!(p.virtio_mmio(), virtio, "all 32 transports, SPI 16 + n each");
    assert_eq!(p.bootargs, "");
    assert_eq!(p.partition_name, NATIVE);
    assert_eq!(p.abi_version, None);
}

#[test]
fn reads_qemu_virt_gicv2() {
    let p = Platform::parse(QEMU_V2).unwrap();
    let gic = p.gic.unwrap();
    assert_eq!(gic.version, GicVersion::V2);
    assert_eq!(gic.distributor, region(0x0800_0000, 0x1_0000));
    assert_eq!(gic.per_cpu, region(0x0801_0000, 0x1_0000));
    // GICv2 specifiers carry a CPU mask in the flags cell (0x304); the INTID must not see it.
    assert_eq!(p.timer_intid, Some(27));
    assert_eq!(p.rtc, Some(Device { reg: region(0x0901_0000, 0x1000), intid: Some(34) }));
    assert_eq!(p.cpus(), [0, 1]);
}

/// Options for a tree shaped like the one hv-static's image builder writes (docs/guest-abi.md).
struct Partition {
    gic: GicVersion,
    vcpus: u32,
    bootargs: Option<&'static str>,
    uarts: Vec<(u64, &'static str)>,
    stdout: Option<&'static str>,
    memory: bool,
    /// Passed-through PL031s: base, `interrupts` cells, status.
    rtcs: Vec<(u64, [u32; 3], &'static str)>,
    /// virtio-mmio transports, as dom0-less writes them: base, SPI number, status (`None`: no property).
    virtio: Vec<(u64, u32, Option<&'static str>)>,
    /// Passed-through SoC UARTs, as copied from the board's tree: node name, compatibles, base, SPI number, status.
    aux_uarts: Vec<(&'static str, &'static [&'static str], u64, u32, &'static str)>,
}

impl Default for Partition {
    fn default() -> Self {
        Self {
            gic: GicVersion::V3,
            vcpus: 2,
            bootargs: Some("tick_ms=50 ticks=3"),
            uarts: vec![(0x0900_0000, "okay")],
            stdout: Some("/pl011@9000000"),
            memory: true,
            rtcs: vec![],
            virtio: vec![],
            aux_uarts: vec![],
        }
    }
}

impl Partition {
    fn build(&self) -> Vec<u8> {
        const GIC_PHANDLE: u32 = 1;
        let mut w = FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        w.property_string("compatible", "hv-static,partition").unwrap();
        w.property_u32("interrupt-parent", GIC_PHANDLE).unwrap();

        if self.memory {
            let mem = w.begin_node("memory@40000000").unwrap();
            w.property_string("device_type", "memory").unwrap();
            w.property_array_u64("reg", &[0x4000_0000, 0x400_0000]).unwrap();
            w.end_node(mem).unwrap();
        }

        let cpus = w.begin_node("cpus").unwrap();
        w.property_u32("#address-cells", 1).unwrap();
        w.property_u32("#size-cells", 0).unwrap();
        for n in 0..self.vcpus {
            let cpu = w.begin_node(&format!("cpu@{n}")).unwrap();
            w.property_string("device_type", "cpu").unwrap();
            w.property_string("compatible", "arm,armv8").unwrap();
            w.property_u32("reg", n).unwrap();
            w.property_string("enable-method", "psci").unwrap();
            w.end_node(cpu).unwrap();
        }
        w.end_node(cpus).unwrap();

        let psci = w.begin_node("psci").unwrap();
        w.property_string_list("compatible", vec!["arm,psci-1.0".into(), "arm,psci-0.2".into()]).unwrap();
        w.property_string("method", "hvc").unwrap();
        w.end_node(psci).unwrap();

        let intc = w.begin_node("intc@8000000").unwrap();
        let (compatible, reg, cpu_mask) = match self.gic {
            GicVersion::V3 => ("arm,gic-v3", [0x0800_0000, 0x1_0000, 0x080A_0000, 0x2_0000 * u64::from(self.vcpus)], 0),
            GicVersion::V2 => {
                ("arm,cortex-a15-gic", [0x0800_0000, 0x1000, 0x0801_0000, 0x2000], ((1 << self.vcpus) - 1) << 8)
            }
        };
        w.property_string("compatible", compatible).unwrap();
        w.property_array_u64("reg", &reg).unwrap();
        if self.gic == GicVersion::V3 {
            w.property_u32("#redistributor-regions", 1).unwrap();
        }
        w.property_null("interrupt-controller").unwrap();
        w.property_u32("#interrupt-cells", 3).unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        w.property_phandle(GIC_PHANDLE).unwrap();
        w.end_node(intc).unwrap();

        let timer = w.begin_node("timer").unwrap();
        w.property_string("compatible", "arm,armv8-timer").unwrap();
        let flags = 0x4 | cpu_mask;
        w.property_array_u32("interrupts", &[1, 13, flags, 1, 14, flags, 1, 11, flags, 1, 10, flags]).unwrap();
        w.property_null("always-on").unwrap();
        w.end_node(timer).unwrap();

        for (base, status) in &self.uarts {
            let uart = w.begin_node(&format!("pl011@{base:x}")).unwrap();
            w.property_string_list("compatible", vec!["arm,pl011".into(), "arm,primecell".into()]).unwrap();
            w.property_array_u64("reg", &[*base, 0x1000]).unwrap();
            w.property_array_u32("interrupts", &[0, 1, 4]).unwrap();
            w.property_string("status", status).unwrap();
            w.end_node(uart).unwrap();
        }

        for (base, interrupts, status) in &self.rtcs {
            let rtc = w.begin_node(&format!("pl031@{base:x}")).unwrap();
            w.property_string_list("compatible", vec!["arm,pl031".into(), "arm,primecell".into()]).unwrap();
            w.property_array_u64("reg", &[*base, 0x1000]).unwrap();
            w.property_array_u32("interrupts", interrupts).unwrap();
            w.property_string("status", status).unwrap();
            w.end_node(rtc).unwrap();
        }

        for (base, spi, status) in &self.virtio {
            let virtio = w.begin_node(&format!("virtio_mmio@{base:x}")).unwrap();
            w.property_string("compatible", "virtio,mmio").unwrap();
            w.property_array_u64("reg", &[*base, 0x200]).unwrap();
            w.property_array_u32("interrupts", &[0, *spi, 4]).unwrap();
            w.property_null("dma-coherent").unwrap();
            if let Some(status) = status {
                w.property_string("status", status).unwrap();
            }
            w.end_node(virtio).unwrap();
        }

        for (name, compatible, base, spi, status) in &self.aux_uarts {
            let uart = w.begin_node(name).unwrap();
            w.property_string_list("compatible", compatible.iter().map(|c| c.to_string()).collect()).unwrap();
            w.property_array_u64("reg", &[*base, 0x1000]).unwrap();
            w.property_array_u32("interrupts", &[0, *spi, 4]).unwrap();
            w.property_string("status", status).unwrap();
            w.end_node(uart).unwrap();
        }

        let chosen = w.begin_node("chosen").unwrap();
        if let Some(bootargs) = self.bootargs {
            w.property_string("bootargs", bootargs).unwrap();
        }
        if let Some(stdout) = self.stdout {
            w.property_string("stdout-path", stdout).unwrap();
        }
        w.end_node(chosen).unwrap();

        let hv = w.begin_node("hypervisor").unwrap();
        w.property_string("compatible", "hv-static,hypervisor").unwrap();
        w.property_string("partition-name", "rt0").unwrap();
        w.property_u32("partition-id", 1).unwrap();
        w.property_array_u32("abi-version", &[1, 0]).unwrap();
        w.end_node(hv).unwrap();

        w.end_node(root).unwrap();
        w.finish().unwrap()
    }
}

#[test]
fn reads_an_hv_static_gicv3_partition() {
    let dtb = Partition::default().build();
    let p = Platform::parse(&dtb).unwrap();
    assert_eq!(p.memory, region(0x4000_0000, 0x400_0000));
    assert_eq!(p.uart, Some(region(0x0900_0000, 0x1000)));
    assert_eq!(
        p.gic,
        Some(GicInfo {
            version: GicVersion::V3,
            distributor: region(0x0800_0000, 0x1_0000),
            per_cpu: region(0x080A_0000, 0x4_0000),
            interrupt_cells: 3,
        })
    );
    assert_eq!(p.timer_intid, Some(27));
    assert_eq!(p.rtc, None, "no device is passed through");
    assert_eq!(p.cpus(), [0, 1]);
    assert_eq!(p.partition_name, "rt0");
    assert_eq!(p.abi_version, Some((1, 0)));
    assert_eq!(p.bootargs, "tick_ms=50 ticks=3");
    assert_eq!(p.bootarg("ticks"), Some("3"));
}

#[test]
fn reads_an_hv_static_gicv2_partition() {
    let dtb = Partition { gic: GicVersion::V2, vcpus: 4, bootargs: None, ..Default::default() }.build();
    let p = Platform::parse(&dtb).unwrap();
    let gic = p.gic.unwrap();
    assert_eq!(gic.version, GicVersion::V2);
    assert_eq!(gic.per_cpu, region(0x0801_0000, 0x2000));
    assert_eq!(p.timer_intid, Some(27), "the 0xf04 CPU mask stays out of the INTID");
    assert_eq!(p.cpus(), [0, 1, 2, 3]);
    assert_eq!(p.bootargs, "");
}

#[test]
fn finds_a_passed_through_pl031_and_its_spi() {
    let rtc = |rtcs| Platform::parse(&Partition { rtcs, ..Default::default() }.build()).unwrap().rtc;
    let spi_5 = [0, 5, 4];
    assert_eq!(
        rtc(vec![(0x0901_0000, spi_5, "okay")]),
        Some(Device { reg: region(0x0901_0000, 0x1000), intid: Some(37) }),
        "SPI 5 is INTID 37"
    );
    assert_eq!(
        rtc(vec![(0x0901_0000, spi_5, "disabled"), (0x0902_0000, [0, 6, 1], "okay")]).map(|d| (d.reg.base, d.intid)),
        Some((0x0902_0000, Some(38))),
        "a disabled one is skipped; edge flags do not matter"
    );
    assert_eq!(rtc(vec![(0x0901_0000, [2, 0, 4], "okay")]).unwrap().intid, None, "not an SPI or PPI");
    assert_eq!(rtc(vec![(0x0901_0000, [0, 988, 4], "okay")]).unwrap().intid, None, "INTID 1020 is special");

    let gicv2 = Partition { gic: GicVersion::V2, rtcs: vec![(0x0901_0000, spi_5, "okay")], ..Default::default() };
    assert_eq!(Platform::parse(&gicv2.build()).unwrap().rtc.unwrap().intid, Some(37));
}

#[test]
fn lists_virtio_mmio_transports_in_tree_order() {
    let transports = |virtio| {
        let dtb = Partition { virtio, ..Default::default() }.build();
        Platform::parse(&dtb).unwrap().virtio_mmio().to_vec()
    };
    assert_eq!(transports(vec![]), [], "a partition without PV devices");

    let three = vec![(0x0a00_0200, 17, None), (0x0a00_0000, 16, Some("okay")), (0x0a00_0400, 18, Some("disabled"))];
    assert_eq!(
        transports(three),
        [
            Device { reg: region(0x0a00_0200, 0x200), intid: Some(49) },
            Device { reg: region(0x0a00_0000, 0x200), intid: Some(48) },
        ],
        "tree order, not address order; a disabled transport is left out"
    );

    let many = (0..MAX_VIRTIO_MMIO as u64 + 3).map(|n| (0x0a00_0000 + n * 0x200, 16 + n as u32, None)).collect();
    let kept = transports(many);
    assert_eq!(kept.len(), MAX_VIRTIO_MMIO, "the ones past the limit are dropped");
    assert_eq!(kept.last().unwrap().reg.base, 0x0a00_0000 + (MAX_VIRTIO_MMIO as u64 - 1) * 0x200);
}

const VERSAL_UART1: (&str, &[&str], u64, u32, &str) =
    ("uart@ff010000", &["arm,pl011", "arm,primecell"], 0xff01_0000, 19, "okay");
const ZCU102_UART1: (&str, &[&str], u64, u32, &str) =
    ("serial@ff010000", &["cdns,uart-r1p12", "xlnx,xuartps"], 0xff01_0000, 22, "okay");

fn aux_uart_of(partition: Partition) -> Option<AuxUart> {
    Platform::parse(&partition.build()).unwrap().aux_uart
}

#[test]
fn the_console_pl011_is_not_an_aux_uart() {
    assert_eq!(aux_uart_of(Partition::default()), None, "only the emulated console");
    assert_eq!(Platform::parse(QEMU_V3).unwrap().aux_uart, None, "QEMU virt has one non-secure PL011");
    assert_eq!(Platform::parse(QEMU_V2).unwrap().aux_uart, None);
}

#[test]
fn finds_a_passed_through_pl011_and_its_spi() {
    let versal = Partition { aux_uarts: vec![VERSAL_UART1], ..Default::default() };
    let aux = aux_uart_of(versal).unwrap();
    assert_eq!(aux.kind, AuxUartKind::Pl011);
    assert_eq!(aux.device, Device { reg: region(0xff01_0000, 0x1000), intid: Some(51) }, "SPI 19 is INTID 51");
    assert_eq!(aux.kind.to_string(), "pl011");

    // Natively the console can be any PL011: the one stdout-path names is skipped wherever it is in the tree.
    let two = vec![(0x0900_0000, "okay"), (0x0904_0000, "okay")];
    let second_is_console = Partition { uarts: two, stdout: Some("/pl011@9040000:115200n8"), ..Default::default() };
    let aux = aux_uart_of(second_is_console).unwrap();
    assert_eq!((aux.kind, aux.device.reg.base, aux.device.intid), (AuxUartKind::Pl011, 0x0900_0000, Some(33)));
}

#[test]
fn finds_a_passed_through_cadence_uart() {
    let zcu102 = Partition { aux_uarts: vec![ZCU102_UART1], ..Default::default() };
    let aux = aux_uart_of(zcu102).unwrap();
    assert_eq!(aux.kind, AuxUartKind::Cadence);
    assert_eq!(aux.device, Device { reg: region(0xff01_0000, 0x1000), intid: Some(54) }, "SPI 22 is INTID 54");
    assert_eq!(aux.kind.to_string(), "cadence");

    let xuartps_only = ("serial@ff010000", &["xlnx,xuartps"][..], 0xff01_0000, 22, "okay");
    assert_eq!(
        aux_uart_of(Partition { aux_uarts: vec![xuartps_only], ..Default::default() }).unwrap().kind,
        AuxUartKind::Cadence
    );

    let both = Partition { aux_uarts: vec![ZCU102_UART1, VERSAL_UART1], ..Default::default() };
    assert_eq!(aux_uart_of(both).unwrap().kind, AuxUartKind::Pl011, "a PL011 first, wherever it is");
}

#[test]
fn a_disabled_aux_uart_is_ignored() {
    let disabled = |(name, compatible, base, spi, _)| (name, compatible, base, spi, "disabled");
    let pl011_off = Partition { aux_uarts: vec![disabled(VERSAL_UART1)], ..Default::default() };
    assert_eq!(aux_uart_of(pl011_off), None);
    let cadence_off = Partition { aux_uarts: vec![disabled(ZCU102_UART1)], ..Default::default() };
    assert_eq!(aux_uart_of(cadence_off), None);

    let pl011_off_cadence_on =
        Partition { aux_uarts: vec![disabled(VERSAL_UART1), ZCU102_UART1], ..Default::default() };
    assert_eq!(aux_uart_of(pl011_off_cadence_on).unwrap().kind, AuxUartKind::Cadence);
    let console_off = vec![(0x0900_0000, "okay"), (0x0904_0000, "disabled")];
    assert_eq!(aux_uart_of(Partition { uarts: console_off, ..Default::default() }), None);
}

#[test]
fn console_follows_stdout_path_and_skips_disabled_uarts() {
    let two = vec![(0x0900_0000, "okay"), (0x0904_0000, "okay")];
    let dtb = Partition { uarts: two.clone(), stdout: Some("/pl011@9040000:115200n8"), ..Default::default() };
    assert_eq!(Platform::parse(&dtb.build()).unwrap().uart, Some(region(0x0904_0000, 0x1000)));

    let disabled_first = vec![(0x0900_0000, "disabled"), (0x0904_0000, "okay")];
    let dtb = Partition { uarts: disabled_first, stdout: None, ..Default::default() };
    assert_eq!(Platform::parse(&dtb.build()).unwrap().uart, Some(region(0x0904_0000, 0x1000)));

    let dtb = Partition { uarts: vec![], stdout: None, ..Default::default() };
    assert_eq!(Platform::parse(&dtb.build()).unwrap().uart, None);
}

#[test]
fn rejects_trees_a_guest_cannot_run_on() {
    assert_eq!(Platform::parse(&[0; 64]).unwrap_err(), DtError::Invalid(FdtError::BadMagic));
    let no_memory = Partition { memory: false, ..Default::default() }.build();
    assert_eq!(Platform::parse(&no_memory).unwrap_err(), DtError::NoMemory);
    let no_cpus = Partition { vcpus: 0, ..Default::default() }.build();
    assert_eq!(Platform::parse(&no_cpus).unwrap_err(), DtError::NoCpus);
    let too_many = Partition { vcpus: MAX_CPUS as u32 + 1, ..Default::default() }.build();
    assert_eq!(Platform::parse(&too_many).unwrap_err(), DtError::TooManyCpus(MAX_CPUS + 1));
    assert_eq!(DtError::TooManyCpus(9).to_string(), "9 cpus, guest-rt supports 8");
}

#[test]
fn regions_know_their_bounds() {
    let ram = region(0x4000_0000, 0x1000_0000);
    assert_eq!(ram.end(), 0x5000_0000);
    assert!(ram.contains(0x4000_0000) && ram.contains(0x4fff_ffff));
    assert!(!ram.contains(0x5000_0000) && !ram.contains(0x3fff_ffff));
    assert_eq!(region(u64::MAX - 1, 16).end(), u64::MAX, "saturates instead of wrapping");
}
