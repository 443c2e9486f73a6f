//! `image-builder board-facts DTB`: what a board's own device tree says of the facts a board file holds
//! ([`board_support::facts`]), printed as the Rust a new `board-support` module starts from: its UARTs, GIC frames
//! and GIC reservation as constants, and the [`board_support::Board`] fields the tree decides. What no tree says
//! (the RAM a config may use, where the boot loader puts the image and the tree, how QEMU runs the board) is left to
//! the person writing the board, as docs/boards.md describes.

use std::fmt::Write;

use board_support::facts::{Facts, TreeUart};
use board_support::{CpuStart, Mmio, TimerIrqs, UartKind};

use crate::units::hex;

/// The Rust text for `facts`, read from the tree at `source` (named in its first comment).
pub fn render(facts: &Facts, source: &str) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "// What the device tree {source} says");
    let _ = writeln!(w, "// (image-builder board-facts). A board file also states what no tree says: docs/boards.md,");
    let _ = writeln!(w, "// \"Adding a board\".");
    let _ = writeln!(w, "//");
    let model = facts.cpu_compatible.as_deref().unwrap_or("(no compatible)");
    let _ = writeln!(w, "// CPUs: {} x {model}", facts.cpus);
    if facts.memory.is_empty() {
        let _ = writeln!(
            w,
            "// RAM: no memory bank with a size (the boot loader fills it in): state `ram_base` and `ram_size`"
        );
    }
    for bank in &facts.memory {
        let _ = writeln!(w, "// RAM bank: {} bytes at {}", hex(bank.size), hex(bank.base));
    }
    if let Some(path) = &facts.stdout {
        let _ = writeln!(w, "// the tree's console (stdout-path): {path}");
    }
    let disabled: Vec<&str> = facts.uarts.iter().filter(|u| !u.enabled).map(|u| u.path.as_str()).collect();
    if !disabled.is_empty() {
        let _ = writeln!(w, "// UARTs the tree disables (left out): {}", disabled.join(", "));
    }
    let enabled: Vec<TreeUart> = facts.uarts.iter().filter(|u| u.enabled).cloned().collect();
    let names = uart_names(&enabled);
    for (u, name) in enabled.iter().zip(&names) {
        let _ = writeln!(w);
        uart(w, u, name);
    }
    if let Some(g) = &facts.gic {
        let _ = writeln!(w);
        if let Some(v2) = g.v2 {
            let _ = writeln!(
                w,
                "pub const GIC_V2: GicV2Frames =\n    GicV2Frames {{ gicd: {}, gicc: {}, gich: {}, gicv: {} }};",
                hex(v2.gicd),
                hex(v2.gicc),
                hex(v2.gich),
                hex(v2.gicv)
            );
        }
        if let Some(v3) = g.v3 {
            let _ = writeln!(
                w,
                "pub const GIC_V3: GicV3Frames = GicV3Frames {{ gicd: {}, gicr: {}, gicr_stride: {} }};",
                hex(v3.gicd),
                hex(v3.gicr),
                hex(v3.gicr_stride)
            );
        }
        let _ = writeln!(w, "\n/// The GIC, which is never passed through.");
        let _ = writeln!(w, "pub const GIC_RESERVED: Reserved = Reserved::gic(\n    \"{}\",\n    &[", g.path);
        for r in &g.regs {
            let _ = writeln!(w, "        {},", mmio(r));
        }
        let _ = writeln!(w, "    ],\n);");
    }
    let _ = writeln!(w, "\n// In the board's `static BOARD: Board`:");
    let _ = writeln!(w, "//     max_cpus: {},", facts.cpus);
    let uarts: Vec<String> = names.iter().map(|n| n.to_uppercase()).collect();
    let _ = writeln!(w, "//     uarts: &[{}],", uarts.join(", "));
    if let Some(g) = &facts.gic {
        let version = if g.v3.is_some() { "V3" } else { "V2" };
        let (v3, v2) = (
            if g.v3.is_some() { "Some(GIC_V3)" } else { "None" },
            if g.v2.is_some() { "Some(GIC_V2)" } else { "None" },
        );
        let maintenance = g.maintenance_intid.map_or("/* the tree names none */".to_owned(), irq_expr);
        let _ = writeln!(
            w,
            "//     gic: Gic {{ default_version: GicVersion::{version}, v3: {v3}, v2: {v2}, maintenance_intid: {maintenance} }},"
        );
    } else {
        let _ = writeln!(w, "//     gic: the tree has no Arm GIC node");
    }
    let _ = writeln!(
        w,
        "//     timer: {},",
        facts.timer.map_or("/* the tree has no armv8/armv7 timer node */".into(), timer)
    );
    let _ = writeln!(w, "//     cpu_compatible: \"{model}\",");
    let start = match facts.cpu_start {
        Some(CpuStart::Psci) => "CpuStart::Psci".to_owned(),
        Some(CpuStart::SpinTable { release_base }) => {
            format!("CpuStart::SpinTable {{ release_base: {} }}", hex(release_base))
        }
        Some(other) => format!("{other:?}"),
        None => "/* the tree's CPUs name no method they agree on: state it */".to_owned(),
    };
    let _ = writeln!(w, "//     cpu_start: {start},");
    out
}

/// Names configs will use: `uartN` from the tree's `serialN` alias, else by order after the aliased ones.
fn uart_names(uarts: &[TreeUart]) -> Vec<String> {
    let mut taken: Vec<String> =
        uarts.iter().filter_map(|u| u.alias.as_deref()?.strip_prefix("serial").map(|n| format!("uart{n}"))).collect();
    let mut next = 0;
    uarts
        .iter()
        .map(|u| match u.alias.as_deref().and_then(|a| a.strip_prefix("serial")) {
            Some(n) => format!("uart{n}"),
            None => {
                while taken.contains(&format!("uart{next}")) {
                    next += 1;
                }
                let name = format!("uart{next}");
                taken.push(name.clone());
                name
            }
        })
        .collect()
}

fn uart(w: &mut String, u: &TreeUart, name: &str) {
    let kind = match u.kind {
        UartKind::Pl011 => "UartKind::Pl011".to_owned(),
        UartKind::Ns16550 { reg_shift } => format!("UartKind::Ns16550 {{ reg_shift: {reg_shift} }}"),
        UartKind::Cadence => "UartKind::Cadence".to_owned(),
    };
    let alias = u.alias.as_deref().map(|a| format!(", the tree's `{a}`")).unwrap_or_default();
    let _ = writeln!(w, "/// `{}`{alias}.", u.path);
    let _ = writeln!(w, "pub const {}: Uart = Uart {{", name.to_uppercase());
    let _ = writeln!(w, "    name: \"{name}\",");
    let _ = writeln!(w, "    path: \"{}\",", u.path);
    let _ = writeln!(w, "    kind: {kind},");
    let _ = writeln!(w, "    base: {},", hex(u.base));
    let _ = writeln!(w, "    size: {},", hex(u.size));
    match u.intid {
        Some(intid) => {
            let _ = writeln!(w, "    irq: {},", irq(intid));
        }
        None => {
            let _ = writeln!(w, "    irq: /* the tree gives it no GIC interrupt */,");
        }
    }
    let _ = writeln!(w, "}};");
}

/// An INTID as the board files write it (`Irq::Spi(n)`, `Irq::Ppi(n)`).
fn irq(intid: u32) -> String {
    match intid {
        32.. => format!("Irq::Spi({})", intid - 32),
        16..=31 => format!("Irq::Ppi({})", intid - 16),
        sgi => format!("/* SGI {sgi}? */"),
    }
}

fn irq_expr(intid: u32) -> String {
    format!("{}.intid()", irq(intid))
}

fn timer(t: TimerIrqs) -> String {
    if t == TimerIrqs::SBSA {
        return "TimerIrqs::SBSA".to_owned();
    }
    format!(
        "TimerIrqs {{ secure_phys: {}, nonsecure_phys: {}, virt: {}, hyp_phys: {} }}",
        irq_expr(t.secure_phys),
        irq_expr(t.nonsecure_phys),
        irq_expr(t.virt),
        irq_expr(t.hyp_phys)
    )
}

fn mmio(m: &Mmio) -> String {
    format!("Mmio {{ base: {}, size: {} }}", hex(m.base), hex(m.size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use board_support::facts::TreeGic;
    use board_support::GicV2Frames;

    fn pi_like() -> Facts {
        let uart = |path: &str, alias: &str, kind, base, intid| TreeUart {
            path: path.into(),
            alias: Some(alias.into()),
            kind,
            base,
            size: 0x40,
            intid: Some(intid),
            enabled: true,
        };
        Facts {
            cpus: 4,
            cpu_compatible: Some("arm,cortex-a72".into()),
            cpu_start: Some(CpuStart::SpinTable { release_base: 0xd8 }),
            gic: Some(TreeGic {
                path: "/soc/interrupt-controller@40041000".into(),
                regs: vec![Mmio { base: 0xff84_1000, size: 0x1000 }],
                v2: Some(GicV2Frames { gicd: 0xff84_1000, gicc: 0xff84_2000, gich: 0xff84_4000, gicv: 0xff84_6000 }),
                v3: None,
                maintenance_intid: Some(25),
            }),
            timer: Some(TimerIrqs::SBSA),
            memory: vec![],
            uarts: vec![
                uart("/soc/serial@7e201000", "serial0", UartKind::Pl011, 0xfe20_1000, 153),
                uart("/soc/serial@7e215040", "serial1", UartKind::Ns16550 { reg_shift: 2 }, 0xfe21_5040, 125),
            ],
            stdout: Some("/soc/serial@7e215040".into()),
        }
    }

    #[test]
    fn the_constants_a_board_file_takes_from_its_tree() {
        let text = render(&pi_like(), "bcm2711-rpi-4-b.dtb");
        for expected in [
            "pub const UART1: Uart = Uart {\n    name: \"uart1\",\n    path: \"/soc/serial@7e215040\",\n    kind: \
             UartKind::Ns16550 { reg_shift: 2 },\n    base: 0xfe21_5040,\n    size: 0x40,\n    irq: Irq::Spi(93),\n};",
            "GicV2Frames { gicd: 0xff84_1000, gicc: 0xff84_2000, gich: 0xff84_4000, gicv: 0xff84_6000 }",
            "Reserved::gic(\n    \"/soc/interrupt-controller@40041000\",\n    &[\n        Mmio { base: 0xff84_1000, size: \
             0x1000 },\n    ],\n);",
            "maintenance_intid: Irq::Ppi(9).intid() }",
            "timer: TimerIrqs::SBSA,",
            "cpu_start: CpuStart::SpinTable { release_base: 0xd8 },",
            "uarts: &[UART0, UART1],",
            "RAM: no memory bank with a size",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }

    #[test]
    fn uarts_without_an_alias_take_the_free_numbers() {
        let mut f = pi_like();
        f.uarts[0].alias = None;
        f.uarts.push(TreeUart { alias: None, ..f.uarts[1].clone() });
        assert_eq!(uart_names(&f.uarts), ["uart0", "uart1", "uart2"]);
        f.uarts[1].alias = Some("serial0".into());
        assert_eq!(uart_names(&f.uarts), ["uart1", "uart0", "uart2"]);
    }
}
