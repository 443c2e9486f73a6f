//! Partition device trees and boot plans for hv-static, computed on the host at image build time.
//!
//! hv-static boots every partition with no control domain (Xen's "dom0less"): each partition's device tree and
//! boot registers are fixed when the image is built. This crate turns a validated partition description into:
//! - the partition's flattened device tree ([`partition_dtb`]), exactly as `docs/guest-abi.md` specifies;
//! - its boot plan ([`BootPlan`]): where the kernel and the tree go and what the boot vCPU starts with.
//!
//! Design rules:
//! - The guest-physical map is the guest ABI ([`guest_map`]); it does not depend on the board the system runs on.
//! - Pure functions of their inputs: the same description always gives the same bytes (reproducible images).
//! - `no_std` + `alloc`, no unsafe code.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(test)]
extern crate std;

use alloc::{format, string::String, vec, vec::Vec};
use core::fmt;

use board_support::PropValue;
pub use board_support::{Arch, Device, GicVersion};
use vm_fdt::FdtWriter;

pub mod overlay;
pub use overlay::{Overlay, OverlayError};

/// Version of the guest ABI the device tree announces (`/hypervisor/abi-version`).
pub use hv_plan::abi::VERSION as ABI_VERSION;

/// The guest-physical map every partition sees (docs/guest-abi.md, "Memory map"), defined in `hv-plan`.
pub use hv_plan::guest_map;

/// `interrupts` cell values of the GIC binding.
mod irq_cells {
    pub const SPI: u32 = 0;
    pub const PPI: u32 = 1;
    pub const EDGE_RISING: u32 = 1;
    pub const LEVEL_HIGH: u32 = 4;
}

/// Phandles of the nodes others refer to; the fixed clocks passed-through devices need besides `/apb-pclk` follow,
/// from [`PHANDLE_FIRST_CLOCK`] on, then the watchdog's clock (`/clock-wdog`) when the partition has a watchdog.
const PHANDLE_GIC: u32 = 1;
const PHANDLE_APB_PCLK: u32 = 2;
const PHANDLE_FIRST_CLOCK: u32 = 3;

/// Properties of a passed-through device's node that [`partition_dtb`] writes itself; a device's own `props`
/// may not repeat them.
pub const GENERATED_DEVICE_PROPS: &[&str] =
    &["compatible", "reg", "interrupts", "interrupt-parent", "clocks", "clock-names", "phandle", "status"];

/// What a partition's device tree describes. Validated by the caller (the image builder); [`partition_dtb`]
/// still refuses descriptions it cannot express.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionDt {
    /// Partition name (`/hypervisor/partition-name`).
    pub name: String,
    /// Partition index (`/hypervisor/partition-id`).
    pub id: u32,
    /// The instruction set the partition runs; picks the timer's binding (`arm,armv8-timer`, `arm,armv7-timer`).
    pub arch: Arch,
    /// `compatible` of the cpu nodes: the board's CPU, which the vCPUs run on (`arm,armv8`, `arm,cortex-a15`).
    pub cpu_compatible: String,
    /// Number of vCPUs; vCPU n has MPIDR Aff0 = n.
    pub vcpus: u32,
    /// Guest-physical base and size of RAM.
    pub ram_ipa: u64,
    pub ram_size: u64,
    pub gic: GicVersion,
    /// Guest-physical base of the emulated PL011 console, when the partition has one.
    pub uart: Option<u64>,
    /// Kernel command line (`/chosen/bootargs`).
    pub bootargs: String,
    /// Guest-physical start and end (exclusive) of the initial ramdisk.
    pub initrd: Option<(u64, u64)>,
    /// Devices passed through to the partition, in the order their nodes are written. Each gets its board node's
    /// path, with its MMIO at the same addresses (guest-physical = host-physical).
    pub devices: Vec<Device>,
    /// virtio-mmio transports (the partition's disks and network ports), in the order their nodes are written.
    pub virtio: Vec<VirtioMmio>,
    /// Shared-memory channels the partition maps, written under `/hypervisor`.
    pub channels: Vec<ChannelDt>,
    /// The emulated SP805 watchdog, when the partition has one.
    pub watchdog: Option<WatchdogDt>,
    /// The interrupt (an SPI's INTID, level-high) of the emulated PL061 GPIO controller at `guest_map::GPIO` that
    /// carries the doorbells of the partition's first channels: `Some` when it maps channels.
    pub gpio_intid: Option<u32>,
    /// The partitions this one manages, in config order (`/hypervisor/hv-static,manages` and `-names`).
    pub manages: Vec<Managed>,
}

/// An emulated SP805 watchdog: `/watchdog@BASE`, with its counting clock `/clock-wdog`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchdogDt {
    /// Guest-physical base of its [`guest_map::WATCHDOG_SIZE`] bytes of registers.
    pub base: u64,
    /// Its interrupt, an SPI's INTID (level-high).
    pub intid: u32,
}

/// A partition another one manages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Managed {
    /// Its partition index (`partition-id` in its own tree).
    pub id: u32,
    /// Its name (`partition-name` in its own tree).
    pub name: String,
}

/// A virtio-mmio transport: `/virtio_mmio@BASE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioMmio {
    /// Guest-physical base of its [`guest_map::VIRTIO_MMIO_STRIDE`] bytes of registers.
    pub base: u64,
    /// Its interrupt, an SPI's INTID (level-high).
    pub intid: u32,
}

/// A shared-memory channel as one partition sees it: `/hypervisor/channel@IPA`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelDt {
    /// The channel's name in the config (`label`).
    pub name: String,
    /// Guest-physical base and size of the shared region.
    pub ipa: u64,
    pub size: u64,
    /// The doorbell's interrupt, an SPI's INTID (edge-rising: each ring is one event).
    pub intid: u32,
    /// Whether the partition may write the region (`access = "rw"`) or only read it (`"r"`).
    pub writable: bool,
    /// The partition's position in the channel's member list (the config's `partitions`), from 0.
    pub member: u32,
}

/// Why a device tree could not be written.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// A partition needs at least one vCPU.
    NoVcpus,
    /// The GICv2 timer binding's CPU mask has 8 bits.
    TooManyVcpusForGicV2(u32),
    /// RAM smaller than the device tree region it must hold.
    RamTooSmall(u64),
    /// The initrd lies outside RAM or ends before it starts.
    InitrdOutsideRam { start: u64, end: u64 },
    /// A passed-through device's path is not a node directly under the root (`/name@unit`).
    DevicePath(String),
    /// A passed-through device's node has the name of another node of the tree.
    DuplicateNode(String),
    /// A passed-through device's `props` repeat a property the tree writes itself.
    GeneratedProperty { node: String, property: String },
    /// A passed-through device's interrupt is not a shared peripheral interrupt (INTID 32 to 1019).
    NotSpi { node: String, intid: u32 },
    /// A virtio-mmio transport or channel overlaps RAM or another node's registers, or its interrupt is not a free
    /// SPI of the emulated distributor.
    PvDevice { node: String, why: &'static str },
    /// The watchdog overlaps RAM or another device's registers, or its interrupt is not a free SPI of the emulated
    /// distributor.
    Watchdog { why: &'static str },
    /// The channel GPIO controller's interrupt is not a free SPI of the emulated distributor, or a channel is too
    /// large for an `mmio-sram` node (4 GiB).
    Gpio { why: &'static str },
    /// The FDT writer refused something (a NUL in a string, for example).
    Fdt(vm_fdt::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoVcpus => write!(f, "a partition needs at least one vCPU"),
            Error::TooManyVcpusForGicV2(n) => {
                write!(f, "{n} vCPUs: a GICv2 partition has at most 8 (the timer's CPU mask has 8 bits)")
            }
            Error::RamTooSmall(size) => {
                write!(f, "RAM of {size:#x} bytes cannot hold the {:#x}-byte device tree region", guest_map::DTB_REGION)
            }
            Error::InitrdOutsideRam { start, end } => {
                write!(f, "initrd {start:#x}..{end:#x} is not inside the partition's RAM")
            }
            Error::DevicePath(path) => {
                write!(
                    f,
                    "device `{path}`: a passed-through node's path must be absolute and end in its name (`/name@unit`)"
                )
            }
            Error::DuplicateNode(name) => {
                write!(f, "device node `{name}` clashes with another node of the partition's tree")
            }
            Error::GeneratedProperty { node, property } => {
                write!(f, "device node `{node}`: property `{property}` is written by the device tree generator")
            }
            Error::NotSpi { node, intid } => {
                write!(f, "device node `{node}`: INTID {intid} is not a shared peripheral interrupt")
            }
            Error::PvDevice { node, why } => write!(f, "PV device node `{node}`: {why}"),
            Error::Watchdog { why } => write!(f, "watchdog node: {why}"),
            Error::Gpio { why } => write!(f, "channel GPIO or sram node: {why}"),
            Error::Fdt(e) => write!(f, "device tree writer: {e}"),
        }
    }
}

impl From<vm_fdt::Error> for Error {
    fn from(e: vm_fdt::Error) -> Self {
        Error::Fdt(e)
    }
}

/// Where a partition's images go and how its boot vCPU starts (the arm64 boot protocol, or ARM's for a zImage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootPlan {
    /// Guest-physical load address of the kernel, which is also vCPU 0's entry point.
    pub kernel: u64,
    /// Guest-physical address of the device tree (`x0` at entry on AArch64, `r2` on ARMv7).
    pub dtb: u64,
}

impl BootPlan {
    /// The plan for a partition with RAM at `ram_ipa` of `ram_size` bytes and a kernel whose Image header says
    /// `text_offset` (a zImage's is 0x8000 by convention): the kernel at RAM base + `text_offset`, the tree at the
    /// start of the last 2 MiB of RAM.
    pub const fn new(ram_ipa: u64, ram_size: u64, text_offset: u64) -> BootPlan {
        BootPlan { kernel: ram_ipa + text_offset, dtb: ram_ipa + ram_size - guest_map::DTB_REGION }
    }
}

/// Path of the console node, used by `/chosen/stdout-path`.
fn uart_node_name(base: u64) -> String {
    format!("pl011@{base:x}")
}

/// Name of the channel GPIO controller's node.
fn gpio_node_name() -> String {
    format!("gpio@{:x}", guest_map::GPIO)
}

/// Name of a channel's `mmio-sram` node at the root.
fn sram_node_name(ipa: u64) -> String {
    format!("sram@{ipa:x}")
}

/// The names of the channel GPIO controller's lines: for the partition's k-th channel (k below
/// `guest_map::GPIO_CHANNELS`), line 2k is `NAME.doorbell` and line 2k + 1 `NAME.ring`; the rest are unnamed.
pub fn gpio_line_names(channels: &[ChannelDt]) -> Vec<String> {
    let mut names = vec![String::new(); 2 * guest_map::GPIO_CHANNELS];
    for (k, c) in channels.iter().take(guest_map::GPIO_CHANNELS).enumerate() {
        names[2 * k] = format!("{}.doorbell", c.name);
        names[2 * k + 1] = format!("{}.ring", c.name);
    }
    names
}

/// Name of the watchdog's node.
fn watchdog_node_name(base: u64) -> String {
    format!("watchdog@{base:x}")
}

/// Name of the watchdog's counting clock.
const WATCHDOG_CLOCK_NODE: &str = "clock-wdog";

/// The partition's flattened device tree.
pub fn partition_dtb(p: &PartitionDt) -> Result<Vec<u8>, Error> {
    if p.vcpus == 0 {
        return Err(Error::NoVcpus);
    }
    if p.gic == GicVersion::V2 && p.vcpus > 8 {
        return Err(Error::TooManyVcpusForGicV2(p.vcpus));
    }
    if p.ram_size < guest_map::DTB_REGION {
        return Err(Error::RamTooSmall(p.ram_size));
    }
    if let Some((start, end)) = p.initrd {
        if start > end || start < p.ram_ipa || end > p.ram_ipa + p.ram_size {
            return Err(Error::InitrdOutsideRam { start, end });
        }
    }

    let clocks = extra_clocks(&p.devices);
    check_devices(p, &clocks)?;
    check_pv(p)?;
    check_watchdog(p)?;
    check_gpio(p)?;
    // The watchdog's clock takes the phandle after the devices' clocks.
    let wdog_clk = clocks.last().map_or(PHANDLE_FIRST_CLOCK, |(_, phandle)| phandle + 1);

    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "hv-static,partition")?;
    fdt.property_u32("interrupt-parent", PHANDLE_GIC)?;

    let memory = fdt.begin_node(&format!("memory@{:x}", p.ram_ipa))?;
    fdt.property_string("device_type", "memory")?;
    fdt.property_array_u64("reg", &[p.ram_ipa, p.ram_size])?;
    fdt.end_node(memory)?;

    write_cpus(&mut fdt, p.vcpus, &p.cpu_compatible)?;

    let psci = fdt.begin_node("psci")?;
    fdt.property_string_list("compatible", vec!["arm,psci-1.0".into(), "arm,psci-0.2".into()])?;
    fdt.property_string("method", "hvc")?;
    fdt.end_node(psci)?;

    write_gic(&mut fdt, p.gic, p.vcpus)?;
    write_timer(&mut fdt, p.arch, p.gic, p.vcpus)?;

    let clock = fdt.begin_node("apb-pclk")?;
    fdt.property_string("compatible", "fixed-clock")?;
    fdt.property_u32("#clock-cells", 0)?;
    fdt.property_u32("clock-frequency", guest_map::APB_PCLK_HZ)?;
    fdt.property_phandle(PHANDLE_APB_PCLK)?;
    fdt.end_node(clock)?;
    for (hz, phandle) in &clocks {
        let clock = fdt.begin_node(&clock_node_name(*hz))?;
        fdt.property_string("compatible", "fixed-clock")?;
        fdt.property_u32("#clock-cells", 0)?;
        fdt.property_u32("clock-frequency", *hz)?;
        fdt.property_phandle(*phandle)?;
        fdt.end_node(clock)?;
    }
    if p.watchdog.is_some() {
        let clock = fdt.begin_node(WATCHDOG_CLOCK_NODE)?;
        fdt.property_string("compatible", "fixed-clock")?;
        fdt.property_u32("#clock-cells", 0)?;
        fdt.property_u32("clock-frequency", guest_map::WATCHDOG_CLOCK_HZ)?;
        fdt.property_string("clock-output-names", "wdog_clk")?;
        fdt.property_phandle(wdog_clk)?;
        fdt.end_node(clock)?;
    }

    if let Some(base) = p.uart {
        let uart = fdt.begin_node(&uart_node_name(base))?;
        fdt.property_string_list("compatible", vec!["arm,pl011".into(), "arm,primecell".into()])?;
        fdt.property_array_u64("reg", &[base, guest_map::UART_SIZE])?;
        fdt.property_array_u32("interrupts", &[irq_cells::SPI, guest_map::UART_SPI, irq_cells::LEVEL_HIGH])?;
        fdt.property_array_u32("clocks", &[PHANDLE_APB_PCLK, PHANDLE_APB_PCLK])?;
        fdt.property_string_list("clock-names", vec!["uartclk".into(), "apb_pclk".into()])?;
        fdt.end_node(uart)?;
    }
    if let Some(w) = &p.watchdog {
        // Linux's `sp805_wdt` binds through the AMBA bus, which reads the PrimeCell ID registers in the last 0x20
        // bytes of `reg`: the size must be the whole register page.
        let node = fdt.begin_node(&watchdog_node_name(w.base))?;
        fdt.property_string_list("compatible", vec!["arm,sp805".into(), "arm,primecell".into()])?;
        fdt.property_array_u64("reg", &[w.base, guest_map::WATCHDOG_SIZE])?;
        fdt.property_array_u32("interrupts", &[irq_cells::SPI, w.intid - 32, irq_cells::LEVEL_HIGH])?;
        fdt.property_array_u32("clocks", &[wdog_clk, PHANDLE_APB_PCLK])?;
        fdt.property_string_list("clock-names", vec!["wdog_clk".into(), "apb_pclk".into()])?;
        fdt.end_node(node)?;
    }

    if let Some(intid) = p.gpio_intid {
        // Linux's `gpio-pl061` binds through the AMBA bus (the PrimeCell ID registers end the page) and requests
        // `apb_pclk`; the line names let user space find each channel's lines (`gpiocdev`, libgpiod).
        let node = fdt.begin_node(&gpio_node_name())?;
        fdt.property_string_list("compatible", vec!["arm,pl061".into(), "arm,primecell".into()])?;
        fdt.property_array_u64("reg", &[guest_map::GPIO, guest_map::GPIO_SIZE])?;
        fdt.property_array_u32("interrupts", &[irq_cells::SPI, intid - 32, irq_cells::LEVEL_HIGH])?;
        fdt.property_null("gpio-controller")?;
        fdt.property_u32("#gpio-cells", 2)?;
        fdt.property_array_u32("clocks", &[PHANDLE_APB_PCLK])?;
        fdt.property_string("clock-names", "apb_pclk")?;
        fdt.property_string_list("gpio-line-names", gpio_line_names(&p.channels))?;
        fdt.end_node(node)?;
    }
    for c in &p.channels {
        // The same memory for Linux's `mmio-sram` driver, which exports the child as a file user space reads and
        // writes (`/sys/bus/platform/devices/IPA.sram/IPA.sram`): stock kernels then reach a channel without a
        // driver of hv-static's. 32-bit child addresses, translated by `ranges` to the guest-physical base.
        let size = u32::try_from(c.size).map_err(|_| Error::Gpio { why: "a channel is larger than 4 GiB" })?;
        let node = fdt.begin_node(&sram_node_name(c.ipa))?;
        fdt.property_string("compatible", "mmio-sram")?;
        fdt.property_array_u64("reg", &[c.ipa, c.size])?;
        fdt.property_u32("#address-cells", 1)?;
        fdt.property_u32("#size-cells", 1)?;
        fdt.property_array_u32("ranges", &[0, (c.ipa >> 32) as u32, c.ipa as u32, size])?;
        let part = fdt.begin_node("channel@0")?;
        fdt.property_array_u32("reg", &[0, size])?;
        fdt.property_null("export")?;
        fdt.property_string("label", &c.name)?;
        fdt.property_string("hv-static,access", if c.writable { "rw" } else { "r" })?;
        fdt.property_u32("hv-static,member", c.member)?;
        fdt.end_node(part)?;
        fdt.end_node(node)?;
    }
    for d in &p.devices {
        write_device(&mut fdt, d, &clocks)?;
    }
    for v in &p.virtio {
        let node = fdt.begin_node(&virtio_node_name(v.base))?;
        fdt.property_string("compatible", "virtio,mmio")?;
        fdt.property_array_u64("reg", &[v.base, guest_map::VIRTIO_MMIO_STRIDE])?;
        fdt.property_array_u32("interrupts", &[irq_cells::SPI, v.intid - 32, irq_cells::LEVEL_HIGH])?;
        fdt.property_null("dma-coherent")?;
        fdt.end_node(node)?;
    }

    let chosen = fdt.begin_node("chosen")?;
    fdt.property_string("bootargs", &p.bootargs)?;
    if let Some(base) = p.uart {
        fdt.property_string("stdout-path", &format!("/{}", uart_node_name(base)))?;
    }
    if let Some((start, end)) = p.initrd {
        fdt.property_u64("linux,initrd-start", start)?;
        fdt.property_u64("linux,initrd-end", end)?;
    }
    fdt.end_node(chosen)?;

    let hv = fdt.begin_node("hypervisor")?;
    fdt.property_string("compatible", "hv-static,hypervisor")?;
    fdt.property_string("partition-name", &p.name)?;
    fdt.property_u32("partition-id", p.id)?;
    fdt.property_array_u32("abi-version", &[ABI_VERSION.0, ABI_VERSION.1])?;
    if !p.manages.is_empty() {
        let ids: Vec<u32> = p.manages.iter().map(|m| m.id).collect();
        fdt.property_array_u32("hv-static,manages", &ids)?;
        fdt.property_string_list("hv-static,manages-names", p.manages.iter().map(|m| m.name.clone()).collect())?;
    }
    if !p.channels.is_empty() {
        // The channels' `reg` are guest-physical addresses, as at the root.
        fdt.property_u32("#address-cells", 2)?;
        fdt.property_u32("#size-cells", 2)?;
        fdt.property_null("ranges")?;
    }
    for c in &p.channels {
        let node = fdt.begin_node(&channel_node_name(c.ipa))?;
        fdt.property_string("compatible", "hv-static,channel")?;
        fdt.property_array_u64("reg", &[c.ipa, c.size])?;
        fdt.property_array_u32("interrupts", &[irq_cells::SPI, c.intid - 32, irq_cells::EDGE_RISING])?;
        fdt.property_string("access", if c.writable { "rw" } else { "r" })?;
        fdt.property_string("label", &c.name)?;
        fdt.property_u32("hv-static,member", c.member)?;
        fdt.end_node(node)?;
    }
    fdt.end_node(hv)?;

    fdt.end_node(root)?;
    Ok(fdt.finish()?)
}

/// Name of a virtio-mmio transport's node.
fn virtio_node_name(base: u64) -> String {
    format!("virtio_mmio@{base:x}")
}

/// Name of a channel's node under `/hypervisor`.
fn channel_node_name(ipa: u64) -> String {
    format!("channel@{ipa:x}")
}

/// The INTIDs the partition's passed-through devices and console use.
fn fixed_intids(p: &PartitionDt) -> Vec<u32> {
    let mut intids: Vec<u32> = p.devices.iter().flat_map(|d| d.spis.iter().copied()).collect();
    intids.extend(p.uart.map(|_| 32 + guest_map::UART_SPI));
    intids
}

/// What is wrong with `intid` as an emulated device's interrupt when `used` are taken: not an SPI of the emulated
/// distributor, or already used.
fn spi_problem(intid: u32, used: &[u32]) -> Option<&'static str> {
    if !(32..guest_map::VGIC_INTIDS).contains(&intid) {
        Some("its interrupt is not an SPI of the emulated distributor")
    } else if used.contains(&intid) {
        Some("its interrupt is already used in the partition")
    } else {
        None
    }
}

/// Refuses PV devices the tree cannot describe consistently: a transport or channel over RAM, a passed-through
/// device or another PV device; an interrupt that is not an SPI of the emulated distributor, or that the console,
/// a passed-through device or another PV device already uses; a channel name that is empty or holds a NUL.
fn check_pv(p: &PartitionDt) -> Result<(), Error> {
    let mut regions: Vec<(u64, u64)> = vec![(p.ram_ipa, p.ram_size)];
    regions.extend(p.devices.iter().flat_map(|d| d.regs.iter().map(|m| (m.base, m.size))));
    let mut intids = fixed_intids(p);
    let pv = p.virtio.iter().map(|v| (virtio_node_name(v.base), v.base, guest_map::VIRTIO_MMIO_STRIDE, v.intid));
    let pv = pv.chain(p.channels.iter().map(|c| (channel_node_name(c.ipa), c.ipa, c.size, c.intid)));
    for (node, base, size, intid) in pv {
        let why = if size == 0 || base.checked_add(size).is_none() {
            Some("its region is empty or wraps around")
        } else if regions.iter().any(|(b, l)| base < b.saturating_add(*l) && *b < base + size) {
            Some("its region overlaps RAM, a passed-through device or another PV device")
        } else {
            spi_problem(intid, &intids)
        };
        if let Some(why) = why {
            return Err(Error::PvDevice { node, why });
        }
        regions.push((base, size));
        intids.push(intid);
    }
    if p.channels.iter().any(|c| c.name.is_empty()) {
        return Err(Error::PvDevice { node: "channel".into(), why: "a channel needs a name" });
    }
    Ok(())
}

/// Refuses a watchdog the tree cannot describe consistently: its page over RAM, the console, a passed-through or PV
/// device; its interrupt not an SPI of the emulated distributor, or one the console, a passed-through or PV device
/// already uses.
fn check_watchdog(p: &PartitionDt) -> Result<(), Error> {
    let Some(w) = &p.watchdog else { return Ok(()) };
    let mut regions: Vec<(u64, u64)> = vec![(p.ram_ipa, p.ram_size)];
    regions.extend(p.uart.map(|base| (base, guest_map::UART_SIZE)));
    regions.extend(p.devices.iter().flat_map(|d| d.regs.iter().map(|m| (m.base, m.size))));
    regions.extend(p.virtio.iter().map(|v| (v.base, guest_map::VIRTIO_MMIO_STRIDE)));
    regions.extend(p.channels.iter().map(|c| (c.ipa, c.size)));
    let mut intids = fixed_intids(p);
    intids.extend(p.virtio.iter().map(|v| v.intid));
    intids.extend(p.channels.iter().map(|c| c.intid));
    let size = guest_map::WATCHDOG_SIZE;
    let why = if w.base.checked_add(size).is_none() {
        Some("its region wraps around")
    } else if regions.iter().any(|(b, l)| w.base < b.saturating_add(*l) && *b < w.base + size) {
        Some("its region overlaps RAM, the console, a passed-through device or a PV device")
    } else {
        spi_problem(w.intid, &intids)
    };
    match why {
        Some(why) => Err(Error::Watchdog { why }),
        None => Ok(()),
    }
}

/// Refuses a channel GPIO controller the tree cannot describe consistently: without channels, or its interrupt not
/// an SPI of the emulated distributor or one another device of the partition already uses.
fn check_gpio(p: &PartitionDt) -> Result<(), Error> {
    let Some(intid) = p.gpio_intid else { return Ok(()) };
    let mut intids = fixed_intids(p);
    intids.extend(p.virtio.iter().map(|v| v.intid));
    intids.extend(p.channels.iter().map(|c| c.intid));
    intids.extend(p.watchdog.map(|w| w.intid));
    let why = if p.channels.is_empty() { Some("the partition maps no channel") } else { spi_problem(intid, &intids) };
    match why {
        Some(why) => Err(Error::Gpio { why }),
        None => Ok(()),
    }
}

/// Name of the fixed clock of `hz` that devices need besides `/apb-pclk`.
fn clock_node_name(hz: u32) -> String {
    format!("clock-{hz}")
}

/// The fixed clocks the devices need besides `/apb-pclk`: (frequency, phandle), by frequency.
fn extra_clocks(devices: &[Device]) -> Vec<(u32, u32)> {
    let mut hz: Vec<u32> =
        devices.iter().flat_map(|d| d.clocks.iter().map(|c| c.hz)).filter(|hz| *hz != guest_map::APB_PCLK_HZ).collect();
    hz.sort_unstable();
    hz.dedup();
    hz.into_iter().zip(PHANDLE_FIRST_CLOCK..).collect()
}

/// Refuses device nodes the tree cannot hold: nested paths, names of other nodes, properties it writes itself,
/// interrupts that are not SPIs.
fn check_devices(p: &PartitionDt, clocks: &[(u32, u32)]) -> Result<(), Error> {
    let mut names: Vec<String> = vec![
        format!("memory@{:x}", p.ram_ipa),
        "cpus".into(),
        "psci".into(),
        format!("intc@{:x}", guest_map::GICD),
        "timer".into(),
        "apb-pclk".into(),
        "chosen".into(),
        "hypervisor".into(),
    ];
    names.extend(p.uart.map(uart_node_name));
    names.extend(clocks.iter().map(|(hz, _)| clock_node_name(*hz)));
    if let Some(w) = &p.watchdog {
        names.push(watchdog_node_name(w.base));
        names.push(WATCHDOG_CLOCK_NODE.into());
    }
    if p.gpio_intid.is_some() {
        names.push(gpio_node_name());
    }
    names.extend(p.channels.iter().map(|c| sram_node_name(c.ipa)));
    for d in &p.devices {
        let name = d.node_name();
        if !d.path.starts_with('/') || name.is_empty() {
            return Err(Error::DevicePath(d.path.into()));
        }
        if names.iter().any(|n| n == name) {
            return Err(Error::DuplicateNode(name.into()));
        }
        names.push(name.into());
        if let Some((prop, _)) = d.props.iter().find(|(k, _)| GENERATED_DEVICE_PROPS.contains(k)) {
            return Err(Error::GeneratedProperty { node: name.into(), property: (*prop).into() });
        }
        if let Some(intid) = d.spis.iter().find(|i| !(32..1020).contains(*i)) {
            return Err(Error::NotSpi { node: name.into(), intid: *intid });
        }
    }
    Ok(())
}

/// A passed-through device: `compatible`, `reg` (guest-physical = host-physical), level-high SPIs, its clocks,
/// then the board's other properties.
fn write_device(fdt: &mut FdtWriter, d: &Device, clocks: &[(u32, u32)]) -> Result<(), Error> {
    let node = fdt.begin_node(d.node_name())?;
    fdt.property_string_list("compatible", d.compatible.iter().map(|c| String::from(*c)).collect())?;
    let reg: Vec<u64> = d.regs.iter().flat_map(|m| [m.base, m.size]).collect();
    fdt.property_array_u64("reg", &reg)?;
    if !d.spis.is_empty() {
        let cells: Vec<u32> =
            d.spis.iter().flat_map(|intid| [irq_cells::SPI, intid - 32, irq_cells::LEVEL_HIGH]).collect();
        fdt.property_array_u32("interrupts", &cells)?;
    }
    if !d.clocks.is_empty() {
        let phandles: Vec<u32> = d
            .clocks
            .iter()
            .map(|c| clocks.iter().find(|(hz, _)| *hz == c.hz).map_or(PHANDLE_APB_PCLK, |(_, ph)| *ph))
            .collect();
        fdt.property_array_u32("clocks", &phandles)?;
        fdt.property_string_list("clock-names", d.clocks.iter().map(|c| String::from(c.name)).collect())?;
    }
    for (name, value) in d.props {
        match value {
            PropValue::Empty => fdt.property_null(name)?,
            PropValue::U32(v) => fdt.property_u32(name, *v)?,
            PropValue::Str(v) => fdt.property_string(name, v)?,
        }
    }
    fdt.end_node(node)?;
    Ok(())
}

fn write_cpus(fdt: &mut FdtWriter, vcpus: u32, compatible: &str) -> Result<(), Error> {
    let cpus = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", 1)?;
    fdt.property_u32("#size-cells", 0)?;
    for n in 0..vcpus {
        let cpu = fdt.begin_node(&format!("cpu@{n:x}"))?;
        fdt.property_string("device_type", "cpu")?;
        fdt.property_string("compatible", compatible)?;
        fdt.property_u32("reg", n)?;
        fdt.property_string("enable-method", "psci")?;
        fdt.end_node(cpu)?;
    }
    fdt.end_node(cpus)?;
    Ok(())
}

fn write_gic(fdt: &mut FdtWriter, gic: GicVersion, vcpus: u32) -> Result<(), Error> {
    use guest_map::*;
    let intc = fdt.begin_node(&format!("intc@{GICD:x}"))?;
    match gic {
        GicVersion::V3 => {
            fdt.property_string("compatible", "arm,gic-v3")?;
            fdt.property_array_u64("reg", &[GICD, GICD_SIZE, GICR, GICR_STRIDE * u64::from(vcpus)])?;
            fdt.property_u32("#redistributor-regions", 1)?;
        }
        GicVersion::V2 => {
            fdt.property_string("compatible", "arm,cortex-a15-gic")?;
            fdt.property_array_u64("reg", &[GICD, GICD_SIZE_V2, GICC, GICC_SIZE])?;
        }
    }
    fdt.property_null("interrupt-controller")?;
    fdt.property_u32("#interrupt-cells", 3)?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_phandle(PHANDLE_GIC)?;
    fdt.end_node(intc)?;
    Ok(())
}

/// The timer's `interrupts` cells: secure physical (PPI 13), non-secure physical (PPI 14), virtual (PPI 11) and
/// hypervisor (PPI 10), level-high; on GICv2 the binding also carries the mask of CPUs the PPI goes to.
fn timer_interrupts(gic: GicVersion, vcpus: u32) -> [u32; 12] {
    let flags = match gic {
        GicVersion::V3 => irq_cells::LEVEL_HIGH,
        GicVersion::V2 => irq_cells::LEVEL_HIGH | ((((1u32 << vcpus) - 1) & 0xff) << 8),
    };
    let mut cells = [0; 12];
    for (i, ppi) in [13, 14, 11, 10].into_iter().enumerate() {
        cells[i * 3..i * 3 + 3].copy_from_slice(&[irq_cells::PPI, ppi, flags]);
    }
    cells
}

/// The generic timer's binding: the same four interrupts either way.
fn timer_compatible(arch: Arch) -> &'static str {
    match arch {
        Arch::Aarch64 => "arm,armv8-timer",
        Arch::Aarch32 => "arm,armv7-timer",
    }
}

fn write_timer(fdt: &mut FdtWriter, arch: Arch, gic: GicVersion, vcpus: u32) -> Result<(), Error> {
    let timer = fdt.begin_node("timer")?;
    fdt.property_string("compatible", timer_compatible(arch))?;
    fdt.property_array_u32("interrupts", &timer_interrupts(gic, vcpus))?;
    fdt.property_null("always-on")?;
    fdt.end_node(timer)?;
    Ok(())
}

#[cfg(test)]
mod tests;
