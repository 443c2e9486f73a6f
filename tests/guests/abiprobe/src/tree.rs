//! The "Device tree" section: the partition walks the tree it was given and checks each node and property the
//! document lists, with the addresses of the "Memory map" table. It returns what [`crate::memory`] then touches.

use core::fmt::Display;

use fdt::node::FdtNode;
use fdt::Fdt;

use crate::report;

/// A channel as its `channel@` node describes it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Channel {
    pub base: u64,
    pub size: u64,
    pub writable: bool,
    pub intid: u32,
}

/// The most channels the probe looks at.
pub const MAX_CHANNELS: usize = 4;

/// What the tree says, for the memory checks and the vendor calls.
#[derive(Debug, Default)]
pub struct Facts {
    pub ram: (u64, u64),
    pub gic_v3: bool,
    pub partition_id: Option<u32>,
    pub channels: [Channel; MAX_CHANNELS],
    pub channel_count: usize,
}

impl Facts {
    pub fn channels(&self) -> &[Channel] {
        &self.channels[..self.channel_count.min(MAX_CHANNELS)]
    }
}

// "Memory map" table.
/// RAM at `0x4000_0000`.
pub const RAM_BASE: u64 = 0x4000_0000;
/// GIC distributor at `0x0800_0000`.
pub const GICD: u64 = 0x0800_0000;
/// GICv2 CPU interface at `0x0801_0000`, 8 KiB.
pub const GICC: u64 = 0x0801_0000;
/// GICv3 redistributors at `0x080A_0000`, 128 KiB per vCPU.
pub const GICR: u64 = 0x080A_0000;
pub const GICR_STRIDE: u64 = 0x2_0000;
/// PL011 console at `0x0900_0000`, 4 KiB.
pub const UART: u64 = 0x0900_0000;
/// SP805 watchdog at `0x0900_1000`, 4 KiB.
pub const WATCHDOG: u64 = 0x0900_1000;
/// PL061 GPIO of the channel doorbells at `0x0900_2000`, 4 KiB (1.5).
pub const GPIO: u64 = 0x0900_2000;
/// "*k* < 4": the channels with GPIO lines.
pub const GPIO_CHANNELS: usize = 4;
/// Channels "from `0x1000_0000` up, 64 KiB-aligned".
pub const CHANNELS_FROM: u64 = 0x1000_0000;
/// Device tree: "last 2 MiB of RAM".
pub const DTB_AREA: u64 = 2 << 20;

/// The big-endian cells of a property.
fn cells<'a>(node: &FdtNode<'_, 'a>, name: &str) -> Option<impl Iterator<Item = u32> + 'a> {
    let p = node.property(name)?;
    Some(p.value.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
}

/// A one-cell property.
fn u32_prop(node: &FdtNode, name: &str) -> Option<u32> {
    let p = node.property(name)?;
    let b: [u8; 4] = p.value.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// A string property (its first string).
fn str_prop<'a>(node: &FdtNode<'_, 'a>, name: &str) -> Option<&'a str> {
    node.property(name)?.as_str()
}

/// A string-list property, NULs shown as `", "` for the report; `want` in the same form.
fn strings_match(node: &FdtNode, name: &str, want: &[&str]) -> (bool, usize) {
    let Some(p) = node.property(name) else { return (false, 0) };
    let value = p.value.strip_suffix(&[0]).unwrap_or(p.value);
    let got = value.split(|&b| b == 0);
    let n = value.split(|&b| b == 0).count();
    (n == want.len() && got.zip(want).all(|(g, w)| g == w.as_bytes()), n)
}

/// Checks a string-list property against `want`, in order.
fn string_list(what: impl Display, node: &FdtNode, name: &str, want: &[&str]) {
    let (ok, n) = strings_match(node, name, want);
    report::holds(
        format_args!("{what} {name}"),
        ok,
        format_args!("{n} string(s){}", if ok { ", as listed" } else { "" }),
        "exactly the listed strings, in order",
    );
}

/// `reg` as (address, size) pairs of two cells each (the root's `#address-cells` = `#size-cells` = 2).
fn regs<const N: usize>(node: &FdtNode) -> ([(u64, u64); N], usize) {
    let mut out = [(0, 0); N];
    let mut n = 0;
    if let Some(mut c) = cells(node, "reg") {
        while let (Some(a0), Some(a1), Some(s0), Some(s1)) = (c.next(), c.next(), c.next(), c.next()) {
            if n < N {
                out[n] = (u64::from(a0) << 32 | u64::from(a1), u64::from(s0) << 32 | u64::from(s1));
            }
            n += 1;
        }
    }
    (out, n)
}

/// Checks that `reg` is exactly `want`.
fn reg_is<const N: usize>(what: impl Display, node: &FdtNode, want: [(u64, u64); N]) {
    let (got, n) = regs::<N>(node);
    report::holds(
        format_args!("{what} reg"),
        n == N && got == want,
        format_args!("{:x?} ({n} entries)", &got[..n.min(N)]),
        "as the memory map lists",
    );
}

/// The `interrupts` triples of a node.
fn interrupts<const N: usize>(node: &FdtNode) -> ([[u32; 3]; N], usize) {
    let mut out = [[0; 3]; N];
    let mut n = 0;
    if let Some(mut c) = cells(node, "interrupts") {
        while let (Some(a), Some(b), Some(f)) = (c.next(), c.next(), c.next()) {
            if n < N {
                out[n] = [a, b, f];
            }
            n += 1;
        }
    }
    (out, n)
}

fn present(what: impl Display, node: &FdtNode, name: &str) {
    let here = node.property(name).is_some();
    report::holds(
        format_args!("{what} {name}"),
        here,
        format_args!("{}", if here { "present" } else { "absent" }),
        "present",
    );
}

fn u32_is(what: impl Display, node: &FdtNode, name: &str, want: u32) {
    match u32_prop(node, name) {
        Some(v) => report::dec(format_args!("{what} {name}"), v.into(), want.into()),
        None => report::holds(format_args!("{what} {name}"), false, format_args!("absent"), "a one-cell value"),
    }
}

/// A node that must exist; reports its absence.
fn node<'b, 'a>(fdt: &'b Fdt<'a>, path: &str) -> Option<FdtNode<'b, 'a>> {
    let found = fdt.find_node(path).filter(|n| path == "/" || path.ends_with(n.name));
    report::holds(
        format_args!("node {path}"),
        found.is_some(),
        format_args!("{}", if found.is_some() { "present" } else { "absent" }),
        "present",
    );
    found
}

/// The base of the first `channel@` node under `/hypervisor`, read without reporting (before the probe may print).
pub fn first_channel(dtb: &[u8]) -> Option<u64> {
    let fdt = Fdt::new(dtb).ok()?;
    let hv = fdt.find_node("/hypervisor")?;
    let channel = hv.children().find(|c| c.name.starts_with("channel@"))?;
    let (reg, n) = regs::<1>(&channel);
    (n == 1).then_some(reg[0].0)
}

/// Walks the tree; `vcpus` is how many the partition was configured with (from `/cpus`, checked here).
pub fn check(dtb: &[u8]) -> Facts {
    report::section("tree");
    let mut facts = Facts::default();
    let fdt = match Fdt::new(dtb) {
        Ok(f) => f,
        Err(e) => {
            report::holds(format_args!("device tree"), false, format_args!("{e:?}"), "a valid flattened tree");
            return facts;
        }
    };
    let Some(root) = node(&fdt, "/") else { return facts };
    // "Root `#address-cells = <2>`, `#size-cells = <2>`, `compatible = "hv-static,partition"`,
    // `interrupt-parent` = the GIC."
    u32_is("/", &root, "#address-cells", 2);
    u32_is("/", &root, "#size-cells", 2);
    string_list("/", &root, "compatible", &["hv-static,partition"]);
    let interrupt_parent = u32_prop(&root, "interrupt-parent");

    memory(&fdt, &mut facts);
    let vcpus = cpus(&fdt);
    if let Some(psci) = node(&fdt, "/psci") {
        string_list("/psci", &psci, "compatible", &["arm,psci-1.0", "arm,psci-0.2"]);
        report::text(format_args!("/psci method"), str_prop(&psci, "method"), "hvc");
    }
    gic(&fdt, vcpus, interrupt_parent, &mut facts);
    timer(&fdt, vcpus, facts.gic_v3);
    console(&fdt);
    watchdog(&fdt);
    hypervisor(&fdt, &mut facts);
    stock_linux(&fdt, &facts);
    facts
}

/// 1.5, "For stock Linux": each channel again as `/sram@IPA` (`compatible = "mmio-sram"`, `reg = <IPA SIZE>`,
/// `#address-cells = <1>`, `#size-cells = <1>`, `ranges = <0 IPA SIZE>`, one child `channel@0` with `reg = <0
/// SIZE>`, `export`, `label`, `hv-static,access`, `hv-static,member`), and `/gpio@9002000` (`compatible = "arm,pl061",
/// "arm,primecell"`, `reg = <0x9002000 0x1000>`, level-high interrupt, `gpio-controller`, `#gpio-cells = <2>`,
/// `clock-names = "apb_pclk"`, `gpio-line-names`: line 2k `NAME.doorbell`, line 2k + 1 `NAME.ring`). The GPIO
/// controller's interrupt comes after the doorbells' (and the watchdog's, when there is one).
fn stock_linux(fdt: &Fdt, facts: &Facts) {
    let Some(hv) = fdt.find_node("/hypervisor") else { return };
    let Some(root) = fdt.find_node("/") else { return };
    let mut k = 0;
    let mut labels: [&str; MAX_CHANNELS] = [""; MAX_CHANNELS];
    for ch in hv.children().filter(|c| c.name.starts_with("channel@")) {
        let (reg, _) = regs::<1>(&ch);
        let (base, size) = reg[0];
        let label = str_prop(&ch, "label").unwrap_or("");
        let access = str_prop(&ch, "access");
        let member = u32_prop(&ch, "hv-static,member");
        report::holds(
            format_args!("/hypervisor/{} hv-static,member", ch.name),
            member.is_some(),
            format_args!("{member:?}"),
            "a one-cell position in the channel's members",
        );
        let path = Sram(base);
        let sram = root
            .children()
            .find(|n| n.name.strip_prefix("sram@").and_then(|u| u64::from_str_radix(u, 16).ok()) == Some(base));
        report::holds(
            format_args!("node {path}"),
            sram.is_some(),
            format_args!("{}", if sram.is_some() { "present" } else { "absent" }),
            "present",
        );
        if let Some(sram) = sram {
            string_list(&path, &sram, "compatible", &["mmio-sram"]);
            reg_is(&path, &sram, [(base, size)]);
            u32_is(&path, &sram, "#address-cells", 1);
            u32_is(&path, &sram, "#size-cells", 1);
            let ranges: Option<[u32; 4]> = cells(&sram, "ranges").and_then(|mut c| {
                let r = [c.next()?, c.next()?, c.next()?, c.next()?];
                c.next().is_none().then_some(r)
            });
            let want = [0, (base >> 32) as u32, base as u32, size as u32];
            report::holds(
                format_args!("{path} ranges"),
                ranges == Some(want),
                format_args!("{ranges:x?}"),
                "<0 IPA SIZE>",
            );
            match sram.children().find(|c| c.name == "channel@0") {
                Some(child) => {
                    let c_reg: Option<[u32; 2]> = cells(&child, "reg").and_then(|mut c| Some([c.next()?, c.next()?]));
                    report::holds(
                        format_args!("{path}/channel@0 reg"),
                        c_reg == Some([0, size as u32]),
                        format_args!("{c_reg:x?}"),
                        "<0 SIZE>",
                    );
                    present(format_args!("{path}/channel@0"), &child, "export");
                    report::text(format_args!("{path}/channel@0 label"), str_prop(&child, "label"), label);
                    report::holds(
                        format_args!("{path}/channel@0 hv-static,access"),
                        str_prop(&child, "hv-static,access") == access,
                        format_args!("{:?}", str_prop(&child, "hv-static,access")),
                        "the channel node's access",
                    );
                    report::holds(
                        format_args!("{path}/channel@0 hv-static,member"),
                        u32_prop(&child, "hv-static,member") == member,
                        format_args!("{:?}", u32_prop(&child, "hv-static,member")),
                        "the channel node's hv-static,member",
                    );
                }
                None => report::holds(format_args!("{path}/channel@0"), false, format_args!("absent"), "present"),
            }
        }
        if k < MAX_CHANNELS {
            labels[k] = label;
        }
        k += 1;
    }
    if k == 0 {
        let here = fdt.find_node("/gpio@9002000").is_some();
        report::holds(format_args!("/gpio@9002000 without channels"), !here, format_args!("{here}"), "absent");
        return;
    }
    let Some(gpio) = node(fdt, "/gpio@9002000") else { return };
    string_list("/gpio@9002000", &gpio, "compatible", &["arm,pl061", "arm,primecell"]);
    reg_is("/gpio@9002000", &gpio, [(GPIO, 0x1000)]);
    present("/gpio@9002000", &gpio, "gpio-controller");
    u32_is("/gpio@9002000", &gpio, "#gpio-cells", 2);
    string_list("/gpio@9002000", &gpio, "clock-names", &["apb_pclk"]);
    let (irq, n) = interrupts::<1>(&gpio);
    // Doorbells take SPI 16 up in order (no transports here); the watchdog's, when there is one, follows them.
    let after = 16 + facts.channel_count as u32;
    report::holds(
        format_args!("/gpio@9002000 interrupts"),
        n == 1 && irq[0][0] == 0 && irq[0][2] == 4 && (irq[0][1] == after || irq[0][1] == after + 1),
        format_args!("{:?}", &irq[..n.min(1)]),
        "<0 (INTID - 32) 4>, level-high, after the doorbells (and the watchdog)",
    );
    let value = gpio.property("gpio-line-names").map_or(&[][..], |p| p.value);
    let value = value.strip_suffix(&[0]).unwrap_or(value);
    let mut lines = 0;
    let mut as_listed = true;
    for (i, name) in value.split(|&b| b == 0).enumerate() {
        lines += 1;
        let want: (&str, &str) = match labels.get(i / 2) {
            Some(label) if i / 2 < k.min(GPIO_CHANNELS) => (label, if i % 2 == 0 { ".doorbell" } else { ".ring" }),
            _ => ("", ""),
        };
        let fits = name.len() == want.0.len() + want.1.len()
            && name.starts_with(want.0.as_bytes())
            && name.ends_with(want.1.as_bytes());
        as_listed &= fits;
    }
    report::holds(
        format_args!("/gpio@9002000 gpio-line-names"),
        as_listed && lines == 2 * GPIO_CHANNELS,
        format_args!("{lines} name(s){}", if as_listed { ", as listed" } else { "" }),
        "8 names: line 2k NAME.doorbell, line 2k + 1 NAME.ring, the rest empty",
    );
}

/// `/sram@IPA`, for the report.
struct Sram(u64);

impl Display for Sram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "/sram@{:x}", self.0)
    }
}

fn memory(fdt: &Fdt, facts: &mut Facts) {
    // "`/memory@...`: `device_type = "memory"`, `reg`." RAM at `0x4000_0000` (memory map).
    let root = fdt.find_node("/");
    let mem = root.into_iter().flat_map(|r| r.children()).find(|n| n.name.starts_with("memory@"));
    report::holds(
        format_args!("node /memory@..."),
        mem.is_some(),
        format_args!("{}", if mem.is_some() { "present" } else { "absent" }),
        "present",
    );
    let Some(mem) = mem else { return };
    report::text(format_args!("/{} device_type", mem.name), str_prop(&mem, "device_type"), "memory");
    let (reg, n) = regs::<2>(&mem);
    report::hex(format_args!("/{} reg entries", mem.name), n as u64, 1);
    let (base, size) = reg[0];
    report::hex(format_args!("/{} RAM base", mem.name), base, RAM_BASE);
    report::holds(
        format_args!("/{} RAM size", mem.name),
        size > DTB_AREA,
        format_args!("{size:#x}"),
        "more than the device tree's 2 MiB",
    );
    let unit = mem.name.split('@').nth(1).and_then(|u| u64::from_str_radix(u, 16).ok());
    report::holds(
        format_args!("/{} unit address", mem.name),
        unit == Some(base),
        format_args!("{unit:x?}"),
        "the reg base",
    );
    facts.ram = (base, size);
}

/// "`/cpus/cpu@N`: `device_type = "cpu"`, `compatible` = the board's CPU, `reg = <N>` (the vCPU's MPIDR Aff0),
/// `enable-method = "psci"`." Returns how many there are.
fn cpus(fdt: &Fdt) -> u32 {
    let Some(cpus) = node(fdt, "/cpus") else { return 0 };
    // The board's CPU: `"arm,armv8"` on AArch64 boards, `"arm,cortex-a15"` on `qemu-virt-a15`.
    let board_cpu = if cfg!(target_arch = "aarch64") { "arm,armv8" } else { "arm,cortex-a15" };
    let mut n = 0_u32;
    for cpu in cpus.children().filter(|c| c.name.starts_with("cpu@")) {
        let what = cpu.name;
        report::text(format_args!("/cpus/{what} device_type"), str_prop(&cpu, "device_type"), "cpu");
        string_list(format_args!("/cpus/{what}"), &cpu, "compatible", &[board_cpu]);
        // cpu@N in order from 0: reg = <N>, the unit address N.
        let reg: Option<u32> = cells(&cpu, "reg").and_then(|mut c| c.next());
        report::holds(
            format_args!("/cpus/{what} reg"),
            reg == Some(n),
            format_args!("{reg:?}"),
            "the vCPU index, in order",
        );
        let unit = what.split('@').nth(1).and_then(|u| u32::from_str_radix(u, 16).ok());
        report::holds(format_args!("/cpus/{what} unit address"), unit == reg, format_args!("{unit:?}"), "its reg");
        report::text(format_args!("/cpus/{what} enable-method"), str_prop(&cpu, "enable-method"), "psci");
        n += 1;
    }
    report::holds(format_args!("/cpus cpu@N nodes"), n >= 1, format_args!("{n}"), "at least 1");
    n
}

/// "`/intc@8000000`: GICv3 ... `reg` = distributor, then one redistributor region sized `0x20000 × vCPUs`,
/// `#redistributor-regions = <1>`; GICv2 `compatible = "arm,cortex-a15-gic"`, `reg` = distributor (`0x1000`), CPU
/// interface (`0x2000`). Both: `interrupt-controller`, `#interrupt-cells = <3>`, `#address-cells = <2>`,
/// `#size-cells = <2>`, `phandle`."
fn gic(fdt: &Fdt, vcpus: u32, interrupt_parent: Option<u32>, facts: &mut Facts) {
    let Some(gic) = node(fdt, "/intc@8000000") else { return };
    let what = "/intc@8000000";
    let v3 = gic.compatible().is_some_and(|c| c.first() == "arm,gic-v3");
    facts.gic_v3 = v3;
    if v3 {
        string_list(what, &gic, "compatible", &["arm,gic-v3"]);
        // The distributor's size is the memory map's 64 KiB.
        reg_is(what, &gic, [(GICD, 0x1_0000), (GICR, GICR_STRIDE * u64::from(vcpus))]);
        u32_is(what, &gic, "#redistributor-regions", 1);
    } else {
        string_list(what, &gic, "compatible", &["arm,cortex-a15-gic"]);
        reg_is(what, &gic, [(GICD, 0x1000), (GICC, 0x2000)]);
    }
    present(what, &gic, "interrupt-controller");
    u32_is(what, &gic, "#interrupt-cells", 3);
    u32_is(what, &gic, "#address-cells", 2);
    u32_is(what, &gic, "#size-cells", 2);
    let phandle = u32_prop(&gic, "phandle");
    report::holds(
        format_args!("/ interrupt-parent"),
        phandle.is_some() && interrupt_parent == phandle,
        format_args!("{interrupt_parent:?} (GIC phandle {phandle:?})"),
        "the GIC's phandle",
    );
}

/// "`/timer`: `compatible = "arm,armv8-timer"` (ARMv7: `"arm,armv7-timer"`), `interrupts` = secure phys (PPI 13),
/// non-secure phys (PPI 14), virtual (PPI 11, i.e. INTID 27), hyp (PPI 10), level-high (`0x4`; on GICv2 the CPU mask
/// `((1 << vcpus) - 1) << 8` is or-ed in), `always-on`."
fn timer(fdt: &Fdt, vcpus: u32, gic_v3: bool) {
    let Some(timer) = node(fdt, "/timer") else { return };
    let compatible = if cfg!(target_arch = "aarch64") { "arm,armv8-timer" } else { "arm,armv7-timer" };
    string_list("/timer", &timer, "compatible", &[compatible]);
    let flags = if gic_v3 { 4 } else { 4 | ((1_u32 << vcpus) - 1) << 8 };
    let want = [[1, 13, flags], [1, 14, flags], [1, 11, flags], [1, 10, flags]];
    let (got, n) = interrupts::<4>(&timer);
    report::holds(
        format_args!("/timer interrupts"),
        n == 4 && got == want,
        format_args!("{:x?}", &got[..n.min(4)]),
        "PPIs 13, 14, 11, 10, level-high (and the CPU mask on GICv2)",
    );
    present("/timer", &timer, "always-on");
}

/// `/apb-pclk` and "`/pl011@9000000` (when the console is on): `compatible = "arm,pl011", "arm,primecell"`, `reg`,
/// `interrupts = <0 1 4>`, `clocks = <&apb-pclk &apb-pclk>`, `clock-names = "uartclk", "apb_pclk"`.
/// `/chosen/stdout-path` points to it."
fn console(fdt: &Fdt) {
    let clock = node(fdt, "/apb-pclk");
    let clock_phandle = clock.as_ref().and_then(|c| u32_prop(c, "phandle"));
    if let Some(clock) = &clock {
        string_list("/apb-pclk", clock, "compatible", &["fixed-clock"]);
        u32_is("/apb-pclk", clock, "#clock-cells", 0);
        u32_is("/apb-pclk", clock, "clock-frequency", 24_000_000);
    }
    let what = "/pl011@9000000";
    if let Some(uart) = node(fdt, what) {
        string_list(what, &uart, "compatible", &["arm,pl011", "arm,primecell"]);
        reg_is(what, &uart, [(UART, 0x1000)]);
        let (irq, n) = interrupts::<1>(&uart);
        report::holds(
            format_args!("{what} interrupts"),
            n == 1 && irq[0] == [0, 1, 4],
            format_args!("{:?}", &irq[..n.min(1)]),
            "<0 1 4>",
        );
        let clocks: ([u32; 2], usize) = first_cells(&uart, "clocks");
        report::holds(
            format_args!("{what} clocks"),
            clock_phandle.is_some() && clocks.1 == 2 && clocks.0 == [clock_phandle.unwrap_or(0); 2],
            format_args!("{:?} (apb-pclk {clock_phandle:?})", &clocks.0[..clocks.1.min(2)]),
            "<&apb-pclk &apb-pclk>",
        );
        string_list(what, &uart, "clock-names", &["uartclk", "apb_pclk"]);
    }
    // "`/chosen`: `bootargs` (from the config), `stdout-path`".
    if let Some(chosen) = node(fdt, "/chosen") {
        present("/chosen", &chosen, "bootargs");
        let stdout = str_prop(&chosen, "stdout-path");
        let path = stdout.map(|s| s.split(':').next().unwrap_or(s));
        report::holds(format_args!("/chosen stdout-path"), path == Some(what), format_args!("{stdout:?}"), what);
    }
}

/// The first `N` cells of a property and how many it has.
fn first_cells<const N: usize>(node: &FdtNode, name: &str) -> ([u32; N], usize) {
    let mut out = [0; N];
    let mut n = 0;
    for (i, c) in cells(node, name).into_iter().flatten().enumerate() {
        if i < N {
            out[i] = c;
        }
        n += 1;
    }
    (out, n)
}

/// "`/watchdog@9001000` (when the config has `watchdog = true`)": checked when present.
fn watchdog(fdt: &Fdt) {
    let what = "/watchdog@9001000";
    let Some(dog) = fdt.find_node(what).filter(|n| n.name == "watchdog@9001000") else {
        report::note(format_args!("no {what}: the partition has no watchdog"));
        return;
    };
    string_list(what, &dog, "compatible", &["arm,sp805", "arm,primecell"]);
    reg_is(what, &dog, [(WATCHDOG, 0x1000)]);
    let (irq, n) = interrupts::<1>(&dog);
    report::holds(
        format_args!("{what} interrupts"),
        n == 1 && irq[0][0] == 0 && irq[0][1] >= 16 && irq[0][2] == 4,
        format_args!("{:?}", &irq[..n.min(1)]),
        "<0 (INTID - 32) 4>, an SPI from SPI 16 up, level-high",
    );
    string_list(what, &dog, "clock-names", &["wdog_clk", "apb_pclk"]);
    let (clocks, count) = first_cells::<2>(&dog, "clocks");
    let wdog = fdt.find_node("/clock-wdog");
    let wdog_phandle = wdog.as_ref().and_then(|c| u32_prop(c, "phandle"));
    let apb = fdt.find_node("/apb-pclk").and_then(|c| u32_prop(&c, "phandle"));
    report::holds(
        format_args!("{what} clocks"),
        count == 2 && Some(clocks[0]) == wdog_phandle && Some(clocks[1]) == apb,
        format_args!("{:?} (clock-wdog {wdog_phandle:?}, apb-pclk {apb:?})", &clocks[..count.min(2)]),
        "<&clock-wdog &apb-pclk>",
    );
    if let Some(wdog) = wdog {
        string_list("/clock-wdog", &wdog, "compatible", &["fixed-clock"]);
        u32_is("/clock-wdog", &wdog, "#clock-cells", 0);
        u32_is("/clock-wdog", &wdog, "clock-frequency", 1_000_000);
        string_list("/clock-wdog", &wdog, "clock-output-names", &["wdog_clk"]);
    } else {
        report::holds(format_args!("node /clock-wdog"), false, format_args!("absent"), "present");
    }
}

/// "`/hypervisor`: `compatible = "hv-static,hypervisor"`, `partition-name` (string), `partition-id` (u32),
/// `abi-version = <1 4>` (major, minor)", its channels, and no `hv-static,manages` in a partition that manages none.
fn hypervisor(fdt: &Fdt, facts: &mut Facts) {
    let what = "/hypervisor";
    let Some(hv) = node(fdt, what) else { return };
    string_list(what, &hv, "compatible", &["hv-static,hypervisor"]);
    let name = str_prop(&hv, "partition-name");
    report::holds(
        format_args!("{what} partition-name"),
        name.is_some_and(|n| !n.is_empty()),
        format_args!("{name:?}"),
        "a string",
    );
    facts.partition_id = u32_prop(&hv, "partition-id");
    report::holds(
        format_args!("{what} partition-id"),
        facts.partition_id.is_some(),
        format_args!("{:?}", facts.partition_id),
        "a u32",
    );
    // A guest written against 1.4 keeps working on every later 1.y: major 1, minor at least 4.
    let (version, n) = first_cells::<2>(&hv, "abi-version");
    report::holds(
        format_args!("{what} abi-version"),
        n == 2 && version[0] == 1 && version[1] >= 4,
        format_args!("{:?}", &version[..n.min(2)]),
        "<1 4> or a later 1.y",
    );
    for absent in ["hv-static,manages", "hv-static,manages-names"] {
        let here = hv.property(absent).is_some();
        report::holds(
            format_args!("{what} {absent} (manages none)"),
            !here,
            format_args!("{}", if here { "present" } else { "absent" }),
            "absent",
        );
    }
    channels(&hv, facts);
}

/// "Under `/hypervisor`, when the partition maps channels, `#address-cells = <2>`, `#size-cells = <2>` and an empty
/// `ranges`..., and one `channel@IPA` node per channel, in config order: `compatible = "hv-static,channel"`, `reg =
/// <IPA SIZE>`, `interrupts = <0 (INTID - 32) 1>` (the doorbell, an SPI, edge-rising), `access = "r"` or `"rw"`,
/// `label`." And "The interrupts are the partition's free SPIs from SPI 16 (INTID 48) up: transports first, then
/// doorbells": with no transports, the doorbells are INTID 48, 49, ... in order.
fn channels(hv: &FdtNode, facts: &mut Facts) {
    let mut n = 0;
    for ch in hv.children().filter(|c| c.name.starts_with("channel@")) {
        let what = ch.name;
        if n == 0 {
            u32_is("/hypervisor", hv, "#address-cells", 2);
            u32_is("/hypervisor", hv, "#size-cells", 2);
            let ranges = hv.property("ranges").map(|p| p.value.len());
            report::holds(
                format_args!("/hypervisor ranges"),
                ranges == Some(0),
                format_args!("{ranges:?} bytes"),
                "empty",
            );
        }
        string_list(format_args!("/hypervisor/{what}"), &ch, "compatible", &["hv-static,channel"]);
        let (reg, count) = regs::<1>(&ch);
        let (base, size) = reg[0];
        report::holds(
            format_args!("/hypervisor/{what} reg"),
            count == 1 && base >= CHANNELS_FROM && base % 0x1_0000 == 0 && size > 0,
            format_args!("{:x?}", &reg[..count.min(1)]),
            "one region from 0x1000_0000 up, 64 KiB-aligned",
        );
        let unit = what.split('@').nth(1).and_then(|u| u64::from_str_radix(u, 16).ok());
        report::holds(
            format_args!("/hypervisor/{what} unit address"),
            unit == Some(base),
            format_args!("{unit:x?}"),
            "its reg base",
        );
        let (irq, k) = interrupts::<1>(&ch);
        let want_spi = 16 + n as u32;
        report::holds(
            format_args!("/hypervisor/{what} interrupts"),
            k == 1 && irq[0] == [0, want_spi, 1],
            format_args!("{:?}", &irq[..k.min(1)]),
            "<0 (INTID - 32) 1>, edge-rising, the free SPIs from SPI 16 in order",
        );
        let access = str_prop(&ch, "access");
        report::holds(
            format_args!("/hypervisor/{what} access"),
            matches!(access, Some("r" | "rw")),
            format_args!("{access:?}"),
            "\"r\" or \"rw\"",
        );
        let label = str_prop(&ch, "label");
        report::holds(
            format_args!("/hypervisor/{what} label"),
            label.is_some_and(|l| !l.is_empty()),
            format_args!("{label:?}"),
            "the channel's name",
        );
        if n < MAX_CHANNELS {
            facts.channels[n] = Channel { base, size, writable: access == Some("rw"), intid: 32 + irq[0][1] };
        }
        n += 1;
    }
    facts.channel_count = n;
    if n == 0 {
        report::note(format_args!("no channel@ nodes under /hypervisor"));
    }
}
