//! CPU_ON, AFFINITY_INFO and CPU_OFF with the partition's second vCPU, and what the Boot section promises a
//! secondary: it starts only on CPU_ON, "with `x0` = the given context ID", and its `MPIDR` reads
//! `0x8000_0000 | n`.
//!
//! The first start goes through guest-rt's `smp::start_cpu` (which registers the secondary's Rust entry and gives
//! the vCPU index as the context ID); every other call is raw, with the document's IDs.

use core::sync::atomic::{AtomicU32, Ordering};

use guest_rt::{arch, smp};

use crate::call::hvc_status;
use crate::guest::within;
use crate::ids::*;
use crate::report;

/// How many times the second vCPU has entered (each CPU_ON that succeeded, once it runs).
static ENTRIES: AtomicU32 = AtomicU32::new(0);
/// The entry after which the second vCPU should power itself off with CPU_OFF (0: none).
static OFF_AFTER: AtomicU32 = AtomicU32::new(0);
/// Set by the second vCPU when its CPU_OFF returned (it must not).
static OFF_RETURNED: AtomicU32 = AtomicU32::new(0);

/// How long a vCPU may take to start or stop, in ms of the virtual counter (QEMU's TCG is slow, and the first
/// start builds the vCPU's state).
const WAIT_MS: u64 = 2000;

/// `cpus` are the partition's vCPUs' MPIDR affinities from its `/cpus` (vCPU 0, the caller, first).
pub fn lifecycle(cpus: &[u64]) {
    report::section("cpus");
    let own = cpus.first().copied().unwrap_or(0);
    report::hex(format_args!("MPIDR of vCPU 0"), arch::mpidr(), 0x8000_0000);
    let Some(&second) = cpus.get(1) else {
        report::holds(format_args!("vCPUs in /cpus"), false, format_args!("{}", cpus.len()), "at least 2");
        return;
    };
    let count = cpus.len() as u64;

    // `AFFINITY_INFO` row: "0 on, 1 off, 2 on pending; INVALID_PARAMETERS".
    report::affinity(format_args!("AFFINITY_INFO(vCPU 0, the caller)"), affinity(own), AFF_ON);
    report::affinity(format_args!("AFFINITY_INFO(vCPU 1) before CPU_ON"), affinity(second), AFF_OFF);
    report::affinity(format_args!("AFFINITY_INFO(Aff0 = {count}, no such vCPU)"), affinity(count), INVALID_PARAMETERS);
    report::affinity(format_args!("AFFINITY_INFO(Aff1 = 1, no such vCPU)"), affinity(0x100), INVALID_PARAMETERS);

    // `CPU_ON` row: "`INVALID_PARAMETERS` (-2) for an MPIDR that is not one of the partition's vCPUs; `ALREADY_ON`".
    let entry = arch::secondary_entry() as u64;
    report::status(
        format_args!("CPU_ON(Aff0 = {count}, no such vCPU)"),
        hvc_status(CPU_ON_32, [count, entry, 1]),
        INVALID_PARAMETERS,
    );
    report::status(
        format_args!("CPU_ON(Aff1 = 1, no such vCPU)"),
        hvc_status(CPU_ON_32, [0x100, entry, 1]),
        INVALID_PARAMETERS,
    );
    report::status(format_args!("CPU_ON(vCPU 0, the caller)"), hvc_status(CPU_ON_32, [own, entry, 0]), ALREADY_ON);

    // Start vCPU 1; until it runs it is "on pending" or already "on".
    let started = smp::start_cpu(1, second, secondary).map_or_else(|e| e.code(), |()| SUCCESS);
    report::status(format_args!("CPU_ON(vCPU 1) (native width, through guest-rt)"), started, SUCCESS);
    let state = affinity(second);
    report::check(
        state == AFF_ON || state == AFF_ON_PENDING,
        format_args!("AFFINITY_INFO(vCPU 1) right after CPU_ON"),
        format_args!("{state} ({})", affinity_name(state)),
        format_args!("0 (on) or 2 (on pending)"),
    );
    report::status_either(
        format_args!("CPU_ON(vCPU 1) again right away"),
        hvc_status(CPU_ON_32, [second, entry, 1]),
        ALREADY_ON,
        ON_PENDING,
    );
    let up = within(WAIT_MS, || ENTRIES.load(Ordering::Acquire) >= 1);
    report::holds(format_args!("vCPU 1 runs after CPU_ON"), up, format_args!("{}", yes(up)), "yes");
    if !up {
        return;
    }
    report::affinity(format_args!("AFFINITY_INFO(vCPU 1) once it runs"), affinity(second), AFF_ON);
    report::status(format_args!("CPU_ON(vCPU 1) while on"), hvc_status(CPU_ON_32, [second, entry, 1]), ALREADY_ON);

    // `CPU_OFF` row: "does not return on success"; then the vCPU is off and can be started again.
    OFF_AFTER.store(1, Ordering::Release);
    let off = within(WAIT_MS, || affinity(second) == AFF_OFF);
    report::holds(
        format_args!("AFFINITY_INFO(vCPU 1) after its CPU_OFF"),
        off,
        format_args!("{}", yes(off)),
        "1 (off)",
    );
    report::dec(format_args!("CPU_OFF returns on vCPU 1"), OFF_RETURNED.load(Ordering::Acquire).into(), 0);
    if !off {
        return;
    }
    report::status(
        format_args!("CPU_ON(vCPU 1) after CPU_OFF (SMC32)"),
        hvc_status(CPU_ON_32, [second, entry, 1]),
        SUCCESS,
    );
    let again = within(WAIT_MS, || ENTRIES.load(Ordering::Acquire) >= 2);
    report::holds(format_args!("vCPU 1 runs again after CPU_ON"), again, format_args!("{}", yes(again)), "yes");
    if cfg!(target_arch = "aarch64") && again {
        // Off again, to start it with the SMC64 form too.
        OFF_AFTER.store(2, Ordering::Release);
        let off = within(WAIT_MS, || affinity(second) == AFF_OFF);
        report::holds(
            format_args!("AFFINITY_INFO(vCPU 1) after a second CPU_OFF"),
            off,
            format_args!("{}", yes(off)),
            "1 (off)",
        );
        let got = hvc_status(CPU_ON_64, [second, entry, 1]);
        report::status(format_args!("CPU_ON(vCPU 1) (SMC64)"), got, SUCCESS);
        let third = within(WAIT_MS, || ENTRIES.load(Ordering::Acquire) >= 3);
        report::holds(format_args!("vCPU 1 runs after CPU_ON (SMC64)"), third, format_args!("{}", yes(third)), "yes");
    }
}

/// `AFFINITY_INFO(mpidr, level 0)`, SMC32 form (the only one AArch32 has).
fn affinity(mpidr: u64) -> i32 {
    hvc_status(AFFINITY_INFO_32, [mpidr, 0, 0])
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The entry at which the second vCPU stays on for good: the last CPU_ON [`lifecycle`] makes.
const LAST_ENTRY: u32 = if cfg!(target_arch = "aarch64") { 3 } else { 2 };

/// The second vCPU: checks what it was started with, says it runs, and powers itself off when asked.
fn secondary(index: usize) -> ! {
    let entry = ENTRIES.load(Ordering::Acquire) + 1;
    // Boot section: "they enter at the given address with `x0` = the given context ID" (guest-rt gives the index).
    report::dec(format_args!("vCPU 1 entry {entry}: context ID received in x0/r0"), index as u64, 1);
    // "`MPIDR_EL1` of vCPU *n* reads `0x8000_0000 | n`".
    report::hex(format_args!("vCPU 1 entry {entry}: MPIDR"), arch::mpidr(), 0x8000_0001);
    if entry == 1 {
        crate::boot::registers("vCPU 1");
    }
    ENTRIES.store(entry, Ordering::Release);
    if entry < LAST_ENTRY {
        // vCPU 0 asks at once (it only checks AFFINITY_INFO and CPU_ON in between): a short spin.
        while OFF_AFTER.load(Ordering::Acquire) < entry {
            core::hint::spin_loop();
        }
        let got = hvc_status(CPU_OFF, [0; 3]);
        OFF_RETURNED.store(1, Ordering::Release);
        report::note(format_args!("CPU_OFF returned {got} on vCPU 1"));
    }
    guest_rt::rt::idle()
}
