//! The human-readable memory map and schedule that `inspect` prints and `build` writes to `out/NAME/layout.txt`,
//! and the schedule drawn as `out/NAME/schedule.svg`.

use std::fmt::Write;

use crate::config::{mac_string, DiskBacking, FaultPolicy, KernelSource, System};
use crate::hvconfig;
use crate::layout::{Layout, Region, Shared};
use crate::prepared::{HvStats, Prepared};
use crate::schedule::{self, svg, Slot};
use crate::units::{self, hex, size};

fn range(r: &Region) -> String {
    format!("{}..{}", hex(r.base), hex(r.end()))
}

/// What a row of the host-physical memory map holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapUse {
    /// Reserved below the hypervisor (QEMU's boot stub).
    BootLoader,
    /// The hypervisor image and its bss (its budget).
    Hypervisor,
    /// Kernels, ramdisks and device trees, copied at boot ([`MapRow::contents`]).
    Payload,
    /// Where the boot loader puts the board's device tree.
    BootDtb,
    /// A partition's RAM (index into `System::partitions`).
    Partition(usize),
    /// A RAM-backed disk's or a channel's shared memory.
    Shared(Shared),
    /// Nothing.
    Free,
}

impl MapUse {
    /// A short name for machine-readable output.
    pub fn kind(self) -> &'static str {
        match self {
            MapUse::BootLoader => "boot-loader",
            MapUse::Hypervisor => "hypervisor",
            MapUse::Payload => "payload",
            MapUse::BootDtb => "boot-dtb",
            MapUse::Partition(_) => "partition",
            MapUse::Shared(Shared::Disk(_)) => "disk",
            MapUse::Shared(Shared::Channel(_)) => "channel",
            MapUse::Free => "free",
        }
    }
}

/// One row of the host-physical memory map: all of board RAM, in address order, gaps included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRow {
    pub region: Region,
    pub what: MapUse,
    /// The row as `layout.txt` describes it.
    pub text: String,
    /// What the payload holds (empty for other rows).
    pub contents: Vec<MapItem>,
}

/// Something the payload holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapItem {
    pub region: Region,
    /// The partition (or disk) it is for.
    pub owner: String,
    /// `kernel`, `ramdisk`, `device tree` or `image`.
    pub what: &'static str,
}

/// The host-physical memory map of a prepared system; `hv` adds the built hypervisor's sizes.
pub fn memory_map(p: &Prepared, hv: Option<&HvStats>) -> Vec<MapRow> {
    let s = &p.checked.system;
    let l = &p.layout;
    // Every used region, then the gaps between them.
    let mut rows: Vec<(Region, MapUse, String)> = vec![
        (l.boot_loader, MapUse::BootLoader, "boot loader (reserved: QEMU's boot stub)".into()),
        (
            l.hypervisor,
            MapUse::Hypervisor,
            match hv {
                Some(h) => format!(
                    "hypervisor: image {}, {} with bss, budget {}",
                    size(h.image_len),
                    size(h.end),
                    size(h.budget)
                ),
                None => format!("hypervisor (budget {})", size(l.hypervisor.size)),
            },
        ),
        (l.payload, MapUse::Payload, "payload (kernels, ramdisks and device trees, copied at boot)".into()),
    ];
    if l.boot_dtb.end() <= l.ram.end() {
        rows.push((l.boot_dtb, MapUse::BootDtb, "boot loader's device tree (reserved)".into()));
    }
    for (i, (part, pl)) in s.partitions.iter().zip(&l.partitions).enumerate() {
        let text = format!("partition {} RAM{}", part.name, if pl.fixed { " (fixed pa)" } else { "" });
        rows.push((pl.ram, MapUse::Partition(i), text));
    }
    for sh in &l.shared {
        rows.push((sh.region, MapUse::Shared(sh.what), shared_name(s, sh.what)));
    }
    rows.sort_by_key(|(r, _, _)| r.base);
    let free = |base, end| MapRow {
        region: Region { base, size: end - base },
        what: MapUse::Free,
        text: "free".into(),
        contents: Vec::new(),
    };
    let mut cursor = l.ram.base;
    let mut table = Vec::new();
    for (region, what, text) in rows {
        if region.base > cursor {
            table.push(free(cursor, region.base));
        }
        cursor = cursor.max(region.end());
        let contents = if what == MapUse::Payload { payload_contents(p) } else { Vec::new() };
        table.push(MapRow { region, what, text, contents });
    }
    if cursor < l.ram.end() {
        table.push(free(cursor, l.ram.end()));
    }
    table
}

/// What the payload holds: each partition's kernel, ramdisk and device tree, then the disks' images.
fn payload_contents(p: &Prepared) -> Vec<MapItem> {
    let s = &p.checked.system;
    let l = &p.layout;
    let mut items = Vec::new();
    for (part, pl) in s.partitions.iter().zip(&l.partitions) {
        let loads = [("kernel", Some(pl.kernel)), ("ramdisk", pl.ramdisk), ("device tree", Some(pl.dtb))];
        for (what, pm) in loads.into_iter().filter_map(|(n, pm)| Some((n, pm?))) {
            let region = Region { base: pm.src_pa, size: pm.size };
            items.push(MapItem { region, owner: part.name.clone(), what });
        }
    }
    for (sh, load) in l.shared.iter().filter_map(|sh| Some((sh, sh.load?))) {
        let region = Region { base: load.src_pa, size: load.size };
        items.push(MapItem { region, owner: shared_name(s, sh.what), what: "image" });
    }
    items
}

/// The map of a prepared system; `hv` adds the built hypervisor's sizes.
pub fn layout_text(p: &Prepared, hv: Option<&HvStats>) -> String {
    let s = &p.checked.system;
    let l = &p.layout;
    let mut o = String::new();
    let w = &mut o;
    let cpus = s.used_cpus();
    let _ = writeln!(w, "system {} ({})", s.name, p.checked.file_name());
    let _ = writeln!(
        w,
        "board  {}: RAM {} ({}), GICv{}, console {} at {}, log level {}",
        s.board.name,
        range(&l.ram),
        size(l.ram.size),
        s.gic.number(),
        s.hypervisor.console.name,
        hex(s.hypervisor.console.base),
        s.hypervisor.log_level.name()
    );
    let _ = writeln!(
        w,
        "cpus   {} of {} (QEMU -smp {})",
        cpus.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
        s.board.max_cpus,
        s.smp()
    );
    let _ = writeln!(
        w,
        "image  {} (hypervisor budget {} + payload {})",
        size(l.image_size()),
        size(l.hypervisor.size),
        size(l.payload.size)
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "host-physical memory");
    for row in memory_map(p, hv) {
        let _ = writeln!(w, "  {:<26} {:>9}  {}", range(&row.region), size(row.region.size), row.text);
        for item in &row.contents {
            let _ = writeln!(
                w,
                "    {:<24} {:>9}    {} {}",
                range(&item.region),
                size(item.region.size),
                item.owner,
                item.what
            );
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "partitions");
    for (i, ((part, pl), k)) in s.partitions.iter().zip(&l.partitions).zip(&p.kernels).enumerate() {
        let pool = &s.pools[part.pool];
        let _ = writeln!(w, "  {} (id {}) in pool {} ({})", part.name, part.id, pool.name, pool.scheduler.name());
        let vcpus: Vec<String> = part.vcpus.iter().enumerate().map(|(v, c)| format!("vCPU {v} -> CPU {c}")).collect();
        let _ = writeln!(w, "    vcpus        {}", vcpus.join(", "));
        let ipa = Region { base: pl.ipa, size: pl.ram.size };
        let _ = writeln!(w, "    ram          IPA {} -> PA {} ({})", range(&ipa), range(&pl.ram), size(pl.ram.size));
        let source = match &part.kernel.source {
            KernelSource::Guest { name, .. } => format!("guest `{name}`"),
            KernelSource::File(_) => k.from.clone(),
        };
        let bss = if pl.kernel_footprint > pl.kernel.size {
            format!(" ({} with bss)", size(pl.kernel_footprint))
        } else {
            String::new()
        };
        let _ = writeln!(
            w,
            "    kernel       IPA {} (PA {}), {}{bss}, text_offset {}, from {source}",
            hex(pl.kernel.ipa),
            hex(pl.kernel.dst_pa),
            size(pl.kernel.size),
            hex(k.header.text_offset)
        );
        if let (Some(r), Some(rp)) = (pl.ramdisk, &part.ramdisk) {
            let _ = writeln!(
                w,
                "    ramdisk      IPA {}..{} (PA {}), {}, from {}",
                hex(r.ipa),
                hex(r.ipa + r.size),
                hex(r.dst_pa),
                size(r.size),
                crate::display_path(&rp.path)
            );
        }
        let overlay = match &part.dt_overlay {
            Some(ov) => format!(", with overlay {}", ov.written),
            None => String::new(),
        };
        let _ = writeln!(
            w,
            "    device tree  IPA {} (PA {}), {}{overlay}",
            hex(pl.dtb.ipa),
            hex(pl.dtb.dst_pa),
            size(pl.dtb.size)
        );
        for d in hvconfig::device_maps(s, i) {
            let _ = writeln!(w, "    device       IPA {} -> PA {} ({})", hex(d.ipa), hex(d.pa), size(d.size));
        }
        let guest = l.guests.get(i).cloned().unwrap_or_default();
        let ports =
            part.disks.iter().map(|a| format!("disk {}, {}", s.disks[a.disk].name, a.access.disk_name())).chain(
                part.networks
                    .iter()
                    .map(|a| format!("network {}, MAC {}", s.networks[a.network].name, mac_string(&a.mac))),
            );
        for (v, what) in guest.virtio.iter().zip(ports) {
            let _ = writeln!(w, "    virtio-mmio  IPA {} (INTID {}): {what}", hex(v.base), v.intid);
        }
        let shared_pa = |c: usize| {
            l.shared
                .iter()
                .find(|sh| sh.what == Shared::Channel(c))
                .map_or(String::new(), |sh| format!(" -> PA {}", hex(sh.region.base)))
        };
        for ((c, access), m) in s.channels_of(i).into_iter().zip(&guest.channels) {
            let _ = writeln!(
                w,
                "    channel      {} IPA {}..{}{} ({}), {}, doorbell INTID {}",
                s.channels[c].name,
                hex(m.ipa),
                hex(m.ipa + m.size),
                shared_pa(c),
                size(m.size),
                access.channel_name(),
                m.doorbell
            );
        }
        if let Some(intid) = guest.watchdog {
            let _ = writeln!(w, "    watchdog     SP805 IPA {} (INTID {intid})", hex(hv_plan::guest_map::WATCHDOG));
        }
        for d in &part.passthrough {
            let mmio: Vec<String> = d.regs.iter().map(|m| format!("{}..{}", hex(m.base), hex(m.end()))).collect();
            let irqs: Vec<String> = d.spis.iter().map(u32::to_string).collect();
            let _ = writeln!(
                w,
                "    passthrough  {} ({}): MMIO {}, INTID {}",
                d.path,
                d.description,
                mmio.join(", "),
                if irqs.is_empty() { "none".to_owned() } else { irqs.join(", ") }
            );
        }
        let _ = writeln!(
            w,
            "    console {}, on_fault {}, stage-2 tables {}",
            if part.console { "on" } else { "off" },
            fault_policy(part.on_fault),
            hvconfig::s2_tables(s, l, i)
        );
        if !part.bootargs.is_empty() {
            let _ = writeln!(w, "    bootargs     {:?}", part.bootargs);
        }
        if !part.manages.is_empty() {
            let names: Vec<&str> = part.manages.iter().map(|&m| s.partitions[m].name.as_str()).collect();
            let _ = writeln!(w, "    manages      {}", names.join(", "));
        }
    }
    if s.uses_pv() {
        let _ = writeln!(w);
        pv_text(w, s, l);
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "schedule");
    let names: Vec<&str> = s.partitions.iter().map(|p| p.name.as_str()).collect();
    for pool in &s.pools {
        match &pool.cyclic {
            Some(table) => w.push_str(&schedule::table(&pool.name, table, &pool.cpus, &names)),
            None => {
                let _ = writeln!(w, "pool {}: {}, wfi {}", pool.name, pool.scheduler.name(), pool.wfi.name());
                for cpu in &pool.cpus {
                    let _ = writeln!(w, "  CPU {cpu}  {}", pinned_on(s, *cpu).map_or("idle (WFI)", |p| names[p]));
                }
            }
        }
    }
    o
}

/// How the memory map names a disk's or channel's shared memory.
fn shared_name(s: &System, what: Shared) -> String {
    match what {
        Shared::Disk(d) => format!("disk {}", s.disks[d].name),
        Shared::Channel(c) => format!("channel {}", s.channels[c].name),
    }
}

/// The disks, networks and channels, and who attaches them.
fn pv_text(w: &mut String, s: &System, l: &Layout) {
    let _ = writeln!(w, "PV devices");
    let mut host = l.host_disk_slices.iter();
    for (d, disk) in s.disks.iter().enumerate() {
        let contents = match &disk.image {
            Some(path) => format!("from {}", crate::display_path(path)),
            None => "empty".to_owned(),
        };
        let backing = match disk.backing {
            DiskBacking::Ram => "RAM-backed".to_owned(),
            DiskBacking::Host => match host.next() {
                Some(sl) => format!("host disk bytes {}..{}", hex(sl.offset), hex(sl.offset + sl.size)),
                None => "host disk".to_owned(),
            },
        };
        let users: Vec<String> = s
            .partitions
            .iter()
            .filter_map(|p| {
                p.disks.iter().find(|a| a.disk == d).map(|a| format!("{} ({})", p.name, a.access.disk_name()))
            })
            .collect();
        let users = if users.is_empty() { "no partition".to_owned() } else { users.join(", ") };
        let _ = writeln!(w, "  disk {}: {}, {backing}, {contents}; attached by {users}", disk.name, size(disk.size));
    }
    if !l.host_disk_slices.is_empty() {
        let _ = writeln!(
            w,
            "  board disk: the virtio-blk device with serial {}, at least {} (`run`: out/{}/host-disk.img, kept \
             across runs)",
            board_support::HOST_DISK_SERIAL,
            size(crate::hvconfig::host_disk_size(l)),
            s.name
        );
    }
    for (n, net) in s.networks.iter().enumerate() {
        let mut ports: Vec<String> = s
            .partitions
            .iter()
            .filter_map(|p| {
                p.networks.iter().find(|a| a.network == n).map(|a| format!("{} ({})", p.name, mac_string(&a.mac)))
            })
            .collect();
        if net.uplink {
            ports.push("the board's network device (uplink)".into());
        }
        let _ = writeln!(
            w,
            "  network {}: {}",
            net.name,
            if ports.is_empty() { "no ports".into() } else { ports.join(", ") }
        );
    }
    for ch in &s.channels {
        let members: Vec<String> = ch
            .members
            .iter()
            .map(|m| format!("{} ({})", s.partitions[m.partition].name, m.access.channel_name()))
            .collect();
        let _ = writeln!(w, "  channel {}: {}, {}", ch.name, size(ch.size), members.join(", "));
    }
}

/// The partition whose vCPU is pinned to `cpu` of a pinned pool.
fn pinned_on(s: &System, cpu: u32) -> Option<usize> {
    s.partitions.iter().position(|p| p.vcpus.contains(&cpu))
}

/// `schedule.svg`: every CPU the system uses over the longest major frame (shorter frames repeat), or `None` when
/// no pool is cyclic (pinned CPUs have no timeline worth drawing).
pub fn schedule_svg(s: &System) -> Option<String> {
    let frame = s.pools.iter().filter_map(|p| p.cyclic.as_ref()).map(|c| c.major_frame).max()?;
    let names: Vec<&str> = s.partitions.iter().map(|p| p.name.as_str()).collect();
    let mut rows = Vec::new();
    for pool in &s.pools {
        for &cpu in &pool.cpus {
            let slots = match &pool.cyclic {
                Some(table) => {
                    let one = schedule::timeline(table, cpu);
                    (0..frame.div_ceil(table.major_frame))
                        .flat_map(|k| one.iter().map(move |sl| (k * table.major_frame, *sl)))
                        .filter(|(off, sl)| off + sl.start < frame)
                        .map(|(off, sl)| Slot { start: off + sl.start, end: (off + sl.end).min(frame), ..sl })
                        .collect()
                }
                None => vec![Slot { start: 0, end: frame, partition: pinned_on(s, cpu) }],
            };
            rows.push(svg::Row { label: format!("CPU {cpu} ({}, {})", pool.name, pool.scheduler.name()), slots });
        }
    }
    Some(svg::render(&format!("{}: one major frame ({})", s.name, crate::units::duration(frame)), frame, &rows, &names))
}

/// `stop`, or `restart` with its budget and delay.
fn fault_policy(f: FaultPolicy) -> String {
    match f {
        FaultPolicy::Stop => "stop".to_owned(),
        FaultPolicy::Restart { max_restarts, window_ns, delay_ns } => format!(
            "restart (at most {max_restarts} within {}, after {})",
            units::duration(window_ns),
            units::duration(delay_ns)
        ),
    }
}
