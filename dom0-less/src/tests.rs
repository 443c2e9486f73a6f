//! The device tree is parsed back with the `fdt` crate and every node and property is checked against
//! docs/guest-abi.md.

use super::*;
use alloc::{borrow::ToOwned, collections::BTreeMap, string::ToString};
use fdt::{node::FdtNode, Fdt};

fn demo(gic: GicVersion, vcpus: u32) -> PartitionDt {
    PartitionDt {
        name: "hello0".into(),
        id: 3,
        arch: Arch::Aarch64,
        cpu_compatible: "arm,armv8".into(),
        vcpus,
        ram_ipa: 0x4000_0000,
        ram_size: 64 << 20,
        gic,
        uart: Some(guest_map::UART),
        bootargs: "console=ttyAMA0 quiet".into(),
        initrd: None,
        devices: vec![],
        virtio: vec![],
        channels: vec![],
        watchdog: None,
        gpio_intid: None,
        manages: vec![],
    }
}

/// All properties of a node, by name.
fn props<'a>(node: FdtNode<'_, 'a>) -> BTreeMap<String, &'a [u8]> {
    node.properties().map(|p| (p.name.to_owned(), p.value)).collect()
}

fn cells(bytes: &[u8]) -> Vec<u32> {
    assert_eq!(bytes.len() % 4, 0, "property length {} is not a multiple of 4", bytes.len());
    bytes.chunks(4).map(|c| u32::from_be_bytes(c.try_into().unwrap())).collect()
}

fn u64s(bytes: &[u8]) -> Vec<u64> {
    cells(bytes).chunks(2).map(|c| (u64::from(c[0]) << 32) | u64::from(c[1])).collect()
}

fn strings(bytes: &[u8]) -> Vec<&str> {
    assert_eq!(bytes.last(), Some(&0), "string property is not NUL-terminated");
    core::str::from_utf8(&bytes[..bytes.len() - 1]).unwrap().split('\0').collect()
}

fn string(bytes: &[u8]) -> &str {
    let s = strings(bytes);
    assert_eq!(s.len(), 1, "expected one string, got {s:?}");
    s[0]
}

fn names<'a>(map: &'a BTreeMap<String, &[u8]>) -> Vec<&'a str> {
    map.keys().map(|k| k.as_str()).collect()
}

fn node<'b, 'a>(fdt: &'b Fdt<'a>, path: &str) -> FdtNode<'b, 'a> {
    fdt.find_node(path).unwrap_or_else(|| panic!("no node {path}"))
}

fn child_names(node: FdtNode<'_, '_>) -> Vec<String> {
    node.children().map(|c| c.name.to_string()).collect()
}

#[test]
fn root_and_top_level_nodes() {
    let blob = partition_dtb(&demo(GicVersion::V3, 1)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let root = fdt.find_node("/").unwrap();
    let p = props(root);
    assert_eq!(names(&p), ["#address-cells", "#size-cells", "compatible", "interrupt-parent"]);
    assert_eq!(cells(p["#address-cells"]), [2]);
    assert_eq!(cells(p["#size-cells"]), [2]);
    assert_eq!(string(p["compatible"]), "hv-static,partition");
    assert_eq!(cells(p["interrupt-parent"]), [PHANDLE_GIC]);
    assert_eq!(
        child_names(root),
        [
            "memory@40000000",
            "cpus",
            "psci",
            "intc@8000000",
            "timer",
            "apb-pclk",
            "pl011@9000000",
            "chosen",
            "hypervisor"
        ]
    );
}

#[test]
fn memory_node() {
    let mut dt = demo(GicVersion::V3, 1);
    dt.ram_ipa = 0x8000_0000;
    dt.ram_size = 0x1_0000_0000;
    let blob = partition_dtb(&dt).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let p = props(node(&fdt, "/memory@80000000"));
    assert_eq!(names(&p), ["device_type", "reg"]);
    assert_eq!(string(p["device_type"]), "memory");
    assert_eq!(u64s(p["reg"]), [0x8000_0000, 0x1_0000_0000]);
    let region = fdt.memory().regions().next().unwrap();
    assert_eq!(region.starting_address as usize, 0x8000_0000);
    assert_eq!(region.size, Some(0x1_0000_0000));
}

#[test]
fn cpus_use_psci_and_aff0_reg() {
    let blob = partition_dtb(&demo(GicVersion::V3, 3)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let cpus = node(&fdt, "/cpus");
    let p = props(cpus);
    assert_eq!(names(&p), ["#address-cells", "#size-cells"]);
    assert_eq!(cells(p["#address-cells"]), [1]);
    assert_eq!(cells(p["#size-cells"]), [0]);
    assert_eq!(child_names(cpus), ["cpu@0", "cpu@1", "cpu@2"]);
    for (n, cpu) in cpus.children().enumerate() {
        let p = props(cpu);
        assert_eq!(names(&p), ["compatible", "device_type", "enable-method", "reg"]);
        assert_eq!(string(p["device_type"]), "cpu");
        assert_eq!(string(p["compatible"]), "arm,armv8");
        assert_eq!(string(p["enable-method"]), "psci");
        assert_eq!(cells(p["reg"]), [n as u32]);
    }
    assert_eq!(fdt.cpus().count(), 3);
}

/// An ARMv7 partition (`qemu-virt-a15`): the same tree but for the CPU's and the timer's compatibles.
fn armv7(vcpus: u32) -> PartitionDt {
    PartitionDt { arch: Arch::Aarch32, cpu_compatible: "arm,cortex-a15".into(), ..demo(GicVersion::V2, vcpus) }
}

#[test]
fn armv7_partitions_name_their_cpu_and_the_armv7_timer() {
    let blob = partition_dtb(&armv7(2)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    // LPAE kernels take 64-bit addresses and sizes: the root keeps 2/2 cells.
    let root = props(node(&fdt, "/"));
    assert_eq!((cells(root["#address-cells"]), cells(root["#size-cells"])), (vec![2], vec![2]));
    for cpu in node(&fdt, "/cpus").children() {
        let p = props(cpu);
        assert_eq!(string(p["compatible"]), "arm,cortex-a15");
        assert_eq!(string(p["enable-method"]), "psci");
    }
    let timer = props(node(&fdt, "/timer"));
    assert_eq!(names(&timer), ["always-on", "compatible", "interrupts"]);
    assert_eq!(string(timer["compatible"]), "arm,armv7-timer");
    // The same four PPIs, with the GICv2 CPU mask.
    assert_eq!(cells(timer["interrupts"]), [1, 13, 0x304, 1, 14, 0x304, 1, 11, 0x304, 1, 10, 0x304]);
    let gic = props(node(&fdt, "/intc@8000000"));
    assert_eq!(string(gic["compatible"]), "arm,cortex-a15-gic");
    assert_eq!(u64s(gic["reg"]), [0x0800_0000, 0x1000, 0x0801_0000, 0x2000]);
    let psci = props(node(&fdt, "/psci"));
    assert_eq!(strings(psci["compatible"]), ["arm,psci-1.0", "arm,psci-0.2"]);
    assert_eq!(string(psci["method"]), "hvc");
}

#[test]
fn armv7_and_aarch64_trees_differ_only_in_those_compatibles() {
    let a32 = partition_dtb(&armv7(1)).unwrap();
    let a64 =
        partition_dtb(&PartitionDt { cpu_compatible: "arm,cortex-a15".into(), ..demo(GicVersion::V2, 1) }).unwrap();
    let (f32, f64) = (Fdt::new(&a32).unwrap(), Fdt::new(&a64).unwrap());
    let all = |f: &Fdt<'_>| -> Vec<(String, Vec<u8>)> {
        f.all_nodes()
            .flat_map(|n| n.properties().map(move |p| (format!("{}/{}", n.name, p.name), p.value.to_vec())))
            .collect()
    };
    let (p32, p64) = (all(&f32), all(&f64));
    assert_eq!(p32.len(), p64.len());
    let differ: Vec<&str> = p32.iter().zip(&p64).filter(|(a, b)| a != b).map(|(a, _)| a.0.as_str()).collect();
    assert_eq!(differ, ["timer/compatible"]);
}

#[test]
fn psci_uses_hvc() {
    let blob = partition_dtb(&demo(GicVersion::V3, 1)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let p = props(node(&fdt, "/psci"));
    assert_eq!(names(&p), ["compatible", "method"]);
    assert_eq!(strings(p["compatible"]), ["arm,psci-1.0", "arm,psci-0.2"]);
    assert_eq!(string(p["method"]), "hvc");
}

fn gic_common(p: &BTreeMap<String, &[u8]>) {
    assert_eq!(p["interrupt-controller"].len(), 0);
    assert_eq!(cells(p["#interrupt-cells"]), [3]);
    assert_eq!(cells(p["#address-cells"]), [2]);
    assert_eq!(cells(p["#size-cells"]), [2]);
    assert_eq!(cells(p["phandle"]), [PHANDLE_GIC]);
}

#[test]
fn gicv3_redistributors_sized_per_vcpu() {
    for vcpus in [1, 2, 4] {
        let blob = partition_dtb(&demo(GicVersion::V3, vcpus)).unwrap();
        let fdt = Fdt::new(&blob).unwrap();
        let p = props(node(&fdt, "/intc@8000000"));
        assert_eq!(
            names(&p),
            [
                "#address-cells",
                "#interrupt-cells",
                "#redistributor-regions",
                "#size-cells",
                "compatible",
                "interrupt-controller",
                "phandle",
                "reg"
            ]
        );
        assert_eq!(string(p["compatible"]), "arm,gic-v3");
        assert_eq!(u64s(p["reg"]), [0x0800_0000, 0x1_0000, 0x080A_0000, 0x2_0000 * u64::from(vcpus)]);
        assert_eq!(cells(p["#redistributor-regions"]), [1]);
        gic_common(&p);
    }
}

#[test]
fn gicv2_distributor_and_cpu_interface() {
    let blob = partition_dtb(&demo(GicVersion::V2, 2)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let p = props(node(&fdt, "/intc@8000000"));
    assert_eq!(
        names(&p),
        ["#address-cells", "#interrupt-cells", "#size-cells", "compatible", "interrupt-controller", "phandle", "reg"]
    );
    assert_eq!(string(p["compatible"]), "arm,cortex-a15-gic");
    assert_eq!(u64s(p["reg"]), [0x0800_0000, 0x1000, 0x0801_0000, 0x2000]);
    gic_common(&p);
}

#[test]
fn timer_ppis_gicv3() {
    let blob = partition_dtb(&demo(GicVersion::V3, 2)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let p = props(node(&fdt, "/timer"));
    assert_eq!(names(&p), ["always-on", "compatible", "interrupts"]);
    assert_eq!(string(p["compatible"]), "arm,armv8-timer");
    assert_eq!(cells(p["interrupts"]), [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]);
    assert_eq!(p["always-on"].len(), 0);
}

#[test]
fn timer_ppis_gicv2_carry_cpu_mask() {
    for (vcpus, flags) in [(1, 0x104), (2, 0x304), (4, 0xf04), (8, 0xff04)] {
        let blob = partition_dtb(&demo(GicVersion::V2, vcpus)).unwrap();
        let fdt = Fdt::new(&blob).unwrap();
        let p = props(node(&fdt, "/timer"));
        assert_eq!(cells(p["interrupts"]), [1, 13, flags, 1, 14, flags, 1, 11, flags, 1, 10, flags], "{vcpus} vCPUs");
    }
}

#[test]
fn pl011_with_clocks_and_chosen() {
    let blob = partition_dtb(&demo(GicVersion::V3, 1)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let clk = props(node(&fdt, "/apb-pclk"));
    assert_eq!(names(&clk), ["#clock-cells", "clock-frequency", "compatible", "phandle"]);
    assert_eq!(string(clk["compatible"]), "fixed-clock");
    assert_eq!(cells(clk["#clock-cells"]), [0]);
    assert_eq!(cells(clk["clock-frequency"]), [24_000_000]);
    assert_eq!(cells(clk["phandle"]), [PHANDLE_APB_PCLK]);

    let p = props(node(&fdt, "/pl011@9000000"));
    assert_eq!(names(&p), ["clock-names", "clocks", "compatible", "interrupts", "reg"]);
    assert_eq!(strings(p["compatible"]), ["arm,pl011", "arm,primecell"]);
    assert_eq!(u64s(p["reg"]), [0x0900_0000, 0x1000]);
    assert_eq!(cells(p["interrupts"]), [0, 1, 4]);
    assert_eq!(cells(p["clocks"]), [PHANDLE_APB_PCLK, PHANDLE_APB_PCLK]);
    assert_eq!(strings(p["clock-names"]), ["uartclk", "apb_pclk"]);

    let chosen = props(node(&fdt, "/chosen"));
    assert_eq!(names(&chosen), ["bootargs", "stdout-path"]);
    assert_eq!(string(chosen["bootargs"]), "console=ttyAMA0 quiet");
    assert_eq!(string(chosen["stdout-path"]), "/pl011@9000000");
    assert_eq!(fdt.chosen().stdout().map(|n| n.name), Some("pl011@9000000"));
}

#[test]
fn no_console_means_no_uart_and_no_stdout_path() {
    let mut dt = demo(GicVersion::V3, 1);
    dt.uart = None;
    dt.bootargs = String::new();
    let blob = partition_dtb(&dt).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    assert!(fdt.find_node("/pl011@9000000").is_none());
    let chosen = props(node(&fdt, "/chosen"));
    assert_eq!(names(&chosen), ["bootargs"]);
    assert_eq!(chosen["bootargs"], b"\0");
}

#[test]
fn initrd_in_chosen() {
    let mut dt = demo(GicVersion::V3, 1);
    dt.initrd = Some((0x4100_0000, 0x4180_0000));
    let blob = partition_dtb(&dt).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let chosen = props(node(&fdt, "/chosen"));
    assert_eq!(names(&chosen), ["bootargs", "linux,initrd-end", "linux,initrd-start", "stdout-path"]);
    assert_eq!(u64s(chosen["linux,initrd-start"]), [0x4100_0000]);
    assert_eq!(u64s(chosen["linux,initrd-end"]), [0x4180_0000]);

    dt.initrd = Some((0x3000_0000, 0x3100_0000));
    assert_eq!(partition_dtb(&dt), Err(Error::InitrdOutsideRam { start: 0x3000_0000, end: 0x3100_0000 }));
}

#[test]
fn hypervisor_node() {
    let blob = partition_dtb(&demo(GicVersion::V3, 1)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let p = props(node(&fdt, "/hypervisor"));
    assert_eq!(names(&p), ["abi-version", "compatible", "partition-id", "partition-name"]);
    assert_eq!(string(p["compatible"]), "hv-static,hypervisor");
    assert_eq!(string(p["partition-name"]), "hello0");
    assert_eq!(cells(p["partition-id"]), [3]);
    assert_eq!(cells(p["abi-version"]), [hv_plan::abi::VERSION.0, hv_plan::abi::VERSION.1]);
}

#[test]
fn interrupt_parent_resolves_to_the_gic() {
    let blob = partition_dtb(&demo(GicVersion::V2, 1)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    // The root's `interrupt-parent` is inherited by every node with `interrupts`.
    let phandle = cells(props(node(&fdt, "/"))["interrupt-parent"])[0];
    assert_eq!(fdt.find_phandle(phandle).map(|n| n.name), Some("intc@8000000"));
    let clocks = cells(props(node(&fdt, "/pl011@9000000"))["clocks"]);
    assert_eq!(fdt.find_phandle(clocks[0]).map(|n| n.name), Some("apb-pclk"));
}

#[test]
fn deterministic() {
    let dt = demo(GicVersion::V3, 2);
    assert_eq!(partition_dtb(&dt).unwrap(), partition_dtb(&dt).unwrap());
}

#[test]
fn refuses_what_it_cannot_express() {
    let mut dt = demo(GicVersion::V2, 9);
    assert_eq!(partition_dtb(&dt), Err(Error::TooManyVcpusForGicV2(9)));
    dt.vcpus = 0;
    assert_eq!(partition_dtb(&dt), Err(Error::NoVcpus));
    dt.vcpus = 1;
    dt.ram_size = 1 << 20;
    assert_eq!(partition_dtb(&dt), Err(Error::RamTooSmall(1 << 20)));
    dt.ram_size = 64 << 20;
    dt.name = "a\0b".into();
    assert_eq!(partition_dtb(&dt), Err(Error::Fdt(vm_fdt::Error::InvalidString)));
}

#[test]
fn boot_plan() {
    let plan = BootPlan::new(0x4000_0000, 64 << 20, 0x8_0000);
    assert_eq!(plan, BootPlan { kernel: 0x4008_0000, dtb: 0x43e0_0000 });
}

fn qemu_device(path: &str) -> Device {
    let b = &board_support::qemu_virt_aarch64::BOARD;
    *b.passthrough(path, b.default_uart()).unwrap()
}

#[test]
fn passed_through_pl031_keeps_its_board_path_and_addresses() {
    let mut dt = demo(GicVersion::V3, 1);
    dt.devices = vec![qemu_device("/pl031@9010000")];
    let blob = partition_dtb(&dt).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    assert_eq!(
        child_names(node(&fdt, "/")),
        [
            "memory@40000000",
            "cpus",
            "psci",
            "intc@8000000",
            "timer",
            "apb-pclk",
            "pl011@9000000",
            "pl031@9010000",
            "chosen",
            "hypervisor"
        ]
    );
    let rtc = node(&fdt, "/pl031@9010000");
    let p = props(rtc);
    assert_eq!(names(&p), ["clock-names", "clocks", "compatible", "interrupts", "reg"]);
    assert_eq!(strings(p["compatible"]), ["arm,pl031", "arm,primecell"]);
    assert_eq!(u64s(p["reg"]), [0x0901_0000, 0x1000]);
    // SPI 2 = INTID 34, level-high.
    assert_eq!(cells(p["interrupts"]), [0, 2, 4]);
    assert_eq!(cells(p["clocks"]), [PHANDLE_APB_PCLK]);
    assert_eq!(strings(p["clock-names"]), ["apb_pclk"]);
    // What a guest's driver sees: the region, the clock, the interrupt controller.
    let reg = rtc.reg().unwrap().next().unwrap();
    assert_eq!(reg.starting_address as usize, 0x0901_0000);
    assert_eq!(reg.size, Some(0x1000));
    assert_eq!(fdt.find_phandle(cells(p["clocks"])[0]).map(|n| n.name), Some("apb-pclk"));
    // No `interrupt-parent` of its own: it inherits the root's, the GIC (see interrupt_parent_resolves_to_the_gic).
    assert_eq!(fdt.find_compatible(&["arm,pl031"]).map(|n| n.name), Some("pl031@9010000"));
}

#[test]
fn passed_through_pl061_carries_its_extra_properties() {
    let mut dt = demo(GicVersion::V2, 2);
    dt.uart = None;
    dt.devices = vec![qemu_device("/pl031@9010000"), qemu_device("/pl061@9030000")];
    let blob = partition_dtb(&dt).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let p = props(node(&fdt, "/pl061@9030000"));
    assert_eq!(
        names(&p),
        ["#gpio-cells", "clock-names", "clocks", "compatible", "gpio-controller", "interrupts", "reg"]
    );
    assert_eq!(strings(p["compatible"]), ["arm,pl061", "arm,primecell"]);
    assert_eq!(u64s(p["reg"]), [0x0903_0000, 0x1000]);
    // SPI 7 = INTID 39; no CPU mask for SPIs, even on GICv2.
    assert_eq!(cells(p["interrupts"]), [0, 7, 4]);
    assert_eq!(p["gpio-controller"].len(), 0);
    assert_eq!(cells(p["#gpio-cells"]), [2]);
    assert!(fdt.find_node("/pl031@9010000").is_some());
    assert!(fdt.find_node("/pl011@9000000").is_none());
}

#[test]
fn a_partition_without_devices_has_no_device_nodes() {
    let blob = partition_dtb(&demo(GicVersion::V3, 1)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    assert!(fdt.find_compatible(&["arm,pl031"]).is_none());
    assert!(fdt.find_node("/pl031@9010000").is_none());
}

/// A device of a made-up board: two regions, two SPIs, a clock other than 24 MHz and one at 24 MHz.
static ODD: Device = Device {
    path: "/dma@a000000",
    description: "test DMA engine",
    regs: &[
        board_support::Mmio { base: 0x0a00_0000, size: 0x1000 },
        board_support::Mmio { base: 0x0a01_0000, size: 0x2000 },
    ],
    spis: &[40, 41],
    compatible: &["vendor,dma"],
    clocks: &[
        board_support::Clock { name: "core", hz: 100_000_000 },
        board_support::Clock { name: "apb_pclk", hz: 24_000_000 },
    ],
    props: &[("vendor,channels", board_support::PropValue::Str("eight"))],
    dma: true,
};

#[test]
fn other_clock_frequencies_get_their_own_fixed_clock() {
    let mut dt = demo(GicVersion::V3, 1);
    dt.devices = vec![ODD];
    let blob = partition_dtb(&dt).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let p = props(node(&fdt, "/dma@a000000"));
    assert_eq!(u64s(p["reg"]), [0x0a00_0000, 0x1000, 0x0a01_0000, 0x2000]);
    assert_eq!(cells(p["interrupts"]), [0, 8, 4, 0, 9, 4]);
    assert_eq!(strings(p["clock-names"]), ["core", "apb_pclk"]);
    assert_eq!(string(p["vendor,channels"]), "eight");
    let clocks = cells(p["clocks"]);
    assert_eq!(clocks, [PHANDLE_FIRST_CLOCK, PHANDLE_APB_PCLK]);
    let core = fdt.find_phandle(clocks[0]).unwrap();
    assert_eq!(core.name, "clock-100000000");
    let c = props(core);
    assert_eq!(string(c["compatible"]), "fixed-clock");
    assert_eq!(cells(c["clock-frequency"]), [100_000_000]);
    assert_eq!(cells(c["#clock-cells"]), [0]);
}

/// A device on a bus of the board's tree (`/axi/serial@ff010000` on the Xilinx SoCs) goes under the partition's root
/// by its node name: the partition's tree has no bus nodes.
#[test]
fn a_nested_board_node_goes_under_the_root() {
    let mut dt = demo(GicVersion::V3, 1);
    dt.devices = vec![Device { path: "/soc/dma@a000000", ..ODD }];
    let blob = partition_dtb(&dt).unwrap();
    let fdt = fdt::Fdt::new(&blob).unwrap();
    assert!(fdt.find_node("/dma@a000000").is_some());
    assert!(fdt.find_node("/soc").is_none());
}

#[test]
fn refuses_device_nodes_it_cannot_express() {
    let mut dt = demo(GicVersion::V3, 1);
    let relative = Device { path: "soc/dma@a000000", ..ODD };
    dt.devices = vec![relative];
    assert_eq!(partition_dtb(&dt), Err(Error::DevicePath("soc/dma@a000000".into())));
    dt.devices = vec![Device { path: "/soc/", ..ODD }];
    assert_eq!(partition_dtb(&dt), Err(Error::DevicePath("/soc/".into())));
    dt.devices = vec![Device { path: "/pl011@9000000", ..ODD }];
    assert_eq!(partition_dtb(&dt), Err(Error::DuplicateNode("pl011@9000000".into())));
    dt.devices = vec![ODD, ODD];
    assert_eq!(partition_dtb(&dt), Err(Error::DuplicateNode("dma@a000000".into())));
    dt.devices = vec![Device { props: &[("status", board_support::PropValue::Str("okay"))], ..ODD }];
    assert_eq!(
        partition_dtb(&dt),
        Err(Error::GeneratedProperty { node: "dma@a000000".into(), property: "status".into() })
    );
    dt.devices = vec![Device { spis: &[27], ..ODD }];
    assert_eq!(partition_dtb(&dt), Err(Error::NotSpi { node: "dma@a000000".into(), intid: 27 }));
}

/// A partition with a disk and a network port (transports 0 and 1) and two channels, one read-only.
fn with_pv() -> PartitionDt {
    let mut dt = demo(GicVersion::V3, 1);
    dt.devices = vec![qemu_device("/pl031@9010000")];
    dt.virtio = vec![
        VirtioMmio { base: guest_map::VIRTIO_MMIO, intid: 48 },
        VirtioMmio { base: guest_map::VIRTIO_MMIO + guest_map::VIRTIO_MMIO_STRIDE, intid: 49 },
    ];
    dt.channels = vec![
        ChannelDt { name: "ctl".into(), ipa: 0x1000_0000, size: 0x1_0000, intid: 50, writable: true, member: 0 },
        ChannelDt { name: "log".into(), ipa: 0x1001_0000, size: 0x20_0000, intid: 51, writable: false, member: 1 },
    ];
    dt.gpio_intid = Some(52);
    dt
}

#[test]
fn virtio_mmio_nodes_follow_the_passed_through_devices() {
    let blob = partition_dtb(&with_pv()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    assert_eq!(
        child_names(node(&fdt, "/")),
        [
            "memory@40000000",
            "cpus",
            "psci",
            "intc@8000000",
            "timer",
            "apb-pclk",
            "pl011@9000000",
            "gpio@9002000",
            "sram@10000000",
            "sram@10010000",
            "pl031@9010000",
            "virtio_mmio@a000000",
            "virtio_mmio@a000200",
            "chosen",
            "hypervisor"
        ]
    );
    for (name, base, spi) in [("/virtio_mmio@a000000", 0x0a00_0000, 16), ("/virtio_mmio@a000200", 0x0a00_0200, 17)] {
        let p = props(node(&fdt, name));
        assert_eq!(names(&p), ["compatible", "dma-coherent", "interrupts", "reg"], "{name}");
        assert_eq!(string(p["compatible"]), "virtio,mmio");
        assert_eq!(u64s(p["reg"]), [base, 0x200]);
        // An SPI, level-high, inheriting the root's interrupt-parent.
        assert_eq!(cells(p["interrupts"]), [0, spi, 4]);
        assert_eq!(p["dma-coherent"].len(), 0);
    }
    assert_eq!(fdt.all_nodes().filter(|n| n.compatible().is_some_and(|c| c.first() == "virtio,mmio")).count(), 2);
}

#[test]
fn channels_sit_under_the_hypervisor_node() {
    let blob = partition_dtb(&with_pv()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let hv = node(&fdt, "/hypervisor");
    let p = props(hv);
    assert_eq!(
        names(&p),
        ["#address-cells", "#size-cells", "abi-version", "compatible", "partition-id", "partition-name", "ranges"]
    );
    assert_eq!((cells(p["#address-cells"]), cells(p["#size-cells"])), (vec![2], vec![2]));
    assert_eq!(p["ranges"].len(), 0);
    assert_eq!(child_names(hv), ["channel@10000000", "channel@10010000"]);
    let ctl = props(node(&fdt, "/hypervisor/channel@10000000"));
    assert_eq!(names(&ctl), ["access", "compatible", "hv-static,member", "interrupts", "label", "reg"]);
    assert_eq!(cells(ctl["hv-static,member"]), [0]);
    assert_eq!(string(ctl["compatible"]), "hv-static,channel");
    assert_eq!(u64s(ctl["reg"]), [0x1000_0000, 0x1_0000]);
    // The doorbell: SPI 18, edge-rising.
    assert_eq!(cells(ctl["interrupts"]), [0, 18, 1]);
    assert_eq!(string(ctl["access"]), "rw");
    assert_eq!(string(ctl["label"]), "ctl");
    let log = props(node(&fdt, "/hypervisor/channel@10010000"));
    assert_eq!(u64s(log["reg"]), [0x1001_0000, 0x20_0000]);
    assert_eq!(cells(log["interrupts"]), [0, 19, 1]);
    assert_eq!(string(log["access"]), "r");
    assert_eq!(string(log["label"]), "log");
    // What a guest's driver sees: the region, through `ranges`, at its guest-physical address.
    let reg = node(&fdt, "/hypervisor/channel@10000000").reg().unwrap().next().unwrap();
    assert_eq!((reg.starting_address as usize, reg.size), (0x1000_0000, Some(0x1_0000)));
}

#[test]
fn without_channels_the_hypervisor_node_is_unchanged() {
    let mut dt = with_pv();
    dt.channels.clear();
    dt.gpio_intid = None;
    let blob = partition_dtb(&dt).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let hv = node(&fdt, "/hypervisor");
    assert_eq!(names(&props(hv)), ["abi-version", "compatible", "partition-id", "partition-name"]);
    assert_eq!(hv.children().count(), 0);
}

#[test]
fn refuses_pv_devices_it_cannot_describe() {
    let pv = |node: &str, why: &'static str| Err(Error::PvDevice { node: node.into(), why });
    let mut dt = with_pv();
    dt.virtio[1].intid = 34;
    assert_eq!(partition_dtb(&dt), pv("virtio_mmio@a000200", "its interrupt is already used in the partition"));
    dt.virtio[1].intid = 33;
    assert_eq!(partition_dtb(&dt), pv("virtio_mmio@a000200", "its interrupt is already used in the partition"));
    dt.virtio[1].intid = 288;
    assert_eq!(
        partition_dtb(&dt),
        pv("virtio_mmio@a000200", "its interrupt is not an SPI of the emulated distributor")
    );
    dt.virtio[1].intid = 31;
    assert_eq!(
        partition_dtb(&dt),
        pv("virtio_mmio@a000200", "its interrupt is not an SPI of the emulated distributor")
    );
    let mut dt = with_pv();
    dt.virtio[1].base = guest_map::VIRTIO_MMIO + 0x100;
    let overlap = "its region overlaps RAM, a passed-through device or another PV device";
    assert_eq!(partition_dtb(&dt), pv("virtio_mmio@a000100", overlap));
    let mut dt = with_pv();
    dt.channels[0].ipa = 0x43f0_0000;
    assert_eq!(partition_dtb(&dt), pv("channel@43f00000", overlap));
    dt.channels[0].ipa = 0x0901_0000;
    assert_eq!(partition_dtb(&dt), pv("channel@9010000", overlap));
    dt.channels[0].ipa = 0x1000_0000;
    dt.channels[0].size = 0;
    assert_eq!(partition_dtb(&dt), pv("channel@10000000", "its region is empty or wraps around"));
}

/// The demo with a watchdog on the first free SPI (INTID 48).
fn with_watchdog() -> PartitionDt {
    PartitionDt { watchdog: Some(WatchdogDt { base: guest_map::WATCHDOG, intid: 48 }), ..demo(GicVersion::V3, 1) }
}

#[test]
fn the_watchdog_is_an_sp805_with_its_own_clock() {
    let blob = partition_dtb(&with_watchdog()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    assert_eq!(
        child_names(node(&fdt, "/")),
        [
            "memory@40000000",
            "cpus",
            "psci",
            "intc@8000000",
            "timer",
            "apb-pclk",
            "clock-wdog",
            "pl011@9000000",
            "watchdog@9001000",
            "chosen",
            "hypervisor"
        ]
    );
    let clk = props(node(&fdt, "/clock-wdog"));
    assert_eq!(names(&clk), ["#clock-cells", "clock-frequency", "clock-output-names", "compatible", "phandle"]);
    assert_eq!(string(clk["compatible"]), "fixed-clock");
    assert_eq!(cells(clk["#clock-cells"]), [0]);
    assert_eq!(cells(clk["clock-frequency"]), [1_000_000]);
    assert_eq!(string(clk["clock-output-names"]), "wdog_clk");
    assert_eq!(cells(clk["phandle"]), [PHANDLE_FIRST_CLOCK]);

    let wdog = node(&fdt, "/watchdog@9001000");
    let p = props(wdog);
    assert_eq!(names(&p), ["clock-names", "clocks", "compatible", "interrupts", "reg"]);
    assert_eq!(strings(p["compatible"]), ["arm,sp805", "arm,primecell"]);
    // The whole page: the AMBA bus reads the PrimeCell IDs at the end of `reg`.
    assert_eq!(u64s(p["reg"]), [0x0900_1000, 0x1000]);
    // SPI 16 = INTID 48, level-high.
    assert_eq!(cells(p["interrupts"]), [0, 16, 4]);
    assert_eq!(strings(p["clock-names"]), ["wdog_clk", "apb_pclk"]);
    let clocks = cells(p["clocks"]);
    assert_eq!(clocks, [PHANDLE_FIRST_CLOCK, PHANDLE_APB_PCLK]);
    // What a guest's driver sees: the region, the two clocks, a compatible `sp805_wdt` matches.
    let reg = wdog.reg().unwrap().next().unwrap();
    assert_eq!((reg.starting_address as usize, reg.size), (0x0900_1000, Some(0x1000)));
    assert_eq!(fdt.find_phandle(clocks[0]).map(|n| n.name), Some("clock-wdog"));
    assert_eq!(fdt.find_phandle(clocks[1]).map(|n| n.name), Some("apb-pclk"));
    assert_eq!(fdt.find_compatible(&["arm,sp805"]).map(|n| n.name), Some("watchdog@9001000"));
    // /chosen is untouched: the console is still the PL011.
    assert_eq!(fdt.chosen().stdout().map(|n| n.name), Some("pl011@9000000"));
}

#[test]
fn the_watchdog_clock_follows_the_devices_clocks_and_needs_no_console() {
    let mut dt = with_watchdog();
    dt.uart = None;
    dt.devices = vec![ODD];
    let blob = partition_dtb(&dt).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    // The device's 100 MHz clock keeps its phandle; the watchdog's takes the next one.
    assert_eq!(cells(props(node(&fdt, "/clock-100000000"))["phandle"]), [PHANDLE_FIRST_CLOCK]);
    assert_eq!(cells(props(node(&fdt, "/clock-wdog"))["phandle"]), [PHANDLE_FIRST_CLOCK + 1]);
    let p = props(node(&fdt, "/watchdog@9001000"));
    assert_eq!(cells(p["clocks"]), [PHANDLE_FIRST_CLOCK + 1, PHANDLE_APB_PCLK]);
    assert!(fdt.find_node("/pl011@9000000").is_none());
    assert!(fdt.find_node("/apb-pclk").is_some());
}

#[test]
fn an_armv7_watchdog_uses_the_same_cells() {
    let dt = PartitionDt { watchdog: with_watchdog().watchdog, ..armv7(1) };
    let blob = partition_dtb(&dt).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let p = props(node(&fdt, "/watchdog@9001000"));
    assert_eq!(u64s(p["reg"]), [0x0900_1000, 0x1000]);
    // No CPU mask for SPIs, even on GICv2.
    assert_eq!(cells(p["interrupts"]), [0, 16, 4]);
    assert_eq!(strings(p["compatible"]), ["arm,sp805", "arm,primecell"]);
}

#[test]
fn without_a_watchdog_there_is_no_watchdog_node_or_clock() {
    let blob = partition_dtb(&demo(GicVersion::V3, 1)).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    assert!(fdt.find_node("/watchdog@9001000").is_none() && fdt.find_node("/clock-wdog").is_none());
    assert!(fdt.find_compatible(&["arm,sp805"]).is_none());
}

#[test]
fn refuses_a_watchdog_it_cannot_describe() {
    let wd = |why: &'static str| Err(Error::Watchdog { why });
    let used = "its interrupt is already used in the partition";
    let not_spi = "its interrupt is not an SPI of the emulated distributor";
    let overlap = "its region overlaps RAM, the console, a passed-through device or a PV device";
    let mut dt = with_watchdog();
    for (intid, why) in [(33, used), (31, not_spi), (288, not_spi)] {
        dt.watchdog = Some(WatchdogDt { base: guest_map::WATCHDOG, intid });
        assert_eq!(partition_dtb(&dt), wd(why), "INTID {intid}");
    }
    // The interrupt of a passed-through device, a transport or a doorbell.
    let mut dt = with_pv();
    for intid in [34, 49, 51] {
        dt.watchdog = Some(WatchdogDt { base: guest_map::WATCHDOG, intid });
        assert_eq!(partition_dtb(&dt), wd(used), "INTID {intid}");
    }
    // Over the console, a passed-through device, a transport, a channel or RAM.
    for base in [guest_map::UART, 0x0901_0000, guest_map::VIRTIO_MMIO, 0x1000_0000, 0x4000_0000, u64::MAX - 0x800] {
        dt.watchdog = Some(WatchdogDt { base, intid: 53 });
        let why = if base > 0x4000_0000 { "its region wraps around" } else { overlap };
        assert_eq!(partition_dtb(&dt), wd(why), "{base:#x}");
    }
    dt.watchdog = Some(WatchdogDt { base: guest_map::WATCHDOG, intid: 53 });
    assert!(partition_dtb(&dt).is_ok());
    // A passed-through device named like the watchdog's nodes.
    let mut dt = with_watchdog();
    dt.devices = vec![Device { path: "/clock-wdog", regs: &[], spis: &[], ..ODD }];
    assert_eq!(partition_dtb(&dt), Err(Error::DuplicateNode("clock-wdog".into())));
}

#[test]
fn a_manager_names_the_partitions_it_manages_in_its_hypervisor_node() {
    let mut dt = with_pv();
    dt.manages = vec![Managed { id: 2, name: "front".into() }, Managed { id: 0, name: "back".into() }];
    let blob = partition_dtb(&dt).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let hv = node(&fdt, "/hypervisor");
    let p = props(hv);
    assert_eq!(
        names(&p),
        [
            "#address-cells",
            "#size-cells",
            "abi-version",
            "compatible",
            "hv-static,manages",
            "hv-static,manages-names",
            "partition-id",
            "partition-name",
            "ranges"
        ]
    );
    // Indices and names, in the order the config lists them.
    assert_eq!(cells(p["hv-static,manages"]), [2, 0]);
    assert_eq!(strings(p["hv-static,manages-names"]), ["front", "back"]);
    // The channels are still its children.
    assert_eq!(child_names(hv), ["channel@10000000", "channel@10010000"]);
    // None managed: neither property (see hypervisor_node for the whole node).
    dt.manages.clear();
    let blob = partition_dtb(&dt).unwrap();
    let p = props(node(&Fdt::new(&blob).unwrap(), "/hypervisor"));
    assert!(!p.contains_key("hv-static,manages") && !p.contains_key("hv-static,manages-names"));
    // A name the tree cannot hold is refused, as the partition's own.
    dt.manages = vec![Managed { id: 1, name: "a\0b".into() }];
    assert_eq!(partition_dtb(&dt), Err(Error::Fdt(vm_fdt::Error::InvalidString)));
}

/// ABI 1.5: what stock Linux binds to reach its channels. Each channel is also an `mmio-sram` node at the root
/// whose one child the sram driver exports to user space, and the doorbells are lines of an emulated PL061 that
/// `gpio-pl061` drives: line 2k is channel k's doorbell, line 2k + 1 rings it.
#[test]
fn channels_are_sram_and_gpio_lines_for_stock_linux() {
    let blob = partition_dtb(&with_pv()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let gpio = props(node(&fdt, "/gpio@9002000"));
    assert_eq!(
        names(&gpio),
        [
            "#gpio-cells",
            "clock-names",
            "clocks",
            "compatible",
            "gpio-controller",
            "gpio-line-names",
            "interrupts",
            "reg"
        ]
    );
    assert_eq!(strings(gpio["compatible"]), ["arm,pl061", "arm,primecell"]);
    assert_eq!(u64s(gpio["reg"]), [0x0900_2000, 0x1000]);
    assert_eq!(cells(gpio["interrupts"]), [0, 20, 4]);
    assert_eq!(string(gpio["clock-names"]), "apb_pclk");
    assert_eq!(
        strings(gpio["gpio-line-names"]),
        ["ctl.doorbell", "ctl.ring", "log.doorbell", "log.ring", "", "", "", ""]
    );
    let sram = props(node(&fdt, "/sram@10010000"));
    assert_eq!(names(&sram), ["#address-cells", "#size-cells", "compatible", "ranges", "reg"]);
    assert_eq!(string(sram["compatible"]), "mmio-sram");
    assert_eq!(u64s(sram["reg"]), [0x1001_0000, 0x20_0000]);
    assert_eq!(cells(sram["ranges"]), [0, 0, 0x1001_0000, 0x20_0000]);
    let part = props(node(&fdt, "/sram@10010000/channel@0"));
    assert_eq!(names(&part), ["export", "hv-static,access", "hv-static,member", "label", "reg"]);
    assert_eq!(cells(part["reg"]), [0, 0x20_0000]);
    assert_eq!((string(part["label"]), string(part["hv-static,access"])), ("log", "r"));
    assert_eq!(cells(part["hv-static,member"]), [1]);
}

#[test]
fn only_the_first_four_channels_get_gpio_lines() {
    let channels: Vec<ChannelDt> = (0..5)
        .map(|i| ChannelDt {
            name: format!("c{i}"),
            ipa: 0x1000_0000 + i * 0x1_0000,
            size: 0x1_0000,
            intid: 50 + i as u32,
            writable: true,
            member: 0,
        })
        .collect();
    let names = gpio_line_names(&channels);
    assert_eq!(names.len(), 8);
    assert_eq!((names[6].as_str(), names[7].as_str()), ("c3.doorbell", "c3.ring"));
    assert!(!names.iter().any(|n| n.starts_with("c4")));
}

#[test]
fn refuses_a_gpio_controller_it_cannot_describe() {
    let mut dt = with_pv();
    dt.gpio_intid = Some(50);
    assert_eq!(partition_dtb(&dt), Err(Error::Gpio { why: "its interrupt is already used in the partition" }));
    dt.gpio_intid = Some(20);
    assert_eq!(partition_dtb(&dt), Err(Error::Gpio { why: "its interrupt is not an SPI of the emulated distributor" }));
    dt.channels.clear();
    dt.gpio_intid = Some(60);
    assert_eq!(partition_dtb(&dt), Err(Error::Gpio { why: "the partition maps no channel" }));
}
