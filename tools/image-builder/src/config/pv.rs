//! The PV devices' tables: `[[disk]]` and `[[network]]`, and what each partition attaches (`disks`,
//! `networks`). One function per table; every reference is checked by name, with a suggestion when it is
//! misspelt, and every conflict names both places.

use std::collections::{BTreeMap, BTreeSet};

use board_support::{Board, BOARDS};
use toml::Spanned;

use super::common::{
    access, input_diag, reference, relative_path, shown, size_value, suggest, Lookup, NameKind, NameSet, Twice,
};
use super::model::*;
use super::raw::*;
use super::Context;
use crate::diag::{list, Diag, Report, Span};
use crate::input;
use crate::units::{checked_align_up, is_aligned, size as fmt_size};

/// Sector size: disks are whole sectors.
pub const SECTOR: u64 = 512;
/// virtio-mmio transports one partition can have (`guest_map::VIRTIO_MMIO_SLOTS`).
pub const MAX_PV_DEVICES: usize = hv_plan::guest_map::VIRTIO_MMIO_SLOTS as usize;

/// The checked tables; an entry is `None` when it has an error (the system is then refused anyway).
pub(super) struct Pv {
    pub(super) disks: Vec<Option<Disk>>,
    pub(super) networks: Vec<Option<Network>>,
    /// Per partition of the file: its attachments, when they are all valid.
    pub(super) attachments: Vec<Option<(Vec<DiskAttachment>, Vec<NetworkAttachment>)>>,
}

pub(super) fn check_pv(raw: &RawConfig, board: &Board, ctx: &Context<'_>, r: &mut Report) -> Pv {
    let disks = check_disks(raw, board, ctx, r);
    let networks = check_networks(raw, board, r);
    let mut names = Names {
        disks: Lookup::new("disk", raw.disks.iter().map(|d| d.get_ref().name.get_ref().as_str())),
        networks: Lookup::new("network", raw.networks.iter().map(|n| n.get_ref().name.get_ref().as_str())),
    };
    let attachments: Vec<_> = (0..raw.partitions.len()).map(|i| check_attachments(raw, i, &mut names, r)).collect();
    check_disk_sharing(raw, &names.disks, r);
    check_macs(raw, &attachments, r);
    warn_lonely_networks(raw, r);
    Pv { disks, networks, attachments }
}

/// The tables references name, by name.
struct Names<'a> {
    disks: Lookup<'a>,
    networks: Lookup<'a>,
}

/// Boards that have the facility `has` names, for hints.
fn boards_with(has: impl Fn(&Board) -> bool) -> String {
    list(BOARDS.iter().filter(|b| has(b)).map(|b| b.name))
}

fn check_disks(raw: &RawConfig, board: &Board, ctx: &Context<'_>, r: &mut Report) -> Vec<Option<Disk>> {
    let mut names = NameSet::new(NameKind::Disk);
    let mut out = Vec::new();
    for (i, d) in raw.disks.iter().enumerate() {
        let d = d.get_ref();
        let name = d.name.get_ref();
        names.check(i, &d.name, r);
        let backing = check_backing(d, i, board, r);
        let contents = match (&d.image, &d.size) {
            (Some(image), Some(size)) => {
                r.push(
                    Diag::error(
                        format!("disk[{i}].size"),
                        size.span(),
                        format!("disk `{name}` has both `image` and `size`"),
                    )
                    .label("remove this or `image`")
                    .related(image.span(), "the image gives the disk its contents and its size")
                    .hint("a disk is either a raw image file (its size rounded up to 512 bytes) or an empty disk of `size` bytes"),
                );
                None
            }
            (None, None) => {
                r.push(
                    Diag::error(format!("disk[{i}]"), d.name.span(), format!("disk `{name}` has neither `image` nor `size`"))
                        .label("this disk")
                        .hint("give it `image = \"FILE\"` (a raw disk image, relative to this file) or `size = \"64MiB\"` (an empty disk)"),
                );
                None
            }
            (Some(image), None) => {
                check_disk_image(image, i, ctx, r).map(|(path, size)| (Some(path), size, image.span()))
            }
            (None, Some(size)) => check_disk_size(size, i, name, r).map(|s| (None, s, size.span())),
        };
        out.push(match (contents, backing) {
            (Some((image, size, span)), Some(backing)) => Some(Disk { name: name.clone(), image, size, backing, span }),
            _ => None,
        });
    }
    out
}

fn check_backing(d: &RawDisk, i: usize, board: &Board, r: &mut Report) -> Option<DiskBacking> {
    let Some(b) = &d.backing else {
        return Some(DiskBacking::Ram);
    };
    let field = format!("disk[{i}].backing");
    match b.get_ref().as_str() {
        "ram" => Some(DiskBacking::Ram),
        "host" if board.host_disk => Some(DiskBacking::Host),
        "host" => {
            r.push(
                Diag::error(
                    field,
                    b.span(),
                    format!("board `{}` has no disk of its own to back disk `{}`", board.name, d.name.get_ref()),
                )
                .label("no host disk on this board")
                .hint(format!(
                    "`backing = \"host\"` takes a slice of the board's own block device, which {} have; use \
                     `backing = \"ram\"` (the default) here",
                    boards_with(|b| b.host_disk)
                )),
            );
            None
        }
        other => {
            r.push(
                Diag::error(field, b.span(), format!("unknown disk backing `{}`", shown(other)))
                    .label("not a backing")
                    .hint(format!(
                        "{}; `ram`: memory reserved by the image builder (the default), `host`: a slice of the board's own disk",
                        suggest(other, ["ram", "host"], "backings")
                    )),
            );
            None
        }
    }
}

/// A disk's `image`: a non-empty file. Returns its path and the disk's size (the file's, rounded up to sectors).
fn check_disk_image(
    v: &Spanned<String>,
    i: usize,
    ctx: &Context<'_>,
    r: &mut Report,
) -> Option<(std::path::PathBuf, u64)> {
    let written = v.get_ref();
    let field = format!("disk[{i}].image");
    let path = relative_path(ctx, written);
    // Opened, not read (`build` copies it whole): readable, a regular file, at most `input::IMAGE_LIMIT` bytes.
    let len = input::open(&path, input::IMAGE_LIMIT).and_then(|_| input::check_regular(&path, input::IMAGE_LIMIT));
    match len {
        Err(e) => {
            let where_ = "disk image paths are relative to the config file's directory (a raw image: the disk's \
                          sectors, from sector 0)";
            r.push(input_diag(&field, v.span(), "disk image", written, &path, &e, where_.into()));
            None
        }
        Ok(0) => {
            r.push(Diag::error(field, v.span(), format!("disk image `{written}` is empty")).label("0 bytes").hint(
                "a disk needs at least one sector; for an empty disk write `size = \"64MiB\"` instead of `image`",
            ));
            None
        }
        // At most `input::IMAGE_LIMIT`: rounding up to a whole sector cannot overflow.
        Ok(len) => Some((path, checked_align_up(len, SECTOR)?)),
    }
}

fn check_disk_size(v: &Spanned<NumOrStr>, i: usize, name: &str, r: &mut Report) -> Option<u64> {
    let field = format!("disk[{i}].size");
    let size = size_value(v, &field, r)?;
    if size == 0 {
        r.push(
            Diag::error(field, v.span(), format!("disk `{name}` has size 0"))
                .label("empty")
                .hint("give the disk at least one 512-byte sector, e.g. size = \"64MiB\""),
        );
        return None;
    }
    if size > limits::DISK_SIZE {
        r.push(
            Diag::error(
                field,
                v.span(),
                format!(
                    "disk `{}` is {}: a disk has at most {}",
                    shown(name),
                    fmt_size(size),
                    fmt_size(limits::DISK_SIZE)
                ),
            )
            .label("too large")
            .hint(
                "a RAM-backed disk lives in board RAM and a host-backed one on the board's disk: give it a size that \
                 fits (see docs/config.md, \"Limits\")",
            ),
        );
        return None;
    }
    if !is_aligned(size, SECTOR) {
        r.push(
            Diag::error(field, v.span(), format!("disk size {size} is not a multiple of 512 bytes"))
                .label(fmt_size(size))
                .hint(format!(
                    "a disk is whole 512-byte sectors: use {}",
                    checked_align_up(size, SECTOR).unwrap_or(size)
                )),
        );
        return None;
    }
    Some(size)
}

fn check_networks(raw: &RawConfig, board: &Board, r: &mut Report) -> Vec<Option<Network>> {
    let mut names = NameSet::new(NameKind::Network);
    let mut out = Vec::new();
    // The network that has the board's network device so far: there is one device, so one switch at most.
    let mut uplinked: Option<(usize, Span)> = None;
    for (i, n) in raw.networks.iter().enumerate() {
        let n = n.get_ref();
        names.check(i, &n.name, r);
        let uplink = n.uplink.as_ref().is_some_and(|u| *u.get_ref());
        if let (true, false, Some(u)) = (uplink, board.host_net, &n.uplink) {
            r.push(
                Diag::error(
                    format!("network[{i}].uplink"),
                    u.span(),
                    format!(
                        "board `{}` has no network device of its own for network `{}`",
                        board.name,
                        n.name.get_ref()
                    ),
                )
                .label("no uplink on this board")
                .hint(format!(
                    "`uplink = true` joins the board's own network device to the switch, which {} have; without \
                     it the network connects its partitions only",
                    boards_with(|b| b.host_net)
                )),
            );
            out.push(None);
            continue;
        }
        if let (true, Some(u)) = (uplink, &n.uplink) {
            if let Some((first, first_span)) = uplinked.clone() {
                r.push(
                    Diag::error(
                        format!("network[{i}].uplink"),
                        u.span(),
                        format!(
                            "network `{}` asks for the board's network device, which is already the uplink of \
                             network `{}`",
                            n.name.get_ref(),
                            raw.networks[first].get_ref().name.get_ref()
                        ),
                    )
                    .label("second uplink")
                    .related(first_span, "the board's one network device joins this switch")
                    .hint("a board has one network device, so one network at most has `uplink = true`"),
                );
                out.push(None);
                continue;
            }
            uplinked = Some((i, u.span()));
        }
        out.push(Some(Network { name: n.name.get_ref().clone(), uplink }));
    }
    out
}

/// Partition `i`'s `disks` and `networks`: known names, each once, valid access rights and MACs. `None` when one
/// of them is wrong.
fn check_attachments(
    raw: &RawConfig,
    i: usize,
    names: &mut Names<'_>,
    r: &mut Report,
) -> Option<(Vec<DiskAttachment>, Vec<NetworkAttachment>)> {
    let p = raw.partitions[i].get_ref();
    let pname = p.name.get_ref();
    let mut ok = true;
    let mut disks = Vec::new();
    let mut listed: BTreeMap<usize, Span> = BTreeMap::new();
    for (j, a) in p.disks.iter().flat_map(|l| l.get_ref().iter()).enumerate() {
        let a = a.get_ref();
        let field = format!("partition[{i}].disks[{j}]");
        let twice = Twice {
            message: format!("disk `{}` is attached twice to partition `{pname}`", shown(a.disk.get_ref())),
            first: "first attached here",
            hint: "attach each disk once",
        };
        let Some(disk) = reference(&mut names.disks, "disk", &a.disk, format!("{field}.disk"), &mut listed, twice, r)
        else {
            ok = false;
            continue;
        };
        match access(a.access.as_ref(), format!("{field}.access"), ["ro", "rw"], "disk", r) {
            Some(access) => disks.push(DiskAttachment { disk, access }),
            None => ok = false,
        }
    }
    let mut networks = Vec::new();
    let mut listed: BTreeMap<usize, Span> = BTreeMap::new();
    for (j, a) in p.networks.iter().flat_map(|l| l.get_ref().iter()).enumerate() {
        let a = a.get_ref();
        let field = format!("partition[{i}].networks[{j}]");
        let twice = Twice {
            message: format!("partition `{pname}` joins network `{}` twice", shown(a.network.get_ref())),
            first: "first joined here",
            hint: "a partition has one port on a network: list it once",
        };
        let field_ = format!("{field}.network");
        let Some(network) = reference(&mut names.networks, "network", &a.network, field_, &mut listed, twice, r) else {
            ok = false;
            continue;
        };
        let mac = match &a.mac {
            None => Some(derived_mac(a.network.get_ref(), pname)),
            Some(m) => check_mac(m, format!("{field}.mac"), r),
        };
        match mac {
            Some(mac) => networks.push(NetworkAttachment { network, mac }),
            None => ok = false,
        }
    }
    let count = disks.len() + networks.len();
    if count > MAX_PV_DEVICES {
        let span = p
            .networks
            .as_ref()
            .map(Spanned::span)
            .or(p.disks.as_ref().map(Spanned::span))
            .unwrap_or_else(|| p.name.span());
        r.push(
            Diag::error(
                format!("partition[{i}]"),
                span,
                format!("partition `{pname}` has {count} PV devices: a partition has at most {MAX_PV_DEVICES}"),
            )
            .label("too many disks and networks")
            .hint(format!(
                "each disk and network gets a virtio-mmio transport in the partition's {}-slot window",
                MAX_PV_DEVICES
            )),
        );
        ok = false;
    }
    ok.then_some((disks, networks))
}

/// A disk has at most one writer, and no reader besides a writer: a partition reading a disk another writes would
/// see sectors change under its cache.
fn check_disk_sharing(raw: &RawConfig, disks: &Lookup<'_>, r: &mut Report) {
    // Disk index -> (the writer, the readers so far): (partition name, entry span).
    type Claim = (String, Span);
    let mut claims: BTreeMap<usize, (Option<Claim>, Vec<Claim>)> = BTreeMap::new();
    for (i, p) in raw.partitions.iter().enumerate() {
        let p = p.get_ref();
        let pname = p.name.get_ref();
        for (j, entry) in p.disks.iter().flat_map(|l| l.get_ref().iter()).enumerate() {
            let a = entry.get_ref();
            let Some(disk) = disks.find(a.disk.get_ref()) else { continue };
            let writes = match a.access.as_ref().map(|v| v.get_ref().as_str()) {
                None | Some("rw") => true,
                Some("ro") => false,
                Some(_) => continue,
            };
            let dname = a.disk.get_ref();
            let (writer, readers) = claims.entry(disk).or_default();
            let field = format!("partition[{i}].disks[{j}]");
            let conflict = match (writes, &*writer, readers.first()) {
                (true, Some((other, first)), _) => Some((
                    format!("disk `{dname}` is attached read-write by two partitions: `{other}` and `{pname}`"),
                    format!("read-write by `{pname}`"),
                    first.clone(),
                    format!("read-write by `{other}` here"),
                )),
                (true, None, Some((other, first))) => Some((
                    format!("disk `{dname}` is attached read-only by `{other}` and read-write by `{pname}`"),
                    format!("read-write by `{pname}`"),
                    first.clone(),
                    format!("read-only by `{other}` here"),
                )),
                (false, Some((other, first)), _) => Some((
                    format!("disk `{dname}` is attached read-write by `{other}` and read-only by `{pname}`"),
                    format!("read-only by `{pname}`"),
                    first.clone(),
                    format!("read-write by `{other}` here"),
                )),
                (false, None, _) | (true, None, None) => None,
            };
            if let Some((message, label, first, related)) = conflict {
                r.push(Diag::error(field, entry.span(), message).label(label).related(first, related).hint(
                    "a disk has at most one writer, and then no other partition: attach it `access = \"ro\"` to \
                         every partition, or read-write to one only (give the others disks of their own)",
                ));
                continue;
            }
            if writes {
                *writer = Some((pname.clone(), entry.span()));
            } else {
                readers.push((pname.clone(), entry.span()));
            }
        }
    }
}

/// `52:54:00:12:34:56`: six hex bytes, unicast, not all zero.
fn check_mac(v: &Spanned<String>, field: String, r: &mut Report) -> Option<[u8; 6]> {
    let text = v.get_ref();
    let Some(mac) = parse_mac(text) else {
        r.push(
            Diag::error(field, v.span(), format!("bad MAC address \"{text}\""))
                .label("not a MAC address")
                .hint("write six two-digit hex bytes separated by `:`, e.g. \"52:54:00:12:34:56\", or leave `mac` out to have one derived from the network's and the partition's names"),
        );
        return None;
    };
    let problem = if mac[0] & 1 != 0 {
        Some(("is a multicast address", "the lowest bit of the first byte marks multicast groups: a device's own address has it clear (e.g. 02:..., 52:...)"))
    } else if mac == [0; 6] {
        Some(("is the null address", "give the device an address of its own, e.g. 02:00:00:00:00:01"))
    } else {
        None
    };
    if let Some((what, hint)) = problem {
        r.push(
            Diag::error(field, v.span(), format!("MAC address {text} {what}"))
                .label("not a unicast address")
                .hint(format!("{hint}, or leave `mac` out to have one derived")),
        );
        return None;
    }
    Some(mac)
}

pub(super) fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// The address of `partition`'s port on `network` when the config gives none: stable (FNV-1a of the two names),
/// locally administered and unicast (`02:` then five bytes of the hash).
pub fn derived_mac(network: &str, partition: &str) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in network.bytes().chain([0]).chain(partition.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    [0x02, b[0], b[1], b[2], b[3], b[4]]
}

/// No two ports of a network share an address (derived ones included).
fn check_macs(raw: &RawConfig, attachments: &[Option<(Vec<DiskAttachment>, Vec<NetworkAttachment>)>], r: &mut Report) {
    // (network, MAC) -> (partition name, span of the entry).
    let mut seen: BTreeMap<(usize, [u8; 6]), (String, Span)> = BTreeMap::new();
    for (i, (p, att)) in raw.partitions.iter().zip(attachments).enumerate() {
        let Some((_, networks)) = att else { continue };
        let p = p.get_ref();
        let entries = p.networks.iter().flat_map(|l| l.get_ref().iter());
        for (j, (a, entry)) in networks.iter().zip(entries).enumerate() {
            let span = entry.get_ref().mac.as_ref().map_or_else(|| entry.span(), Spanned::span);
            let net = raw.networks[a.network].get_ref().name.get_ref();
            match seen.get(&(a.network, a.mac)) {
                Some((other, first)) => r.push(
                    Diag::error(
                        format!("partition[{i}].networks[{j}].mac"),
                        span,
                        format!(
                            "MAC address {} is used twice on network `{net}`: by `{other}` and `{}`",
                            mac_string(&a.mac),
                            p.name.get_ref()
                        ),
                    )
                    .label(format!("`{}`'s port", p.name.get_ref()))
                    .related(first.clone(), format!("`{other}`'s port has it"))
                    .hint("every port of a network needs its own address: change one `mac`, or leave it out to have one derived"),
                ),
                None => {
                    seen.insert((a.network, a.mac), (p.name.get_ref().clone(), span));
                }
            }
        }
    }
}

/// A network no partition joins is probably a mistake, and so is one that a single partition joins without an
/// uplink: the partition has nothing to talk to.
fn warn_lonely_networks(raw: &RawConfig, r: &mut Report) {
    // Network name -> the partitions that join it (each once: joining twice is an error of its own).
    let mut joined: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, p) in raw.partitions.iter().enumerate() {
        for a in p.get_ref().networks.iter().flat_map(|l| l.get_ref().iter()) {
            joined.entry(a.get_ref().network.get_ref().as_str()).or_default().insert(i);
        }
    }
    let mut seen = BTreeSet::new();
    for (i, n) in raw.networks.iter().enumerate() {
        let n = n.get_ref();
        let name = n.name.get_ref();
        // A duplicate name is an error of its own.
        if !seen.insert(name.as_str()) {
            continue;
        }
        let uplink = n.uplink.as_ref().is_some_and(|u| *u.get_ref());
        let members = joined.get(name.as_str());
        match members.map_or(0, BTreeSet::len) {
            0 => r.push(
                Diag::warning(
                    format!("network[{i}]"),
                    n.name.span(),
                    format!("network `{}` connects no partition", shown(name)),
                )
                .label("no partition's `networks` names it")
                .hint(format!(
                    "add `networks = [{{ network = \"{}\" }}]` to the partitions it connects, or remove it",
                    shown(name)
                )),
            ),
            1 if !uplink => {
                let only = members
                    .and_then(|m| m.first())
                    .and_then(|p| raw.partitions.get(*p))
                    .map_or(String::new(), |p| shown(p.get_ref().name.get_ref()));
                r.push(
                    Diag::warning(
                        format!("network[{i}]"),
                        n.name.span(),
                        format!("network `{}` connects only partition `{only}`: it has nothing to talk to", shown(name)),
                    )
                    .label("one port, no uplink")
                    .hint("add the partitions it should connect `networks = [...]`, give it `uplink = true` (QEMU virt boards) to reach the outside, or remove it"),
                );
            }
            _ => {}
        }
    }
}
