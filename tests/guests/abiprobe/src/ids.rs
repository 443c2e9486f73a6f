//! The numbers of docs/guest-abi.md, copied from the document by hand: each names the table row (or paragraph) it
//! comes from. Deliberately not imported from `hv-plan`: the probe checks the document, so its expectations must not
//! move when the code does (tests/tests/abi.rs checks the document's tables against `hv-plan` on the host).

// "Hypercalls" table, ID column.
/// Row `SMCCC_VERSION`.
pub const SMCCC_VERSION: u32 = 0x8000_0000;
/// Row `SMCCC_ARCH_FEATURES`.
pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
/// Row `PSCI_VERSION`.
pub const PSCI_VERSION: u32 = 0x8400_0000;
/// Row `PSCI_FEATURES`.
pub const PSCI_FEATURES: u32 = 0x8400_000A;
/// Row `CPU_OFF`.
pub const CPU_OFF: u32 = 0x8400_0002;
/// Row `CPU_SUSPEND`, SMC32 and SMC64.
pub const CPU_SUSPEND_32: u32 = 0x8400_0001;
pub const CPU_SUSPEND_64: u32 = 0xC400_0001;
/// Row `CPU_ON`, SMC32 and SMC64.
pub const CPU_ON_32: u32 = 0x8400_0003;
pub const CPU_ON_64: u32 = 0xC400_0003;
/// Row `AFFINITY_INFO`, SMC32 and SMC64.
pub const AFFINITY_INFO_32: u32 = 0x8400_0004;
pub const AFFINITY_INFO_64: u32 = 0xC400_0004;
/// Row `SYSTEM_OFF`.
pub const SYSTEM_OFF: u32 = 0x8400_0008;
/// Row `SYSTEM_RESET`.
pub const SYSTEM_RESET: u32 = 0x8400_0009;

/// Every PSCI function the table lists, for `PSCI_FEATURES` ("0 for each PSCI function listed here").
pub const PSCI_LISTED: [(&str, u32); 11] = [
    ("PSCI_VERSION", PSCI_VERSION),
    ("PSCI_FEATURES", PSCI_FEATURES),
    ("CPU_OFF", CPU_OFF),
    ("CPU_SUSPEND (SMC32)", CPU_SUSPEND_32),
    ("CPU_SUSPEND (SMC64)", CPU_SUSPEND_64),
    ("CPU_ON (SMC32)", CPU_ON_32),
    ("CPU_ON (SMC64)", CPU_ON_64),
    ("AFFINITY_INFO (SMC32)", AFFINITY_INFO_32),
    ("AFFINITY_INFO (SMC64)", AFFINITY_INFO_64),
    ("SYSTEM_OFF", SYSTEM_OFF),
    ("SYSTEM_RESET", SYSTEM_RESET),
];

/// PSCI functions (Arm DEN 0022) the table does not list: "Every other function ID ... returns NOT_SUPPORTED".
pub const PSCI_UNLISTED: [(&str, u32); 5] = [
    ("MIGRATE", 0x8400_0005),
    ("MIGRATE_INFO_TYPE", 0x8400_0006),
    ("SYSTEM_SUSPEND (SMC64)", 0xC400_000E),
    ("PSCI_STAT_COUNT (SMC32)", 0x8400_0011),
    ("the last PSCI ID (0x8400_001F)", 0x8400_001F),
];

/// `SMCCC_VERSION` and `PSCI_VERSION` rows: `0x1_0001` (1.1).
pub const VERSION_1_1: u32 = 0x1_0001;

// "hv-static vendor calls" table, ID column.
/// Row `HV_SCHED_FRAME`.
pub const HV_SCHED_FRAME: u32 = 0x8600_0010;
/// Row `HV_SCHED_WINDOW`.
pub const HV_SCHED_WINDOW: u32 = 0x8600_0011;
/// Row `HV_CPU_EXITS`.
pub const HV_CPU_EXITS: u32 = 0x8600_0012;
/// Row `HV_CHANNEL_SIGNAL` (1.2).
pub const HV_CHANNEL_SIGNAL: u32 = 0x8600_0013;
/// Row `HV_PARTITION_INFO` (1.4).
pub const HV_PARTITION_INFO: u32 = 0x8600_0014;
/// Row `HV_PARTITION_CONTROL` (1.4).
pub const HV_PARTITION_CONTROL: u32 = 0x8600_0015;

// Result codes, as the tables write them.
/// `SMCCC_ARCH_FEATURES` row and the vendor section: `NOT_SUPPORTED` (-1).
pub const NOT_SUPPORTED: i32 = -1;
/// `CPU_ON` row (and `HV_SCHED_WINDOW`, `HV_CHANNEL_SIGNAL`, `HV_PARTITION_*`): `INVALID_PARAMETERS` (-2).
pub const INVALID_PARAMETERS: i32 = -2;
/// `CPU_ON` and `HV_PARTITION_*` rows: `DENIED` (-3).
pub const DENIED: i32 = -3;
/// `CPU_ON` row: `ALREADY_ON` (-4).
pub const ALREADY_ON: i32 = -4;
/// `CPU_ON` row: `ON_PENDING` (-5).
pub const ON_PENDING: i32 = -5;
/// SUCCESS: the `x0` = 0 of every row.
pub const SUCCESS: i32 = 0;

/// `AFFINITY_INFO` row: "0 on, 1 off, 2 on pending".
pub const AFF_ON: i32 = 0;
pub const AFF_OFF: i32 = 1;
pub const AFF_ON_PENDING: i32 = 2;

/// `HV_PARTITION_INFO` row, items: "0 state ..., 1 restarts since boot, 2 why it last stopped ..., 3 the PC of its
/// last fault, 4 the guest-physical address its last fault accessed (0 when none), 5 entries into hv-static".
pub const ITEM_STATE: u32 = 0;
pub const ITEM_RESTARTS: u32 = 1;
pub const ITEM_LAST_CAUSE: u32 = 2;
pub const ITEM_FAULT_PC: u32 = 3;
pub const ITEM_FAULT_ADDRESS: u32 = 4;
pub const ITEM_EXITS: u32 = 5;
/// The first item that does not exist.
pub const ITEM_NONE: u32 = 6;
/// Item 0's "1 running"; item 2's "0 never did".
pub const STATE_RUNNING: u64 = 1;
pub const CAUSE_NEVER: u64 = 0;
/// `HV_PARTITION_CONTROL` row, operations: "0 stop, 1 start, 2 restart".
pub const OP_START: u32 = 1;

/// The name the tables give a status code, for the report.
pub fn status_name(code: i32) -> &'static str {
    match code {
        SUCCESS => "SUCCESS",
        NOT_SUPPORTED => "NOT_SUPPORTED",
        INVALID_PARAMETERS => "INVALID_PARAMETERS",
        DENIED => "DENIED",
        ALREADY_ON => "ALREADY_ON/ALREADY",
        ON_PENDING => "ON_PENDING",
        _ => "?",
    }
}

/// The name of an `AFFINITY_INFO` answer, for the report.
pub fn affinity_name(code: i32) -> &'static str {
    match code {
        AFF_ON => "on",
        AFF_OFF => "off",
        AFF_ON_PENDING => "on pending",
        other => status_name(other),
    }
}
