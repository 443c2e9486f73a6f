//! Hostile partitions (issue 14): the `hostile` guest attacks hv-static from inside partitions on both
//! architectures (AArch64 with GICv3 and with GICv2, ARMv7 with GICv2) while a victim beats on its own CPU and
//! real-time partitions measure their windows. hv-static must survive, keep the others' time, contain each
//! attacker under its fault policy and say what it did. See `hv_tests::hostile` for the checks and
//! `configs/qemu-*-hostile*.toml` for the systems.

use hv_tests::hostile::{check_timing, check_twice_quiet, storm, timing};

/// The memory probes of the storm configs: one partition, one address each.
const MEMORY_COMMON: [&str; 6] = ["m-victim", "m-payload", "m-fetch-victim", "m-fetch-gicd", "m-rtc", "m-sweep"];
const MEMORY_GICV3: [&str; 2] = ["m-gicr", "m-its"];
const MEMORY_GICV2: [&str; 3] = ["m-gich", "m-gicv", "m-gicd-hole"];
const MEMORY_WIDE: [&str; 3] = ["m-alias39", "m-alias32", "m-top"];

fn memory(gic: &[&'static str], wide: bool) -> Vec<&'static str> {
    let mut v = MEMORY_COMMON.to_vec();
    v.extend_from_slice(gic);
    v.extend_from_slice(if wide { &MEMORY_WIDE } else { &["m-top"] });
    v
}

#[test]
fn gicv3_attackers_leave_the_victim_and_real_time_windows_alone() {
    let stem = "qemu-aarch64-hostile";
    check_timing(stem, &timing(stem));
}

#[test]
fn gicv3_storm_is_contained() {
    storm("qemu-aarch64-hostile", &memory(&MEMORY_GICV3, true));
}

#[test]
fn gicv2_attackers_leave_the_victim_and_real_time_windows_alone() {
    let stem = "qemu-aarch64-hostile-gicv2";
    check_timing(stem, &timing(stem));
}

#[test]
fn gicv2_storm_is_contained() {
    storm("qemu-aarch64-hostile-gicv2", &memory(&MEMORY_GICV2, true));
}

#[test]
fn a15_attackers_leave_the_victim_and_real_time_windows_alone() {
    let stem = "qemu-a15-hostile";
    check_timing(stem, &timing(stem));
}

#[test]
fn a15_storm_is_contained() {
    storm("qemu-a15-hostile", &memory(&MEMORY_GICV2, false));
}

// Issue 14's bound on the real-time windows: at most twice as late attacked as quiet. Two attackers break it today
// (measured under -icount, worst case over 100 frames, in counter ticks of 16 ns).
//
// `gicd` (before `sched`'s second window) writes all ones to GICD_ISENABLER/ISPENDR, so every interrupt of its
// partition is enabled and pending; each list-register refill (after every such write) then scans all 288
// interrupts once per list register it fills (vgic/state.rs, `fill_lrs` and `most_urgent`), a trap of ~7 µs on
// QEMU, and the next partition's window starts that much later: 548 against 137 quiet (AArch64, GICv3), 546
// against 112 (GICv2), 591 against 129 (ARMv7).
//
// `console` (before `sched2`'s window) floods its UART: each line it completes is pushed to the physical UART from
// within its trap until the UART's FIFO is full (console/mod.rs, `pump`), and QEMU's PL011 never is, so one trap
// writes out all that is queued (up to a 2 KiB ring per source): 377 against 136 (GICv3), 1161 against 131
// (ARMv7); on GICv2 the flood's lines happened to miss the boundary (127 against 111).

#[test]
#[ignore = "a distributor write refills list registers by scanning all 288 interrupts per LR (~7 us trap, next window 4-5x later), see issue 14"]
fn gicv3_gic_attacker_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-aarch64-hostile";
    check_twice_quiet(stem, &timing(stem), "sched");
}

#[test]
#[ignore = "a distributor write refills list registers by scanning all 288 interrupts per LR (~7 us trap, next window 4-5x later), see issue 14"]
fn gicv2_gic_attacker_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-aarch64-hostile-gicv2";
    check_twice_quiet(stem, &timing(stem), "sched");
}

#[test]
#[ignore = "a distributor write refills list registers by scanning all 288 interrupts per LR (~7 us trap, next window 4-5x later), see issue 14"]
fn a15_gic_attacker_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-a15-hostile";
    check_twice_quiet(stem, &timing(stem), "sched");
}

#[test]
#[ignore = "console pump writes everything queued within one trap on QEMU's never-full PL011 (next window up to 9x later), see issue 14"]
fn gicv3_console_flood_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-aarch64-hostile";
    check_twice_quiet(stem, &timing(stem), "sched2");
}

#[test]
#[ignore = "console pump writes everything queued within one trap on QEMU's never-full PL011 (next window up to 9x later), see issue 14"]
fn gicv2_console_flood_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-aarch64-hostile-gicv2";
    check_twice_quiet(stem, &timing(stem), "sched2");
}

#[test]
#[ignore = "console pump writes everything queued within one trap on QEMU's never-full PL011 (next window up to 9x later), see issue 14"]
fn a15_console_flood_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-a15-hostile";
    check_twice_quiet(stem, &timing(stem), "sched2");
}

/// SMC32/HVC32 calls take their arguments in W1-W7 (SMCCC): from AArch64, what the upper halves of X1-X7 hold is
/// not part of the call. hv-static reads the whole registers for AFFINITY_INFO (0x8400_0004: MPIDR with Aff3, the
/// level) and CPU_ON (0x8400_0003: the MPIDR), so garbage above the low word turns a valid call into
/// INVALID_PARAMETERS (`calls` counts such answers; 38 of 20797 with seed 14).
#[test]
#[ignore = "psci.rs (via hypercall.rs) reads X1/X2 whole for the SMC32 AFFINITY_INFO and CPU_ON, see issue 14"]
fn gicv3_smc32_calls_ignore_the_upper_halves_of_their_registers() {
    let out = hv_tests::boot_until_icount(
        "qemu-aarch64-hostile.toml",
        r"\n\[calls\] hostile: calls done",
        std::time::Duration::from_secs(120),
    );
    let answers = hv_tests::lines_of(&out, "calls")
        .into_iter()
        .find(|l| l.starts_with("hostile: calls answers:"))
        .expect("the calls probe's answers line");
    assert_eq!(hv_tests::hostile::count_before(answers, "smc32"), 0, "{answers}");
}
