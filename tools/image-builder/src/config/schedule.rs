//! The rules of pool scheduling: WFI handling, and a cyclic pool's table, written as windows or as per-partition
//! budgets and periods. Runs after the partitions are checked, since windows name partitions and their vCPUs.

use std::collections::BTreeSet;

use toml::Spanned;

use super::model::*;
use super::name_hint;
use super::raw::*;
use super::validate::CheckedPool;
use crate::diag::{list, Diag, Report, Span};
use crate::schedule::{self, CyclicSchedule, Nanos, Reservation, SynthError, Window};
use crate::units::{self, duration};

/// The shortest window: a switch costs a few microseconds, and QEMU's timer resolution is no finer.
pub const MIN_WINDOW: Nanos = 100_000;

/// `wfi = ...` of pool `i` (default `native`: no exit, and nothing to gain from one when the CPU runs one vCPU).
pub(super) fn check_wfi(p: &RawPool, i: usize, r: &mut Report) -> Wfi {
    let Some(w) = &p.wfi else { return Wfi::Native };
    match w.get_ref().as_str() {
        "trap" => Wfi::Trap,
        "native" => Wfi::Native,
        other => {
            r.push(
                Diag::error(format!("pool[{i}].wfi"), w.span(), format!("unknown WFI mode `{other}`"))
                    .label("not a WFI mode")
                    .hint(name_hint(other, ["trap", "native"], "WFI modes")),
            );
            Wfi::Native
        }
    }
}

/// Keys that only a cyclic pool takes, refused on a pinned one.
pub(super) fn check_pinned_has_no_table(p: &RawPool, i: usize, r: &mut Report) {
    let spans = [
        ("major_frame", p.major_frame.as_ref().map(Spanned::span)),
        ("windows", p.windows.as_ref().map(Spanned::span)),
    ];
    for (key, span) in spans {
        if let Some(span) = span {
            r.push(
                Diag::error(format!("pool[{i}].{key}"), span, format!("`{key}` applies only to cyclic pools"))
                    .label(format!("pool `{}` is pinned", p.name.get_ref()))
                    .hint("set scheduler = \"cyclic\" to time-partition the pool, or remove the key"),
            );
        }
    }
}

fn duration_value(v: &Spanned<String>, field: &str, r: &mut Report) -> Option<Nanos> {
    match units::parse_duration(v.get_ref()) {
        Ok(ns) => Some(ns),
        Err(e) => {
            r.push(
                Diag::error(field, v.span(), format!("bad duration: {}", e.message))
                    .label("not a duration")
                    .hint(e.hint),
            );
            None
        }
    }
}

/// Builds the table of every cyclic pool and refuses budgets outside cyclic pools.
pub(super) fn check_schedules(raw: &RawConfig, pools: &mut [CheckedPool], parts: &[Partition], r: &mut Report) {
    for (i, p) in raw.partitions.iter().enumerate() {
        let p = p.get_ref();
        let Some(pool) = pools.iter().find(|q| q.pool.name == *p.pool.get_ref()) else { continue };
        if pool.pool.scheduler == Scheduler::Cyclic {
            continue;
        }
        for (key, v) in [("budget", &p.budget), ("period", &p.period)] {
            if let Some(v) = v {
                r.push(
                    Diag::error(
                        format!("partition[{i}].{key}"),
                        v.span(),
                        format!("`{key}` applies only in cyclic pools"),
                    )
                    .label(format!("partition `{}` is in pinned pool `{}`", p.name.get_ref(), pool.pool.name))
                    .hint("a pinned pool gives each vCPU its CPU all the time: remove the key"),
                );
            }
        }
    }
    for (k, pool) in pools.iter_mut().enumerate() {
        if pool.pool.scheduler != Scheduler::Cyclic {
            continue;
        }
        let raw_pool = raw.pools[k].get_ref();
        pool.pool.cyclic = cyclic_table(raw, raw_pool, k, &pool.pool, &pool.name_span, parts, r);
    }
}

fn cyclic_table(
    raw: &RawConfig,
    rp: &RawPool,
    k: usize,
    pool: &Pool,
    pool_span: &Span,
    parts: &[Partition],
    r: &mut Report,
) -> Option<CyclicSchedule> {
    let frame = match &rp.major_frame {
        Some(f) => {
            let frame = duration_value(f, &format!("pool[{k}].major_frame"), r)?;
            if frame < MIN_WINDOW {
                r.push(
                    Diag::error(
                        format!("pool[{k}].major_frame"),
                        f.span(),
                        format!("major frame {} is too short", duration(frame)),
                    )
                    .label("shorter than one window may be")
                    .hint(format!("a major frame holds windows of at least {}", duration(MIN_WINDOW))),
                );
                return None;
            }
            Some(frame)
        }
        None => None,
    };
    let members: Vec<&Partition> = parts.iter().filter(|p| p.pool == k).collect();
    // Within a cyclic pool a window names a partition and a CPU, which must identify one vCPU.
    for p in &members {
        let mut seen = BTreeSet::new();
        for (j, cpu) in p.vcpus.iter().enumerate() {
            if !seen.insert(cpu) {
                let span = raw.partitions[p.id as usize].get_ref().vcpus.span();
                r.push(
                    Diag::error(format!("partition[{}].vcpus[{j}]", p.id), span, format!("two vCPUs of partition `{}` are pinned to CPU {cpu}", p.name))
                        .label("vCPUs of one partition share a CPU")
                        .hint("in a cyclic pool each vCPU of a partition needs its own CPU: pin them to distinct CPUs of the pool"),
                );
                return None;
            }
        }
    }
    let budgeted: Vec<&Partition> =
        members.iter().copied().filter(|p| raw.partitions[p.id as usize].get_ref().budget.is_some()).collect();
    let schedule = match (&rp.windows, budgeted.is_empty()) {
        (Some(w), true) => {
            let Some(frame) = frame else {
                r.push(
                    Diag::error(
                        format!("pool[{k}].major_frame"),
                        pool_span.clone(),
                        format!("cyclic pool `{}` has windows but no major_frame", pool.name),
                    )
                    .label("this pool")
                    .hint("add major_frame = \"10ms\" (the windows repeat with it)"),
                );
                return None;
            };
            windows_table(w, k, pool, frame, parts, raw, r)?
        }
        (None, false) => budget_table(raw, &budgeted, &members, k, pool, pool_span, rp, frame, r)?,
        (Some(w), false) => {
            let p = budgeted[0];
            r.push(
                Diag::error(
                    format!("pool[{k}].windows"),
                    w.span(),
                    format!("cyclic pool `{}` has both windows and budgets", pool.name),
                )
                .label("windows here")
                .related(
                    raw.partitions[p.id as usize].get_ref().budget.as_ref().unwrap().span(),
                    format!("budget of `{}`", p.name),
                )
                .hint("write the table either as windows or as each partition's budget and period, not both"),
            );
            return None;
        }
        (None, true) => {
            r.push(
                Diag::error(format!("pool[{k}]"), pool_span.clone(), format!("cyclic pool `{}` has no schedule", pool.name))
                    .label("no windows, and none of its partitions has a budget")
                    .hint("add windows = [{ partition = \"...\", start = \"0ms\", duration = \"5ms\" }, ...] and major_frame, or budget and period to each partition of the pool"),
            );
            return None;
        }
    };
    // Every vCPU of the pool gets time on its CPU.
    for p in &members {
        for (j, cpu) in p.vcpus.iter().enumerate() {
            if !schedule.windows.iter().any(|w| w.partition == p.id as usize && w.cpus.contains(cpu)) {
                r.push(
                    Diag::error(
                        format!("partition[{}].vcpus[{j}]", p.id),
                        raw.partitions[p.id as usize].get_ref().vcpus.span(),
                        format!("vCPU {j} of partition `{}` (CPU {cpu}) gets no time in pool `{}`", p.name, pool.name),
                    )
                    .label(format!("vCPU {j} is pinned to CPU {cpu}"))
                    .related(pool_span.clone(), "the pool's table gives it no window")
                    .hint(format!("add a window for `{}` on CPU {cpu}", p.name)),
                );
            }
        }
    }
    Some(schedule)
}

fn windows_table(
    w: &Spanned<Vec<Spanned<RawWindow>>>,
    k: usize,
    pool: &Pool,
    frame: Nanos,
    parts: &[Partition],
    raw: &RawConfig,
    r: &mut Report,
) -> Option<CyclicSchedule> {
    let mut windows: Vec<(Window, Span)> = Vec::new();
    let mut ok = true;
    for (j, rw) in w.get_ref().iter().enumerate() {
        let field = format!("pool[{k}].windows[{j}]");
        let rwin = rw.get_ref();
        let name = rwin.partition.get_ref();
        let Some(part) = parts.iter().find(|p| p.name == *name) else {
            if raw.partitions.iter().all(|p| p.get_ref().name.get_ref() != name) {
                let names = raw.partitions.iter().map(|p| p.get_ref().name.get_ref().as_str());
                r.push(
                    Diag::error(
                        format!("{field}.partition"),
                        rwin.partition.span(),
                        format!("unknown partition `{name}`"),
                    )
                    .label("no partition has this name")
                    .hint(name_hint(name, names, "partitions")),
                );
            }
            ok = false;
            continue;
        };
        if part.pool != k {
            r.push(
                Diag::error(
                    format!("{field}.partition"),
                    rwin.partition.span(),
                    format!("partition `{name}` is not in pool `{}`", pool.name),
                )
                .label("in another pool")
                .related(raw.partitions[part.id as usize].get_ref().pool.span(), format!("`{name}` is in this pool"))
                .hint(format!(
                    "a pool's windows schedule only its own partitions: move `{name}` to pool `{}`",
                    pool.name
                )),
            );
            ok = false;
            continue;
        }
        let (Some(start), Some(len)) = (
            duration_value(&rwin.start, &format!("{field}.start"), r),
            duration_value(&rwin.duration, &format!("{field}.duration"), r),
        ) else {
            ok = false;
            continue;
        };
        if len < MIN_WINDOW {
            r.push(
                Diag::error(
                    format!("{field}.duration"),
                    rwin.duration.span(),
                    format!("window of {} is too short", duration(len)),
                )
                .label(format!("shorter than {}", duration(MIN_WINDOW)))
                .hint(format!("windows last at least {}: a switch costs microseconds", duration(MIN_WINDOW))),
            );
            ok = false;
            continue;
        }
        if start + len > frame {
            r.push(
                Diag::error(
                    format!("{field}.duration"),
                    rw.span(),
                    format!("window ends at {}, after the {} major frame", duration(start + len), duration(frame)),
                )
                .label(format!("{} + {}", duration(start), duration(len)))
                .hint(
                    "windows lie inside the major frame: shorten the window, start it earlier, or lengthen major_frame",
                ),
            );
            ok = false;
            continue;
        }
        let cpus = match &rwin.cpus {
            None => {
                let mut c = part.vcpus.clone();
                c.sort_unstable();
                c
            }
            Some(cs) => {
                let mut out = Vec::new();
                for (m, c) in cs.get_ref().iter().enumerate() {
                    let cfield = format!("{field}.cpus[{m}]");
                    let cpu = u32::try_from(*c.get_ref()).ok().filter(|c| pool.cpus.contains(c));
                    let Some(cpu) = cpu else {
                        r.push(
                            Diag::error(
                                cfield,
                                c.span(),
                                format!("CPU {} is not in pool `{}`", c.get_ref(), pool.name),
                            )
                            .label("outside the pool")
                            .hint(format!(
                                "pool `{}` has CPUs {}",
                                pool.name,
                                list(pool.cpus.iter().map(u32::to_string))
                            )),
                        );
                        ok = false;
                        continue;
                    };
                    if !part.vcpus.contains(&cpu) {
                        r.push(
                            Diag::error(cfield, c.span(), format!("partition `{name}` has no vCPU on CPU {cpu}"))
                                .label("nothing of the partition to run here")
                                .hint(format!(
                                    "`{name}` runs on CPUs {}: give the window those",
                                    list(part.vcpus.iter().map(u32::to_string))
                                )),
                        );
                        ok = false;
                        continue;
                    }
                    out.push(cpu);
                }
                out.sort_unstable();
                out.dedup();
                out
            }
        };
        windows.push((Window { start, duration: len, partition: part.id as usize, cpus }, rw.span()));
    }
    let only: Vec<Window> = windows.iter().map(|(w, _)| w.clone()).collect();
    if let Some((a, b, cpu)) = schedule::first_overlap(&only) {
        let (wa, wb) = (&windows[a], &windows[b]);
        r.push(
            Diag::error(format!("pool[{k}].windows[{b}]"), wb.1.clone(), format!("windows overlap on CPU {cpu}"))
                .label(format!("{} .. {}", duration(wb.0.start), duration(wb.0.end())))
                .related(wa.1.clone(), format!("{} .. {} on CPU {cpu}", duration(wa.0.start), duration(wa.0.end())))
                .hint("a CPU runs one window at a time: move one window or give them different CPUs"),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    let mut windows = only;
    windows.sort_by_key(|w| (w.start, w.cpus.first().copied()));
    Some(CyclicSchedule { major_frame: frame, windows, synthesized: false })
}

#[allow(clippy::too_many_arguments)]
fn budget_table(
    raw: &RawConfig,
    budgeted: &[&Partition],
    members: &[&Partition],
    k: usize,
    pool: &Pool,
    pool_span: &Span,
    _rp: &RawPool,
    frame: Option<Nanos>,
    r: &mut Report,
) -> Option<CyclicSchedule> {
    let mut ok = true;
    for p in members {
        if !budgeted.iter().any(|b| b.id == p.id) {
            r.push(
                Diag::error(
                    format!("partition[{}]", p.id),
                    raw.partitions[p.id as usize].get_ref().name.span(),
                    format!("partition `{}` has no budget", p.name),
                )
                .label(format!("in budget-scheduled pool `{}`", pool.name))
                .hint("give every partition of the pool a budget and a period"),
            );
            ok = false;
        }
    }
    let mut reservations = Vec::new();
    for p in budgeted {
        let rpart = raw.partitions[p.id as usize].get_ref();
        let i = p.id;
        let budget = duration_value(rpart.budget.as_ref().unwrap(), &format!("partition[{i}].budget"), r);
        let Some(period_v) = &rpart.period else {
            r.push(
                Diag::error(
                    format!("partition[{i}].period"),
                    rpart.budget.as_ref().unwrap().span(),
                    format!("partition `{}` has a budget but no period", p.name),
                )
                .label("budget without period")
                .hint("add period = \"10ms\": the budget is granted once every period"),
            );
            ok = false;
            continue;
        };
        let period = duration_value(period_v, &format!("partition[{i}].period"), r);
        let (Some(budget), Some(period)) = (budget, period) else {
            ok = false;
            continue;
        };
        if budget < MIN_WINDOW || budget > period {
            r.push(
                Diag::error(
                    format!("partition[{i}].budget"),
                    rpart.budget.as_ref().unwrap().span(),
                    format!("budget {} does not fit period {}", duration(budget), duration(period)),
                )
                .label("budget")
                .hint(format!("a budget lies between {} and its period", duration(MIN_WINDOW))),
            );
            ok = false;
            continue;
        }
        let mut cpus = p.vcpus.clone();
        cpus.sort_unstable();
        reservations.push(Reservation { partition: p.id as usize, cpus, budget, period });
    }
    if !ok {
        return None;
    }
    match schedule::synthesize(&reservations, frame) {
        Ok(s) => Some(s),
        Err(e) => {
            let (span, field) = match &raw.pools[k].get_ref().major_frame {
                Some(f) => (f.span(), format!("pool[{k}].major_frame")),
                None => (pool_span.clone(), format!("pool[{k}]")),
            };
            let name =
                |i: usize| members.iter().find(|p| p.id as usize == i).map_or("?", |p| p.name.as_str()).to_owned();
            let d = match e {
                SynthError::PeriodNotDividingFrame { partition, period, major_frame } => Diag::error(
                    field,
                    span,
                    format!(
                        "period {} of partition `{}` does not divide the {} major frame",
                        duration(period),
                        name(partition),
                        duration(major_frame)
                    ),
                )
                .label("the table would not repeat")
                .hint(
                    "make every period divide major_frame, or leave major_frame out to use their least common multiple",
                ),
                SynthError::Overloaded { cpu, permille, partitions } => Diag::error(
                    field,
                    span,
                    format!(
                        "CPU {cpu} of pool `{}` is overloaded: its partitions need {}.{}% of it",
                        pool.name,
                        permille / 10,
                        permille % 10
                    ),
                )
                .label(format!("budgets of {} on CPU {cpu}", list(partitions.into_iter().map(name))))
                .hint("lower a budget, lengthen a period, or move a vCPU to another CPU of the pool"),
                SynthError::FrameTooLong { .. } => {
                    Diag::error(field, span, "the periods' least common multiple is longer than 1 s")
                        .label("no reasonable major frame")
                        .hint("choose periods that divide each other (e.g. 5ms, 10ms, 20ms) or set major_frame")
                }
            };
            r.push(d);
            None
        }
    }
}
