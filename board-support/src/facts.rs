//! What a board's own device tree says of the facts a [`crate::Board`] holds: its CPUs and how they start, the GIC's
//! frames and maintenance interrupt, the timer's interrupts, RAM, and its UARTs with the driver each needs. A board
//! file writes these out ([`crate::tree::check`] then holds it to the tree); `image-builder board-facts DTB` prints
//! them as the constants a new board file starts from, so that what remains to write by hand is what no tree says
//! (the start of RAM the layout may use, where the boot loader puts the image, the console choice, how QEMU runs
//! the board).
//!
//! The choices a tree leaves open are made as Linux makes them: a GICv2 CPU interface (or virtual CPU interface)
//! whose region spans 128 KiB is a 4 KiB page aliased across each 64 KiB, and its 8 KiB frame is taken at
//! +0xF000 so that both of its pages are contiguous (the ZynqMP's GIC-400); a GICv3's redistributors are
//! `redistributor-stride` apart, or 128 KiB.

use alloc::{string::String, vec::Vec};

use crate::tree::{self, Node};
use crate::{CpuStart, GicV2Frames, GicV3Frames, Mmio, TimerIrqs, UartKind};

/// A UART the tree describes, of a kind hv-static has a driver for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeUart {
    pub path: String,
    /// Its `serialN` alias, if any.
    pub alias: Option<String>,
    pub kind: UartKind,
    pub base: u64,
    pub size: u64,
    /// Its interrupt's INTID.
    pub intid: Option<u32>,
    /// `status` is okay (or absent).
    pub enabled: bool,
}

/// The GIC the tree describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeGic {
    pub path: String,
    /// Every region of its `reg`, as the tree gives them (a board reserves them all).
    pub regs: Vec<Mmio>,
    pub v2: Option<GicV2Frames>,
    pub v3: Option<GicV3Frames>,
    /// The virtual interface's maintenance interrupt, as an INTID.
    pub maintenance_intid: Option<u32>,
}

/// Everything [`facts`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Number of `cpu` nodes.
    pub cpus: u32,
    /// The first CPU's most specific `compatible`.
    pub cpu_compatible: Option<String>,
    /// How the CPUs after the first start (`None`: they disagree, or by a method hv-static does not know).
    pub cpu_start: Option<CpuStart>,
    pub gic: Option<TreeGic>,
    pub timer: Option<TimerIrqs>,
    /// The `memory` nodes' banks with a size (a boot loader fills in some trees' banks).
    pub memory: Vec<Mmio>,
    pub uarts: Vec<TreeUart>,
    /// The node `/chosen/stdout-path` names, through `/aliases`.
    pub stdout: Option<String>,
}

/// The driver kind a UART node needs, from its `compatible` (and `reg-shift`), or `None` for one hv-static cannot
/// drive.
pub fn uart_kind(node: &Node) -> Option<UartKind> {
    let has = |c: &str| node.compatible.iter().any(|x| x == c);
    if has("arm,pl011") || has("arm,sbsa-uart") {
        Some(UartKind::Pl011)
    } else if has("brcm,bcm2835-aux-uart") {
        // The mini UART: a 16550's registers, 4 bytes apart, from the node's own base.
        Some(UartKind::Ns16550 { reg_shift: 2 })
    } else if has("ns16550a") || has("ns16550") || has("snps,dw-apb-uart") {
        Some(UartKind::Ns16550 { reg_shift: node.u32("reg-shift").unwrap_or(0) })
    } else if has("cdns,uart-r1p12") || has("xlnx,xuartps") {
        Some(UartKind::Cadence)
    } else {
        None
    }
}

/// A GICv2 CPU or virtual CPU interface frame in `region`: at +0xF000 when the region is 4 KiB pages aliased across
/// 64 KiB (128 KiB or more), else at its start.
fn gicv2_interface(region: Mmio) -> u64 {
    if region.size >= 0x2_0000 {
        region.base + 0xF000
    } else {
        region.base
    }
}

fn gic(node: &Node) -> TreeGic {
    let r = &node.regs;
    let is_v3 = node.compatible.iter().any(|c| c == "arm,gic-v3");
    let v3 = match (is_v3, r.first(), r.get(1)) {
        (true, Some(d), Some(rd)) => Some(GicV3Frames {
            gicd: d.base,
            gicr: rd.base,
            gicr_stride: node.u32("redistributor-stride").map_or(0x2_0000, u64::from),
        }),
        _ => None,
    };
    let v2 = match (is_v3, r.first(), r.get(1), r.get(2), r.get(3)) {
        (false, Some(d), Some(c), Some(h), Some(v)) => {
            Some(GicV2Frames { gicd: d.base, gicc: gicv2_interface(*c), gich: h.base, gicv: gicv2_interface(*v) })
        }
        _ => None,
    };
    TreeGic { path: node.path.clone(), regs: r.clone(), v2, v3, maintenance_intid: node.intids.first().copied() }
}

/// How every CPU after the first starts, when they agree: PSCI, or a spin table whose release addresses are 8 bytes
/// apart by CPU number.
fn cpu_start(cpus: &[&Node]) -> Option<CpuStart> {
    let others = cpus.get(1..)?;
    if others.is_empty() {
        return None;
    }
    if others.iter().all(|c| c.enable_method.as_deref() == Some("psci")) {
        return Some(CpuStart::Psci);
    }
    let first = others[0].release_addr?.checked_sub(8)?;
    let spin = others.iter().enumerate().all(|(i, c)| {
        c.enable_method.as_deref() == Some("spin-table") && c.release_addr == Some(first + 8 * (i as u64 + 1))
    });
    spin.then_some(CpuStart::SpinTable { release_base: first })
}

/// The facts `dtb` gives, or why it cannot be read.
pub fn facts(dtb: &[u8]) -> Result<Facts, String> {
    let nodes = tree::nodes(dtb)?;
    let has = |n: &Node, c: &str| n.compatible.iter().any(|x| x == c);
    let cpus: Vec<&Node> = nodes.iter().filter(|n| n.device_type.as_deref() == Some("cpu")).collect();
    let aliases = nodes.iter().find(|n| n.path == "/aliases");
    let alias_of = |path: &str| {
        aliases.and_then(|a| {
            a.props
                .iter()
                .filter(|(name, _)| name.starts_with("serial"))
                .find(|(name, _)| a.string(name) == Some(path))
                .map(|(name, _)| name.clone())
        })
    };
    let uarts = nodes
        .iter()
        .filter_map(|n| {
            let kind = uart_kind(n)?;
            let reg = n.regs.first()?;
            Some(TreeUart {
                path: n.path.clone(),
                alias: alias_of(&n.path),
                kind,
                base: reg.base,
                size: reg.size,
                intid: n.intids.first().copied(),
                enabled: n.enabled,
            })
        })
        .collect();
    let stdout = nodes.iter().find(|n| n.path == "/chosen").and_then(|c| c.string("stdout-path")).and_then(|s| {
        let target = s.split(':').next().unwrap_or(s);
        if target.starts_with('/') {
            Some(String::from(target))
        } else {
            aliases.and_then(|a| a.string(target)).map(String::from)
        }
    });
    let timer = nodes.iter().find(|n| has(n, "arm,armv8-timer") || has(n, "arm,armv7-timer")).and_then(|t| {
        match t.intids.as_slice() {
            [s, ns, v, h, ..] => Some(TimerIrqs { secure_phys: *s, nonsecure_phys: *ns, virt: *v, hyp_phys: *h }),
            _ => None,
        }
    });
    Ok(Facts {
        cpus: cpus.len() as u32,
        cpu_compatible: cpus.first().and_then(|c| c.compatible.first().cloned()),
        cpu_start: cpu_start(&cpus),
        gic: nodes.iter().find(|n| tree::is_gic(n)).map(gic),
        timer,
        memory: nodes
            .iter()
            .filter(|n| n.device_type.as_deref() == Some("memory"))
            .flat_map(|n| n.regs.iter().copied())
            .filter(|r| r.size > 0)
            .collect(),
        uarts,
        stdout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A ZynqMP-like tree: a GIC-400 whose CPU and virtual CPU interfaces span 128 KiB, a Cadence UART as stdout
    /// through an alias, two CPUs started by PSCI.
    fn zynqmp_like() -> Vec<u8> {
        let mut w = vm_fdt::FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        let chosen = w.begin_node("chosen").unwrap();
        w.property_string("stdout-path", "serial0:115200n8").unwrap();
        w.end_node(chosen).unwrap();
        let aliases = w.begin_node("aliases").unwrap();
        w.property_string("serial0", "/axi/serial@ff000000").unwrap();
        w.end_node(aliases).unwrap();
        let cpus = w.begin_node("cpus").unwrap();
        for i in 0..2u32 {
            let cpu = w.begin_node(&alloc::format!("cpu@{i}")).unwrap();
            w.property_string("device_type", "cpu").unwrap();
            w.property_string("compatible", "arm,cortex-a53").unwrap();
            w.property_string("enable-method", "psci").unwrap();
            w.end_node(cpu).unwrap();
        }
        w.end_node(cpus).unwrap();
        let axi = w.begin_node("axi").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        w.property_null("ranges").unwrap();
        let gic = w.begin_node("interrupt-controller@f9010000").unwrap();
        w.property_string("compatible", "arm,gic-400").unwrap();
        w.property_array_u64(
            "reg",
            &[0xf901_0000, 0x1_0000, 0xf902_0000, 0x2_0000, 0xf904_0000, 0x2_0000, 0xf906_0000, 0x2_0000],
        )
        .unwrap();
        w.property_array_u32("interrupts", &[1, 9, 0xf04]).unwrap();
        w.end_node(gic).unwrap();
        let uart = w.begin_node("serial@ff000000").unwrap();
        w.property_string_list("compatible", vec!["cdns,uart-r1p12".into(), "xlnx,xuartps".into()]).unwrap();
        w.property_array_u64("reg", &[0xff00_0000, 0x1000]).unwrap();
        w.property_array_u32("interrupts", &[0, 21, 4]).unwrap();
        w.end_node(uart).unwrap();
        w.end_node(axi).unwrap();
        let timer = w.begin_node("timer").unwrap();
        w.property_string("compatible", "arm,armv8-timer").unwrap();
        w.property_array_u32("interrupts", &[1, 13, 0xf08, 1, 14, 0xf08, 1, 11, 0xf08, 1, 10, 0xf08]).unwrap();
        w.end_node(timer).unwrap();
        let mem = w.begin_node("memory@0").unwrap();
        w.property_string("device_type", "memory").unwrap();
        w.property_array_u64("reg", &[0, 0x8000_0000, 0x8_0000_0000, 0x8000_0000]).unwrap();
        w.end_node(mem).unwrap();
        w.end_node(root).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn a_zynqmp_like_tree_gives_the_aliased_gic_frames_and_its_cadence_console() {
        let f = facts(&zynqmp_like()).unwrap();
        assert_eq!(
            (f.cpus, f.cpu_compatible.as_deref(), f.cpu_start),
            (2, Some("arm,cortex-a53"), Some(CpuStart::Psci))
        );
        let g = f.gic.unwrap();
        assert_eq!(
            g.v2,
            Some(GicV2Frames { gicd: 0xf901_0000, gicc: 0xf902_f000, gich: 0xf904_0000, gicv: 0xf906_f000 })
        );
        assert_eq!((g.v3, g.maintenance_intid, g.regs.len()), (None, Some(25), 4));
        assert_eq!(f.timer, Some(TimerIrqs::SBSA));
        assert_eq!(f.memory, [Mmio { base: 0, size: 0x8000_0000 }, Mmio { base: 0x8_0000_0000, size: 0x8000_0000 }]);
        assert_eq!(f.uarts.len(), 1);
        let u = &f.uarts[0];
        assert_eq!(
            (u.path.as_str(), u.alias.as_deref(), u.kind),
            ("/axi/serial@ff000000", Some("serial0"), UartKind::Cadence)
        );
        assert_eq!((u.base, u.intid, u.enabled), (0xff00_0000, Some(53), true));
        assert_eq!(f.stdout.as_deref(), Some("/axi/serial@ff000000"));
    }

    #[test]
    fn spin_tables_are_found_by_their_release_addresses() {
        let spin = |addrs: &[u64]| {
            let nodes: Vec<Node> = core::iter::once(None)
                .chain(addrs.iter().map(|a| Some(*a)))
                .map(|a| Node {
                    path: String::from("/cpus/cpu"),
                    compatible: Vec::new(),
                    regs: Vec::new(),
                    intids: Vec::new(),
                    enabled: true,
                    device_type: Some(String::from("cpu")),
                    enable_method: a.map(|_| String::from("spin-table")),
                    release_addr: a,
                    props: Vec::new(),
                })
                .collect();
            cpu_start(&nodes.iter().collect::<Vec<_>>())
        };
        assert_eq!(spin(&[0xe0, 0xe8, 0xf0]), Some(CpuStart::SpinTable { release_base: 0xd8 }));
        assert_eq!(spin(&[0xe0, 0xf0]), None, "not 8 bytes apart");
        assert_eq!(spin(&[]), None, "one CPU: nothing to start");
    }

    #[test]
    fn a_broken_tree_is_an_error() {
        assert!(facts(&[0u8; 16]).is_err());
        let good = zynqmp_like();
        for cut in (0..good.len()).step_by(11) {
            let _ = facts(&good[..cut]);
        }
    }
}
