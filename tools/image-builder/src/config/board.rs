//! The `[board]` and `[hypervisor]` tables: which board, its GIC version and RAM size, and the hypervisor's log
//! level, console and memory budget. Checked first, because every later rule (CPUs, RAM, devices) is measured
//! against the board and the room the hypervisor leaves.

use std::path::PathBuf;

use board_support::{Board, GicVersion, UBootFirmware};

use super::common::*;
use super::memory::RAM_ALIGN;
use super::model::*;
use super::raw::*;
use crate::diag::{list, Diag, Report};
use crate::units::{hex, is_aligned, size as fmt_size, KIB};

pub(super) fn check_board(b: &RawBoard, r: &mut Report) -> Option<&'static Board> {
    let name = b.name.get_ref();
    let board = Board::by_name(name);
    if board.is_none() {
        r.push(
            Diag::error("board.name", b.name.span(), format!("unknown board `{}`", shown(name)))
                .label("no board has this name")
                .hint(suggest(name, Board::names(), "known boards")),
        );
    }
    board
}

/// `board.boot_image`: only for a board whose U-Boot comes inside the user's boot image
/// ([`UBootFirmware::InUserFile`]), as a path relative to the config file. Whether the file exists is checked when a
/// card is written, the one step that reads it.
pub(super) fn check_boot_image(
    b: &RawBoard,
    board: &Board,
    ctx: &super::Context<'_>,
    r: &mut Report,
) -> Option<PathBuf> {
    let v = b.boot_image.as_ref()?;
    let wanted = board.uboot.and_then(|u| match u.firmware {
        UBootFirmware::InUserFile { name, what } => Some((name, what)),
        _ => None,
    });
    let Some((name, _)) = wanted else {
        let takers: Vec<String> = board_support::BOARDS
            .iter()
            .filter_map(|b| match b.uboot?.firmware {
                UBootFirmware::InUserFile { name, .. } => Some(format!("`{}` ({name})", b.name)),
                _ => None,
            })
            .collect();
        r.push(
            Diag::error("board.boot_image", v.span(), format!("board `{}` takes no boot image of yours", board.name))
                .label("not used by this board")
                .hint(format!(
                    "only boards whose U-Boot comes inside the user's own boot image take one: {}; remove the key",
                    list(takers)
                )),
        );
        return None;
    };
    if v.get_ref().trim().is_empty() {
        r.push(
            Diag::error("board.boot_image", v.span(), "empty path")
                .label("no file named")
                .hint(format!("the path of your {name}, relative to this config file")),
        );
        return None;
    }
    Some(relative_path(ctx, v.get_ref()))
}

pub(super) fn check_gic(b: &RawBoard, board: &Board, r: &mut Report) -> GicVersion {
    let Some(v) = &b.gic_version else {
        return board.gic.default_version;
    };
    let versions = board.gic.versions();
    let known = list(versions.iter().map(|v| v.number().to_string()));
    match GicVersion::from_number(*v.get_ref()) {
        Some(gic) if board.gic.supports(gic) => gic,
        found => {
            let why = if found.is_some() {
                format!("`{}` has no GICv{}", board.name, v.get_ref())
            } else {
                format!("GIC version {} does not exist", v.get_ref())
            };
            r.push(
                Diag::error("board.gic_version", v.span(), format!("unsupported GIC version: {why}"))
                    .label("not a GIC version of this board")
                    .hint(format!("`{}` supports GIC versions {known}", board.name)),
            );
            board.gic.default_version
        }
    }
}

pub(super) fn check_ram_size(b: &RawBoard, board: &Board, r: &mut Report) -> u64 {
    let Some(v) = &b.ram_size else {
        return board.ram_size;
    };
    let Some(size) = size_value(v, "board.ram_size", r) else {
        return board.ram_size;
    };
    let least = board.hv_load_addr - board.ram_base + board.hv_budget + RAM_ALIGN;
    let problem = if !is_aligned(size, RAM_ALIGN) {
        Some(("misaligned RAM size: not a multiple of 2 MiB".to_owned(), "round it to a multiple of 2 MiB".to_owned()))
    } else if size > board.max_ram_size {
        Some((
            format!("`{}` cannot have {} of RAM", board.name, fmt_size(size)),
            format!("it can have at most {}", fmt_size(board.max_ram_size)),
        ))
    } else if size < least {
        Some((
            format!("{} of RAM cannot hold the hypervisor and a partition", fmt_size(size)),
            format!("give the board at least {}", fmt_size(least)),
        ))
    } else {
        None
    };
    match problem {
        Some((msg, hint)) => {
            r.push(Diag::error("board.ram_size", v.span(), msg).label(fmt_size(size)).hint(hint));
            board.ram_size
        }
        None => size,
    }
}

pub(super) fn check_hypervisor(
    h: Option<&RawHypervisor>,
    board: &'static Board,
    ram_size: u64,
    r: &mut Report,
) -> Hypervisor {
    let mut hv = Hypervisor {
        console: board.default_uart(),
        log_level: LogLevel::Info,
        budget: board.hv_budget,
        budget_span: None,
    };
    let Some(h) = h else { return hv };
    if let Some(l) = &h.log_level {
        let word = l.get_ref().as_str();
        match LogLevel::from_name(word) {
            Some(level) => hv.log_level = level,
            None => {
                let names = || LogLevel::ALL.iter().map(|l| l.name());
                // `warning`, `err`: a level's name cut or extended is as likely a slip as a typo.
                let likely = suggestion(word, names())
                    .or_else(|| names().find(|n| !word.is_empty() && (word.starts_with(n) || n.starts_with(word))));
                let all = format!("log levels: {}", list(names()));
                let hint = match likely {
                    Some(n) => format!("did you mean `{n}`? {all}"),
                    None => all,
                };
                r.push(
                    Diag::error("hypervisor.log_level", l.span(), format!("unknown log level `{}`", shown(word)))
                        .label("not a log level")
                        .hint(format!("{hint}; each level includes the ones before it, the default is `info`")),
                );
            }
        }
    }
    if let Some(c) = &h.console {
        match board.uart(c.get_ref()) {
            Some(u) => hv.console = u,
            None => r.push(
                Diag::error("hypervisor.console", c.span(), format!("unknown console `{}`", shown(c.get_ref())))
                    .label("not a UART of this board")
                    .hint(suggest(c.get_ref(), board.uarts.iter().map(|u| u.name), "UARTs of this board")),
            ),
        }
    }
    if let Some(v) = &h.memory_budget {
        hv.budget_span = Some(v.span());
        if let Some(budget) = size_value(v, "hypervisor.memory_budget", r) {
            let room = board.ram_end(ram_size) - board.hv_load_addr;
            if budget == 0 || !is_aligned(budget, 4 * KIB) {
                r.push(
                    Diag::error(
                        "hypervisor.memory_budget",
                        v.span(),
                        "the memory budget must be a non-zero multiple of 4 KiB",
                    )
                    .label(fmt_size(budget))
                    .hint("the default is 2MiB"),
                );
            } else if budget >= room {
                r.push(
                    Diag::error(
                        "hypervisor.memory_budget",
                        v.span(),
                        format!("a {} budget leaves no RAM for partitions", fmt_size(budget)),
                    )
                    .label("too large")
                    .hint(format!(
                        "RAM from the hypervisor's load address {} to the end is {}",
                        hex(board.hv_load_addr),
                        fmt_size(room)
                    )),
                );
            } else {
                hv.budget = budget;
            }
        }
    }
    hv
}
