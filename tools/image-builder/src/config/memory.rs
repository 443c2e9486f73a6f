//! A partition's RAM (`[partition.memory]`): a size the stage-2 tables can map in 2 MiB blocks and a device tree
//! fits in, a guest-physical base clear of the emulated devices, and, when the config places it by hand, a
//! host-physical base inside board RAM that overlaps neither the hypervisor nor another partition. Checked before
//! any layout is tried, so each problem is reported on the key that causes it rather than as a layout failure.

use board_support::{Board, GicVersion};
use hv_plan::guest_map;
use toml::Spanned;

use super::common::*;
use super::devices::{device_windows, has_watchdog, virtio_count};
use super::model::*;
use super::raw::*;
use crate::diag::{Diag, Report, Span};
use crate::units::{self, hex, is_aligned, size as fmt_size, MIB};

/// Partition RAM, its guest-physical base and host-physical base are mapped with 2 MiB blocks.
pub const RAM_ALIGN: u64 = 2 * MIB;
/// Smallest partition RAM: the device tree takes the last 2 MiB, the kernel needs room below it.
pub const MIN_PARTITION_RAM: u64 = 4 * MIB;

/// Partition `i`'s `memory`; `placed` holds the RAM placed by hand so far (pa, size, partition name, span of pa),
/// so two partitions' ranges are compared as they are read. `None` when a value is wrong.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_memory(
    p: &RawPartition,
    i: usize,
    board: &Board,
    ram_size: u64,
    hv: &Hypervisor,
    gic: GicVersion,
    vcpus: usize,
    placed: &mut Vec<(u64, u64, String, Span)>,
    r: &mut Report,
) -> Option<Memory> {
    let name = p.name.get_ref();
    let m = p.memory.get_ref();
    let size_field = format!("partition[{i}].memory.size");
    let size = size_value(&m.size, &size_field, r)?;
    let mut ok = true;
    if !is_aligned(size, RAM_ALIGN) {
        r.push(
            Diag::error(
                &size_field,
                m.size.span(),
                format!("misaligned memory: {} is not a multiple of 2 MiB", fmt_size(size)),
            )
            .label("must be 2 MiB-aligned")
            .hint(format!(
                "partition RAM is mapped in 2 MiB blocks: use {}",
                fmt_size(units::align_up(size, RAM_ALIGN).max(RAM_ALIGN))
            )),
        );
        ok = false;
    } else if size > board.max_ram_size {
        r.push(
            Diag::error(
                &size_field,
                m.size.span(),
                format!("partition `{name}` wants more RAM than the board can have"),
            )
            .label(fmt_size(size))
            .hint(format!("`{}` has at most {} of RAM", board.name, fmt_size(board.max_ram_size))),
        );
        ok = false;
    } else if size < MIN_PARTITION_RAM {
        r.push(
            Diag::error(
                &size_field,
                m.size.span(),
                format!("partition `{name}` needs at least {} of RAM", fmt_size(MIN_PARTITION_RAM)),
            )
            .label(fmt_size(size))
            .hint("the device tree takes the last 2 MiB and the kernel goes below it"),
        );
        ok = false;
    }

    let ipa_field = format!("partition[{i}].memory.ipa");
    let ipa = match &m.ipa {
        None => guest_map::RAM,
        Some(v) => {
            let ipa = addr_value(v, &ipa_field, r)?;
            if !is_aligned(ipa, RAM_ALIGN) {
                r.push(
                    Diag::error(
                        &ipa_field,
                        v.span(),
                        format!("misaligned memory: IPA {} is not 2 MiB-aligned", hex(ipa)),
                    )
                    .label("must be 2 MiB-aligned")
                    .hint(format!(
                        "use {} or {}",
                        hex(ipa / RAM_ALIGN * RAM_ALIGN),
                        hex(units::align_up(ipa, RAM_ALIGN))
                    )),
                );
                ok = false;
            } else if ipa.saturating_add(size) > IPA_LIMIT {
                r.push(
                    Diag::error(
                        &ipa_field,
                        v.span(),
                        "partition RAM ends beyond the 39-bit guest-physical address space",
                    )
                    .label(format!("{} + {}", hex(ipa), fmt_size(size)))
                    .hint(format!("guest-physical addresses end at {}", hex(IPA_LIMIT))),
                );
                ok = false;
            } else if let Some((base, len, what)) = device_windows(gic, vcpus, virtio_count(p), has_watchdog(p))
                .into_iter()
                .find(|(b, l, _)| overlaps((ipa, size), (*b, *l)))
            {
                r.push(
                    Diag::error(
                        &ipa_field,
                        v.span(),
                        format!("partition RAM overlaps the {what} at IPA {}", hex(base)),
                    )
                    .label(format!("RAM {}..{}", hex(ipa), hex(ipa + size)))
                    .hint(format!(
                        "devices occupy {}..{}; the default RAM base is {}",
                        hex(base),
                        hex(base + len),
                        hex(guest_map::RAM)
                    )),
                );
                ok = false;
            }
            ipa
        }
    };

    let mut pa = None;
    let mut pa_span = None;
    if let Some(v) = &m.pa {
        let field = format!("partition[{i}].memory.pa");
        let addr = addr_value(v, &field, r)?;
        pa_span = Some(v.span());
        pa = Some(addr);
        let ram_end = board.ram_end(ram_size);
        let reserved_end = board.hv_load_addr + hv.budget;
        if !is_aligned(addr, RAM_ALIGN) {
            r.push(
                Diag::error(&field, v.span(), format!("misaligned memory: PA {} is not 2 MiB-aligned", hex(addr)))
                    .label("must be 2 MiB-aligned")
                    .hint(format!(
                        "use {}, or leave `pa` out to let the layout choose",
                        hex(units::align_up(addr, RAM_ALIGN))
                    )),
            );
            ok = false;
        } else if addr < board.ram_base || addr.saturating_add(size) > ram_end {
            r.push(
                Diag::error(&field, v.span(), format!("memory of partition `{name}` lies beyond board RAM"))
                    .label(format!("{}..{}", hex(addr), hex(addr.saturating_add(size))))
                    .hint(format!(
                        "board RAM is {}..{} ({}); raise [board] ram_size or move the partition",
                        hex(board.ram_base),
                        hex(ram_end),
                        fmt_size(ram_size)
                    )),
            );
            ok = false;
        } else if overlaps((addr, size), (board.ram_base, reserved_end - board.ram_base)) {
            r.push(
                Diag::error(&field, v.span(), format!("memory of partition `{name}` overlaps the hypervisor"))
                    .label(format!("{}..{}", hex(addr), hex(addr + size)))
                    .hint(format!(
                        "{}..{} holds the boot loader's stub and the hypervisor; its payload follows: leave `pa` out to let the layout choose",
                        hex(board.ram_base),
                        hex(reserved_end)
                    )),
            );
            ok = false;
        } else if let Some((opa, osize, other, ospan)) =
            placed.iter().find(|(b, l, _, _)| overlaps((addr, size), (*b, *l)))
        {
            r.push(
                Diag::error(&field, v.span(), format!("memory of partition `{name}` overlaps partition `{other}`"))
                    .label(format!("{}..{}", hex(addr), hex(addr + size)))
                    .related(ospan.clone(), format!("`{other}` has {}..{}", hex(*opa), hex(opa + osize)))
                    .hint(
                        "give each partition its own host-physical range, or leave `pa` out to let the layout choose",
                    ),
            );
            ok = false;
        } else {
            placed.push((addr, size, name.clone(), v.span()));
        }
    }
    ok.then_some(Memory { size, ipa, pa, size_span: m.size.span(), pa_span })
}

/// An address key (`ipa`, `pa`): a number or a string such as `"0x4000_0000"`, never negative.
fn addr_value(v: &Spanned<NumOrStr>, field: &str, r: &mut Report) -> Option<u64> {
    match v.get_ref() {
        NumOrStr::Int(n) if *n < 0 => {
            r.push(
                Diag::error(field, v.span(), format!("bad address `{n}`: addresses cannot be negative"))
                    .label("negative"),
            );
            None
        }
        NumOrStr::Int(n) => u64::try_from(*n).ok(),
        NumOrStr::Str(s) => match units::parse_addr(s) {
            Ok(n) => Some(n),
            Err(e) => {
                r.push(
                    Diag::error(field, v.span(), format!("bad address \"{s}\": {}", e.message))
                        .label("not an address")
                        .hint(e.hint),
                );
                None
            }
        },
    }
}

/// Whether the ranges `(base, size)` `a` and `b` share a byte (an end past 2^64 counts as 2^64).
fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.0.saturating_add(b.1) && b.0 < a.0.saturating_add(a.1)
}
