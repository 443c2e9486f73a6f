//! The order the rules of a config are checked in, and the rules that belong to no concern of their own: the
//! limits on counts and lengths (checked first, so no later rule runs on oversized input), the partitions' names
//! and `bootargs`. Each concern's rules live in a file of their own (`board`, `pools`, `memory`, `images`,
//! `devices`, `fault`, `manages`, `pv`, `channels`, `schedule`); this file calls them and assembles the checked
//! [`System`].
//! Each finding names the field and, where two places conflict, both of them.

use board_support::{Board, GicVersion};
use toml::Spanned;

use super::board::{check_board, check_boot_image, check_gic, check_hypervisor, check_ram_size};
use super::common::*;
use super::devices::{check_passthrough, has_watchdog, Claims};
use super::fault::check_on_fault;
use super::images::{check_dt_overlay, check_kernel, check_ramdisk};
use super::manages::check_manages;
use super::memory::check_memory;
use super::model::*;
use super::pools::{check_pinning, check_pool_ref, check_pools, check_vcpus, warn_cpus_in_no_pool, warn_idle_cpus};
use super::raw::*;
use super::{channels, pv, schedule, whole, Context};
use crate::diag::{Diag, Report, Span};
use crate::image::BootFormat;

pub(super) fn validate(raw: &RawConfig, name: &str, ctx: &Context<'_>, r: &mut Report) -> Option<System> {
    let board = check_board(raw.board.get_ref(), r)?;
    validate_on(raw, board, name, ctx, r)
}

/// [`validate`] once the board is known (tests give it boards of their own).
pub(super) fn validate_on(
    raw: &RawConfig,
    board: &'static Board,
    name: &str,
    ctx: &Context<'_>,
    r: &mut Report,
) -> Option<System> {
    // Counts first: every later rule may compare items with each other, so none runs on oversized input.
    if !check_limits(raw, board, r) {
        return None;
    }
    let gic = check_gic(raw.board.get_ref(), board, r);
    let ram_size = check_ram_size(raw.board.get_ref(), board, r);
    let boot_image = check_boot_image(raw.board.get_ref(), board, ctx, r);
    let hypervisor = check_hypervisor(raw.hypervisor.as_ref().map(Spanned::get_ref), board, ram_size, r);
    let mut pools = check_pools(&raw.pools, board, r);
    let mut partitions = check_partitions(raw, board, gic, ram_size, &hypervisor, &pools, ctx, r);
    schedule::check_schedules(raw, &mut pools, &partitions, r);
    check_pinning(raw, &pools, r);
    warn_idle_cpus(raw, &pools, r);
    warn_cpus_in_no_pool(raw, board, &pools, r);
    let pv = pv::check_pv(raw, board, ctx, r);
    let channels = channels::check_channels(raw, r);
    for p in &mut partitions {
        if let Some(Some((disks, networks))) = pv.attachments.get(usize::from(p.id)) {
            p.disks.clone_from(disks);
            p.networks.clone_from(networks);
        }
    }
    if raw.partitions.is_empty() {
        r.push(
            Diag::error("partition", whole(r.source()), "the system has no partitions")
                .label("no `[[partition]]` table in this file")
                .hint("add a `[[partition]]` table; see configs/qemu-aarch64-demo.toml"),
        );
    }
    if r.has_errors() {
        return None;
    }
    Some(System {
        name: name.to_owned(),
        board,
        gic,
        ram_size,
        hypervisor,
        pools: pools.into_iter().map(|p| p.pool).collect(),
        partitions,
        disks: pv.disks.into_iter().collect::<Option<_>>()?,
        networks: pv.networks.into_iter().collect::<Option<_>>()?,
        channels: channels.into_iter().collect::<Option<_>>()?,
        boot_image,
    })
}

// ---- limits ----

/// Counts and lengths against [`limits`]: an error on the first item beyond each limit.
struct LimitCheck<'r> {
    r: &'r mut Report,
    ok: bool,
}

impl LimitCheck<'_> {
    /// `items` may have at most `most` entries; `field(j)` names entry `j`.
    fn count<T>(&mut self, items: &[Spanned<T>], most: usize, field: impl Fn(usize) -> String, what: &str, why: &str) {
        let Some(extra) = items.get(most) else { return };
        self.r.push(
            Diag::error(field(most), extra.span(), format!("too many {what}: {}, at most {most}", items.len()))
                .label(format!("beyond the first {most}"))
                .hint(format!("{why} (see docs/config.md, \"Limits\")")),
        );
        self.ok = false;
    }

    /// A string of at most `most` bytes.
    fn length(&mut self, v: &Spanned<String>, most: usize, field: String, what: &str) {
        let len = v.get_ref().len();
        if len <= most {
            return;
        }
        self.r.push(
            Diag::error(field, v.span(), format!("{what} too long: {len} bytes, at most {most}"))
                .label("too long")
                .hint("shorten it (see docs/config.md, \"Limits\")"),
        );
        self.ok = false;
    }
}

/// The counts and lengths of everything the config lists, against [`limits`] (and the board's CPU count for
/// pools). `false` when one is exceeded: checking then stops, so nothing that compares items with each other runs
/// on oversized input.
fn check_limits(raw: &RawConfig, board: &Board, r: &mut Report) -> bool {
    use limits as l;
    let mut c = LimitCheck { r, ok: true };
    let cpus = usize::try_from(board.max_cpus).unwrap_or(usize::MAX);
    c.count(
        &raw.pools,
        cpus,
        |j| format!("pool[{j}]"),
        "pools",
        &format!("a pool owns at least one CPU and a CPU belongs to one pool: `{}` has {cpus} CPUs", board.name),
    );
    c.count(
        &raw.partitions,
        l::PARTITIONS,
        |j| format!("partition[{j}]"),
        "partitions",
        "a system has at most 64 partitions",
    );
    c.count(&raw.disks, l::DISKS, |j| format!("disk[{j}]"), "disks", "a system has at most 256 `[[disk]]` tables");
    c.count(
        &raw.networks,
        l::NETWORKS,
        |j| format!("network[{j}]"),
        "networks",
        "a system has at most 256 `[[network]]` tables",
    );
    c.count(
        &raw.channels,
        l::CHANNELS,
        |j| format!("channel[{j}]"),
        "channels",
        "a system has at most 256 `[[channel]]` tables",
    );
    for (i, p) in raw.pools.iter().enumerate() {
        let p = p.get_ref();
        let why = "a pool has at most 64 CPUs listed; a board has far fewer";
        c.count(p.cpus.get_ref(), l::CPUS, |j| format!("pool[{i}].cpus[{j}]"), "CPUs in the pool", why);
        let Some(windows) = &p.windows else { continue };
        let why = "a cyclic pool's table has at most 1024 windows per major frame";
        c.count(windows.get_ref(), l::WINDOWS, |j| format!("pool[{i}].windows[{j}]"), "windows", why);
        for (j, w) in windows.get_ref().iter().enumerate() {
            if let Some(cs) = &w.get_ref().cpus {
                let why = "a window has at most 64 CPUs listed; a board has far fewer";
                c.count(
                    cs.get_ref(),
                    l::CPUS,
                    |m| format!("pool[{i}].windows[{j}].cpus[{m}]"),
                    "CPUs in the window",
                    why,
                );
            }
        }
    }
    for (i, p) in raw.partitions.iter().enumerate() {
        let p = p.get_ref();
        let why = "each vCPU is pinned to a CPU of its own, and a board has far fewer than 64";
        c.count(p.vcpus.get_ref(), l::VCPUS, |j| format!("partition[{i}].vcpus[{j}]"), "vCPUs", why);
        if let Some(list_) = &p.passthrough {
            let why = "a partition has at most 64 passed-through devices";
            c.count(
                list_.get_ref(),
                l::PASSTHROUGH,
                |j| format!("partition[{i}].passthrough[{j}]"),
                "passed-through devices",
                why,
            );
            for (j, d) in list_.get_ref().iter().enumerate() {
                c.length(d, l::PATH_LEN, format!("partition[{i}].passthrough[{j}]"), "device path");
            }
        }
        let pv = pv::MAX_PV_DEVICES;
        let why = "each disk and network gets one of the partition's 32 virtio-mmio transports";
        if let Some(d) = &p.disks {
            c.count(d.get_ref(), pv, |j| format!("partition[{i}].disks[{j}]"), "disks in the partition", why);
        }
        if let Some(n) = &p.networks {
            c.count(n.get_ref(), pv, |j| format!("partition[{i}].networks[{j}]"), "networks in the partition", why);
        }
        if let Some(m) = &p.manages {
            let why = "a partition manages each other partition at most once, and a system has at most 64";
            c.count(m.get_ref(), l::MANAGES, |j| format!("partition[{i}].manages[{j}]"), "managed partitions", why);
        }
        c.length(&p.kernel, l::PATH_LEN, format!("partition[{i}].kernel"), "kernel path");
        if let Some(v) = &p.ramdisk {
            c.length(v, l::PATH_LEN, format!("partition[{i}].ramdisk"), "ramdisk path");
        }
        if let Some(v) = &p.dt_overlay {
            c.length(v, l::PATH_LEN, format!("partition[{i}].dt_overlay"), "overlay path");
        }
        if let Some(v) = &p.bootargs {
            c.length(v, l::BOOTARGS, format!("partition[{i}].bootargs"), "bootargs");
        }
    }
    for (i, d) in raw.disks.iter().enumerate() {
        if let Some(v) = &d.get_ref().image {
            c.length(v, l::PATH_LEN, format!("disk[{i}].image"), "disk image path");
        }
    }
    for (i, ch) in raw.channels.iter().enumerate() {
        let why = "each partition maps a channel once, and a system has at most 64 partitions";
        let members = ch.get_ref().partitions.get_ref();
        c.count(
            members,
            l::CHANNEL_MEMBERS,
            |j| format!("channel[{i}].partitions[{j}]"),
            "partitions in the channel",
            why,
        );
    }
    c.ok
}

// ---- partitions ----

#[allow(clippy::too_many_arguments)]
fn check_partitions(
    raw: &RawConfig,
    board: &Board,
    gic: GicVersion,
    ram_size: u64,
    hv: &Hypervisor,
    pools: &[CheckedPool],
    ctx: &Context<'_>,
    r: &mut Report,
) -> Vec<Partition> {
    let mut out: Vec<Partition> = Vec::new();
    let mut names = NameSet::new(NameKind::Partition);
    let mut pool_names = Lookup::new("pool", pools.iter().map(|q| q.pool.name.as_str()));
    let mut partition_names =
        Lookup::new("partition", raw.partitions.iter().map(|p| p.get_ref().name.get_ref().as_str()));
    // Explicitly placed RAM: (pa, size, partition name, span of pa).
    let mut placed: Vec<(u64, u64, String, Span)> = Vec::new();
    let mut claims = Claims::new(hv.console);
    for (i, p) in raw.partitions.iter().enumerate() {
        let p = p.get_ref();
        let name = p.name.get_ref();
        names.check(i, &p.name, r);
        let pool = check_pool_ref(p, i, &mut pool_names, r);
        let vcpus = check_vcpus(p, i, board, gic, pool.map(|x| &pools[x]), r);
        let memory = check_memory(p, i, board, ram_size, hv, gic, vcpus.len(), &mut placed, r);
        let kernel = check_kernel(p, i, board, ctx, r);
        let ramdisk = check_ramdisk(p, i, ctx, r);
        let bootargs = p.bootargs.as_ref().map(|b| b.get_ref().clone()).unwrap_or_default();
        if let Some(b) = &p.bootargs {
            check_bootargs(b, i, board, r);
        }
        let on_fault = check_on_fault(p, i, r);
        let passthrough = check_passthrough(p, i, board, gic, hv.console, memory.as_ref(), vcpus.len(), &mut claims, r);
        let dt_overlay = check_dt_overlay(p, i, ctx, r);
        let manages = check_manages(p, i, &mut partition_names, r);
        let (Some(pool), Some(memory), Some(kernel), Some(ramdisk), Some(on_fault), Some(dt_overlay), Some(manages)) =
            (pool, memory, kernel, ramdisk, on_fault, dt_overlay, manages)
        else {
            continue;
        };
        // At most `limits::PARTITIONS`, checked first.
        let Ok(id) = u16::try_from(i) else { continue };
        out.push(Partition {
            name: name.clone(),
            id,
            pool,
            vcpus,
            memory,
            kernel,
            ramdisk,
            bootargs,
            console: p.console.as_ref().is_none_or(|c| *c.get_ref()),
            on_fault,
            passthrough,
            dt_overlay,
            // Filled in once the `[[disk]]` and `[[network]]` tables are checked.
            disks: Vec::new(),
            networks: Vec::new(),
            watchdog: has_watchdog(p),
            manages,
            name_span: p.name.span(),
        });
    }
    out
}

/// A partition's `bootargs`: no NUL (the device tree stores them NUL-terminated), and a warning when they are
/// longer than Linux reads on the board's architecture (`COMMAND_LINE_SIZE`, NUL included: 2048 bytes on arm64,
/// 1024 on 32-bit arm); it cuts the rest off silently. Longer than [`limits::BOOTARGS`] is refused earlier.
fn check_bootargs(b: &Spanned<String>, i: usize, board: &Board, r: &mut Report) {
    let field = format!("partition[{i}].bootargs");
    let text = b.get_ref();
    if text.contains('\0') {
        r.push(
            Diag::error(&field, b.span(), "bootargs contain a NUL character")
                .label("here")
                .hint("the device tree stores the command line as one NUL-terminated string: remove the NUL"),
        );
    }
    let (most, arch) = match BootFormat::of(board.arch) {
        BootFormat::Arm64Image => (2047, "arm64"),
        BootFormat::ZImage => (1023, "32-bit arm"),
    };
    if text.len() > most {
        r.push(
            Diag::warning(
                field,
                b.span(),
                format!("bootargs are {} bytes: Linux on {arch} reads at most {most}", text.len()),
            )
            .label("the end would be cut off")
            .hint(format!(
                "Linux keeps the first {most} bytes of the command line (COMMAND_LINE_SIZE is {} on {arch}, NUL \
                     included) and drops the rest without a word: shorten them",
                most + 1
            )),
        );
    }
}
