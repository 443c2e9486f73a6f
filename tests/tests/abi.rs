//! The guest ABI's conformance suite: tests/guests/abiprobe walks docs/guest-abi.md point by point inside two
//! partitions (`main`, two pinned vCPUs; `peer`, in a cyclic pool; a channel between them) and prints one line per
//! check. Booted on AArch64 with a GICv3 and a GICv2, and on ARMv7; any `abi FAIL` line, a missing section or
//! summary, or fewer checks than the floor fails the test (a section that silently stopped checking would pass
//! otherwise). The document's ID and code tables are checked against the code on the host by
//! hv-plan/tests/guest_abi_doc.rs.
//!
//!     cargo test -p hv-tests --test abi

use std::time::Duration;

use hv_tests::{all_of, boot_until, lines_of};

/// The sections each role walks, in order (`abi: section <name>`).
const MAIN_SECTIONS: &[&str] = &[
    "tree", "memory", "console", "channels", "boot", "smccc", "psci", "unknown", "smc", "widths", "vendor", "cpus",
    "doorbell",
];
const PEER_SECTIONS: &[&str] = &["tree", "memory", "console", "channels", "boot", "cyclic", "vendor", "doorbell"];

/// `(checks, failed)` from `abi: N checks, M failed`.
fn summary(line: &str) -> Option<(u32, u32)> {
    let rest = line.strip_prefix("abi: ")?;
    let (checks, failed) = rest.split_once(" checks, ")?;
    Some((checks.parse().ok()?, failed.strip_suffix(" failed")?.parse().ok()?))
}

/// Checks one partition's report: every section, no failure, a summary that counts every check line, at least
/// `floor` checks. Returns the count.
fn report(console: &str, who: &str, lines: &[&str], sections: &[&str], floor: u32) -> u32 {
    let failures: Vec<&&str> = lines.iter().filter(|l| l.starts_with("abi FAIL")).collect();
    assert!(
        failures.is_empty(),
        "{who}: {} failed check(s):\n{}",
        failures.len(),
        failures.iter().map(|l| format!("  {l}\n")).collect::<String>()
    );
    let seen: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("abi: section ")).collect();
    assert_eq!(seen, sections, "{who}: sections walked\n{console}");
    let Some((checks, failed)) = lines.iter().find_map(|l| summary(l)) else {
        panic!("{who}: no summary line\n{console}")
    };
    let counted = lines.iter().filter(|l| l.starts_with("abi ok: ") || l.starts_with("abi FAIL: ")).count() as u32;
    assert_eq!((checks, failed), (counted, 0), "{who}: the summary against the check lines printed");
    assert!(
        checks >= floor,
        "{who}: {checks} checks, fewer than the {floor} this config has run: a section checked less\n{console}"
    );
    checks
}

/// Boots `config` and checks both partitions' reports; `floors` are (main, peer).
fn conformance(config: &str, floors: (u32, u32)) {
    let until = all_of(&[r"\[main\] abi: \d+ checks, \d+ failed", r"\[peer\] abi: \d+ checks, \d+ failed"]);
    let out = boot_until(config, &until, Duration::from_secs(120));
    let console = &out.output;
    // A dropped line is a check nobody saw: hv-static says so when its console queue overflows.
    let dropped: Vec<&str> = console.lines().filter(|l| l.contains("of output dropped")).collect();
    assert!(
        dropped.is_empty(),
        "{config}: console lines were dropped (the probe paces its output):\n{}\n--- console ---\n{console}",
        dropped.join("\n")
    );
    let main = report(console, "main", &lines_of(&out, "main"), MAIN_SECTIONS, floors.0);
    let peer = report(console, "peer", &lines_of(&out, "peer"), PEER_SECTIONS, floors.1);
    // Nothing went wrong beside the checks: no fault, no guest panic, no interrupt nobody enabled.
    let bad: Vec<&str> =
        console.lines().filter(|l| [" fault: ", "panicked", "unexpected irq"].iter().any(|b| l.contains(b))).collect();
    assert!(bad.is_empty(), "{config}: trouble on the console:\n{}\n--- console ---\n{console}", bad.join("\n"));
    eprintln!("{config}: main {main} checks, peer {peer} checks, all passed");
}

#[test]
fn aarch64_gicv3_partitions_get_the_documented_abi() {
    conformance("qemu-aarch64-abi.toml", (265, 166));
}

#[test]
fn aarch64_gicv2_partitions_get_the_documented_abi() {
    conformance("qemu-aarch64-abi-gicv2.toml", (263, 165));
}

#[test]
fn armv7_partitions_get_the_documented_abi() {
    conformance("qemu-a15-abi.toml", (247, 164));
}

#[test]
fn the_summary_reader_takes_only_whole_summaries() {
    assert_eq!(summary("abi: 229 checks, 0 failed"), Some((229, 0)));
    assert_eq!(summary("abi: 12 checks, 3 failed"), Some((12, 3)));
    assert_eq!(summary("abi: section psci"), None);
    assert_eq!(summary("abi: 12 checks, 3"), None);
}
