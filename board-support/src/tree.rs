//! A board description checked against the board's own device tree: the facts a [`Board`] writes out (console
//! UART, GIC frames, timer and maintenance interrupts, CPUs and how they start, passthrough devices) must be what
//! the tree the boot loader hands over says, with every address translated through the buses' `ranges` to the
//! CPU's view (the Raspberry Pi 4's peripherals are at 0x7E00_0000 in its tree and 0xFE00_0000 for the CPU).
//!
//! The tree is read into nodes and walked from the root, carrying each level's cell sizes and address
//! translation.

use alloc::{format, string::String, vec::Vec};

use crate::{Board, CpuStart, Irq, Mmio};

/// One node of the tree, with its `reg` translated to CPU addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub path: String,
    pub compatible: Vec<String>,
    pub regs: Vec<Mmio>,
    /// `interrupts`, as INTIDs (GIC three-cell binding: SPI n = 32 + n, PPI n = 16 + n).
    pub intids: Vec<u32>,
    pub enabled: bool,
    pub device_type: Option<String>,
    pub enable_method: Option<String>,
    /// `cpu-release-addr` (spin table).
    pub release_addr: Option<u64>,
    /// Every property, raw, for what the fields above do not cover ([`Node::string`], [`Node::u32`]).
    pub props: Vec<(String, Vec<u8>)>,
}

impl Node {
    /// A string property's value (up to its first NUL).
    pub fn string(&self, name: &str) -> Option<&str> {
        let v = &self.props.iter().find(|(n, _)| n == name)?.1;
        let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
        core::str::from_utf8(&v[..end]).ok()
    }

    /// A one-cell property's value.
    pub fn u32(&self, name: &str) -> Option<u32> {
        let v = &self.props.iter().find(|(n, _)| n == name)?.1;
        Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
    }

    /// Its name: the last component of its path.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// Every node of a tree, in depth-first order.
pub fn nodes(dtb: &[u8]) -> Result<Vec<Node>, String> {
    let root = parse(dtb)?;
    let mut out = Vec::new();
    walk(&root, "", Cells { address: 2, size: 1 }, &[], &mut out);
    Ok(out)
}

/// A node as the structure block holds it: its name, properties and children.
struct Raw<'a> {
    name: &'a str,
    props: Vec<(&'a str, &'a [u8])>,
    children: Vec<Raw<'a>>,
}

impl<'a> Raw<'a> {
    fn prop(&self, name: &str) -> Option<&'a [u8]> {
        self.props.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn string(&self, name: &str) -> Option<String> {
        let v = self.prop(name)?;
        let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
        core::str::from_utf8(&v[..end]).ok().map(String::from)
    }
}

/// The flattened tree's structure block, as a tree (devicetree specification 0.4, chapter 5). Written here rather
/// than taken from the `fdt` crate, whose 0.1.5 panics on the NOP tokens QEMU leaves in trees it edits.
fn parse(dtb: &[u8]) -> Result<Raw<'_>, String> {
    let be32 = |at: usize| -> Result<u32, String> {
        let b = dtb.get(at..at + 4).ok_or("truncated device tree")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if be32(0)? != 0xd00d_feed {
        return Err(String::from("not a device tree (bad magic)"));
    }
    let (structs, strings) = (be32(8)? as usize, be32(12)? as usize);
    let cstr = |at: usize| -> Result<&str, String> {
        let rest = dtb.get(at..).ok_or("string out of the tree")?;
        let end = rest.iter().position(|&b| b == 0).ok_or("unterminated string")?;
        core::str::from_utf8(&rest[..end]).map_err(|_| String::from("a name is not UTF-8"))
    };
    let mut at = structs;
    let mut stack: Vec<Raw<'_>> = Vec::new();
    loop {
        let token = be32(at)?;
        at += 4;
        match token {
            1 => {
                let name = cstr(at)?;
                at = (at + name.len() + 1).next_multiple_of(4);
                stack.push(Raw { name, props: Vec::new(), children: Vec::new() });
            }
            2 => {
                let done = stack.pop().ok_or("unbalanced END_NODE")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            3 => {
                let (len, name) = (be32(at)? as usize, cstr(strings + be32(at + 4)? as usize)?);
                let value = dtb.get(at + 8..at + 8 + len).ok_or("property out of the tree")?;
                at = (at + 8 + len).next_multiple_of(4);
                stack.last_mut().ok_or("a property outside any node")?.props.push((name, value));
            }
            4 => {} // NOP
            _ => return Err(format!("bad token {token:#x} at {:#x}", at - 4)),
        }
    }
}

#[derive(Clone, Copy)]
struct Cells {
    address: usize,
    size: usize,
}

/// One `ranges` entry: child bus address `child`, CPU address `cpu` (already translated), `size` bytes.
#[derive(Clone, Copy)]
struct Range {
    child: u64,
    cpu: u64,
    size: u64,
}

fn walk(node: &Raw<'_>, parent_path: &str, cells: Cells, map: &[Range], out: &mut Vec<Node>) {
    let path = if parent_path.is_empty() { String::from("/") } else { join(parent_path, node.name) };
    let translate = |addr: u64| -> u64 {
        if map.is_empty() {
            return addr; // No `ranges` above: the parent's addresses are the CPU's.
        }
        map.iter().find(|r| r.child <= addr && addr - r.child < r.size).map_or(addr, |r| r.cpu + (addr - r.child))
    };
    let regs = node
        .prop("reg")
        .map(|v| {
            entries(v, cells.address + cells.size)
                .map(|e| Mmio { base: translate(number(&e[..cells.address])), size: number(&e[cells.address..]) })
                .collect()
        })
        .unwrap_or_default();
    let intids = node.prop("interrupts").map(|v| entries(v, 3).filter_map(|e| intid(&e)).collect()).unwrap_or_default();
    let compatible = node
        .prop("compatible")
        .map(|v| {
            v.split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .filter_map(|s| core::str::from_utf8(s).ok())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    out.push(Node {
        path: path.clone(),
        compatible,
        regs,
        intids,
        enabled: node.string("status").is_none_or(|s| s == "okay" || s == "ok"),
        device_type: node.string("device_type"),
        enable_method: node.string("enable-method"),
        release_addr: node.prop("cpu-release-addr").map(value),
        props: node.props.iter().map(|(n, v)| (String::from(*n), v.to_vec())).collect(),
    });
    let child_cells = Cells {
        address: node.prop("#address-cells").map_or(2, |v| value(v) as usize),
        size: node.prop("#size-cells").map_or(1, |v| value(v) as usize),
    };
    // The children's addresses: through this node's `ranges` (empty: the same as ours).
    let child_map: Vec<Range> = match node.prop("ranges") {
        Some([]) | None => map.to_vec(),
        Some(v) => entries(v, child_cells.address + cells.address + child_cells.size)
            .map(|e| Range {
                child: number(&e[..child_cells.address]),
                cpu: translate(number(&e[child_cells.address..child_cells.address + cells.address])),
                size: number(&e[child_cells.address + cells.address..]),
            })
            .collect(),
    };
    for child in &node.children {
        walk(child, &path, child_cells, &child_map, out);
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// The value's big-endian 32-bit cells, `per` at a time (a partial last entry is dropped).
fn entries(value: &[u8], per: usize) -> impl Iterator<Item = Vec<u32>> + '_ {
    let cells: Vec<u32> = value.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect();
    let per = per.max(1);
    let n = cells.len() / per;
    (0..n).map(move |i| cells[i * per..(i + 1) * per].to_vec())
}

/// Cells as one number (the last two: addresses and sizes beyond 64 bits do not occur).
fn number(cells: &[u32]) -> u64 {
    cells.iter().rev().take(2).rev().fold(0, |n, &c| (n << 32) | u64::from(c))
}

/// A property's value as one number.
fn value(bytes: &[u8]) -> u64 {
    let cells: Vec<u32> = entries(bytes, 1).map(|e| e[0]).collect();
    number(&cells)
}

fn intid(entry: &[u32]) -> Option<u32> {
    match entry {
        [0, n, _] if *n < 988 => Some(Irq::Spi(*n).intid()),
        [1, n, _] if *n < 16 => Some(Irq::Ppi(*n).intid()),
        _ => None,
    }
}

/// Whether `node` is an Arm GIC (`arm,gic-400`, `arm,cortex-a15-gic`, `arm,gic-v3`, ...) rather than an interrupt
/// controller below one (those have an interrupt of their own beyond the maintenance one).
pub fn is_gic(node: &Node) -> bool {
    node.intids.len() <= 1 && node.compatible.iter().any(|c| c.starts_with("arm,gic") || c.ends_with("-gic"))
}

/// What of `board` its device tree `dtb` contradicts, one sentence each (empty: nothing).
pub fn check(board: &Board, dtb: &[u8]) -> Vec<String> {
    let nodes = match nodes(dtb) {
        Ok(n) => n,
        Err(e) => return alloc::vec![e],
    };
    let mut wrong = Vec::new();
    let by_path = |path: &str| nodes.iter().find(|n| n.path == path);
    let has = |n: &Node, c: &str| n.compatible.iter().any(|x| x == c);

    for u in board.uarts {
        match by_path(u.path) {
            None => wrong.push(format!("console {}: no node {}", u.name, u.path)),
            Some(n) => {
                if n.regs.first().map(|r| r.base) != Some(u.base) {
                    wrong.push(format!("console {}: base {:#x}, the tree says {:?}", u.name, u.base, n.regs.first()));
                }
                if n.intids.first() != Some(&u.irq.intid()) {
                    wrong.push(format!("console {}: INTID {}, the tree says {:?}", u.name, u.irq.intid(), n.intids));
                }
            }
        }
    }
    for d in board.devices {
        match by_path(d.path) {
            None => wrong.push(format!("device {}: no such node", d.path)),
            Some(n) => {
                // A device's pages may be larger than its `reg` (stage 2 maps whole pages): each region starts where
                // the tree's does.
                let bases: Vec<u64> = n.regs.iter().map(|r| r.base).collect();
                if d.regs.iter().map(|r| r.base).collect::<Vec<_>>() != bases {
                    wrong.push(format!("device {}: regions {:x?}, the tree says {:x?}", d.path, d.regs, n.regs));
                }
                if d.spis != n.intids.as_slice() {
                    wrong.push(format!("device {}: INTIDs {:?}, the tree says {:?}", d.path, d.spis, n.intids));
                }
                if !d.compatible.iter().all(|c| has(n, c)) {
                    wrong.push(format!(
                        "device {}: compatible {:?}, the tree says {:?}",
                        d.path, d.compatible, n.compatible
                    ));
                }
            }
        }
    }
    for r in board.reserved {
        if by_path(r.path).is_none() {
            wrong.push(format!("reserved {}: no such node", r.path));
        }
    }

    // The GIC: every frame the board names lies in the tree's region for it (an SoC may alias a page within it).
    let gic = nodes.iter().find(|n| is_gic(n));
    match gic {
        None => wrong.push(String::from("no GIC node")),
        Some(g) => {
            let within = |what: &str, i: usize, frame: u64, size: u64| match g.regs.get(i) {
                Some(r) if r.base <= frame && frame + size <= r.end() => None,
                other => Some(format!("GIC {what} at {frame:#x}, the tree says {other:x?}")),
            };
            let is_v3 = has(g, "arm,gic-v3");
            if let (true, Some(v3)) = (is_v3, board.gic.v3) {
                wrong.extend(within("distributor", 0, v3.gicd, 0x1_0000));
                wrong.extend(within("redistributors", 1, v3.gicr, v3.gicr_stride * u64::from(board.max_cpus)));
            } else if let (false, Some(v2)) = (is_v3, board.gic.v2) {
                wrong.extend(within("distributor", 0, v2.gicd, 0x1000));
                wrong.extend(within("CPU interface", 1, v2.gicc, 0x2000));
                wrong.extend(within("virtual interface control", 2, v2.gich, 0x1000));
                wrong.extend(within("virtual CPU interface", 3, v2.gicv, 0x2000));
            } else {
                wrong.push(format!("the tree's GIC is {:?}, the board describes no such version", g.compatible));
            }
            if g.intids.first() != Some(&board.gic.maintenance_intid) {
                wrong.push(format!("maintenance INTID {}, the tree says {:?}", board.gic.maintenance_intid, g.intids));
            }
        }
    }

    let timer = nodes.iter().find(|n| has(n, "arm,armv8-timer") || has(n, "arm,armv7-timer"));
    let t = board.timer;
    let want = [t.secure_phys, t.nonsecure_phys, t.virt, t.hyp_phys];
    if timer.map(|n| n.intids.as_slice()) != Some(&want[..]) {
        wrong.push(format!("timer INTIDs {want:?}, the tree says {:?}", timer.map(|n| &n.intids)));
    }

    let cpus: Vec<&Node> = nodes.iter().filter(|n| n.device_type.as_deref() == Some("cpu")).collect();
    if cpus.len() < board.max_cpus as usize {
        wrong.push(format!("{} CPUs, the tree has {}", board.max_cpus, cpus.len()));
    }
    for (i, cpu) in cpus.iter().enumerate().take(board.max_cpus as usize) {
        let (method, release) = (cpu.enable_method.as_deref(), cpu.release_addr);
        let ok = match board.cpu_start {
            // CPU 0 runs the boot code: only the others need a method.
            _ if i == 0 => true,
            CpuStart::Psci => method == Some("psci") || method.is_none(),
            CpuStart::SpinTable { release_base } => {
                method == Some("spin-table") && release == Some(release_base + 8 * i as u64)
            }
            CpuStart::SysFlags { .. } => true,
        };
        if !ok {
            wrong.push(format!(
                "CPU {i}: starts by {:?}, the tree says {method:?} (release {release:x?})",
                board.cpu_start
            ));
        }
    }
    wrong
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A tree shaped like the Raspberry Pi 4's: a `/soc` bus whose `ranges` put bus address 0x7E00_0000 at CPU
    /// address 0xFE00_0000, a UART on it, a NOP token in the middle (QEMU leaves them when it edits a tree).
    fn pi_like() -> Vec<u8> {
        let mut w = vm_fdt::FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 1).unwrap();
        let soc = w.begin_node("soc").unwrap();
        w.property_u32("#address-cells", 1).unwrap();
        w.property_u32("#size-cells", 1).unwrap();
        w.property_array_u32("ranges", &[0x7e00_0000, 0, 0xfe00_0000, 0x180_0000]).unwrap();
        let uart = w.begin_node("serial@7e201000").unwrap();
        w.property_string_list("compatible", vec!["arm,pl011".into(), "arm,primecell".into()]).unwrap();
        w.property_array_u32("reg", &[0x7e20_1000, 0x200]).unwrap();
        w.property_array_u32("interrupts", &[0, 121, 4]).unwrap();
        w.property_string("status", "okay").unwrap();
        w.end_node(uart).unwrap();
        w.end_node(soc).unwrap();
        let cpu = w.begin_node("cpu@1").unwrap();
        w.property_string("device_type", "cpu").unwrap();
        w.property_string("enable-method", "spin-table").unwrap();
        w.property_array_u32("cpu-release-addr", &[0, 0xe0]).unwrap();
        w.end_node(cpu).unwrap();
        w.end_node(root).unwrap();
        let mut blob = w.finish().unwrap();
        // A NOP token right after the root's BEGIN_NODE and its empty name (offsets 8 and 12 of the header).
        let at = u32::from_be_bytes(blob[8..12].try_into().unwrap()) as usize + 8;
        blob.splice(at..at, [0, 0, 0, 4]);
        let size = u32::from_be_bytes(blob[4..8].try_into().unwrap()) + 4;
        blob[4..8].copy_from_slice(&size.to_be_bytes());
        let strings = u32::from_be_bytes(blob[12..16].try_into().unwrap()) + 4;
        blob[12..16].copy_from_slice(&strings.to_be_bytes());
        blob
    }

    #[test]
    fn addresses_go_through_the_buses_ranges() {
        let nodes = nodes(&pi_like()).unwrap();
        let uart = nodes.iter().find(|n| n.path == "/soc/serial@7e201000").unwrap();
        assert_eq!(uart.regs, [Mmio { base: 0xfe20_1000, size: 0x200 }]);
        assert_eq!(uart.intids, [153]);
        assert_eq!(uart.compatible, ["arm,pl011", "arm,primecell"]);
        assert!(uart.enabled);
        let cpu = nodes.iter().find(|n| n.path == "/cpu@1").unwrap();
        assert_eq!((cpu.enable_method.as_deref(), cpu.release_addr), (Some("spin-table"), Some(0xe0)));
    }

    #[test]
    fn a_broken_tree_is_an_error_not_a_panic() {
        let good = pi_like();
        assert!(nodes(&good[..40]).is_err());
        assert!(nodes(&[0u8; 64]).is_err(), "bad magic");
        for cut in (0..good.len()).step_by(7) {
            let _ = nodes(&good[..cut]);
        }
        let mut flipped = good.clone();
        for i in (40..flipped.len()).step_by(5) {
            flipped[i] ^= 0xff;
            let _ = nodes(&flipped);
        }
    }
}
