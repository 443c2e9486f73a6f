//! The "Hypercalls" section: SMCCC_VERSION, SMCCC_ARCH_FEATURES, PSCI_VERSION, PSCI_FEATURES of every listed and
//! some unlisted functions, CPU_SUSPEND, unknown IDs, `SMC #0` as a second conduit, and the SMC32/SMC64 register
//! widths. CPU_ON, AFFINITY_INFO and CPU_OFF, which need the second vCPU, are in [`crate::cpus`].

use crate::call::{self, hvc, hvc_status, Via};
use crate::ids::*;
use crate::report;

/// What an AArch64 caller leaves in the upper halves of `x1`-`x3` to see that SMC32 calls ignore them.
const JUNK: u64 = 0xA5A5_A5A5 << 32;

pub fn versions() {
    report::section("smccc");
    // `SMCCC_VERSION` row: `0x1_0001` (1.1).
    report::hex(format_args!("SMCCC_VERSION"), u64::from(hvc(SMCCC_VERSION, [0; 3]).word(0)), VERSION_1_1.into());
    // `SMCCC_ARCH_FEATURES` row: "0 for SMCCC_VERSION-discoverable functions we implement, else NOT_SUPPORTED".
    for (name, fid) in [("SMCCC_VERSION", SMCCC_VERSION), ("SMCCC_ARCH_FEATURES", SMCCC_ARCH_FEATURES)] {
        let got = hvc_status(SMCCC_ARCH_FEATURES, [fid.into(), 0, 0]);
        report::status(format_args!("SMCCC_ARCH_FEATURES({name})"), got, SUCCESS);
    }
    // Arm architecture calls SMCCC 1.1 defines but the table does not list, and a PSCI function (not an Arm
    // architecture call at all).
    for (name, fid) in [
        ("SMCCC_ARCH_WORKAROUND_1", 0x8000_8000),
        ("SMCCC_ARCH_WORKAROUND_2", 0x8000_7FFF),
        ("SMCCC_ARCH_SOC_ID", 0x8000_0002),
        ("PSCI_VERSION", PSCI_VERSION),
    ] {
        let got = hvc_status(SMCCC_ARCH_FEATURES, [u64::from(fid), 0, 0]);
        report::status(format_args!("SMCCC_ARCH_FEATURES({name})"), got, NOT_SUPPORTED);
    }

    report::section("psci");
    // `PSCI_VERSION` row: `0x1_0001` (1.1).
    report::hex(format_args!("PSCI_VERSION"), u64::from(hvc(PSCI_VERSION, [0; 3]).word(0)), VERSION_1_1.into());
    // `PSCI_FEATURES` row: "0 for each PSCI function listed here and for SMCCC_VERSION ..., else NOT_SUPPORTED".
    for (name, fid) in PSCI_LISTED {
        report::status(format_args!("PSCI_FEATURES({name})"), hvc_status(PSCI_FEATURES, [fid.into(), 0, 0]), SUCCESS);
    }
    for (name, fid) in PSCI_UNLISTED {
        let got = hvc_status(PSCI_FEATURES, [fid.into(), 0, 0]);
        report::status(format_args!("PSCI_FEATURES({name})"), got, NOT_SUPPORTED);
    }
    let got = hvc_status(PSCI_FEATURES, [HV_CPU_EXITS.into(), 0, 0]);
    report::status(format_args!("PSCI_FEATURES(HV_CPU_EXITS, not a PSCI function)"), got, NOT_SUPPORTED);
    let got = hvc_status(PSCI_FEATURES, [SMCCC_VERSION.into(), 0, 0]);
    report::status(format_args!("PSCI_FEATURES(SMCCC_VERSION)"), got, SUCCESS);

    // `CPU_SUSPEND` row: "0 at once, for every power state ... the entry point and context ID are not used".
    for (state, kind) in [(0_u64, "standby"), (0x1_0000, "power-down")] {
        let got = hvc_status(CPU_SUSPEND_32, [state, 0, 0]);
        report::status(format_args!("CPU_SUSPEND (SMC32, {kind} state {state:#x})"), got, SUCCESS);
        if cfg!(target_arch = "aarch64") {
            let got = hvc_status(CPU_SUSPEND_64, [state, 0xdead_0000, 7]);
            report::status(format_args!("CPU_SUSPEND (SMC64, {kind} state {state:#x})"), got, SUCCESS);
        }
    }
    report::note(format_args!("SYSTEM_OFF and SYSTEM_RESET end the partition's run: only PSCI_FEATURES asked"));
}

/// "Every other function ID, apart from the vendor calls in the next section, returns `NOT_SUPPORTED` (-1)".
pub fn unknown_ids() {
    report::section("unknown");
    for (name, fid) in PSCI_UNLISTED {
        report::status(format_args!("{name} called"), hvc_status(fid, [0; 3]), NOT_SUPPORTED);
    }
    for (name, fid) in [
        ("SMCCC_ARCH_WORKAROUND_1 called", 0x8000_8000_u32),
        ("an SiP service call (0x8200_0000)", 0x8200_0000),
        ("an OEM service call (0x8300_0000)", 0x8300_0000),
        ("a standard secure call past PSCI (0x8400_0100)", 0x8400_0100),
        ("a trusted OS call (0xB200_0000)", 0xB200_0000),
        ("a yielding call (0x0400_0000)", 0x0400_0000),
        ("0xFFFF_FFFF", 0xFFFF_FFFF),
    ] {
        report::status(format_args!("{name}"), hvc_status(fid, [0; 3]), NOT_SUPPORTED);
    }
}

/// "`SMC #0` is trapped and handled the same way" as `HVC #0`.
pub fn smc_conduit() {
    report::section("smc");
    let version = call::raw(Via::Smc, PSCI_VERSION, [0; 3]).word(0);
    report::hex(format_args!("PSCI_VERSION over SMC #0"), version.into(), VERSION_1_1.into());
    let version = call::raw(Via::Smc, SMCCC_VERSION, [0; 3]).word(0);
    report::hex(format_args!("SMCCC_VERSION over SMC #0"), version.into(), VERSION_1_1.into());
    let got = call::raw(Via::Smc, PSCI_FEATURES, [CPU_ON_32.into(), 0, 0]).status();
    report::status(format_args!("PSCI_FEATURES(CPU_ON) over SMC #0"), got, SUCCESS);
    let got = call::raw(Via::Smc, HV_CPU_EXITS, [0; 3]).status();
    report::status(format_args!("HV_CPU_EXITS over SMC #0"), got, SUCCESS);
    let got = call::raw(Via::Smc, 0x8400_001F, [0; 3]).status();
    report::status(format_args!("an unknown ID (0x8400_001F) over SMC #0"), got, NOT_SUPPORTED);
}

/// "Calls with bit 30 of the function ID clear ... take their arguments in `w1`-`w3`: from an AArch64 partition the
/// upper 32 bits of `x1`-`x3` are ignored, whatever they hold. SMC64 calls (`0xC400_xxxx`) use the whole
/// registers." `own` is the calling vCPU's MPIDR affinity, `channels` how many channels the partition has.
pub fn register_widths(own: u64, partition: u32, channels: u32) {
    report::section("widths");
    if !cfg!(target_arch = "aarch64") {
        report::note(format_args!("AArch32: registers are 32 bits, no upper halves to ignore"));
        return;
    }
    let got = hvc_status(AFFINITY_INFO_32, [JUNK | own, JUNK, JUNK]);
    report::affinity(format_args!("AFFINITY_INFO (SMC32) of itself, junk in x1-x3[63:32]"), got, AFF_ON);
    let got = hvc_status(PSCI_FEATURES, [JUNK | u64::from(CPU_OFF), JUNK, JUNK]);
    report::status(format_args!("PSCI_FEATURES(CPU_OFF), junk in x1-x3[63:32]"), got, SUCCESS);
    let got = hvc_status(SMCCC_ARCH_FEATURES, [JUNK | u64::from(SMCCC_ARCH_FEATURES), JUNK, JUNK]);
    report::status(format_args!("SMCCC_ARCH_FEATURES(SMCCC_ARCH_FEATURES), junk in x1-x3[63:32]"), got, SUCCESS);
    let got = hvc_status(CPU_SUSPEND_32, [JUNK, JUNK, JUNK]);
    report::status(format_args!("CPU_SUSPEND (SMC32), junk in x1-x3[63:32]"), got, SUCCESS);
    let got = hvc_status(HV_PARTITION_INFO, [JUNK | u64::from(partition), JUNK | u64::from(ITEM_STATE), JUNK]);
    report::status(format_args!("HV_PARTITION_INFO(itself, state), junk in x1-x3[63:32]"), got, SUCCESS);
    if channels > 0 {
        let got = hvc_status(HV_CHANNEL_SIGNAL, [JUNK, JUNK, JUNK]);
        report::status(format_args!("HV_CHANNEL_SIGNAL(0), junk in x1-x3[63:32]"), got, SUCCESS);
    }
    // The SMC64 form reads all of x1: Aff3 (bits 39:32) set names no vCPU of the partition.
    let got = hvc_status(AFFINITY_INFO_64, [1 << 32 | own, 0, 0]);
    report::affinity(format_args!("AFFINITY_INFO (SMC64) of itself with Aff3 = 1"), got, INVALID_PARAMETERS);
    let got = hvc_status(AFFINITY_INFO_64, [own, 0, 0]);
    report::affinity(format_args!("AFFINITY_INFO (SMC64) of itself"), got, AFF_ON);
}
