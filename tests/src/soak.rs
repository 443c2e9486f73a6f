//! The soak suite (`tests/tests/soak.rs`, issue 14): three partitions beat on their virtual timers while cross-CPU
//! traffic (SGIs between two vCPUs, channel doorbells into a partition of a cyclic pool) runs beside them, and the
//! beating partitions now and then mask their timer at the GIC across a deadline. Every vCPU's beats must be
//! consecutive, none may stop (the run ends only when every partition has finished), no beating partition may fall
//! silent while the others beat on, and no spinning vCPU may see its due timer interrupt withheld while it runs.
//!
//! The guest is `schedprobe` in `role=soak` (its crate docs list the lines matched here).

use std::time::Duration;

use crate::{all_of, boot_until, lines_of, RunOutcome};

/// Beats per vCPU in the soak configs (`ticks=` in their bootargs).
pub const BEATS: u64 = 150;
/// After how many beats the beating partitions mask their timer at the GIC (`mask_every=`).
pub const MASK_EVERY: u64 = 10;
/// A beating vCPU has stalled when another vCPU beat this many times (a second's worth) between two of its beats.
/// Counter time is host time here (no `-icount`): four emulated CPUs share this machine's two cores with whatever
/// else runs, and under load every vCPU's beats come late, by seconds at worst; what the host cannot do is let the
/// others beat on while one vCPU's timer stays silent. A heartbeat that stops for good never lets the run finish.
pub const STALL_BEATS: usize = 100;
/// The partitions of the soak configs and their vCPUs.
pub const PARTITIONS: [(&str, usize); 3] = [("beat0", 1), ("beat1", 1), ("traffic", 2)];

/// One `soak: cpu<i> tick <n> at <counter> exits <e>` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Beat {
    pub cpu: usize,
    pub n: u64,
    pub at: u64,
}

/// The beats of partition `name` (only lines the hypervisor prefixed with `[name] `), in console order.
pub fn beats(out: &RunOutcome, name: &str) -> Vec<Beat> {
    lines_of(out, name).iter().filter_map(|l| parse_beat(l)).collect()
}

fn parse_beat(line: &str) -> Option<Beat> {
    let words: Vec<&str> = line.strip_prefix("soak: ")?.split_whitespace().collect();
    match words.as_slice() {
        [cpu, "tick", n, "at", at, ..] => {
            Some(Beat { cpu: cpu.strip_prefix("cpu")?.parse().ok()?, n: n.parse().ok()?, at: at.parse().ok()? })
        }
        _ => None,
    }
}

/// A vCPU's `soak: cpu<i> done ...` line, as `key=value` pairs.
pub fn done_line<'a>(out: &'a RunOutcome, name: &str, cpu: usize) -> Option<Vec<(&'a str, &'a str)>> {
    let prefix = format!("soak: cpu{cpu} done ");
    let line = lines_of(out, name).into_iter().find_map(|l| l.strip_prefix(prefix.as_str()))?;
    Some(line.split_whitespace().filter_map(|kv| kv.split_once('=')).collect())
}

/// Checks one vCPU's beats: exactly 1..=[`BEATS`], in order, and a `done` line with no stuck timer; returns how
/// many times it masked its timer at the GIC.
pub fn heartbeat(out: &RunOutcome, name: &str, cpu: usize) -> u64 {
    let numbers: Vec<u64> = beats(out, name).iter().filter(|b| b.cpu == cpu).map(|b| b.n).collect();
    assert_eq!(
        numbers,
        (1..=BEATS).collect::<Vec<_>>(),
        "{name} cpu{cpu}'s beats are not 1..={BEATS}:\n{}",
        out.output
    );
    let done = done_line(out, name, cpu).unwrap_or_else(|| panic!("{name} cpu{cpu} did not finish:\n{}", out.output));
    let field = |key: &str| -> u64 {
        done.iter().find(|(k, _)| *k == key).and_then(|(_, v)| v.parse().ok()).unwrap_or_else(|| {
            panic!("{name} cpu{cpu}'s done line has no {key}: {done:?}");
        })
    };
    assert_eq!(field("stuck"), 0, "{name} cpu{cpu} saw its due timer interrupt withheld:\n{}", out.output);
    field("masked")
}

/// The longest silence of vCPU `cpu` of `name`, measured in the beats some other vCPU took meanwhile:
/// (that count, the other vCPU, the beat that ended the silence).
pub fn longest_silence(out: &RunOutcome, name: &str, cpu: usize) -> (usize, (String, usize), u64) {
    let mine: Vec<Beat> = beats(out, name).into_iter().filter(|b| b.cpu == cpu).collect();
    let mut worst = (0, (String::new(), 0), 0);
    for (other, vcpus) in PARTITIONS {
        for ocpu in (0..vcpus).filter(|&c| (other, c) != (name, cpu)) {
            let theirs: Vec<u64> = beats(out, other).iter().filter(|b| b.cpu == ocpu).map(|b| b.at).collect();
            for w in mine.windows(2) {
                let meanwhile = theirs.iter().filter(|&&at| at > w[0].at && at < w[1].at).count();
                if meanwhile > worst.0 {
                    worst = (meanwhile, (other.to_string(), ocpu), w[1].n);
                }
            }
        }
    }
    worst
}

/// Boots a soak config until every partition has finished, then checks every vCPU's heartbeat: the beating
/// partitions masked their timer at the GIC many times and never stopped, the traffic partition's vCPUs never saw
/// their timer withheld while they spun, and nothing was reported stuck or faulted.
pub fn soak(config: &str) {
    let done: Vec<String> = PARTITIONS.iter().map(|(name, _)| format!(r"\[{name}\] soak: all done")).collect();
    let done: Vec<&str> = done.iter().map(String::as_str).collect();
    let out = boot_until(config, &all_of(&done), Duration::from_secs(90));
    assert!(!out.output.contains("STUCK"), "a timer interrupt was withheld:\n{}", out.output);
    assert!(!out.output.contains("fault"), "no partition may fault:\n{}", out.output);
    assert!(!out.output.contains("unexpected irq"), "an interrupt nobody enabled was delivered:\n{}", out.output);
    for (name, vcpus) in PARTITIONS {
        for cpu in 0..vcpus {
            let masked = heartbeat(&out, name, cpu);
            // Each beating vCPU asks to mask after every MASK_EVERY-th beat, and does it in its own code between
            // interrupts: beat1 runs half of the time and takes doorbells, so its requests often fold into one; and
            // a beat of either may come before the mask takes effect (as on a GIC). Both must have masked often.
            let least = match name {
                "beat0" => BEATS / MASK_EVERY / 2,
                "beat1" => 1,
                _ => 0,
            };
            assert!(masked >= least, "{name} masked its timer only {masked} times, expected {least}:\n{}", out.output);
        }
    }
    // The beating partitions' timers are the subject. The traffic vCPUs spin, so their own watch (`stuck`) says
    // whether their timer was withheld while they ran; how often they run is up to the host.
    for name in ["beat0", "beat1"] {
        let (meanwhile, (other, ocpu), before) = longest_silence(&out, name, 0);
        assert!(
            meanwhile < STALL_BEATS,
            "{name}'s heartbeat stalled before beat {before}: {other} cpu{ocpu} beat {meanwhile} times meanwhile\n{}",
            out.output
        );
    }
    let bells = done_line(&out, "beat1", 0).and_then(|d| d.iter().find(|(k, _)| *k == "bells").map(|(_, v)| *v));
    assert!(bells.is_some_and(|b| b != "0"), "beat1 took no doorbell: the traffic did not reach it");
}

#[cfg(test)]
mod tests {
    use super::parse_beat;

    #[test]
    fn beat_lines() {
        let b = parse_beat("soak: cpu1 tick 42 at 123456 exits 99").unwrap();
        assert_eq!((b.cpu, b.n, b.at), (1, 42, 123456));
        assert!(parse_beat("soak: cpu0 done ticks=300 max_gap=1").is_none());
        assert!(parse_beat("[beat0] soak: cpu0 tick 1 at 2 exits 3").is_none(), "prefix already stripped");
    }
}
