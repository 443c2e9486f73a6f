//! CPU pools and the CPUs partitions run on: pool names, CPUs given to one pool each, the scheduler, each
//! partition's pool and its vCPUs pinned to that pool's CPUs, and the warnings about CPUs that run nothing.

use std::collections::{BTreeMap, BTreeSet};

use board_support::{Board, GicVersion};
use toml::Spanned;

use super::common::*;
use super::model::*;
use super::raw::*;
use super::schedule;
use crate::diag::{list, Diag, Report, Span};

pub(super) fn check_pools(raw: &[Spanned<RawPool>], board: &Board, r: &mut Report) -> Vec<CheckedPool> {
    let mut pools: Vec<CheckedPool> = Vec::new();
    // CPU -> (pool index, span where it was listed).
    let mut owner: BTreeMap<u32, (usize, Span)> = BTreeMap::new();
    let mut names = NameSet::new(NameKind::Pool);
    for (i, p) in raw.iter().enumerate() {
        let p = p.get_ref();
        let name = p.name.get_ref();
        names.check(i, &p.name, r);
        let scheduler = check_scheduler(p, i, r);
        let wfi = schedule::check_wfi(p, i, r);
        if scheduler == Some(Scheduler::Pinned) {
            schedule::check_pinned_has_no_table(p, i, r);
        }
        if p.cpus.get_ref().is_empty() {
            r.push(
                Diag::error(format!("pool[{i}].cpus"), p.cpus.span(), format!("pool `{name}` has no CPUs"))
                    .label("empty")
                    .hint("list the physical CPUs the pool owns, e.g. cpus = [0, 1]"),
            );
        }
        let mut cpus = Vec::new();
        for (j, c) in p.cpus.get_ref().iter().enumerate() {
            let field = format!("pool[{i}].cpus[{j}]");
            let Some(cpu) = cpu_value(c, &field, board, r) else {
                continue;
            };
            match owner.get(&cpu) {
                Some((o, first)) if *o == i => r.push(
                    Diag::error(field, c.span(), format!("CPU {cpu} is listed twice in pool `{name}`"))
                        .label("again")
                        .related(first.clone(), "first listed here")
                        .hint("list each CPU once"),
                ),
                Some((o, first)) => {
                    r.push(
                        Diag::error(
                            field,
                            c.span(),
                            format!("CPU {cpu} is in two pools: `{}` and `{name}`", raw[*o].get_ref().name.get_ref()),
                        )
                        .label(format!("CPU {cpu} is also given to pool `{name}`"))
                        .related(
                            first.clone(),
                            format!("CPU {cpu} first given to pool `{}` here", raw[*o].get_ref().name.get_ref()),
                        )
                        .hint("a physical CPU belongs to exactly one pool: remove it from one of them"),
                    );
                    // Still counted in this pool, so its partitions get no second complaint about the same CPU.
                    cpus.push(cpu);
                }
                None => {
                    owner.insert(cpu, (i, c.span()));
                    cpus.push(cpu);
                }
            }
        }
        pools.push(CheckedPool {
            pool: Pool {
                name: name.clone(),
                cpus,
                scheduler: scheduler.unwrap_or(Scheduler::Pinned),
                wfi,
                cyclic: None,
            },
            name_span: p.name.span(),
        });
    }
    pools
}

fn check_scheduler(p: &RawPool, i: usize, r: &mut Report) -> Option<Scheduler> {
    let Some(s) = &p.scheduler else {
        return Some(Scheduler::Pinned);
    };
    let field = format!("pool[{i}].scheduler");
    match s.get_ref().as_str() {
        "pinned" => Some(Scheduler::Pinned),
        "cyclic" => Some(Scheduler::Cyclic),
        other => {
            r.push(
                Diag::error(field, s.span(), format!("unknown scheduler `{}`", shown(other)))
                    .label("not a scheduler")
                    .hint(suggest(other, ["pinned", "cyclic"], "schedulers")),
            );
            None
        }
    }
}

/// The pool partition `i` names in `pool`, by name.
pub(super) fn check_pool_ref(p: &RawPartition, i: usize, pools: &mut Lookup<'_>, r: &mut Report) -> Option<usize> {
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

/// A partition's `vcpus`: at least one, at most 8 on GICv2 (its distributor targets eight CPU interfaces), each
/// pinned to a CPU of the board inside the partition's pool.
pub(super) fn check_vcpus(
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

/// In a pinned pool a CPU runs exactly one vCPU.
pub(super) fn check_pinning(raw: &RawConfig, pools: &[CheckedPool], r: &mut Report) {
    // CPU -> (partition name, vCPU index, span).
    let mut taken: BTreeMap<u32, (String, usize, Span)> = BTreeMap::new();
    for (i, p) in raw.partitions.iter().enumerate() {
        let p = p.get_ref();
        let Some(pool) = pools.iter().find(|q| q.pool.name == *p.pool.get_ref()) else {
            continue;
        };
        if pool.pool.scheduler != Scheduler::Pinned {
            continue;
        }
        for (j, c) in p.vcpus.get_ref().iter().enumerate() {
            let Ok(cpu) = u32::try_from(*c.get_ref()) else {
                continue;
            };
            if !pool.pool.cpus.contains(&cpu) {
                continue;
            }
            match taken.get(&cpu) {
                Some((other, k, first)) => r.push(
                    Diag::error(
                        format!("partition[{i}].vcpus[{j}]"),
                        c.span(),
                        format!("two vCPUs are pinned to CPU {cpu} of pinned pool `{}`", pool.pool.name),
                    )
                    .label(format!("vCPU {j} of `{}` pinned to CPU {cpu}", p.name.get_ref()))
                    .related(first.clone(), format!("vCPU {k} of `{other}` is already pinned to CPU {cpu}"))
                    .hint("a pinned pool runs one vCPU per CPU: pin this vCPU to a free CPU of the pool, or add a CPU to the pool"),
                ),
                None => {
                    taken.insert(cpu, (p.name.get_ref().clone(), j, c.span()));
                }
            }
        }
    }
}

/// A CPU given to a pool but running no vCPU stays idle: probably a mistake.
pub(super) fn warn_idle_cpus(raw: &RawConfig, pools: &[CheckedPool], r: &mut Report) {
    // (pool name, CPU) of every vCPU.
    let pinned: BTreeSet<(&str, i64)> = raw
        .partitions
        .iter()
        .flat_map(|q| {
            let q = q.get_ref();
            q.vcpus.get_ref().iter().map(move |v| (q.pool.get_ref().as_str(), *v.get_ref()))
        })
        .collect();
    for (i, p) in raw.pools.iter().enumerate() {
        let p = p.get_ref();
        let Some(pool) = pools.get(i) else { continue };
        for (j, c) in p.cpus.get_ref().iter().enumerate() {
            let Ok(cpu) = u32::try_from(*c.get_ref()) else {
                continue;
            };
            if !pool.pool.cpus.contains(&cpu) {
                continue;
            }
            if !pinned.contains(&(pool.pool.name.as_str(), i64::from(cpu))) {
                r.push(
                    Diag::warning(
                        format!("pool[{i}].cpus[{j}]"),
                        c.span(),
                        format!("CPU {cpu} of pool `{}` runs no vCPU", pool.pool.name),
                    )
                    .label("no vCPU is pinned to this CPU")
                    .hint("it will stay idle: pin a vCPU to it or remove it from the pool"),
                );
            }
        }
    }
}

/// A CPU of the board that no pool owns is wasted: it runs nothing. Only when the config has pools at all (a
/// config without pools has other problems). On QEMU the board has the CPUs `-smp` gives it, which is the highest
/// CPU any pool uses plus one; a real board has all of its CPUs.
pub(super) fn warn_cpus_in_no_pool(raw: &RawConfig, board: &Board, pools: &[CheckedPool], r: &mut Report) {
    // Every listed CPU with its span, highest last (ties: the later entry).
    let mut listed: Vec<(u32, Span)> = Vec::new();
    for (p, checked) in raw.pools.iter().zip(pools) {
        for c in p.get_ref().cpus.get_ref() {
            if let Ok(cpu) = u32::try_from(*c.get_ref()) {
                if checked.pool.cpus.contains(&cpu) {
                    listed.push((cpu, c.span()));
                }
            }
        }
    }
    listed.sort_by_key(|(cpu, _)| *cpu);
    let Some((highest, highest_span)) = listed.last().cloned() else {
        return;
    };
    let (present, why, span, field) = if board.qemu.is_some() {
        let (i, j) = position_of(raw, &highest_span);
        (
            highest + 1,
            format!("QEMU starts CPUs 0 to {highest} (`-smp {}`) because a pool uses CPU {highest}", highest + 1),
            highest_span,
            format!("pool[{i}].cpus[{j}]"),
        )
    } else {
        let first = raw.pools[0].get_ref();
        (
            board.max_cpus,
            format!("`{}` has {} CPUs", board.name, board.max_cpus),
            first.cpus.span(),
            "pool[0].cpus".into(),
        )
    };
    for cpu in (0..present).filter(|c| !listed.iter().any(|(l, _)| l == c)) {
        r.push(
            Diag::warning(&field, span.clone(), format!("CPU {cpu} of board `{}` is in no pool", board.name))
                .label(format!("CPU {cpu} is started but runs nothing"))
                .hint(format!(
                    "{why}; CPU {cpu} stays idle: add it to a pool (and pin a vCPU to it), or use CPUs without gaps"
                )),
        );
    }
}

/// `(i, j)` of the `pool[i].cpus[j]` entry at `span`.
fn position_of(raw: &RawConfig, span: &Span) -> (usize, usize) {
    for (i, p) in raw.pools.iter().enumerate() {
        if let Some(j) = p.get_ref().cpus.get_ref().iter().position(|c| c.span() == *span) {
            return (i, j);
        }
    }
    (0, 0)
}
