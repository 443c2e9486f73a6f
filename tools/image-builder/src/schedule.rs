//! Cyclic (time-partitioned) schedules: the fixed table a cyclic pool repeats every major frame, as ARINC 653
//! defines it, but computed and checked at build time and allowed to span several CPUs.
//!
//! A [`Window`] gives some CPUs of the pool to one partition for a stretch of the frame: on each of those CPUs the
//! partition's vCPU pinned there runs. A schedule is written either as windows or as budget/period reservations,
//! from which [`synthesize`] builds the windows by simulating earliest-deadline-first over one frame (EDF is
//! optimal on one CPU, so a set of reservations is refused only when it needs more than the whole CPU). The
//! hypervisor gets, per CPU, the [`timeline`]: consecutive slots from 0 to the frame's end, idle gaps explicit.

pub mod svg;

use std::collections::BTreeMap;

/// Time is in nanoseconds throughout; the hypervisor converts to counter ticks with the frequency it reads at boot.
pub type Nanos = u64;

/// One partition running on some CPUs of its pool for `[start, start + duration)` of every major frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Nanos,
    pub duration: Nanos,
    /// Index of the partition in the system.
    pub partition: usize,
    /// Physical CPUs, ascending: each runs the partition's vCPU pinned to it.
    pub cpus: Vec<u32>,
}

impl Window {
    /// The end of the window. Saturates rather than wrapping (the config check refuses windows that end past the
    /// frame, and frames are short).
    pub fn end(&self) -> Nanos {
        self.start.saturating_add(self.duration)
    }
}

/// A cyclic pool's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CyclicSchedule {
    pub major_frame: Nanos,
    /// Ordered by start, then first CPU.
    pub windows: Vec<Window>,
    /// Built from budgets and periods rather than written as windows.
    pub synthesized: bool,
}

/// A stretch of one CPU's frame: a partition's window, or idle (`None`: the CPU sleeps in WFI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub start: Nanos,
    pub end: Nanos,
    pub partition: Option<usize>,
}

/// `cpu`'s frame as consecutive slots covering `[0, major_frame)`. Windows must not overlap on a CPU (the config
/// check refuses that before a timeline is built).
pub fn timeline(s: &CyclicSchedule, cpu: u32) -> Vec<Slot> {
    let mut windows: Vec<&Window> = s.windows.iter().filter(|w| w.cpus.contains(&cpu)).collect();
    windows.sort_by_key(|w| w.start);
    let mut slots = Vec::new();
    let mut t = 0;
    for w in windows {
        if w.start > t {
            slots.push(Slot { start: t, end: w.start, partition: None });
        }
        slots.push(Slot { start: w.start, end: w.end(), partition: Some(w.partition) });
        t = w.end();
    }
    if t < s.major_frame {
        slots.push(Slot { start: t, end: s.major_frame, partition: None });
    }
    slots
}

/// A pair of windows that overlap on a common CPU, as indices into `windows` (the earlier one first), with that
/// CPU; of the pairs found, the one whose later window comes first. Sort and sweep: every (CPU, window) in order of
/// CPU and start, each compared with the furthest-reaching window before it on its CPU, so thousands of windows
/// cost a sort rather than a comparison of every pair.
pub fn first_overlap(windows: &[Window]) -> Option<(usize, usize, u32)> {
    let mut stretches: Vec<(u32, Nanos, Nanos, usize)> =
        windows.iter().enumerate().flat_map(|(i, w)| w.cpus.iter().map(move |&c| (c, w.start, w.end(), i))).collect();
    stretches.sort_unstable();
    let mut found: Option<(usize, usize, u32)> = None;
    // The window reaching furthest so far on the current CPU: (CPU, its end, its index).
    let mut reach: Option<(u32, Nanos, usize)> = None;
    for (cpu, start, end, i) in stretches {
        match reach {
            Some((c, far, j)) if c == cpu => {
                if start < far && i != j {
                    let pair = (i.min(j), i.max(j), cpu);
                    if found.is_none_or(|(a, b, _)| (pair.1, pair.0) < (b, a)) {
                        found = Some(pair);
                    }
                }
                if end > far {
                    reach = Some((cpu, end, i));
                }
            }
            _ => reach = Some((cpu, end, i)),
        }
    }
    found
}

/// A partition's demand in a pool scheduled by budget: `budget` of CPU time every `period`, on each CPU its vCPUs
/// are pinned to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub partition: usize,
    pub cpus: Vec<u32>,
    pub budget: Nanos,
    pub period: Nanos,
}

/// Why reservations could not become a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SynthError {
    /// A period does not divide the major frame, so the table would not repeat.
    PeriodNotDividingFrame { partition: usize, period: Nanos, major_frame: Nanos },
    /// The reservations on `cpu` need more than the whole CPU: `permille` thousandths of it (rounded up).
    Overloaded { cpu: u32, permille: u64, partitions: Vec<usize> },
    /// The least common multiple of the periods is unreasonably long (over one second).
    FrameTooLong { lcm: Option<Nanos> },
    /// A reservation with a zero budget or period (nothing to schedule, and no frame it divides).
    BadReservation { partition: usize },
}

/// The longest major frame there may be, written or synthesised (one second): the config checks every frame
/// against it (`config::limits::MAJOR_FRAME`).
pub const MAX_SYNTH_FRAME: Nanos = 1_000_000_000;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Builds the windows of one frame from reservations. `major_frame` defaults to the least common multiple of the
/// periods. Each CPU is simulated on its own with preemptive EDF (ties to the lower partition index), so CPUs with
/// the same reservations get identical windows: a multi-vCPU partition's vCPUs run at the same time.
pub fn synthesize(reservations: &[Reservation], major_frame: Option<Nanos>) -> Result<CyclicSchedule, SynthError> {
    if let Some(r) = reservations.iter().find(|r| r.budget == 0 || r.period == 0) {
        return Err(SynthError::BadReservation { partition: r.partition });
    }
    let frame = match major_frame {
        Some(f) => f,
        None => {
            let mut lcm: Option<u64> = Some(1);
            for r in reservations {
                lcm = lcm.and_then(|l| (l / gcd(l, r.period)).checked_mul(r.period));
            }
            match lcm {
                Some(l) if l <= MAX_SYNTH_FRAME => l,
                other => return Err(SynthError::FrameTooLong { lcm: other }),
            }
        }
    };
    if let Some(r) = reservations.iter().find(|r| !frame.is_multiple_of(r.period)) {
        return Err(SynthError::PeriodNotDividingFrame {
            partition: r.partition,
            period: r.period,
            major_frame: frame,
        });
    }
    let mut cpus: BTreeMap<u32, Vec<&Reservation>> = BTreeMap::new();
    for r in reservations {
        for c in &r.cpus {
            cpus.entry(*c).or_default().push(r);
        }
    }
    // (start, duration, partition) -> CPUs, so identical windows on several CPUs become one window.
    let mut merged: BTreeMap<(Nanos, Nanos, usize), Vec<u32>> = BTreeMap::new();
    for (cpu, rs) in &cpus {
        // Utilisation in parts per 10^9 of the CPU, exact: budget * (frame / period) summed over one frame.
        let demand: u128 =
            rs.iter().map(|r| u128::from(r.budget) * u128::from(frame / r.period)).fold(0, u128::saturating_add);
        if demand > u128::from(frame) {
            let permille = demand.saturating_mul(1000).div_ceil(u128::from(frame.max(1)));
            return Err(SynthError::Overloaded {
                cpu: *cpu,
                permille: u64::try_from(permille).unwrap_or(u64::MAX),
                partitions: rs.iter().map(|r| r.partition).collect(),
            });
        }
        for (start, duration, partition) in edf(rs, frame) {
            merged.entry((start, duration, partition)).or_default().push(*cpu);
        }
    }
    let windows = merged
        .into_iter()
        .map(|((start, duration, partition), cpus)| Window { start, duration, partition, cpus })
        .collect();
    Ok(CyclicSchedule { major_frame: frame, windows, synthesized: true })
}

/// Earliest-deadline-first over one frame on one CPU, event by event (releases and completions), merging
/// consecutive runs of one partition. Feasible by the caller's utilisation check, so every job completes by its
/// deadline and nothing is left at the frame's end. Periods are non-zero (`synthesize` refuses others); the events
/// are at most twice the jobs of the frame, which the utilisation check and the frame's limit bound. Times stay
/// below `frame`, and the arithmetic saturates rather than wrapping anyway.
fn edf(rs: &[&Reservation], frame: Nanos) -> Vec<(Nanos, Nanos, usize)> {
    // Per reservation: remaining budget of the current job and its absolute deadline.
    let mut remaining = vec![0u64; rs.len()];
    let mut deadline = vec![0u64; rs.len()];
    let mut runs: Vec<(Nanos, Nanos, usize)> = Vec::new();
    let mut t = 0;
    while t < frame {
        for (i, r) in rs.iter().enumerate() {
            if t.is_multiple_of(r.period) {
                debug_assert_eq!(remaining[i], 0, "EDF missed a deadline despite utilisation <= 1");
                remaining[i] = r.budget;
                deadline[i] = t.saturating_add(r.period);
            }
        }
        let next_release = rs
            .iter()
            .map(|r| (t / r.period).saturating_add(1).saturating_mul(r.period))
            .min()
            .unwrap_or(frame)
            .min(frame);
        let ready = (0..rs.len()).filter(|&i| remaining[i] > 0).min_by_key(|&i| (deadline[i], rs[i].partition));
        let Some(i) = ready else {
            t = next_release;
            continue;
        };
        let until = next_release.min(t.saturating_add(remaining[i]));
        remaining[i] = remaining[i].saturating_sub(until - t);
        match runs.last_mut() {
            Some((s, d, p)) if *p == rs[i].partition && s.saturating_add(*d) == t => *d = d.saturating_add(until - t),
            _ => runs.push((t, until - t, rs[i].partition)),
        }
        t = until;
    }
    runs
}

/// The schedule as a text table for `layout.txt`: one line per slot and CPU.
pub fn table(pool: &str, s: &CyclicSchedule, cpus: &[u32], names: &[&str]) -> String {
    use crate::units::duration;
    let mut out = format!(
        "pool {pool}: cyclic, major frame {}{}\n",
        duration(s.major_frame),
        if s.synthesized { " (synthesized from budgets and periods)" } else { "" }
    );
    for &cpu in cpus {
        for slot in timeline(s, cpu) {
            let who = slot.partition.map_or("idle (WFI)", |p| names[p]);
            out.push_str(&format!(
                "  CPU {cpu}  {:>10} .. {:>10}  {:>10}  {who}\n",
                duration(slot.start),
                duration(slot.end),
                duration(slot.end - slot.start)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn w(start: u64, duration: u64, partition: usize, cpus: &[u32]) -> Window {
        Window { start: start * MS, duration: duration * MS, partition, cpus: cpus.to_vec() }
    }

    #[test]
    fn timeline_fills_idle_gaps() {
        let s = CyclicSchedule {
            major_frame: 10 * MS,
            windows: vec![w(2, 3, 0, &[1]), w(5, 2, 1, &[1, 2])],
            synthesized: false,
        };
        let t = timeline(&s, 1);
        let spans: Vec<_> = t.iter().map(|s| (s.start / MS, s.end / MS, s.partition)).collect();
        assert_eq!(spans, [(0, 2, None), (2, 5, Some(0)), (5, 7, Some(1)), (7, 10, None)]);
        let t2: Vec<_> = timeline(&s, 2).iter().map(|s| (s.start / MS, s.end / MS, s.partition)).collect();
        assert_eq!(t2, [(0, 5, None), (5, 7, Some(1)), (7, 10, None)]);
        // A CPU without windows idles the whole frame.
        assert_eq!(timeline(&s, 3), [Slot { start: 0, end: 10 * MS, partition: None }]);
    }

    #[test]
    fn overlaps_only_on_a_shared_cpu() {
        assert_eq!(first_overlap(&[w(0, 5, 0, &[1]), w(4, 2, 1, &[2])]), None);
        assert_eq!(first_overlap(&[w(0, 5, 0, &[1, 2]), w(4, 2, 1, &[2])]), Some((0, 1, 2)));
        // Touching is not overlapping.
        assert_eq!(first_overlap(&[w(0, 5, 0, &[1]), w(5, 2, 1, &[1])]), None);
    }

    #[test]
    fn overlaps_are_found_by_a_sweep_among_thousands() {
        // 4096 windows back to back on CPUs 0-7, none overlapping: a sort, not 8 million comparisons.
        let many: Vec<Window> = (0..4096)
            .map(|k| Window { start: k * 1000, duration: 1000, partition: 0, cpus: (0..8).collect() })
            .collect();
        assert_eq!(first_overlap(&many), None);
        // One more, inside window 100 on CPU 5 only.
        let mut more = many.clone();
        more.push(Window { start: 100_500, duration: 10, partition: 1, cpus: vec![5] });
        assert_eq!(first_overlap(&more), Some((100, 4096, 5)));
        // A long window hides behind shorter ones that start later: still found against the one reaching furthest.
        let hidden = [w(0, 10, 0, &[1]), w(1, 1, 1, &[1]), w(5, 1, 2, &[1])];
        assert_eq!(first_overlap(&hidden), Some((0, 1, 1)));
        // Of several overlaps, the one whose later window comes first in the file.
        let two = [w(0, 2, 0, &[1]), w(5, 2, 1, &[2]), w(6, 2, 2, &[2]), w(1, 2, 3, &[1])];
        assert_eq!(first_overlap(&two), Some((1, 2, 2)));
        // Ends near 2^64 saturate instead of wrapping.
        let far = Window { start: u64::MAX - 5, duration: 100, partition: 0, cpus: vec![0] };
        assert_eq!(far.end(), u64::MAX);
        assert_eq!(first_overlap(&[far.clone(), far]), Some((0, 1, 0)));
    }

    #[test]
    fn zero_budgets_and_periods_are_refused_not_divided_by() {
        let zero = [Reservation { partition: 3, cpus: vec![0], budget: 1, period: 0 }];
        assert_eq!(synthesize(&zero, None), Err(SynthError::BadReservation { partition: 3 }));
        assert_eq!(synthesize(&zero, Some(10 * MS)), Err(SynthError::BadReservation { partition: 3 }));
    }

    fn res(partition: usize, cpus: &[u32], budget: u64, period: u64) -> Reservation {
        Reservation { partition, cpus: cpus.to_vec(), budget: budget * MS, period: period * MS }
    }

    /// Every job of every reservation gets exactly its budget inside its period, windows never overlap on a CPU.
    fn assert_meets(rs: &[Reservation], s: &CyclicSchedule) {
        assert_eq!(first_overlap(&s.windows), None);
        for r in rs {
            for cpu in &r.cpus {
                for k in 0..s.major_frame / r.period {
                    let (lo, hi) = (k * r.period, (k + 1) * r.period);
                    let got: u64 = s
                        .windows
                        .iter()
                        .filter(|w| w.partition == r.partition && w.cpus.contains(cpu))
                        .map(|w| w.end().min(hi).saturating_sub(w.start.max(lo)))
                        .sum();
                    assert_eq!(got, r.budget, "partition {} cpu {cpu} job {k}", r.partition);
                }
            }
        }
    }

    #[test]
    fn synthesis_meets_every_budget() {
        let rs = [res(0, &[1, 2], 4, 10), res(1, &[1], 1, 2), res(2, &[2], 3, 5)];
        let s = synthesize(&rs, None).unwrap();
        assert_eq!(s.major_frame, 10 * MS);
        assert!(s.synthesized);
        assert_meets(&rs, &s);
        // Full utilisation is feasible under EDF.
        let full = [res(0, &[0], 1, 2), res(1, &[0], 2, 4)];
        assert_meets(&full, &synthesize(&full, Some(8 * MS)).unwrap());
    }

    #[test]
    fn identical_cpus_get_the_same_windows() {
        let rs = [res(0, &[1, 2], 6, 10), res(1, &[1, 2], 2, 5)];
        let s = synthesize(&rs, None).unwrap();
        assert!(s.windows.iter().all(|w| w.cpus == [1, 2]), "{s:#?}");
    }

    #[test]
    fn synthesis_refuses_what_cannot_work() {
        let over = [res(0, &[1], 6, 10), res(1, &[1], 3, 5)];
        assert_eq!(
            synthesize(&over, None),
            Err(SynthError::Overloaded { cpu: 1, permille: 1200, partitions: vec![0, 1] })
        );
        assert!(matches!(
            synthesize(&[res(0, &[1], 1, 3)], Some(10 * MS)),
            Err(SynthError::PeriodNotDividingFrame { partition: 0, .. })
        ));
        let primes = [res(0, &[1], 1, 997), res(1, &[1], 1, 991), res(2, &[1], 1, 983)];
        assert!(matches!(synthesize(&primes, None), Err(SynthError::FrameTooLong { .. })));
    }

    #[test]
    fn table_lists_every_slot() {
        let s = CyclicSchedule { major_frame: 10 * MS, windows: vec![w(0, 4, 0, &[1])], synthesized: false };
        let t = table("mixed", &s, &[1], &["linux"]);
        assert!(t.starts_with("pool mixed: cyclic, major frame 10 ms\n"), "{t}");
        assert!(t.contains("CPU 1") && t.contains("linux") && t.contains("idle (WFI)"), "{t}");
    }
}
