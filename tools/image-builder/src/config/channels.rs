//! The `[[channel]]` tables: shared-memory channels between partitions. Each has a name, a size its members can
//! map with 4 KiB pages, and the partitions that map it, each once and with its access right; a channel no member
//! can write is a warning. Where a channel lands in host and guest memory is the layout's business (`pipeline`).

use std::collections::BTreeMap;

use super::common::{access, reference, shown, size_value, Lookup, NameKind, NameSet, Twice, IPA_LIMIT};
use super::model::*;
use super::raw::*;
use crate::diag::{Diag, Report, Span};
use crate::units::{checked_align_up, is_aligned, size as fmt_size, KIB};

/// Channels are mapped with 4 KiB pages.
pub const CHANNEL_GRANULE: u64 = 4 * KIB;

/// Every `[[channel]]` table, in file order; an entry is `None` when it has an error (the system is then refused
/// anyway). Members name partitions of the file, whether or not those partitions passed their own checks.
pub(super) fn check_channels(raw: &RawConfig, r: &mut Report) -> Vec<Option<Channel>> {
    let partitions = &mut Lookup::new("partition", raw.partitions.iter().map(|p| p.get_ref().name.get_ref().as_str()));
    let mut names = NameSet::new(NameKind::Channel);
    let mut out = Vec::new();
    for (i, c) in raw.channels.iter().enumerate() {
        let c = c.get_ref();
        let name = c.name.get_ref();
        names.check(i, &c.name, r);
        let mut ok = true;
        let field = format!("channel[{i}].size");
        let size = size_value(&c.size, &field, r);
        if let Some(s) = size.filter(|s| *s > IPA_LIMIT) {
            r.push(
                Diag::error(
                    field,
                    c.size.span(),
                    format!(
                        "channel `{}` is {}: larger than a partition's guest-physical space",
                        shown(name),
                        fmt_size(s)
                    ),
                )
                .label("too large")
                .hint(format!(
                    "every member maps the whole channel below {} ({}): give it a size that fits in board RAM",
                    crate::units::hex(IPA_LIMIT),
                    fmt_size(IPA_LIMIT)
                )),
            );
            ok = false;
        } else if let Some(s) = size.filter(|s| *s == 0 || !is_aligned(*s, CHANNEL_GRANULE)) {
            let up = checked_align_up(s, CHANNEL_GRANULE).unwrap_or(s).max(CHANNEL_GRANULE);
            r.push(
                Diag::error(
                    field,
                    c.size.span(),
                    format!("channel size {} is not a non-zero multiple of 4 KiB", fmt_size(s)),
                )
                .label(fmt_size(s))
                .hint(format!("a channel is mapped into its partitions with 4 KiB pages: use {}", fmt_size(up))),
            );
            ok = false;
        }
        let members = c.partitions.get_ref();
        if members.is_empty() {
            r.push(
                Diag::error(format!("channel[{i}].partitions"), c.partitions.span(), format!("channel `{name}` has no partitions"))
                    .label("empty")
                    .hint("list the partitions that map it, e.g. partitions = [{ partition = \"a\", access = \"rw\" }, { partition = \"b\", access = \"r\" }]"),
            );
            ok = false;
        }
        let mut out_members = Vec::new();
        let mut listed: BTreeMap<usize, Span> = BTreeMap::new();
        for (j, m) in members.iter().enumerate() {
            let m = m.get_ref();
            let field = format!("channel[{i}].partitions[{j}]");
            let twice = Twice {
                message: format!("partition `{}` is listed twice in channel `{name}`", shown(m.partition.get_ref())),
                first: "first listed here",
                hint: "list each partition once, with the access it needs (`rw` covers reading)",
            };
            let field_ = format!("{field}.partition");
            let Some(partition) = reference(partitions, "partition", &m.partition, field_, &mut listed, twice, r)
            else {
                ok = false;
                continue;
            };
            match access(m.access.as_ref(), format!("{field}.access"), ["r", "rw"], "channel", r) {
                Some(access) => out_members.push(ChannelMember { partition, access }),
                None => ok = false,
            }
        }
        if ok && !out_members.iter().any(|m| m.access.writable()) {
            r.push(
                Diag::warning(
                    format!("channel[{i}].partitions"),
                    c.partitions.span(),
                    format!("no partition can write channel `{name}`"),
                )
                .label("every partition maps it `access = \"r\"`")
                .hint("it stays zeroed: give the partition that fills it `access = \"rw\"`"),
            );
        }
        out.push(match (ok, size) {
            (true, Some(size)) => {
                Some(Channel { name: name.clone(), size, members: out_members, size_span: c.size.span() })
            }
            _ => None,
        });
    }
    out
}
