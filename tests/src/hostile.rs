//! The hostile-guest suite (`tests/tests/hostile.rs`): what the `hostile` guest's probes print, and the checks
//! that hold hv-static to containment whatever a partition does. Each architecture has three configs
//! (`configs/qemu-*-hostile*.toml`):
//!
//! - `X-hostile` and `X-hostile-quiet`, under `-icount`: a victim beating on its own CPU, and a cyclic CPU where
//!   real-time partitions (`sched`, `sched2`: schedprobe) share the frame with attackers (`gicd`, `calls`,
//!   `console`), or in the quiet twin with busy loops that never trap. No window may be lost, none may start more
//!   than [`DEVIATION_SLACK`] later than in the quiet run (issue 14's tighter bound, [`DEVIATION_FACTOR`] times the
//!   quiet worst case, is checked by ignored tests until the two causes that break it are fixed), and the victim
//!   must beat exactly on time.
//! - `X-hostile-storm`, at full speed (no `-icount`): SGI and doorbell floods, PSCI races through restarts, the
//!   full GIC sweep, and one partition per out-of-bounds address. Every attacker must be contained (stopped or
//!   powered off, with the hypervisor naming what it did) and the victim must keep beating.
//! - `X-hostile-unsyndromed`: loads and stores without a syndrome to the emulated distributor (LDP/STP, writeback,
//!   SIMD; LDRD/STRD, LDM/STM), which hv-static cannot emulate: each must reach the partition as a synchronous
//!   external abort (see [`unsyndromed`]), with a rate-limited warning, and the partition must keep running.

use std::time::{Duration, Instant};

use crate::checks::{window_stats, WindowStats};
use crate::{all_of, boot_until_icount, lines_of, whole_lines_of, RunOutcome};

/// How much later than in the quiet run the attacked real-time windows should start, at worst: issue 14's bound.
pub const DEVIATION_FACTOR: i64 = 2;
/// How much later than in the quiet run they may start today: 40 µs at QEMU's 62.5 MHz. A trap whose work were not
/// bounded (or a switch that waited for a lock an attacker holds) would show far more.
pub const DEVIATION_SLACK: i64 = 2500;
/// Under `-icount` the victim's beats may come at most this many periods apart.
pub const ICOUNT_GAP_PERIODS: u64 = 3;
/// Without `-icount`, counter time is host time: eight emulated CPUs share this machine's two cores (with whatever
/// else runs there), so a beat may come late by the host's scheduling alone. The bound only catches a victim that
/// stalls for good.
pub const STORM_GAP_PERIODS: u64 = 300;

/// Entries into hv-static per victim beat the storm may cause (a quiet beat costs ~87: its timer interrupt, one
/// UART write per character of its line, and the HV_CPU_EXITS call).
pub const STORM_EXITS_PER_BEAT: f64 = 120.0;

/// One `beat <n> at <counter> doorbells <d> exits <e>` line of the victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Beat {
    pub n: u64,
    pub at: u64,
    pub doorbells: u64,
    pub exits: u64,
}

/// The victim's beats, in order. Only lines the hypervisor prefixed with `[name] ` count: an attacker's forged
/// `[victim] beat ...` arrives as `[attacker] [victim] beat ...`.
pub fn beats(out: &RunOutcome, name: &str) -> Vec<Beat> {
    // Whole lines only: the run is stopped when every other partition is done, possibly in the middle of a beat.
    whole_lines_of(out, name)
        .iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["beat", n, "at", at, "doorbells", d, "exits", e] => Some(Beat {
                    n: n.parse().ok()?,
                    at: at.parse().ok()?,
                    doorbells: d.parse().ok()?,
                    exits: e.parse().ok()?,
                }),
                _ => None,
            }
        })
        .collect()
}

/// The victim's period in counter ticks, from its `heartbeat: period <ms> ms = <ticks> ticks ...` line.
pub fn period_ticks(out: &RunOutcome, name: &str) -> u64 {
    let lines = lines_of(out, name);
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix("heartbeat: period "))
        .unwrap_or_else(|| panic!("{name} never announced its period:\n{}", out.output));
    line.split(" = ").nth(1).and_then(|r| r.split_whitespace().next()).and_then(|t| t.parse().ok()).unwrap()
}

/// What the victim's heartbeat looked like.
#[derive(Clone, Copy, Debug)]
pub struct Heartbeat {
    pub beats: usize,
    pub period: u64,
    /// The longest time between two beats, in ticks.
    pub max_gap: u64,
    pub doorbells: u64,
    /// Entries into hv-static per beat, on average.
    pub exits_per_beat: f64,
}

/// Checks that the victim beat at least `min_beats` times, consecutively, never more than `max_periods` periods
/// apart; returns what it measured.
pub fn heartbeat(out: &RunOutcome, name: &str, min_beats: usize, max_periods: u64) -> Heartbeat {
    let period = period_ticks(out, name);
    let b = beats(out, name);
    assert!(b.len() >= min_beats, "{name} beat {} times, expected {min_beats}:\n{}", b.len(), out.output);
    let numbers: Vec<u64> = b.iter().map(|b| b.n).collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{name}'s beats are not consecutive: {numbers:?}");
    let max_gap = b.windows(2).map(|w| w[1].at.saturating_sub(w[0].at)).max().unwrap_or(0);
    assert!(
        max_gap <= max_periods * period,
        "{name}'s heartbeat stalled: {max_gap} ticks between two beats, more than {max_periods} periods of {period}"
    );
    let (first, last) = (b[0], b[b.len() - 1]);
    Heartbeat {
        beats: b.len(),
        period,
        max_gap,
        doorbells: last.doorbells,
        // HV_CPU_EXITS counts modulo 2^32.
        exits_per_beat: (last.exits as u32).wrapping_sub(first.exits as u32) as f64 / (last.n - first.n).max(1) as f64,
    }
}

/// The partition's `hostile: <probe> done (...)` line (the parenthesis), which says it ran to its end.
pub fn done<'a>(out: &'a RunOutcome, name: &str, probe: &str) -> &'a str {
    let prefix = format!("hostile: {probe} done (");
    lines_of(out, name)
        .into_iter()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("{name} never printed `{prefix}...)`:\n{}", out.output))
}

/// The number before `word` in `text` (`"20797 calls, 0 mismatches"`, `"mismatches"` gives 0).
pub fn count_before(text: &str, word: &str) -> u64 {
    let words: Vec<&str> = text.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')').collect();
    words
        .windows(2)
        .find(|w| w[1] == word)
        .and_then(|w| w[0].parse().ok())
        .unwrap_or_else(|| panic!("no number before {word:?} in {text:?}"))
}

/// The hypervisor's report that partition `name` faulted, and that it stopped it. Returns the fault line (what
/// follows `fault: `).
pub fn contained<'a>(out: &'a RunOutcome, name: &str) -> &'a str {
    let fault = format!("[hv] partition '{name}' vcpu ");
    let line = out
        .output
        .lines()
        .find_map(|l| l.trim_end().strip_prefix(fault.as_str())?.split_once(" fault: ").map(|(_, f)| f))
        .unwrap_or_else(|| panic!("hv-static never reported a fault of {name}:\n{}", out.output));
    let stopped = format!("[hv] partition '{name}' stopped (on_fault = \"stop\"); other partitions continue");
    assert!(out.output.lines().any(|l| l.trim_end() == stopped), "{name} was not stopped:\n{}", out.output);
    line
}

/// Every line on the console comes from the hypervisor or a partition of the system, with its prefix: a partition
/// cannot start a line of its own. `names` are the partitions. Only whole lines count: the run may have been
/// stopped while hv-static was writing one out (a line goes out a FIFO's worth at a time).
pub fn assert_prefixes_genuine(out: &RunOutcome, names: &[&str]) {
    let whole = out.output.rfind('\n').map_or("", |end| &out.output[..end]);
    for line in whole.lines().map(|l| l.trim_end_matches(['\r', '\n'])).filter(|l| !l.is_empty()) {
        let ok = line.starts_with("[hv] ") || names.iter().any(|n| line.starts_with(&format!("[{n}] ")));
        assert!(ok, "a console line without a genuine prefix: {line:?}");
    }
}

/// Partition `name`'s output reaches the terminal with no control character but tab (hv-static shows them as
/// `^X`): it cannot move the cursor, erase, recolour, or retitle the operator's terminal.
pub fn assert_shown_harmless(out: &RunOutcome, name: &str) {
    for line in lines_of(out, name) {
        let bad: Vec<char> = line.chars().filter(|&c| c.is_control() && c != '\t').collect();
        assert!(bad.is_empty(), "{name} sent control characters {bad:?} to the terminal: {line:?}");
        for c in ['\u{202e}', '\u{2066}', '\u{200f}'] {
            assert!(!line.contains(c), "{name} sent {c:?} (bidirectional control) to the terminal: {line:?}");
        }
    }
}

/// Lines any probe prints when it finds a breach.
pub fn assert_no_breach(out: &RunOutcome) {
    for bad in ["ESCAPED", "MISMATCH", "INCONSISTENT", "faulted in the guest", "panicked", "guest-rt: cpu"] {
        let hits: Vec<&str> = out
            .output
            .lines()
            .filter(|l| l.contains(bad) && !l.starts_with("[flood] ") && !l.starts_with("[console] "))
            .collect();
        assert!(hits.is_empty(), "{bad}: {hits:#?}");
    }
}

/// The two `-icount` runs of one architecture, quiet then attacked.
pub struct Timing {
    pub quiet: RunOutcome,
    pub attacked: RunOutcome,
}

/// What a run must reach: both real-time partitions done, then three more beats of the victim.
fn icount_until() -> String {
    all_of(&[r"\n\[sched\] schedprobe: done", r"\n\[sched2\] schedprobe: done"]) + r"(.*\n\[victim\] beat ){3}"
}

/// Boots `stem-quiet` and `stem` under `-icount`.
pub fn timing(stem: &str) -> Timing {
    const T: Duration = Duration::from_secs(300);
    let quiet = boot_until_icount(&format!("{stem}-quiet.toml"), &icount_until(), T);
    let attacked = boot_until_icount(&format!("{stem}.toml"), &icount_until(), T);
    Timing { quiet, attacked }
}

/// `sched`'s (or `sched2`'s) windows in both runs, checked complete; printed for the record.
pub fn windows(t: &Timing, stem: &str, name: &str) -> (WindowStats, WindowStats) {
    let q = window_stats(&t.quiet, name);
    let a = window_stats(&t.attacked, name);
    eprintln!("{stem} {name}: quiet {q:?}");
    eprintln!("{stem} {name}: attacked {a:?}");
    for s in [q, a] {
        assert_eq!((s.windows, s.missed, s.unexpected), (s.frames * windows_per_frame(name), 0, 0), "{name}: {s:?}");
    }
    (q, a)
}

fn windows_per_frame(name: &str) -> u64 {
    if name == "sched" {
        2
    } else {
        1
    }
}

/// Checks the attacked `-icount` run: the attackers ran (`calls` to its end, with every answer as documented; the
/// console flood to its end, shown harmless), `sched` and `sched2` lost no window and none started more than
/// [`DEVIATION_SLACK`] later than quiet, the victim beat on time in both runs and hv-static entered it no more
/// often attacked than quiet, and no partition faulted.
pub fn check_timing(stem: &str, t: &Timing) {
    for name in ["sched", "sched2"] {
        let (q, a) = windows(t, stem, name);
        assert!(
            a.max <= q.max + DEVIATION_SLACK,
            "{stem} {name}: attacked windows start up to {} ticks late, quiet ones {}: {a:?} vs {q:?}",
            a.max,
            q.max
        );
    }
    let calls = done(&t.attacked, "calls", "calls");
    assert_eq!(count_before(calls, "mismatches"), 0, "{stem}: {calls}");
    assert!(count_before(calls, "calls") >= 20_000, "{stem}: {calls}");
    done(&t.attacked, "console", "flood");
    assert!(lines_of(&t.attacked, "gicd").iter().any(|l| l.starts_with("hostile: gicd sweeping")), "{stem}: gicd");
    let quiet = heartbeat(&t.quiet, "victim", 20, ICOUNT_GAP_PERIODS);
    let attacked = heartbeat(&t.attacked, "victim", 20, ICOUNT_GAP_PERIODS);
    eprintln!("{stem} victim: quiet {quiet:?}");
    eprintln!("{stem} victim: attacked {attacked:?}");
    assert!(
        attacked.exits_per_beat <= quiet.exits_per_beat + 1.0,
        "{stem}: attackers on another CPU made hv-static enter the victim more often: {attacked:?} vs {quiet:?}"
    );
    for out in [&t.quiet, &t.attacked] {
        assert_prefixes_genuine(out, &["victim", "sched", "sched2", "gicd", "calls", "console"]);
        assert_no_breach(out);
        let faults: Vec<&str> =
            out.output.lines().filter(|l| l.starts_with("[hv] ") && l.contains(" fault: ")).collect();
        assert!(faults.is_empty(), "{stem}: no partition may fault here: {faults:#?}");
    }
    assert_shown_harmless(&t.attacked, "console");
}

/// Issue 14's bound: the windows of `name` start at most [`DEVIATION_FACTOR`] times as late attacked as quiet.
pub fn check_twice_quiet(stem: &str, t: &Timing, name: &str) {
    let (q, a) = windows(t, stem, name);
    eprintln!("{stem} {name}: windows start up to {} ticks late attacked, {} quiet", a.max, q.max);
    assert!(
        a.max <= DEVIATION_FACTOR * q.max,
        "{stem} {name}: attacked windows start up to {} ticks late, quiet ones {} ({:.1}x)",
        a.max,
        q.max,
        a.max as f64 / q.max as f64
    );
}

/// Boots `stem-storm` until every attacker has finished or been stopped and the victim beat three more times,
/// then checks that each was contained as it should be.
pub fn storm(stem: &str, memory_probes: &[&str]) -> RunOutcome {
    let config = format!("{stem}-storm.toml");
    let arm32 = stem.contains("a15");
    let stops = memory_probes.len();
    let events = [
        "\n[hv] partition 'lifecycle' powered off",
        "\n[flood] hostile: flood done",
        "\n[gicd] hostile: gicd done",
        "\n[virtio] diskprobe: done",
        "\n[mmio] hostile: mmio done",
    ];
    // ARMv7's gicd ends with a doubleword load the hypervisor answers with an abort in the partition.
    let gicd_ldrd = "\n[gicd] hostile: gicd ldrd at ";
    let out = boot_until_all(&config, Duration::from_secs(240), |out| {
        // Where the last of the events is, if they all happened.
        let mut last = 0;
        for e in events.iter().chain(arm32.then_some(&gicd_ldrd)) {
            last = last.max(out.find(e)? + e.len());
        }
        let stop = "stopped (on_fault = \"stop\")";
        let (nth, _) = out.match_indices(stop).nth(stops - 1)?;
        last = last.max(nth);
        // Then three beats of the victim.
        (out[last..].matches("\n[victim] beat ").count() >= 3).then_some(())
    });
    let mut names = vec!["victim", "flood", "lifecycle", "gicd", "virtio", "mmio"];
    names.extend_from_slice(memory_probes);
    assert_prefixes_genuine(&out, &names);
    assert_no_breach(&out);
    assert_shown_harmless(&out, "flood");
    for name in ["victim", "flood", "lifecycle", "gicd", "virtio", "mmio"] {
        let fault = format!("[hv] partition '{name}' vcpu");
        let faults: Vec<&str> =
            out.output.lines().filter(|l| l.starts_with(&fault) && l.contains(" fault: ")).collect();
        assert!(faults.is_empty(), "{name} faulted: {faults:#?}");
    }

    // Lifecycle: three restarts through racing PSCI calls, then one power-off, and nothing of it afterwards.
    let lifecycle = done(&out, "lifecycle", "lifecycle");
    assert_eq!(count_before(lifecycle, "inconsistencies"), 0, "{stem}: {lifecycle}");
    assert_eq!(count_before(lifecycle, "resets"), 3, "{stem}: {lifecycle}");
    assert_eq!(out.output.matches("[hv] partition 'lifecycle' restarting").count(), 3, "{stem}");
    assert_eq!(out.output.matches("[hv] partition 'lifecycle' powered off").count(), 1, "{stem}");
    let off = out.output.find("[hv] partition 'lifecycle' powered off").unwrap();
    assert!(
        !out.output[off..].contains("\n[lifecycle] "),
        "lifecycle ran after its power-off:\n{}",
        &out.output[off..]
    );
    let storms: Vec<&str> =
        lines_of(&out, "lifecycle").into_iter().filter(|l| l.contains("lifecycle storm:")).collect();
    assert_eq!(storms.len(), 4, "{storms:#?}");
    for s in &storms {
        assert!(s.contains(" other 0;") && s.ends_with(" unexpected 0"), "{stem}: {s}");
    }

    // Flood: every SGI register write and every ring answered as documented, and interrupts still taken.
    let flood: Vec<&str> = lines_of(&out, "flood");
    let sgis = flood.iter().find_map(|l| l.strip_prefix("hostile: flood sgis sent ")).expect("sgi line");
    assert!(!sgis.contains("cpu0 0 ") && !sgis.ends_with("cpu1 0"), "{stem}: a vCPU took no SGI: {sgis}");
    let bells = flood.iter().find(|l| l.starts_with("hostile: flood doorbells")).expect("doorbell line");
    assert!(bells.ends_with("wrong answers 0"), "{stem}: {bells}");
    assert!(count_before(done(&out, "flood", "flood"), "bytes") > 10_000);

    // The GIC sweep ran to its end (ARMv7 then makes the doubleword access hv-static cannot emulate, and takes the
    // abort it gets for it).
    let gicd = done(&out, "gicd", "gicd");
    assert_eq!(count_before(gicd, "guest"), 0, "{stem}: {gicd}");
    if arm32 {
        let ldrd = lines_of(&out, "gicd").into_iter().find(|l| l.starts_with("hostile: gicd ldrd at ")).unwrap();
        assert!(ldrd.ends_with("(fault in the guest: true)"), "{stem}: {ldrd}");
        let warning = "[hv] partition 'gicd' vcpu 0: read at IPA 0x800091c (PC ";
        assert!(out.output.lines().any(|l| l.starts_with(warning)), "{stem}: no warning about gicd's ldrd");
    }

    // The sweep covers every emulated device the partition has: console, watchdog, doorbell lines, its disk.
    let swept = "[mmio] hostile: mmio sweeping 4 device window(s) (console, watchdog, gpio and virtio-mmio)";
    assert!(out.output.lines().any(|l| l.starts_with(swept)), "{stem}: {:?}", lines_of(&out, "mmio"));
    let mmio = done(&out, "mmio", "mmio");
    assert_eq!(count_before(mmio, "guest"), 0, "{stem}: {mmio}");

    // virtio (diskprobe's hostile mode, with its bad buffer at the victim's RAM): each malformed ring breaks only
    // its own device, which hv-static reports; a reset brings it back.
    let virtio = lines_of(&out, "virtio");
    for want in [
        "hostile: out-of-partition buffer -> status 0x4f (needs reset: yes), used ring advanced: no",
        "hostile: looping chain -> status 0x4f (needs reset: yes)",
        "hostile: avail index jump -> status 0x4f (needs reset: yes)",
        "hostile: after reset a valid read completed with status 0",
    ] {
        assert!(virtio.contains(&want), "{stem} virtio: missing {want:?} in {virtio:?}");
    }
    let reports = out.output.lines().filter(|l| l.starts_with("[hv] partition 'virtio' virtio-blk")).count();
    assert_eq!(reports, 3, "{stem}: hv-static reports each broken ring once");

    // Each memory probe: stopped at the address it announced, read, write or fetch as it said.
    let victim_ram = ram_of(&out, "victim");
    for name in memory_probes {
        let said = lines_of(&out, name)
            .into_iter()
            .find_map(|l| {
                let rest = l.strip_prefix("hostile: memory ")?;
                let (kind, addr) = rest.split_once(" at ")?;
                Some((kind.to_owned(), addr.to_owned()))
            })
            .unwrap_or_else(|| panic!("{name} announced no access:\n{}", out.output));
        let fault = contained(&out, name);
        let expected = match said.0.as_str() {
            "fetch" => format!("instruction abort at IPA {} ", said.1),
            kind => format!("data abort ({kind}) at IPA {} ", said.1),
        };
        assert!(fault.starts_with(&expected), "{stem} {name}: hv-static said {fault:?}, expected {expected:?}");
        if name.ends_with("victim") {
            let addr = u64::from_str_radix(said.1.trim_start_matches("0x"), 16).unwrap();
            assert!(victim_ram.contains(&addr), "{name} aims at {addr:#x}, outside the victim's RAM {victim_ram:x?}");
        }
    }

    // The victim: alive to the end, doorbells delivered, beats consecutive.
    let hb = heartbeat(&out, "victim", 10, STORM_GAP_PERIODS);
    eprintln!("{stem} storm victim: {hb:?}");
    assert!(hb.doorbells > 0, "{stem}: the victim never got a doorbell: {hb:?}");
    // The beat itself costs ~90 entries (the timer interrupt, its line's UART writes, HV_CPU_EXITS); doorbells add
    // a few. Attackers elsewhere must not make hv-static take the victim's CPU more often than that.
    assert!(hb.exits_per_beat < STORM_EXITS_PER_BEAT, "{stem}: hv-static entered the victim too often: {hb:?}");
    out
}

/// What the `unsyndromed` probe's partition must see for each of its accesses, by architecture: ESR_EL1 of a
/// synchronous external abort taken from EL1 (EC 0x25, IL, DFSC 0x10; WnR for stores), or the ARMv7 DFSR
/// (short-descriptor FS 0b01000, WnR for stores; the long-descriptor STATUS 0b010000 with the LPAE bit when the
/// partition set TTBCR.EAE).
pub fn unsyndromed_expected(arm32: bool) -> &'static [(&'static str, bool, &'static str, u64)] {
    if arm32 {
        &[
            ("ldrd", false, "DFSR", 0x8),
            ("strd", true, "DFSR", 0x808),
            ("ldm", false, "DFSR", 0x8),
            ("stm", true, "DFSR", 0x808),
            ("ldm-lpae", false, "DFSR", 0x210),
        ]
    } else {
        &[
            ("ldp", false, "ESR", 0x9600_0010),
            ("stp", true, "ESR", 0x9600_0050),
            ("ldr-post-index", false, "ESR", 0x9600_0010),
            ("str-pre-index", true, "ESR", 0x9600_0050),
            ("ldr-simd", false, "ESR", 0x9600_0010),
        ]
    }
}

/// Accesses the `unsyndromed` probe repeats after the first five (its `count=`), for the rate limit.
pub const UNSYNDROMED_REPEATS: u64 = 1000;

/// Boots `stem-unsyndromed` until the `unsyndromed` partition is done and the victim beat three more times, then
/// checks issue 14's rule for accesses without a syndrome to an emulated device: each reached the partition as the
/// synchronous external abort [`unsyndromed_expected`] gives, at the address it used (FAR/DFAR), and none reached
/// the device; hv-static named partition, vCPU, IPA and PC for the first four, then only counted (a line each time
/// the count doubles), and neither stopped nor faulted the partition, which went on running to its `done` line.
pub fn unsyndromed(stem: &str) -> RunOutcome {
    let config = format!("{stem}-unsyndromed.toml");
    let arm32 = stem.contains("a15");
    let done_line = "\n[unsyndromed] hostile: unsyndromed done (";
    let out = boot_until_all(&config, Duration::from_secs(120), |out| {
        let at = out.find(done_line)?;
        (out[at..].matches("\n[victim] beat ").count() >= 3).then_some(())
    });
    assert_prefixes_genuine(&out, &["victim", "unsyndromed"]);
    assert_no_breach(&out);
    let lines = lines_of(&out, "unsyndromed");
    let expected = unsyndromed_expected(arm32);
    let mut addresses = Vec::new();
    for &(name, write, register, syndrome) in expected {
        let kind = if write { "write" } else { "read" };
        let prefix = format!("hostile: unsyndromed {name} ({kind}) at ");
        let line = lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("{stem}: no line for {name}:\n{}", out.output));
        let (addr, seen) = line.split_once(": ").unwrap();
        let far = if arm32 { "DFAR" } else { "FAR" };
        let want = format!("abort in the guest, {register} {syndrome:#x} {far} {addr} (");
        assert!(seen.starts_with(&want), "{stem} {name}: the partition saw {seen:?}, expected {want:?}...");
        addresses.push((kind, addr));
    }

    // hv-static's warnings: the first four one by one (MMU off: the IPA is the address), then counts at powers of
    // two (8, 16, ... 512 for 5 + 1000 accesses).
    let warnings: Vec<&str> =
        out.output.lines().filter_map(|l| l.trim_end().strip_prefix("[hv] partition 'unsyndromed' vcpu 0: ")).collect();
    assert_eq!(warnings.len(), 4, "{stem}: {warnings:#?}");
    for (w, (kind, addr)) in warnings.iter().zip(&addresses) {
        let want = format!("{kind} at IPA {addr} (PC 0x");
        assert!(w.starts_with(&want) && w.ends_with(") without syndrome: external abort injected"), "{stem}: {w}");
    }
    let counts: Vec<u64> = out
        .output
        .lines()
        .filter_map(|l| l.strip_prefix("[hv] partition 'unsyndromed': "))
        .filter(|l| l.contains(" accesses without syndrome "))
        .map(|l| count_before(l, "accesses"))
        .collect();
    let total = expected.len() as u64 + UNSYNDROMED_REPEATS;
    let powers: Vec<u64> = (3..64).map(|k| 1u64 << k).take_while(|&n| n <= total).collect();
    assert_eq!(counts, powers, "{stem}: the count lines");

    let repeated = lines.iter().find(|l| l.starts_with("hostile: unsyndromed repeated ")).expect("repeat line");
    assert!(repeated.ends_with(&format!(" {UNSYNDROMED_REPEATS} times: {UNSYNDROMED_REPEATS} aborts")), "{repeated}");
    let done = done(&out, "unsyndromed", "unsyndromed");
    assert_eq!(count_before(done, "aborts"), expected.len() as u64, "{stem}: {done}");
    let priorities = done.split("priorities ").nth(1).expect("priorities");
    let (before, after) = priorities.trim_end_matches(')').split_once(" -> ").expect("before -> after");
    assert_eq!(before, "0x80808080808080808080808080808080", "{stem}: the probe's own priorities");
    assert_eq!(before, after, "{stem}: a store without a syndrome reached the distributor");

    assert!(
        !out.output.lines().any(|l| l.starts_with("[hv] ") && (l.contains(" fault: ") || l.contains(" stopped "))),
        "{stem}: a partition faulted or was stopped:\n{}",
        out.output
    );
    heartbeat(&out, "victim", 3, STORM_GAP_PERIODS);
    out
}

/// Builds and boots `config` (without `-icount`) until `done` finds what it waits for in the console output, in
/// whatever order it came; panics with the console after `timeout`.
pub fn boot_until_all(config: &str, timeout: Duration, done: impl Fn(&str) -> Option<()>) -> RunOutcome {
    crate::require_system(config);
    let _one_at_a_time = crate::serial();
    let session = crate::Session::start(&crate::config(config));
    let start = Instant::now();
    loop {
        let output = session.output();
        if done(&output).is_some() {
            return RunOutcome {
                command: session.command.clone(),
                output,
                stderr: String::new(),
                matched: true,
                timed_out: false,
                status: None,
            };
        }
        assert!(
            start.elapsed() < timeout,
            "{config}: not everything happened within {timeout:?}\n--- command ---\n{}\n--- console ---\n{output}",
            session.command.join(" ")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A partition's host-physical RAM, from hv-static's `partition 'name': N vCPU(s), S MiB at 0x...` line.
pub fn ram_of(out: &RunOutcome, name: &str) -> std::ops::Range<u64> {
    let prefix = format!("[hv] partition '{name}': ");
    let line = out.output.lines().find_map(|l| l.trim_end().strip_prefix(prefix.as_str())).expect("banner");
    let (size, at) = line.split_once(", ").and_then(|(_, r)| r.split_once(" MiB at 0x")).expect("size and address");
    let base = u64::from_str_radix(at, 16).unwrap();
    base..base + size.parse::<u64>().unwrap() * (1 << 20)
}

/// Boots `stem-fpregs` (two `fpregs` partitions and one that never touches FP/SIMD, sharing a CPU in a cyclic
/// pool) until both `fpregs` partitions are done, then checks that every round held its pattern in every FP/SIMD
/// register across the switches: nothing changed, nothing of the other partition showed (hv-static switches FP
/// state lazily, `hv-static/src/core/fp.rs`), and most rounds were really switched away and back.
pub fn fpregs(stem: &str) -> RunOutcome {
    held_registers(stem, "fpregs", ["fp-a", "fp-b"])
}

/// As [`fpregs`], for the general-purpose registers and the banked and thread registers beside them
/// (`stem-gpregs`, probe `gpregs`: hv-static keeps each vCPU's registers in its own frame and moves the EL1 ones at
/// each switch).
pub fn gpregs(stem: &str) -> RunOutcome {
    held_registers(stem, "gpregs", ["gp-a", "gp-b"])
}

/// Boots `stem-probe.toml` until both `holders` report `hostile: PROBE done`, and checks that neither saw a
/// register change in any round and that most rounds were switched away and back.
fn held_registers(stem: &str, probe: &str, holders: [&str; 2]) -> RunOutcome {
    let config = format!("{stem}-{probe}.toml");
    let done = |name: &str| format!("\n[{name}] hostile: {probe} done (");
    let out = boot_until_all(&config, Duration::from_secs(120), |out| {
        holders.iter().all(|h| out.contains(&done(h))).then_some(())
    });
    assert_prefixes_genuine(&out, &[holders[0], holders[1], "quiet"]);
    assert_no_breach(&out);
    let finished = format!("hostile: {probe} done");
    for name in holders {
        let line = lines_of(&out, name)
            .into_iter()
            .find(|l| l.starts_with(&finished))
            .unwrap_or_else(|| panic!("{name} never finished: {}", out.output));
        let number = |key: &str| -> u64 {
            let rest = line.split(key).nth(1).unwrap_or_else(|| panic!("no {key:?} in {line:?}"));
            rest.trim_start().split([',', ')']).next().and_then(|n| n.trim().parse().ok()).unwrap_or(0)
        };
        assert_eq!(number("mismatches"), 0, "{name}: {line}\n{}", out.output);
        let (rounds, switched) = (number("rounds"), number("switched"));
        assert!(rounds >= 300 && switched * 10 >= rounds * 8, "{name}: too few rounds were switched away: {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(output: &str) -> RunOutcome {
        RunOutcome {
            command: vec![],
            output: output.to_owned(),
            stderr: String::new(),
            matched: true,
            timed_out: false,
            status: None,
        }
    }

    #[test]
    fn beats_only_from_the_victim_itself() {
        let out = outcome(
            "[victim] heartbeat: period 10 ms = 625000 ticks at 62500000 Hz, doorbell None\n\
             [victim] beat 1 at 1000 doorbells 0 exits 5\n\
             [flood] [victim] beat 99999 at 0 doorbells 0 exits 0\n\
             [victim] beat 2 at 626000 doorbells 3 exits 9\n",
        );
        assert_eq!(period_ticks(&out, "victim"), 625_000);
        let b = beats(&out, "victim");
        assert_eq!(b.iter().map(|b| b.n).collect::<Vec<_>>(), [1, 2]);
        let hb = heartbeat(&out, "victim", 2, 3);
        assert_eq!((hb.max_gap, hb.doorbells, hb.exits_per_beat), (625_000, 3, 4.0));
    }

    #[test]
    #[should_panic(expected = "stalled")]
    fn a_late_beat_fails() {
        let out = outcome(
            "[victim] heartbeat: period 10 ms = 100 ticks at 10000 Hz, doorbell None\n\
             [victim] beat 1 at 0 doorbells 0 exits 0\n[victim] beat 2 at 301 doorbells 0 exits 0\n",
        );
        heartbeat(&out, "victim", 2, 3);
    }

    #[test]
    fn counts_and_prefixes() {
        assert_eq!(count_before("20797 calls, 163 skipped, 0 mismatches, digest 0x1", "mismatches"), 0);
        assert_eq!(count_before("3 resets, 18126 psci calls, 0 inconsistencies)", "resets"), 3);
        let out = outcome("[hv] hv-static\n[victim] beat\n[flood] \\x1b[2J\n");
        assert_prefixes_genuine(&out, &["victim", "flood"]);
        assert_prefixes_genuine(&outcome("[hv] hv-static\n[vict"), &["victim"]);
        assert_eq!(
            ram_of(&outcome("[hv] partition 'victim': 1 vCPU(s), 16 MiB at 0x70000000\n"), "victim"),
            0x7000_0000..0x7100_0000
        );
    }

    #[test]
    #[should_panic(expected = "genuine prefix")]
    fn a_line_without_prefix_fails() {
        assert_prefixes_genuine(&outcome("[hv] x\n[hv-static panicked]\n"), &["victim"]);
    }
}
