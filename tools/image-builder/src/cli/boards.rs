//! `image-builder boards`: every board `board-support` describes, as a table or as JSON. Everything shown is read
//! from the [`Board`] data; nothing here knows a board.

use board_support::{Board, Device, GicVersion, Uart, UartKind};
use serde::Serialize;

use crate::units::{hex, size};

/// `boards --format json`.
#[derive(Debug, Serialize)]
pub struct Document {
    /// The version of the document's shape ([`super::json::FORMAT`]).
    pub format: u32,
    pub boards: Vec<BoardInfo>,
}

/// One board.
#[derive(Debug, Serialize)]
pub struct BoardInfo {
    /// The name configs use (`[board] name = ...`).
    pub name: &'static str,
    pub description: &'static str,
    /// `aarch64` or `aarch32`.
    pub arch: &'static str,
    /// How many CPUs the board can have.
    pub cpus: u32,
    pub ram: Ram,
    pub gic: Gic,
    /// Console UARTs; the first is the default.
    pub uarts: Vec<UartInfo>,
    /// Devices a partition may own (`passthrough = [...]`).
    pub passthrough: Vec<DeviceInfo>,
    /// How QEMU emulates the board (none: it does not).
    pub qemu: Option<QemuInfo>,
}

#[derive(Debug, Serialize)]
pub struct Ram {
    pub base: u64,
    /// The size used unless a config sets `ram_size`.
    pub default_size: u64,
    pub max_size: u64,
}

#[derive(Debug, Serialize)]
pub struct Gic {
    /// Supported versions, oldest first.
    pub versions: Vec<u32>,
    pub default_version: u32,
}

#[derive(Debug, Serialize)]
pub struct UartInfo {
    pub name: &'static str,
    /// `pl011` or `ns16550`.
    pub kind: &'static str,
    pub base: u64,
    pub path: &'static str,
}

#[derive(Debug, Serialize)]
pub struct DeviceInfo {
    /// The path a config names it by.
    pub path: &'static str,
    pub description: &'static str,
    pub compatible: Vec<&'static str>,
    /// MMIO regions: base and size.
    pub mmio: Vec<[u64; 2]>,
    pub intids: Vec<u32>,
    /// Whether it can master DMA (its owner can then reach all of memory: hv-static drives no SMMU yet).
    pub dma: bool,
}

#[derive(Debug, Serialize)]
pub struct QemuInfo {
    pub binary: &'static str,
    /// `-M`.
    pub machine: &'static str,
    /// The Debian package that has the binary.
    pub package: &'static str,
    /// Whether QEMU boots the image with `-kernel` (otherwise from the board's SD card).
    pub kernel_boot: bool,
}

fn uart_kind(kind: UartKind) -> &'static str {
    match kind {
        UartKind::Pl011 => "pl011",
        UartKind::Ns16550 { .. } => "ns16550",
        UartKind::Cadence => "cadence",
    }
}

fn uart(u: &Uart) -> UartInfo {
    UartInfo { name: u.name, kind: uart_kind(u.kind), base: u.base, path: u.path }
}

fn device(d: &Device) -> DeviceInfo {
    DeviceInfo {
        path: d.path,
        description: d.description,
        compatible: d.compatible.to_vec(),
        mmio: d.regs.iter().map(|m| [m.base, m.size]).collect(),
        intids: d.spis.to_vec(),
        dma: d.dma,
    }
}

/// One board's facts.
pub fn info(b: &Board) -> BoardInfo {
    BoardInfo {
        name: b.name,
        description: b.description,
        arch: b.arch.name(),
        cpus: b.max_cpus,
        ram: Ram { base: b.ram_base, default_size: b.ram_size, max_size: b.max_ram_size },
        gic: Gic {
            versions: b.gic.versions().into_iter().map(GicVersion::number).collect(),
            default_version: b.gic.default_version.number(),
        },
        uarts: b.uarts.iter().map(uart).collect(),
        passthrough: b.devices.iter().map(device).collect(),
        qemu: b.qemu.map(|q| QemuInfo {
            binary: q.binary,
            machine: q.machine,
            package: q.package,
            kernel_boot: q.kernel_boot,
        }),
    }
}

/// The document `boards --format json` prints.
pub fn json(boards: &[&Board]) -> Document {
    Document { format: super::json::FORMAT, boards: boards.iter().map(|b| info(b)).collect() }
}

const HEADER: [&str; 8] = ["BOARD", "ARCH", "CPUS", "RAM", "GIC", "UART", "PASSTHROUGH", "QEMU"];

/// The table `boards` prints: one row per board, then each board's description.
pub fn table(boards: &[&Board]) -> String {
    let rows: Vec<[String; 8]> = boards.iter().map(|b| row(b)).collect();
    let mut widths = HEADER.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  "));
            }
        }
        l.trim_end().to_owned() + "\n"
    };
    let mut out = line(&HEADER.map(String::from));
    for r in &rows {
        out.push_str(&line(r));
    }
    out.push('\n');
    for b in boards {
        out.push_str(&format!("{}: {}\n", b.name, b.description));
    }
    out
}

fn row(b: &Board) -> [String; 8] {
    let gic = b
        .gic
        .versions()
        .into_iter()
        .rev()
        .map(|v| {
            let default = if v == b.gic.default_version { " (default)" } else { "" };
            format!("v{}{default}", v.number())
        })
        .collect::<Vec<_>>()
        .join(", ");
    let uarts = b
        .uarts
        .iter()
        .map(|u| {
            let kind = match u.kind {
                UartKind::Pl011 => "PL011",
                UartKind::Ns16550 { .. } => "16550",
                UartKind::Cadence => "Cadence",
            };
            format!("{} ({kind} at {})", u.name, hex(u.base))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let devices = if b.devices.is_empty() {
        "none".to_owned()
    } else {
        b.devices.iter().map(|d| d.path).collect::<Vec<_>>().join(", ")
    };
    let qemu = b.qemu.map_or("none".to_owned(), |q| format!("{} -M {}", q.binary, q.machine));
    [
        b.name.to_owned(),
        b.arch.name().to_owned(),
        b.max_cpus.to_string(),
        format!("{} at {} (max {})", size(b.ram_size), hex(b.ram_base), size(b.max_ram_size)),
        gic,
        uarts,
        devices,
        qemu,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use board_support::BOARDS;

    #[test]
    fn the_table_has_a_row_per_board_with_its_facts() {
        let t = table(BOARDS);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("BOARD") && lines[0].ends_with("QEMU"), "{t}");
        for (b, line) in BOARDS.iter().zip(&lines[1..]) {
            assert!(line.starts_with(b.name), "{line}");
            for d in b.devices {
                assert!(line.contains(d.path), "{line}");
            }
            let uart = b.default_uart();
            assert!(line.contains(&format!("{} (", uart.name)) && line.contains(&hex(uart.base)), "{line}");
            assert!(line.contains(&format!("v{} (default)", b.gic.default_version.number())), "{line}");
            match b.qemu {
                Some(q) => assert!(line.contains(&format!("{} -M {}", q.binary, q.machine)), "{line}"),
                None => assert!(line.ends_with("none"), "{line}"),
            }
            assert!(t.contains(&format!("{}: {}", b.name, b.description)));
        }
        // The QEMU column starts at the same place in every row.
        let at = lines[0].find("QEMU").unwrap();
        for (b, line) in BOARDS.iter().zip(&lines[1..]) {
            let q = b.qemu.map_or("none".to_owned(), |q| q.binary.to_owned());
            assert_eq!(line.find(&q), Some(at), "{t}");
        }
    }

    #[test]
    fn a_board_without_qemu_or_devices_says_none() {
        let mut b = *BOARDS[0];
        b.qemu = None;
        b.devices = &[];
        let r = row(&b);
        assert_eq!((r[6].as_str(), r[7].as_str()), ("none", "none"));
        let j = serde_json::to_value(info(&b)).unwrap();
        assert!(j["qemu"].is_null() && j["passthrough"].as_array().unwrap().is_empty(), "{j}");
    }

    #[test]
    fn json_lists_every_board_from_board_support() {
        let j = serde_json::to_value(json(BOARDS)).unwrap();
        let boards = j["boards"].as_array().unwrap();
        assert_eq!(boards.len(), BOARDS.len());
        for (b, v) in BOARDS.iter().zip(boards) {
            assert_eq!(v["name"], b.name);
            assert_eq!(v["arch"], b.arch.name());
            assert_eq!(v["cpus"], b.max_cpus);
            assert_eq!(v["ram"]["base"], b.ram_base);
            assert_eq!(v["gic"]["default_version"], b.gic.default_version.number());
            assert_eq!(v["uarts"][0]["name"], b.default_uart().name);
            assert_eq!(v["passthrough"].as_array().unwrap().len(), b.devices.len());
            assert_eq!(v["qemu"]["machine"].as_str(), b.qemu.map(|q| q.machine));
        }
    }
}
