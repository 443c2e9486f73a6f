//! The rules a config must follow, one function per concern. Each finding names the field and, where two
//! places conflict, both of them.

use board_support::{Board, GicVersion};
use hv_plan::guest_map;
use toml::Spanned;

use super::common::*;
use super::devices::{check_passthrough, device_windows, virtio_count, Claims};
use super::model::*;
use super::pools::{check_pinning, check_pools, warn_cpus_in_no_pool, warn_idle_cpus};
use super::raw::*;
use super::{pv, schedule, whole, Context};
use crate::diag::{list, Diag, Report, Span};
use crate::guests::is_guest_name;
use crate::image::{self, BootFormat, Format, NotKernel};
use crate::input::{self, InputError};
use crate::units::{self, hex, is_aligned, size as fmt_size, KIB, MIB};

/// Partition RAM, its guest-physical base and host-physical base are mapped with 2 MiB blocks.
pub const RAM_ALIGN: u64 = 2 * MIB;
/// Smallest partition RAM: the device tree takes the last 2 MiB, the kernel needs room below it.
pub const MIN_PARTITION_RAM: u64 = 4 * MIB;

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
    let hypervisor = check_hypervisor(raw.hypervisor.as_ref().map(Spanned::get_ref), board, ram_size, r);
    let mut pools = check_pools(&raw.pools, board, r);
    let mut partitions = check_partitions(raw, board, gic, ram_size, &hypervisor, &pools, ctx, r);
    schedule::check_schedules(raw, &mut pools, &partitions, r);
    check_pinning(raw, &pools, r);
    warn_idle_cpus(raw, &pools, r);
    warn_cpus_in_no_pool(raw, board, &pools, r);
    let pv = pv::check_pv(raw, board, ctx, r);
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
        channels: pv.channels.into_iter().collect::<Option<_>>()?,
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

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.0.saturating_add(b.1) && b.0 < a.0.saturating_add(a.1)
}

// ---- board and hypervisor ----

fn check_board(b: &RawBoard, r: &mut Report) -> Option<&'static Board> {
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

fn check_gic(b: &RawBoard, board: &Board, r: &mut Report) -> GicVersion {
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

fn check_ram_size(b: &RawBoard, board: &Board, r: &mut Report) -> u64 {
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

fn check_hypervisor(h: Option<&RawHypervisor>, board: &'static Board, ram_size: u64, r: &mut Report) -> Hypervisor {
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
        let (Some(pool), Some(memory), Some(kernel), Some(ramdisk), Some(on_fault), Some(dt_overlay)) =
            (pool, memory, kernel, ramdisk, on_fault, dt_overlay)
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
            name_span: p.name.span(),
        });
    }
    out
}

fn check_pool_ref(p: &RawPartition, i: usize, pools: &mut Lookup<'_>, r: &mut Report) -> Option<usize> {
    let want = p.pool.get_ref();
    let found = pools.find(want);
    if found.is_none() {
        r.push(
            Diag::error(format!("partition[{i}].pool"), p.pool.span(), format!("unknown pool `{}`", shown(want)))
                .label("no `[[pool]]` has this name")
                .hint(pools.hint(want)),
        );
    }
    found
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

fn check_vcpus(
    p: &RawPartition,
    i: usize,
    board: &Board,
    gic: GicVersion,
    pool: Option<&CheckedPool>,
    r: &mut Report,
) -> Vec<u32> {
    let name = p.name.get_ref();
    let list_ = p.vcpus.get_ref();
    if list_.is_empty() {
        r.push(
            Diag::error(format!("partition[{i}].vcpus"), p.vcpus.span(), format!("partition `{name}` has no vCPUs"))
                .label("empty")
                .hint("list the physical CPU each vCPU is pinned to, e.g. vcpus = [0]"),
        );
    }
    if gic == GicVersion::V2 && list_.len() > 8 {
        r.push(
            Diag::error(
                format!("partition[{i}].vcpus"),
                p.vcpus.span(),
                format!("{} vCPUs: a GICv2 partition has at most 8", list_.len()),
            )
            .label("too many")
            .hint("use GICv3 (board.gic_version = 3) or fewer vCPUs"),
        );
    }
    let mut out = Vec::new();
    for (j, c) in list_.iter().enumerate() {
        let field = format!("partition[{i}].vcpus[{j}]");
        let Some(cpu) = cpu_value(c, &field, board, r) else {
            continue;
        };
        if let Some(pool) = pool {
            if !pool.pool.cpus.contains(&cpu) {
                r.push(
                    Diag::error(
                        field,
                        c.span(),
                        format!(
                            "vCPU {j} of partition `{name}` is pinned to CPU {cpu}, outside its pool `{}`",
                            pool.pool.name
                        ),
                    )
                    .label(format!("CPU {cpu} is not in pool `{}`", pool.pool.name))
                    .related(
                        pool.name_span.clone(),
                        format!(
                            "pool `{}` has CPUs {}",
                            pool.pool.name,
                            list(pool.pool.cpus.iter().map(u32::to_string))
                        ),
                    )
                    .hint(format!("pin the vCPU to one of the pool's CPUs, or add CPU {cpu} to the pool's `cpus`")),
                );
                continue;
            }
        }
        out.push(cpu);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn check_memory(
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
            } else if let Some((base, len, what)) = device_windows(gic, vcpus, virtio_count(p))
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

fn check_kernel(p: &RawPartition, i: usize, board: &Board, ctx: &Context<'_>, r: &mut Report) -> Option<Kernel> {
    let k = p.kernel.get_ref();
    let field = format!("partition[{i}].kernel");
    let span = p.kernel.span();
    if is_guest_name(k) {
        return match ctx.guests.package(k) {
            Some(package) => {
                Some(Kernel { source: KernelSource::Guest { name: k.clone(), package: package.into() }, span })
            }
            None => {
                let known: Vec<&str> = ctx.guests.names().collect();
                let guests = if known.is_empty() {
                    "no guests found in tests/guests".to_owned()
                } else {
                    suggest(k, known.iter().copied(), "guests in tests/guests")
                };
                r.push(
                    Diag::error(field, span, format!("kernel missing: no guest named `{k}`"))
                        .label("not a guest of this workspace")
                        .hint(format!(
                            "{guests}; or give a path to {} or ELF relative to this file, e.g. \"./{k}\"",
                            BootFormat::of(board.arch).name()
                        )),
                );
                None
            }
        };
    }
    let path = relative_path(ctx, k);
    let refused = |e: &InputError| {
        let where_ = format!(
            "kernel paths are relative to the config file's directory; or name a guest of tests/guests ({})",
            list(ctx.guests.names())
        );
        input_diag(&field, span.clone(), "kernel", k, &path, e, where_)
    };
    // An Image is recognised by its header: only an ELF, which has to be flattened, is read whole here. Both reads
    // refuse what is not a regular file before opening it (a FIFO would never answer).
    let head = match input::read_head(&path, image::HEADER_PROBE_LEN, input::IMAGE_LIMIT) {
        Ok(head) => head,
        Err(e) => {
            r.push(refused(&e));
            return None;
        }
    };
    let bytes = if image::sniff(&head) == Format::Elf {
        match input::read(&path, input::IMAGE_LIMIT) {
            Ok(b) => b,
            Err(e) => {
                r.push(refused(&e));
                return None;
            }
        }
    } else {
        head
    };
    if let Err(e) = image::read_kernel(bytes, BootFormat::of(board.arch)) {
        r.push(kernel_diag(&field, span, &format!("kernel `{k}`"), board, &e).label("not a kernel for this board"));
        return None;
    }
    Some(Kernel { source: KernelSource::File(path), span })
}

/// The diagnostic (without a label) for a kernel that is not one for `board`; `subject` names it (`kernel
/// `./Image``).
pub(crate) fn kernel_diag(field: &str, span: Span, subject: &str, board: &Board, e: &NotKernel) -> Diag {
    let want = BootFormat::of(board.arch);
    let (example, target) = match want {
        BootFormat::Arm64Image => ("Linux's arch/arm64/boot/Image", "aarch64-unknown-none"),
        BootFormat::ZImage => ("Linux's arch/arm/boot/zImage", "armv7a-none-eabi"),
    };
    let carries = format!(
        "{} carries {} ({example}, or a bare-metal ELF built for {target} whose first bytes are that header)",
        want.name(),
        want.magic()
    );
    let (message, hint) = match e {
        NotKernel::OtherFormat { found, elf } => {
            let what = if *elf { format!("an ELF of {}", found.name()) } else { found.name().to_owned() };
            (
                format!(
                    "{subject} is {what}, but board `{}` runs {} partitions: they boot {}",
                    board.name,
                    board.arch.description(),
                    want.name()
                ),
                format!(
                    "give the partition a kernel built for {}: {carries}; guests named by their name are built for \
                     {target}",
                    board.arch.description()
                ),
            )
        }
        NotKernel::ElfWithoutHeader => (
            format!(
                "{subject} is not {} or ELF: the ELF's flattened image does not start with {} header",
                want.name(),
                want.name()
            ),
            capitalized(&carries),
        ),
        NotKernel::BadElf(why) => (format!("{subject} is not {} or ELF: {why}", want.name()), capitalized(&carries)),
        NotKernel::Unknown => {
            (format!("{subject} is not {} or ELF: unrecognised file format", want.name()), capitalized(&carries))
        }
    };
    Diag::error(field, span, message).hint(hint)
}

/// `An arm64 Image` from `an arm64 Image`.
fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// A partition's `ramdisk`: a file that exists (its contents are the guest's business). `None` when it is
/// missing, `Some(None)` when the partition has none.
fn check_ramdisk(p: &RawPartition, i: usize, ctx: &Context<'_>, r: &mut Report) -> Option<Option<Ramdisk>> {
    let Some(v) = &p.ramdisk else {
        return Some(None);
    };
    let rd = v.get_ref();
    let path = relative_path(ctx, rd);
    // Opened (not read: `build` copies it whole) after the checks, so an unreadable file is found now.
    if let Err(e) = input::open(&path, input::IMAGE_LIMIT) {
        let where_ = "ramdisk paths are relative to the config file's directory (an initramfs: a cpio archive, \
                      optionally compressed)";
        r.push(input_diag(&format!("partition[{i}].ramdisk"), v.span(), "ramdisk", rd, &path, &e, where_.into()));
        return None;
    }
    Some(Some(Ramdisk { path, span: v.span() }))
}

/// A partition's `dt_overlay`: a compiled device-tree overlay that reads and parses (whether it merges into the
/// partition's tree is known once the tree is generated). `None` when it is bad, `Some(None)` when there is none.
fn check_dt_overlay(p: &RawPartition, i: usize, ctx: &Context<'_>, r: &mut Report) -> Option<Option<DtOverlay>> {
    let Some(v) = &p.dt_overlay else {
        return Some(None);
    };
    let value = v.get_ref();
    let field = format!("partition[{i}].dt_overlay");
    let path = relative_path(ctx, value);
    // An overlay merges into the partition's device tree, which has `DTB_REGION` bytes.
    let bytes = match input::read(&path, guest_map::DTB_REGION) {
        Ok(bytes) => bytes,
        Err(e) => {
            let where_ = "overlay paths are relative to the config file's directory; compile an overlay source with \
                          `dtc -@ -I dts -O dtb -o FILE.dtbo FILE.dts`";
            r.push(input_diag(&field, v.span(), "device-tree overlay", value, &path, &e, where_.into()));
            return None;
        }
    };
    match dom0_less::Overlay::parse(&bytes) {
        Ok(overlay) => Some(Some(DtOverlay { path, written: value.clone(), overlay, span: v.span() })),
        Err(e) => {
            r.push(overlay_diag(&field, v.span(), value, &e));
            None
        }
    }
}

/// The diagnostic for an overlay that cannot be read or merged.
pub(crate) fn overlay_diag(field: &str, span: Span, value: &str, e: &dom0_less::OverlayError) -> Diag {
    use dom0_less::OverlayError as E;
    let label = match e {
        E::NotDtb(_) | E::NotOverlay(_) => "not a compiled device-tree overlay",
        E::TargetPhandle { .. } | E::UnresolvedLabels(_) => "uses labels the partition's tree does not have",
        E::Protected { .. } | E::GeneratedProperty { .. } | E::MemoryNode { .. } => {
            "would change what hv-static generates"
        }
        _ => "cannot be merged",
    };
    Diag::error(field, span, format!("device-tree overlay `{value}`: {e}")).label(label).hint(e.hint())
}

fn check_on_fault(p: &RawPartition, i: usize, r: &mut Report) -> Option<FaultPolicy> {
    let Some(f) = &p.on_fault else {
        return Some(FaultPolicy::Stop);
    };
    let field = format!("partition[{i}].on_fault");
    match f.get_ref().as_str() {
        "stop" => Some(FaultPolicy::Stop),
        "restart" => {
            r.push(
                Diag::error(field, f.span(), "the `restart` fault policy is not yet supported")
                    .label("not yet supported")
                    .hint(
                        "use on_fault = \"stop\" for now (a fault stops this partition, the others keep running); \
                         restarting a faulted partition from its images is planned",
                    ),
            );
            None
        }
        other => {
            r.push(
                Diag::error(field, f.span(), format!("unknown fault policy `{}`", shown(other)))
                    .label("not a fault policy")
                    .hint(format!(
                    "{}; `stop` (stop every vCPU of the partition) is the only policy for now, `restart` is planned",
                    suggest(other, ["stop", "restart"], "fault policies")
                )),
            );
            None
        }
    }
}
