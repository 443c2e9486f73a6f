//! Hostile partitions (issue 14): the `hostile` guest attacks hv-static from inside partitions on both
//! architectures (AArch64 with GICv3 and with GICv2, ARMv7 with GICv2) while a victim beats on its own CPU and
//! real-time partitions measure their windows. hv-static must survive, keep the others' time, contain each
//! attacker under its fault policy and say what it did. See `hv_tests::hostile` for the checks and
//! `configs/qemu-*-hostile*.toml` for the systems.

use hv_tests::hostile::{check_timing, check_twice_quiet, storm, timing, unsyndromed};

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

/// Issue 14: a trapped access without a valid syndrome to an emulated device is answered with an abort injected
/// into the partition, never a hypervisor error or a stop.
#[test]
fn gicv3_unsyndromed_access_to_an_emulated_device_is_an_abort_in_the_partition() {
    unsyndromed("qemu-aarch64-hostile");
}

#[test]
fn a15_unsyndromed_access_to_an_emulated_device_is_an_abort_in_the_partition() {
    unsyndromed("qemu-a15-hostile");
}

// Issue 14's bound on the real-time windows: at most twice as late attacked as quiet (measured under -icount, worst
// case over 100 frames, in counter ticks of 16 ns). With issue 15's shorter window switch (AArch64 1,884 -> ~1,080
// instructions, ARMv7 ~2,200 -> ~1,250) the quiet figures fell to 67 (GICv3), 66 (GICv2) and 79 (ARMv7) ticks, so
// the bound now allows each attacker only ~1,000 instructions of EL2 work at a window boundary; what it measured
// over that was made shorter, not the bound looser.
//
// `console` (before `sched2`'s window) floods its UART. A line's own trap now pays for two FIFOs (64 bytes, an ordinary
// line; it was 128, ~2,100 instructions of UART writes; a status read per byte is now one per 16 bytes) and the
// transmit interrupt, steered to the writer's CPU, the rest: 68 against 67 (GICv3), 78 against 66 (GICv2), 79
// against 79 (ARMv7). Before the bounded console: 377 against 136
// (GICv3), 1161 against 131 (ARMv7).
//
// `gicd` (before `sched`'s second window) writes all ones to GICD_ISENABLER/ISPENDR, and `calls` (before its first)
// makes random hypercalls. Enable, pending and active are bitmaps, so a set/clear write over 32 SPIs is a few word
// operations (state by state it was ~2,200 instructions); `HV_SCHED_*` no longer divide 128-bit numbers (~2,500
// instructions on ARMv7). Attacked against quiet: 86 against 67 (GICv3), 88 against 66 (GICv2), 115 against 79
// (ARMv7). History: 548 against 137 (GICv3) before the ready sets; 178 / 121, 232 / 113, 357 / 162 with them.

#[test]
fn gicv3_gic_attacker_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-aarch64-hostile";
    check_twice_quiet(stem, &timing(stem), "sched");
}

#[test]
fn gicv2_gic_attacker_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-aarch64-hostile-gicv2";
    check_twice_quiet(stem, &timing(stem), "sched");
}

#[test]
fn a15_gic_attacker_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-a15-hostile";
    check_twice_quiet(stem, &timing(stem), "sched");
}

#[test]
fn gicv3_console_flood_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-aarch64-hostile";
    check_twice_quiet(stem, &timing(stem), "sched2");
}

/// A console line's own trap (its copy into the queue and the writer's paid drain) once cost up to ~2,300
/// instructions, three times a quiet window switch, and a boundary falling inside one started `sched2`'s window up
/// to 129 ticks late against 45 quiet. Now a line-completing write is left for the vCPU's next window when the
/// boundary is already due, and the drain looks at the boundary every 16 bytes: 52 against 45 (2026-12-07).
#[test]
fn gicv2_console_flood_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-aarch64-hostile-gicv2";
    check_twice_quiet(stem, &timing(stem), "sched2");
}

#[test]
fn a15_console_flood_delays_the_next_window_at_most_twice_quiet() {
    let stem = "qemu-a15-hostile";
    check_twice_quiet(stem, &timing(stem), "sched2");
}

/// SMC32/HVC32 calls take their arguments in W1-W7 (SMCCC): from AArch64, what the upper halves of X1-X7 hold is
/// not part of the call. hv-static read the whole registers for AFFINITY_INFO (0x8400_0004: MPIDR with Aff3, the
/// level) and CPU_ON (0x8400_0003: the MPIDR), so garbage above the low word turned a valid call into
/// INVALID_PARAMETERS (`calls` counted 38 such answers of 20797 with seed 14); now every SMC32 call's arguments
/// are cut to 32 bits once, in the dispatcher.
#[test]
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
