//! `--format json`: what `check` and `inspect` print for editors and CI, and the shapes of `boards --format json`.
//!
//! Small structs made for the output only, so the JSON stays stable when the builder's own types change. Every
//! document has `"format": 1`, bumped when a field changes meaning or goes away (new fields may appear without).
//! Addresses and sizes are numbers of bytes; a region is `{"base", "end", "size"}` with `end` exclusive.
//! Positions are 1-based lines and columns (columns counted in characters); `end_line`/`end_column` is the position
//! just past the span, and `start_byte`/`end_byte` the same span as byte offsets in the file.

use std::path::Path;

use serde::Serialize;

use crate::config::{mac_string, DiskBacking, KernelSource};
use crate::diag::{Diag, Report, Severity, Span};
use crate::layout::Region;
use crate::pipeline::Prepared;
use crate::report::{memory_map, MapUse};
use crate::{display_path, hvconfig, schedule, Error};

/// The version of the documents' shape.
pub const FORMAT: u32 = 1;

/// Pretty JSON with a final newline. Serialising these structs cannot fail (no maps with non-string keys, no
/// custom serialisers); should it, the document says so rather than panicking.
pub fn to_string<T: Serialize>(value: &T) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(s) => s + "\n",
        // A JSON string's Display is valid JSON, whatever the message holds.
        Err(e) => format!(
            "{{\"format\": {FORMAT}, \"ok\": false, \"error\": {}}}\n",
            serde_json::Value::String(e.to_string())
        ),
    }
}

/// What `check` and `inspect` print.
#[derive(Debug, Serialize)]
pub struct Document {
    pub format: u32,
    /// `check` or `inspect`.
    pub command: &'static str,
    /// The config, as given (relative to the current directory when below it).
    pub config: String,
    /// Whether the command succeeded (the exit status is 0 exactly when it did).
    pub ok: bool,
    /// `no problems`, `2 errors, 1 warning`, or why there are no diagnostics (`error`).
    pub summary: String,
    /// Why the command failed when it was not the config's diagnostics: an unreadable file, a guest that does not
    /// build.
    pub error: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
    /// `inspect` only, when it succeeded: the memory layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
}

impl Document {
    /// A success, with the config's warnings.
    pub fn ok(command: &'static str, config: &Path, report: &Report) -> Document {
        Document {
            format: FORMAT,
            command,
            config: display_path(config),
            ok: true,
            summary: report.summary(),
            error: None,
            diagnostics: diagnostics(report),
            layout: None,
        }
    }

    /// A failure: the config's diagnostics, or the error that stopped the command.
    pub fn failed(command: &'static str, config: &Path, error: &Error) -> Document {
        let (summary, error, diagnostics) = match error {
            Error::Config(report) => (report.summary(), None, diagnostics(report)),
            other => ("error".to_owned(), Some(other.to_string()), Vec::new()),
        };
        Document {
            format: FORMAT,
            command,
            config: display_path(config),
            ok: false,
            summary,
            error,
            diagnostics,
            layout: None,
        }
    }

    pub fn with_layout(self, layout: Layout) -> Document {
        Document { layout: Some(layout), ..self }
    }
}

/// One finding about the config ([`crate::diag::Diag`]).
#[derive(Debug, Serialize)]
pub struct Diagnostic {
    /// `error` or `warning`.
    pub severity: &'static str,
    /// What is wrong, one sentence without a final period.
    pub message: String,
    /// The config field: `partition[1].vcpus[0]`.
    pub field: String,
    /// The config file, as the text diagnostics name it.
    pub file: String,
    #[serde(flatten)]
    pub position: Position,
    /// What the underline says (empty: nothing).
    pub label: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// Other places involved (the first of two duplicates, for example).
    pub related: Vec<Related>,
}

/// Where a span lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub start_byte: usize,
    pub end_byte: usize,
}

impl Position {
    pub fn of(report: &Report, span: &Span) -> Position {
        let len = report.source().len();
        let (start, end) = (span.start.min(len), span.end.min(len).max(span.start.min(len)));
        let (line, column) = report.line_col(start);
        let (end_line, end_column) = report.line_col(end);
        Position { line, column, end_line, end_column, start_byte: start, end_byte: end }
    }
}

#[derive(Debug, Serialize)]
pub struct Related {
    pub label: String,
    #[serde(flatten)]
    pub position: Position,
}

/// Every diagnostic of a report, in its order.
pub fn diagnostics(report: &Report) -> Vec<Diagnostic> {
    report.diags.iter().map(|d| diagnostic(report, d)).collect()
}

fn diagnostic(report: &Report, d: &Diag) -> Diagnostic {
    Diagnostic {
        severity: match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        message: d.message.clone(),
        field: d.field.clone(),
        file: report.file_name().to_owned(),
        position: Position::of(report, &d.span),
        label: d.label.clone(),
        hint: d.hint.clone(),
        related: d
            .related
            .iter()
            .map(|(span, label)| Related { label: label.clone(), position: Position::of(report, span) })
            .collect(),
    }
}

/// A range of addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Range {
    pub base: u64,
    pub end: u64,
    pub size: u64,
}

impl Range {
    pub fn new(base: u64, size: u64) -> Range {
        Range { base, end: base + size, size }
    }
}

impl From<Region> for Range {
    fn from(r: Region) -> Range {
        Range::new(r.base, r.size)
    }
}

/// The facts `layout.txt` holds (`report::layout_text`), for a prepared system.
#[derive(Debug, Serialize)]
pub struct Layout {
    /// The system's name (the config's stem).
    pub system: String,
    pub board: BoardUse,
    pub cpus: Cpus,
    pub image: Image,
    /// All of board RAM in address order, gaps (`free`) included.
    pub memory: Vec<MemoryRow>,
    pub partitions: Vec<Partition>,
    pub disks: Vec<Disk>,
    /// The board's own disk holding the `backing = "host"` disks, when there are any.
    pub host_disk: Option<HostDisk>,
    pub networks: Vec<Network>,
    pub channels: Vec<Channel>,
    pub pools: Vec<Pool>,
}

/// The board as the system uses it.
#[derive(Debug, Serialize)]
pub struct BoardUse {
    pub name: String,
    pub ram: Range,
    pub gic_version: u32,
    pub console: Console,
    /// hv-static's log level.
    pub log_level: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Console {
    pub uart: &'static str,
    pub base: u64,
}

#[derive(Debug, Serialize)]
pub struct Cpus {
    /// Physical CPUs some pool owns, ascending.
    pub used: Vec<u32>,
    /// CPUs the board can have.
    pub board: u32,
    /// QEMU's `-smp`.
    pub qemu_smp: u32,
}

#[derive(Debug, Serialize)]
pub struct Image {
    /// The boot image: the hypervisor's budget followed by the payload.
    pub size: u64,
    pub hypervisor_budget: u64,
    pub payload: u64,
}

#[derive(Debug, Serialize)]
pub struct MemoryRow {
    #[serde(flatten)]
    pub range: Range,
    /// `boot-loader`, `hypervisor`, `payload`, `boot-dtb`, `partition`, `disk`, `channel` or `free`.
    pub kind: &'static str,
    /// The partition, disk or channel, for those kinds.
    pub name: Option<String>,
    /// The row as `layout.txt` describes it.
    pub description: String,
    /// In the payload: what hv-static copies at boot.
    pub contents: Vec<PayloadItem>,
}

#[derive(Debug, Serialize)]
pub struct PayloadItem {
    #[serde(flatten)]
    pub range: Range,
    /// The partition it is for (or `disk NAME`).
    pub owner: String,
    /// `kernel`, `ramdisk`, `device tree` or `image`.
    pub what: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Partition {
    pub name: String,
    pub id: u16,
    pub pool: String,
    pub scheduler: &'static str,
    /// The physical CPU of each vCPU (vCPU i on `vcpus[i]`).
    pub vcpus: Vec<u32>,
    pub ram: PartitionRam,
    pub kernel: Kernel,
    pub ramdisk: Option<Ramdisk>,
    pub device_tree: DeviceTree,
    /// Device memory mapped into the partition.
    pub device_maps: Vec<DeviceMap>,
    pub virtio: Vec<Virtio>,
    pub channels: Vec<ChannelMap>,
    pub passthrough: Vec<Passthrough>,
    pub console: bool,
    /// The emulated SP805 watchdog, when the partition has one.
    pub watchdog: Option<Watchdog>,
    /// The partitions it manages, by name, in config order.
    pub manages: Vec<String>,
    pub on_fault: &'static str,
    /// With `on_fault = "restart"`: restarts allowed within `restart_window_ns`, and the delay before each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_window_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_delay_ns: Option<u64>,
    pub stage2_tables: usize,
    pub bootargs: String,
}

#[derive(Debug, Serialize)]
pub struct PartitionRam {
    /// Guest-physical.
    pub ipa: Range,
    /// Host-physical.
    pub pa: Range,
    /// Whether the config fixed `pa`.
    pub fixed: bool,
}

#[derive(Debug, Serialize)]
pub struct Kernel {
    pub ipa: u64,
    pub pa: u64,
    pub size: u64,
    /// With its bss.
    pub footprint: u64,
    pub text_offset: u64,
    /// `guest NAME` or the file it was read from.
    pub from: String,
}

#[derive(Debug, Serialize)]
pub struct Ramdisk {
    pub ipa: Range,
    pub pa: u64,
    pub from: String,
}

#[derive(Debug, Serialize)]
pub struct DeviceTree {
    pub ipa: u64,
    pub pa: u64,
    pub size: u64,
    /// The overlay merged into it, as the config writes it.
    pub overlay: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DeviceMap {
    pub ipa: u64,
    pub pa: u64,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct Virtio {
    /// The virtio-mmio transport's guest-physical address.
    pub ipa: u64,
    pub intid: u32,
    /// `disk` or `network`.
    pub device: &'static str,
    /// The disk or network.
    pub name: String,
    /// Disks: `ro` or `rw`.
    pub access: Option<&'static str>,
    /// Networks: the device's MAC address.
    pub mac: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ChannelMap {
    pub name: String,
    pub ipa: Range,
    /// Host-physical, when the layout placed it.
    pub pa: Option<u64>,
    /// `r` or `rw`.
    pub access: &'static str,
    pub doorbell_intid: u32,
}

#[derive(Debug, Serialize)]
pub struct Watchdog {
    /// Its registers' guest-physical address.
    pub ipa: u64,
    pub intid: u32,
}

#[derive(Debug, Serialize)]
pub struct Passthrough {
    pub path: &'static str,
    pub description: &'static str,
    pub mmio: Vec<Range>,
    pub intids: Vec<u32>,
}

#[derive(Debug, Serialize)]
pub struct Disk {
    pub name: String,
    pub size: u64,
    /// `ram` or `host`.
    pub backing: &'static str,
    /// Host-backed disks: their bytes on the board's own disk.
    pub host_slice: Option<HostSlice>,
    /// The image it starts with (none: zeroed).
    pub image: Option<String>,
    pub attached_by: Vec<Attachment>,
}

#[derive(Debug, Serialize)]
pub struct HostSlice {
    pub offset: u64,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct Attachment {
    pub partition: String,
    /// Disks: `ro`/`rw`; channels: `r`/`rw`.
    pub access: &'static str,
}

#[derive(Debug, Serialize)]
pub struct HostDisk {
    /// The virtio-blk serial hv-static looks for.
    pub serial: &'static str,
    pub min_size: u64,
    /// Where `run` keeps it by default.
    pub default_path: String,
}

#[derive(Debug, Serialize)]
pub struct Network {
    pub name: String,
    /// Whether the board's network device is a port of the switch.
    pub uplink: bool,
    pub ports: Vec<Port>,
}

#[derive(Debug, Serialize)]
pub struct Port {
    pub partition: String,
    pub mac: String,
}

#[derive(Debug, Serialize)]
pub struct Channel {
    pub name: String,
    pub size: u64,
    pub members: Vec<Attachment>,
}

#[derive(Debug, Serialize)]
pub struct Pool {
    pub name: String,
    /// `pinned` or `cyclic`.
    pub scheduler: &'static str,
    /// `trap` or `native`.
    pub wfi: &'static str,
    pub cpus: Vec<u32>,
    /// Cyclic pools: the major frame, in nanoseconds.
    pub major_frame_ns: Option<u64>,
    /// Cyclic pools: whether the table was synthesized from budgets and periods.
    pub synthesized: Option<bool>,
    /// Per CPU, what runs when within one major frame (pinned pools: one slot, the whole time, `start_ns` and
    /// `end_ns` 0).
    pub slots: Vec<Slot>,
}

#[derive(Debug, Serialize)]
pub struct Slot {
    pub cpu: u32,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Nothing: the CPU idles (WFI).
    pub partition: Option<String>,
}

/// The layout of a prepared system, as `inspect` prints it.
pub fn layout(p: &Prepared) -> Layout {
    let s = &p.checked.system;
    let l = &p.layout;
    let names: Vec<&str> = s.partitions.iter().map(|p| p.name.as_str()).collect();
    let memory = memory_map(p, None)
        .into_iter()
        .map(|row| MemoryRow {
            range: row.region.into(),
            kind: row.what.kind(),
            name: match row.what {
                MapUse::Partition(i) => Some(s.partitions[i].name.clone()),
                MapUse::Shared(crate::layout::Shared::Disk(d)) => Some(s.disks[d].name.clone()),
                MapUse::Shared(crate::layout::Shared::Channel(c)) => Some(s.channels[c].name.clone()),
                _ => None,
            },
            description: row.text,
            contents: row
                .contents
                .into_iter()
                .map(|item| PayloadItem { range: item.region.into(), owner: item.owner, what: item.what })
                .collect(),
        })
        .collect();

    let mut host_slices = l.host_disk_slices.iter();
    let disks = s
        .disks
        .iter()
        .enumerate()
        .map(|(d, disk)| Disk {
            name: disk.name.clone(),
            size: disk.size,
            backing: disk.backing.name(),
            host_slice: match disk.backing {
                DiskBacking::Ram => None,
                DiskBacking::Host => host_slices.next().map(|sl| HostSlice { offset: sl.offset, size: sl.size }),
            },
            image: disk.image.as_deref().map(display_path),
            attached_by: s
                .partitions
                .iter()
                .filter_map(|p| {
                    let a = p.disks.iter().find(|a| a.disk == d)?;
                    Some(Attachment { partition: p.name.clone(), access: a.access.disk_name() })
                })
                .collect(),
        })
        .collect();
    let host_disk = (!l.host_disk_slices.is_empty()).then(|| HostDisk {
        serial: board_support::HOST_DISK_SERIAL,
        min_size: hvconfig::host_disk_size(l),
        default_path: display_path(&crate::hostdisk::default_path(s)),
    });
    let networks = s
        .networks
        .iter()
        .enumerate()
        .map(|(n, net)| Network {
            name: net.name.clone(),
            uplink: net.uplink,
            ports: s
                .partitions
                .iter()
                .filter_map(|p| {
                    let a = p.networks.iter().find(|a| a.network == n)?;
                    Some(Port { partition: p.name.clone(), mac: mac_string(&a.mac) })
                })
                .collect(),
        })
        .collect();
    let channels = s
        .channels
        .iter()
        .map(|ch| Channel {
            name: ch.name.clone(),
            size: ch.size,
            members: ch
                .members
                .iter()
                .map(|m| Attachment {
                    partition: s.partitions[m.partition].name.clone(),
                    access: m.access.channel_name(),
                })
                .collect(),
        })
        .collect();
    let pools = s
        .pools
        .iter()
        .map(|pool| {
            let slots = match &pool.cyclic {
                Some(table) => pool
                    .cpus
                    .iter()
                    .flat_map(|&cpu| {
                        schedule::timeline(table, cpu).into_iter().map(move |sl| (cpu, sl.start, sl.end, sl.partition))
                    })
                    .map(|(cpu, start_ns, end_ns, who)| Slot {
                        cpu,
                        start_ns,
                        end_ns,
                        partition: who.map(|p| names[p].to_owned()),
                    })
                    .collect(),
                None => pool
                    .cpus
                    .iter()
                    .map(|&cpu| Slot {
                        cpu,
                        start_ns: 0,
                        end_ns: 0,
                        partition: s.partitions.iter().find(|p| p.vcpus.contains(&cpu)).map(|p| p.name.clone()),
                    })
                    .collect(),
            };
            Pool {
                name: pool.name.clone(),
                scheduler: pool.scheduler.name(),
                wfi: pool.wfi.name(),
                cpus: pool.cpus.clone(),
                major_frame_ns: pool.cyclic.as_ref().map(|c| c.major_frame),
                synthesized: pool.cyclic.as_ref().map(|c| c.synthesized),
                slots,
            }
        })
        .collect();

    Layout {
        system: s.name.clone(),
        board: BoardUse {
            name: s.board.name.to_owned(),
            ram: l.ram.into(),
            gic_version: s.gic.number(),
            console: Console { uart: s.hypervisor.console.name, base: s.hypervisor.console.base },
            log_level: s.hypervisor.log_level.name(),
        },
        cpus: Cpus { used: s.used_cpus(), board: s.board.max_cpus, qemu_smp: s.smp() },
        image: Image { size: l.image_size(), hypervisor_budget: l.hypervisor.size, payload: l.payload.size },
        memory,
        partitions: (0..s.partitions.len()).map(|i| partition(p, i)).collect(),
        disks,
        host_disk,
        networks,
        channels,
        pools,
    }
}

fn partition(p: &Prepared, i: usize) -> Partition {
    let s = &p.checked.system;
    let l = &p.layout;
    let part = &s.partitions[i];
    let pl = &l.partitions[i];
    let pool = &s.pools[part.pool];
    let guest = l.guests.get(i).cloned().unwrap_or_default();
    let restart = match part.on_fault {
        crate::config::FaultPolicy::Stop => None,
        crate::config::FaultPolicy::Restart { max_restarts, window_ns, delay_ns } => {
            Some((max_restarts, window_ns, delay_ns))
        }
    };
    let ports =
        part.disks.iter().map(|a| ("disk", s.disks[a.disk].name.clone(), Some(a.access.disk_name()), None)).chain(
            part.networks
                .iter()
                .map(|a| ("network", s.networks[a.network].name.clone(), None, Some(mac_string(&a.mac)))),
        );
    let virtio = guest
        .virtio
        .iter()
        .zip(ports)
        .map(|(v, (device, name, access, mac))| Virtio { ipa: v.base, intid: v.intid, device, name, access, mac })
        .collect();
    let channels = s
        .channels_of(i)
        .into_iter()
        .zip(&guest.channels)
        .map(|((c, access), m)| ChannelMap {
            name: s.channels[c].name.clone(),
            ipa: Range::new(m.ipa, m.size),
            pa: l.shared.iter().find(|sh| sh.what == crate::layout::Shared::Channel(c)).map(|sh| sh.region.base),
            access: access.channel_name(),
            doorbell_intid: m.doorbell,
        })
        .collect();
    let from = match (&part.kernel.source, p.kernels.get(i)) {
        (KernelSource::Guest { name, .. }, _) => format!("guest {name}"),
        (KernelSource::File(_), Some(k)) => k.from.clone(),
        (KernelSource::File(path), None) => display_path(path),
    };
    Partition {
        name: part.name.clone(),
        id: part.id,
        pool: pool.name.clone(),
        scheduler: pool.scheduler.name(),
        vcpus: part.vcpus.clone(),
        ram: PartitionRam { ipa: Range::new(pl.ipa, pl.ram.size), pa: pl.ram.into(), fixed: pl.fixed },
        kernel: Kernel {
            ipa: pl.kernel.ipa,
            pa: pl.kernel.dst_pa,
            size: pl.kernel.size,
            footprint: pl.kernel_footprint.max(pl.kernel.size),
            text_offset: p.kernels.get(i).map_or(0, |k| k.header.text_offset),
            from,
        },
        ramdisk: pl.ramdisk.zip(part.ramdisk.as_ref()).map(|(r, rp)| Ramdisk {
            ipa: Range::new(r.ipa, r.size),
            pa: r.dst_pa,
            from: display_path(&rp.path),
        }),
        device_tree: DeviceTree {
            ipa: pl.dtb.ipa,
            pa: pl.dtb.dst_pa,
            size: pl.dtb.size,
            overlay: part.dt_overlay.as_ref().map(|o| o.written.clone()),
        },
        device_maps: hvconfig::device_maps(s, i)
            .into_iter()
            .map(|d| DeviceMap { ipa: d.ipa, pa: d.pa, size: d.size })
            .collect(),
        virtio,
        channels,
        passthrough: part
            .passthrough
            .iter()
            .map(|d| Passthrough {
                path: d.path,
                description: d.description,
                mmio: d.regs.iter().map(|m| Range::new(m.base, m.size)).collect(),
                intids: d.spis.to_vec(),
            })
            .collect(),
        console: part.console,
        watchdog: guest.watchdog.map(|intid| Watchdog { ipa: hv_plan::guest_map::WATCHDOG, intid }),
        manages: part.manages.iter().map(|&m| s.partitions[m].name.clone()).collect(),
        on_fault: part.on_fault.name(),
        max_restarts: restart.map(|r| r.0),
        restart_window_ns: restart.map(|r| r.1),
        restart_delay_ns: restart.map(|r| r.2),
        stage2_tables: hvconfig::s2_tables(s, l, i),
        bootargs: part.bootargs.clone(),
    }
}

#[cfg(test)]
mod tests;
