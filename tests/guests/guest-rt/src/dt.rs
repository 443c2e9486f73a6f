//! The partition's facts, read from its device tree: docs/guest-abi.md promises nothing else, and the same
//! parser reads QEMU's own `virt` tree when a guest runs natively.
//!
//! Pure code over a byte slice, unit-tested on the host against QEMU's trees and ones built like hv-static's.
//! Addresses are parsed from the raw `reg` cells into `u64`, so 32-bit guests read 64-bit addresses correctly.

use core::fmt;

use fdt::node::FdtNode;
use fdt::{Fdt, FdtError};

use crate::MAX_CPUS;

/// A physical (guest-physical under hv-static) address range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub base: u64,
    pub size: u64,
}

impl Region {
    /// First address past the region.
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    pub const fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr < self.end()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicVersion {
    V2,
    V3,
}

impl fmt::Display for GicVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V2 => "v2",
            Self::V3 => "v3",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicInfo {
    pub version: GicVersion,
    pub distributor: Region,
    /// GICv3: the redistributor region (one frame per vCPU). GICv2: the CPU interface.
    pub per_cpu: Region,
    /// `#interrupt-cells` of the GIC node: how many cells one `interrupts` entry takes.
    pub interrupt_cells: usize,
}

/// A memory-mapped device with (at most) one interrupt of interest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    /// The first `reg` entry.
    pub reg: Region,
    /// INTID of the first `interrupts` entry, when that is a GIC SPI or PPI.
    pub intid: Option<u32>,
}

/// How a [`AuxUart`] is driven: the two UART designs hello knows (see [`crate::aux_uart`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuxUartKind {
    /// An Arm PL011 (`arm,pl011`), as on Xilinx Versal.
    Pl011,
    /// A Cadence UART (`cdns,uart-r1p12` or `xlnx,xuartps`), as on Xilinx Zynq UltraScale+ (ZynqMP).
    Cadence,
}

impl fmt::Display for AuxUartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pl011 => "pl011",
            Self::Cadence => "cadence",
        })
    }
}

/// A UART besides the console: under hv-static, a SoC UART passed through to the partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuxUart {
    pub kind: AuxUartKind,
    /// Its registers (the first `reg` entry) and the INTID of its first interrupt.
    pub device: Device,
}

/// Why a device tree cannot describe a runnable partition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DtError {
    /// Not a flattened device tree (bad magic, truncated).
    Invalid(FdtError),
    /// No node with `device_type = "memory"` and a `reg`.
    NoMemory,
    /// No `/cpus/cpu@*` node.
    NoCpus,
    /// More vCPUs than guest-rt has stacks for.
    TooManyCpus(usize),
}

impl fmt::Display for DtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "not a valid device tree: {e}"),
            Self::NoMemory => f.write_str("no memory node with a reg"),
            Self::NoCpus => f.write_str("no cpu nodes under /cpus"),
            Self::TooManyCpus(n) => write!(f, "{n} cpus, guest-rt supports {MAX_CPUS}"),
        }
    }
}

/// Everything a guest-rt guest needs to know about its partition.
#[derive(Clone, Copy, Debug)]
pub struct Platform<'a> {
    /// The device tree itself.
    pub dtb: &'a [u8],
    /// The first RAM bank.
    pub memory: Region,
    /// The console PL011: the one `/chosen/stdout-path` names, else the first enabled `arm,pl011`.
    pub uart: Option<Region>,
    pub gic: Option<GicInfo>,
    /// INTID of the virtual timer's PPI (the third `interrupts` entry of the timer node).
    pub timer_intid: Option<u32>,
    /// The first enabled `arm,pl031` real-time clock: QEMU `virt` has one; under hv-static only a partition it is
    /// passed through to does.
    pub rtc: Option<Device>,
    /// A UART that is not the console: the first enabled `arm,pl011` other than [`Platform::uart`], else the first
    /// enabled Cadence UART. Under hv-static only a partition a SoC UART is passed through to has one (its console
    /// is the emulated PL011 `/chosen/stdout-path` names); natively on a board with two UARTs, the second.
    pub aux_uart: Option<AuxUart>,
    /// `/chosen/bootargs`, empty when absent.
    pub bootargs: &'a str,
    /// `/hypervisor/partition-name`, or `"native"` without a `/hypervisor` node (bare QEMU).
    pub partition_name: &'a str,
    /// `/hypervisor/abi-version` (major, minor).
    pub abi_version: Option<(u32, u32)>,
    /// `/hypervisor/partition-id`: the partition's index in the config (what the manager calls name it by).
    pub partition_id: Option<u32>,
    /// The first enabled `arm,sp805` watchdog (under hv-static: the partition's, with `watchdog = true`).
    pub watchdog: Option<Device>,
    /// The frequency of that watchdog's counting clock: its first `clocks` entry's `clock-frequency`.
    pub watchdog_clock_hz: Option<u32>,
    /// The first enabled `arm,pl061` GPIO controller (under hv-static: the channel doorbell lines of a partition
    /// that is a member of a channel; natively on QEMU `virt`, the board's own).
    pub gpio: Option<Device>,
    cpus: [u64; MAX_CPUS],
    cpu_count: usize,
    virtio_mmio: [Device; MAX_VIRTIO_MMIO],
    virtio_mmio_count: usize,
}

/// `virtio,mmio` transports a [`Platform`] keeps: as many as QEMU's `virt` board has (hv-static gives a partition
/// one per disk and network port). Further ones are ignored.
pub const MAX_VIRTIO_MMIO: usize = 32;

/// The partition name reported when no hypervisor describes one.
pub const NATIVE: &str = "native";

impl<'a> Platform<'a> {
    pub fn parse(dtb: &'a [u8]) -> Result<Self, DtError> {
        let fdt = Fdt::new(dtb).map_err(DtError::Invalid)?;
        let (cpus, cpu_count) = cpus(&fdt)?;
        let gic = gic(&fdt);
        let interrupt_cells = gic.map_or(3, |g| g.interrupt_cells);
        let chosen = fdt.find_node("/chosen");
        let hypervisor = fdt.find_node("/hypervisor");
        let (virtio_mmio, virtio_mmio_count) = virtio_mmio(&fdt, interrupt_cells);
        let uart = uart(&fdt);
        Ok(Self {
            dtb,
            memory: memory(&fdt).ok_or(DtError::NoMemory)?,
            uart,
            gic,
            timer_intid: timer_intid(&fdt, interrupt_cells),
            rtc: device(&fdt, PL031, interrupt_cells),
            aux_uart: aux_uart(&fdt, uart, interrupt_cells),
            bootargs: chosen.and_then(|c| c.property("bootargs")).and_then(|p| p.as_str()).unwrap_or(""),
            partition_name: hypervisor
                .and_then(|h| h.property("partition-name"))
                .and_then(|p| p.as_str())
                .unwrap_or(NATIVE),
            abi_version: hypervisor.and_then(|h| h.property("abi-version")).and_then(|p| {
                let (major, minor) = p.value.split_at_checked(4)?;
                Some((be_u32(major)?, be_u32(minor)?))
            }),
            partition_id: hypervisor.and_then(|h| h.property("partition-id")).and_then(|p| be_u32(p.value)),
            watchdog: device(&fdt, SP805, interrupt_cells),
            watchdog_clock_hz: first_clock_hz(&fdt, SP805),
            gpio: device(&fdt, PL061, interrupt_cells),
            cpus,
            cpu_count,
            virtio_mmio,
            virtio_mmio_count,
        })
    }

    /// The MPIDR affinity (`reg`) of each vCPU, in device-tree order; the position is the vCPU index.
    pub fn cpus(&self) -> &[u64] {
        &self.cpus[..self.cpu_count]
    }

    /// The enabled `virtio,mmio` transports (virtio 1.2 section 4.2), in device-tree order: each one's register
    /// window (the first `reg` entry; nodes without one are left out) and the INTID of its interrupt. QEMU's `virt`
    /// board lists all 32 of its transports, used or not (an unused one reads DeviceID 0).
    pub fn virtio_mmio(&self) -> &[Device] {
        &self.virtio_mmio[..self.virtio_mmio_count]
    }

    /// A `key=value` from the bootargs; see [`crate::bootargs`].
    pub fn bootarg(&self, key: &str) -> Option<&'a str> {
        crate::bootargs::get(self.bootargs, key)
    }
}

/// A big-endian value of one or two cells (or zero cells, as a `#size-cells = <0>` size).
fn be_cells(bytes: &[u8]) -> Option<u64> {
    match bytes.len() {
        0 => Some(0),
        4 => be_u32(bytes).map(u64::from),
        8 => Some(u64::from_be_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

/// One big-endian cell.
fn be_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// The `reg` entries of `node` as (address, size), per its parent's cell sizes.
fn regs<'a>(node: FdtNode<'_, 'a>) -> impl Iterator<Item = Region> + 'a {
    node.raw_reg()
        .into_iter()
        .flatten()
        .map_while(|r| Some(Region { base: be_cells(r.address)?, size: be_cells(r.size)? }))
}

fn is_enabled(node: &FdtNode) -> bool {
    node.property("status").and_then(|p| p.as_str()).is_none_or(|s| s == "okay" || s == "ok")
}

fn has_compatible(node: &FdtNode, with: &[&str]) -> bool {
    node.compatible().is_some_and(|c| c.all().any(|c| with.contains(&c)))
}

fn find_enabled<'b, 'a>(fdt: &'b Fdt<'a>, with: &[&str]) -> Option<FdtNode<'b, 'a>> {
    fdt.all_nodes().find(|n| has_compatible(n, with) && is_enabled(n))
}

fn memory(fdt: &Fdt) -> Option<Region> {
    fdt.all_nodes()
        .filter(|n| n.property("device_type").and_then(|p| p.as_str()) == Some("memory"))
        .find_map(|n| regs(n).find(|r| r.size > 0))
}

fn cpus(fdt: &Fdt) -> Result<([u64; MAX_CPUS], usize), DtError> {
    let mut ids = [0; MAX_CPUS];
    let mut count = 0;
    let nodes = fdt.find_node("/cpus").into_iter().flat_map(|c| c.children());
    for node in nodes.filter(|n| n.property("device_type").and_then(|p| p.as_str()) == Some("cpu")) {
        let Some(reg) = regs(node).next() else { continue };
        if count < MAX_CPUS {
            ids[count] = reg.base;
        }
        count += 1;
    }
    match count {
        0 => Err(DtError::NoCpus),
        n if n > MAX_CPUS => Err(DtError::TooManyCpus(n)),
        n => Ok((ids, n)),
    }
}

const PL011: &[&str] = &["arm,pl011"];

fn uart(fdt: &Fdt) -> Option<Region> {
    // stdout-path may carry options after a colon ("/pl011@9000000:115200n8").
    let stdout = fdt
        .find_node("/chosen")
        .and_then(|c| c.property("stdout-path"))
        .and_then(|p| p.as_str())
        .and_then(|path| fdt.find_node(path.split(':').next()?))
        .filter(|n| has_compatible(n, PL011) && is_enabled(n));
    stdout.or_else(|| find_enabled(fdt, PL011)).and_then(|n| regs(n).next())
}

const CADENCE_UART: &[&str] = &["cdns,uart-r1p12", "xlnx,xuartps"];

/// The first enabled PL011 whose registers are not the console's, else the first enabled Cadence UART.
fn aux_uart(fdt: &Fdt, console: Option<Region>, interrupt_cells: usize) -> Option<AuxUart> {
    let not_console = |d: &Device| console.is_none_or(|c| c.base != d.reg.base);
    let pl011 = devices(fdt, PL011, interrupt_cells).find(not_console);
    pl011.map(|device| AuxUart { kind: AuxUartKind::Pl011, device }).or_else(|| {
        device(fdt, CADENCE_UART, interrupt_cells).map(|device| AuxUart { kind: AuxUartKind::Cadence, device })
    })
}

const GIC_V3: &[&str] = &["arm,gic-v3"];
const GIC_V2: &[&str] = &["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic", "arm,cortex-a7-gic"];

fn gic(fdt: &Fdt) -> Option<GicInfo> {
    let (node, version) = find_enabled(fdt, GIC_V3)
        .map(|n| (n, GicVersion::V3))
        .or_else(|| find_enabled(fdt, GIC_V2).map(|n| (n, GicVersion::V2)))?;
    let mut reg = regs(node);
    Some(GicInfo {
        version,
        distributor: reg.next()?,
        per_cpu: reg.next()?,
        interrupt_cells: node.interrupt_cells().unwrap_or(3),
    })
}

/// The `interrupts` entries of `node`, `interrupt_cells` cells each. The interrupt parent is taken to be the GIC,
/// as the root's `interrupt-parent` makes it in QEMU's and hv-static's trees.
fn interrupts<'a>(node: FdtNode<'_, 'a>, interrupt_cells: usize) -> impl Iterator<Item = &'a [u8]> + 'a {
    let entry_len = interrupt_cells.checked_mul(4).filter(|&n| n >= 8);
    let value = node.property("interrupts").map_or(&[][..], |p| p.value);
    entry_len.into_iter().flat_map(move |len| value.chunks_exact(len))
}

/// The INTID of a GIC specifier `<type number flags>`: type 1 is a PPI (INTID = number + 16), 0 an SPI (number +
/// 32). Flags (trigger, and on GICv2 a PPI's CPU mask) do not matter here.
fn gic_intid(entry: &[u8]) -> Option<u32> {
    let kind = be_u32(entry.get(0..4)?)?;
    let number = be_u32(entry.get(4..8)?)?;
    match kind {
        1 if number < 16 => Some(number + 16),
        0 if number < 988 => Some(number + 32),
        _ => None,
    }
}

/// The timer node lists secure physical, non-secure physical, virtual and hypervisor PPIs, in that order
/// (Documentation/devicetree/bindings/timer/arm,arch_timer.yaml).
fn timer_intid(fdt: &Fdt, interrupt_cells: usize) -> Option<u32> {
    const VIRTUAL: usize = 2;
    let node = find_enabled(fdt, &["arm,armv8-timer", "arm,armv7-timer"])?;
    gic_intid(interrupts(node, interrupt_cells).nth(VIRTUAL)?)
}

const PL031: &[&str] = &["arm,pl031"];
const SP805: &[&str] = &["arm,sp805"];
const PL061: &[&str] = &["arm,pl061"];

/// The `clock-frequency` of the clock the first enabled node compatible with `with` names first in `clocks`.
fn first_clock_hz(fdt: &Fdt, with: &[&str]) -> Option<u32> {
    let node = fdt.all_nodes().find(|n| has_compatible(n, with) && is_enabled(n))?;
    let phandle = be_u32(node.property("clocks")?.value.get(..4)?)?;
    be_u32(fdt.find_phandle(phandle)?.property("clock-frequency")?.value)
}

/// The first enabled node compatible with one of `with` that has a `reg`.
fn device(fdt: &Fdt, with: &[&str], interrupt_cells: usize) -> Option<Device> {
    devices(fdt, with, interrupt_cells).next()
}

/// Every enabled node compatible with one of `with` that has a `reg`, in device-tree order.
fn devices<'b>(fdt: &'b Fdt, with: &'b [&str], interrupt_cells: usize) -> impl Iterator<Item = Device> + 'b {
    fdt.all_nodes().filter(|n| has_compatible(n, with) && is_enabled(n)).filter_map(move |node| {
        Some(Device { reg: regs(node).next()?, intid: interrupts(node, interrupt_cells).next().and_then(gic_intid) })
    })
}

const VIRTIO_MMIO: &[&str] = &["virtio,mmio"];

/// The first [`MAX_VIRTIO_MMIO`] enabled `virtio,mmio` nodes with a `reg`, and how many those are.
fn virtio_mmio(fdt: &Fdt, interrupt_cells: usize) -> ([Device; MAX_VIRTIO_MMIO], usize) {
    const NONE: Device = Device { reg: Region { base: 0, size: 0 }, intid: None };
    let mut found = [NONE; MAX_VIRTIO_MMIO];
    let mut count = 0;
    for (slot, device) in found.iter_mut().zip(devices(fdt, VIRTIO_MMIO, interrupt_cells)) {
        *slot = device;
        count += 1;
    }
    (found, count)
}

#[cfg(test)]
mod tests;
