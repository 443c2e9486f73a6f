//! The rules of pool scheduling: WFI handling, and a cyclic pool's table, written as windows or as per-partition
//! budgets and periods. Runs after the partitions are checked, since windows name partitions and their vCPUs.

use std::collections::{BTreeMap, BTreeSet};

use toml::Spanned;

use super::common::{duration_value, shown, suggest, CheckedPool, Lookup};
use super::model::*;
use super::raw::*;
use crate::diag::{list, Diag, Report, Span};
use crate::schedule::{self, CyclicSchedule, Nanos, Reservation, SynthError, Window};
use crate::units::duration;

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
                Diag::error(format!("pool[{i}].wfi"), w.span(), format!("unknown WFI mode `{}`", shown(other)))
                    .label("not a WFI mode")
                    .hint(suggest(other, ["trap", "native"], "WFI modes")),
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

/// Builds the table of every cyclic pool and refuses budgets outside cyclic pools.
pub(super) fn check_schedules(raw: &RawConfig, pools: &mut [CheckedPool], parts: &[Partition], r: &mut Report) {
    let pool_names = Lookup::new("pool", pools.iter().map(|q| q.pool.name.as_str()));
    for (i, p) in raw.partitions.iter().enumerate() {
        let p = p.get_ref();
        let Some(pool) = pool_names.find(p.pool.get_ref()).and_then(|k| pools.get(k)) else { continue };
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
    for (k, (pool, raw_pool)) in pools.iter_mut().zip(&raw.pools).enumerate() {
        if pool.pool.scheduler != Scheduler::Cyclic {
            continue;
        }
        pool.pool.cyclic = cyclic_table(raw, raw_pool.get_ref(), k, &pool.pool, &pool.name_span, parts, r);
    }
}

/// The table a checked partition came from.
fn raw_of<'a>(raw: &'a RawConfig, p: &Partition) -> &'a RawPartition {
    // Checked partitions are made from `raw.partitions[id]`.
    raw.partitions[usize::from(p.id)].get_ref()
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
            if frame > limits::MAJOR_FRAME {
                r.push(
                    Diag::error(
                        format!("pool[{k}].major_frame"),
                        f.span(),
                        format!("major frame {} is too long: at most {}", duration(frame), duration(limits::MAJOR_FRAME)),
                    )
                    .label("longer than any schedule hv-static runs")
                    .hint("a cyclic table repeats at least once a second: shorten the frame (see docs/config.md, \"Limits\")"),
                );
                return None;
            }
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
                let span = raw_of(raw, p).vcpus.span();
                r.push(
                    Diag::error(format!("partition[{}].vcpus[{j}]", p.id), span, format!("two vCPUs of partition `{}` are pinned to CPU {cpu}", p.name))
                        .label("vCPUs of one partition share a CPU")
                        .hint("in a cyclic pool each vCPU of a partition needs its own CPU: pin them to distinct CPUs of the pool"),
                );
                return None;
            }
        }
    }
    // The partitions with a budget, each with its `budget = ...`.
    let budgeted: Vec<(&Partition, &Spanned<String>)> =
        members.iter().filter_map(|p| raw_of(raw, p).budget.as_ref().map(|b| (*p, b))).collect();
    let schedule = match (&rp.windows, budgeted.first()) {
        (Some(w), None) => {
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
        (None, Some(_)) => budget_table(raw, &budgeted, &members, k, pool, pool_span, frame, r)?,
        (Some(w), Some((p, budget))) => {
            r.push(
                Diag::error(
                    format!("pool[{k}].windows"),
                    w.span(),
                    format!("cyclic pool `{}` has both windows and budgets", pool.name),
                )
                .label("windows here")
                .related(budget.span(), format!("budget of `{}`", p.name))
                .hint("write the table either as windows or as each partition's budget and period, not both"),
            );
            return None;
        }
        (None, None) => {
            r.push(
                Diag::error(format!("pool[{k}]"), pool_span.clone(), format!("cyclic pool `{}` has no schedule", pool.name))
                    .label("no windows, and none of its partitions has a budget")
                    .hint("add windows = [{ partition = \"...\", start = \"0ms\", duration = \"5ms\" }, ...] and major_frame, or budget and period to each partition of the pool"),
            );
            return None;
        }
    };
    // Every vCPU of the pool gets time on its CPU.
    let served: BTreeSet<(usize, u32)> =
        schedule.windows.iter().flat_map(|w| w.cpus.iter().map(|c| (w.partition, *c))).collect();
    for p in &members {
        for (j, cpu) in p.vcpus.iter().enumerate() {
            if !served.contains(&(usize::from(p.id), *cpu)) {
                r.push(
                    Diag::error(
                        format!("partition[{}].vcpus[{j}]", p.id),
                        raw_of(raw, p).vcpus.span(),
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
    // Checked partitions by name; names of every partition of the file, for unknown ones.
    let checked: BTreeMap<&str, &Partition> = parts.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut all = Lookup::new("partition", raw.partitions.iter().map(|p| p.get_ref().name.get_ref().as_str()));
    // Each good window with its index in `windows` and its span.
    let mut windows: Vec<(Window, usize, Span)> = Vec::new();
    let mut ok = true;
    for (j, rw) in w.get_ref().iter().enumerate() {
        let field = format!("pool[{k}].windows[{j}]");
        let rwin = rw.get_ref();
        let name = rwin.partition.get_ref();
        let Some(part) = checked.get(name.as_str()).copied() else {
            // A partition with errors of its own is not reported again.
            if all.find(name).is_none() {
                r.push(
                    Diag::error(
                        format!("{field}.partition"),
                        rwin.partition.span(),
                        format!("unknown partition `{}`", shown(name)),
                    )
                    .label("no partition has this name")
                    .hint(all.hint(name)),
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
                .related(raw_of(raw, part).pool.span(), format!("`{name}` is in this pool"))
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
        let Some(end) = start.checked_add(len) else {
            r.push(
                Diag::error(
                    format!("{field}.duration"),
                    rw.span(),
                    format!(
                        "`start` + `duration` is beyond any schedule: {} + {} is more than 2^64 ns (584 years)",
                        duration(start),
                        duration(len)
                    ),
                )
                .label("ends past the end of time")
                .hint(format!(
                    "windows lie inside the {} major frame: start and duration are times within it",
                    duration(frame)
                )),
            );
            ok = false;
            continue;
        };
        if end > frame {
            r.push(
                Diag::error(
                    format!("{field}.duration"),
                    rw.span(),
                    format!("window ends at {}, after the {} major frame", duration(end), duration(frame)),
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
        let window = Window { start, duration: len, partition: usize::from(part.id), cpus };
        windows.push((window, j, rw.span()));
    }
    let only: Vec<Window> = windows.iter().map(|(w, _, _)| w.clone()).collect();
    if let Some((a, b, cpu)) = schedule::first_overlap(&only) {
        let (wa, wb) = (&windows[a], &windows[b]);
        r.push(
            Diag::error(format!("pool[{k}].windows[{}]", wb.1), wb.2.clone(), format!("windows overlap on CPU {cpu}"))
                .label(format!("{} .. {}", duration(wb.0.start), duration(wb.0.end())))
                .related(wa.2.clone(), format!("{} .. {} on CPU {cpu}", duration(wa.0.start), duration(wa.0.end())))
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
    budgeted: &[(&Partition, &Spanned<String>)],
    members: &[&Partition],
    k: usize,
    pool: &Pool,
    pool_span: &Span,
    frame: Option<Nanos>,
    r: &mut Report,
) -> Option<CyclicSchedule> {
    let mut ok = true;
    let with_budget: BTreeSet<u16> = budgeted.iter().map(|(p, _)| p.id).collect();
    for p in members {
        if !with_budget.contains(&p.id) {
            r.push(
                Diag::error(
                    format!("partition[{}]", p.id),
                    raw_of(raw, p).name.span(),
                    format!("partition `{}` has no budget", p.name),
                )
                .label(format!("in budget-scheduled pool `{}`", pool.name))
                .hint("give every partition of the pool a budget and a period"),
            );
            ok = false;
        }
    }
    let mut reservations = Vec::new();
    for &(p, budget_v) in budgeted {
        let rpart = raw_of(raw, p);
        let i = p.id;
        let budget = duration_value(budget_v, &format!("partition[{i}].budget"), r);
        let Some(period_v) = &rpart.period else {
            r.push(
                Diag::error(
                    format!("partition[{i}].period"),
                    budget_v.span(),
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
        if period > limits::MAJOR_FRAME {
            r.push(
                Diag::error(
                    format!("partition[{i}].period"),
                    period_v.span(),
                    format!("period {} is longer than any major frame", duration(period)),
                )
                .label("too long")
                .hint(format!(
                    "a major frame is at most {} and every period divides it: shorten the period (see docs/config.md, \"Limits\")",
                    duration(limits::MAJOR_FRAME)
                )),
            );
            ok = false;
            continue;
        }
        if budget < MIN_WINDOW || budget > period {
            r.push(
                Diag::error(
                    format!("partition[{i}].budget"),
                    budget_v.span(),
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
        reservations.push(Reservation { partition: usize::from(p.id), cpus, budget, period });
    }
    if !ok {
        return None;
    }
    match schedule::synthesize(&reservations, frame) {
        Ok(s) if s.windows.len() > limits::WINDOWS => {
            let (span, field) = match raw.pools.get(k).and_then(|p| p.get_ref().major_frame.as_ref()) {
                Some(f) => (f.span(), format!("pool[{k}].major_frame")),
                None => (pool_span.clone(), format!("pool[{k}]")),
            };
            r.push(
                Diag::error(
                    field,
                    span,
                    format!(
                        "the budgets of pool `{}` make a table of {} windows: at most {}",
                        pool.name,
                        s.windows.len(),
                        limits::WINDOWS
                    ),
                )
                .label(format!("{} major frame", duration(s.major_frame)))
                .hint("choose periods that divide each other (e.g. 5ms, 10ms, 20ms), or a shorter major frame (see docs/config.md, \"Limits\")"),
            );
            None
        }
        Ok(s) => Some(s),
        Err(e) => {
            let major_frame = raw.pools.get(k).and_then(|p| p.get_ref().major_frame.as_ref());
            let (span, field) = match major_frame {
                Some(f) => (f.span(), format!("pool[{k}].major_frame")),
                None => (pool_span.clone(), format!("pool[{k}]")),
            };
            let name =
                |i: usize| members.iter().find(|p| usize::from(p.id) == i).map_or("?", |p| p.name.as_str()).to_owned();
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
                SynthError::FrameTooLong { .. } => Diag::error(
                    field,
                    span,
                    format!(
                        "the periods' least common multiple is longer than {}",
                        duration(schedule::MAX_SYNTH_FRAME)
                    ),
                )
                .label("no reasonable major frame")
                .hint("choose periods that divide each other (e.g. 5ms, 10ms, 20ms) or set major_frame"),
                SynthError::BadReservation { partition } => {
                    Diag::error(field, span, format!("partition `{}` has a zero budget or period", name(partition)))
                        .label("nothing to schedule")
                        .hint(format!("a budget lies between {} and its period", duration(MIN_WINDOW)))
                }
            };
            r.push(d);
            None
        }
    }
}
