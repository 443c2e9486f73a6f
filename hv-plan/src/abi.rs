//! The guest ABI's numbers (docs/guest-abi.md): function IDs of the calls a partition makes with `HVC #0` (or a
//! trapped `SMC #0`), their result codes, and the versions hv-static reports. Named as the document and the Arm
//! specifications name them, so that `tests/guest_abi_doc.rs` can check every ID table of the document against
//! [`DOCUMENTED`].

/// The guest ABI's version, announced in each partition's device tree (`/hypervisor/abi-version`): a minor
/// version adds calls or properties, a major version would change one.
pub const VERSION: (u32, u32) = (1, 5);

/// SMC Calling Convention 1.1 (Arm DEN 0028): the architecture calls and the bits of a function ID.
pub mod smccc {
    /// Bit 31 of a function ID: a fast call (every call hv-static answers is one).
    pub const FAST_CALL: u32 = 1 << 31;
    /// Bit 30 of a function ID: the SMC64/HVC64 calling convention (arguments in whole X registers).
    pub const SMC64: u32 = 1 << 30;

    pub const SMCCC_VERSION: u32 = 0x8000_0000;
    pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
    /// The branch-predictor invalidation firmware may offer (SMCCC 1.1, CVE-2017-5715): hv-static calls it on its
    /// own firmware when it switches partitions; a partition asking hv-static for it gets `NOT_SUPPORTED`.
    pub const SMCCC_ARCH_WORKAROUND_1: u32 = 0x8000_8000;

    /// `SMCCC_VERSION`'s answer: 1.1 (major in bits 30:16, minor in 15:0).
    pub const VERSION_1_1: u32 = 0x1_0001;
    /// The result of any function ID that is not implemented (SMCCC §5.2), as a signed 32-bit value.
    pub const NOT_SUPPORTED: i32 = -1;
}

/// PSCI 1.1 (Arm DEN 0022): the subset hv-static implements for partitions, and PSCI's result codes.
pub mod psci {
    use super::smccc::SMC64;

    pub const PSCI_VERSION: u32 = 0x8400_0000;
    pub const CPU_SUSPEND_32: u32 = 0x8400_0001;
    pub const CPU_SUSPEND_64: u32 = CPU_SUSPEND_32 | SMC64;
    pub const CPU_OFF: u32 = 0x8400_0002;
    pub const CPU_ON_32: u32 = 0x8400_0003;
    pub const CPU_ON_64: u32 = CPU_ON_32 | SMC64;
    pub const AFFINITY_INFO_32: u32 = 0x8400_0004;
    pub const AFFINITY_INFO_64: u32 = AFFINITY_INFO_32 | SMC64;
    pub const SYSTEM_OFF: u32 = 0x8400_0008;
    pub const SYSTEM_RESET: u32 = 0x8400_0009;
    pub const PSCI_FEATURES: u32 = 0x8400_000A;

    /// `PSCI_VERSION`'s answer: 1.1.
    pub const VERSION_1_1: u32 = 0x1_0001;

    /// Result codes (PSCI §5.2.2), signed 32-bit. hv-static returns the first six; the rest are named so that a
    /// guest on other firmware can report them.
    pub const SUCCESS: i32 = 0;
    pub const NOT_SUPPORTED: i32 = -1;
    pub const INVALID_PARAMETERS: i32 = -2;
    pub const DENIED: i32 = -3;
    pub const ALREADY_ON: i32 = -4;
    pub const ON_PENDING: i32 = -5;
    pub const INTERNAL_FAILURE: i32 = -6;
    pub const NOT_PRESENT: i32 = -7;
    pub const DISABLED: i32 = -8;
    pub const INVALID_ADDRESS: i32 = -9;

    /// `AFFINITY_INFO`'s answers for a vCPU.
    pub const AFFINITY_ON: i32 = 0;
    pub const AFFINITY_OFF: i32 = 1;
    pub const AFFINITY_ON_PENDING: i32 = 2;
}

/// hv-static's own calls: SMCCC vendor-specific hypervisor service calls (owning entity 6), 32-bit fast calls.
pub mod hv {
    /// The calling vCPU's cyclic schedule: major frame length and when frame 0 started.
    pub const HV_SCHED_FRAME: u32 = 0x8600_0010;
    /// The n-th window (in time order) in which the calling vCPU runs, relative to the frame start.
    pub const HV_SCHED_WINDOW: u32 = 0x8600_0011;
    /// Entries into hv-static while the calling vCPU ran, since boot.
    pub const HV_CPU_EXITS: u32 = 0x8600_0012;
    /// Rings the doorbells of the other members of one of the calling partition's channels (ABI 1.2).
    pub const HV_CHANNEL_SIGNAL: u32 = 0x8600_0013;
    /// One item of a partition's state: itself, or one it manages (ABI 1.4).
    pub const HV_PARTITION_INFO: u32 = 0x8600_0014;
    /// Stops, starts or restarts a partition the caller manages (ABI 1.4).
    pub const HV_PARTITION_CONTROL: u32 = 0x8600_0015;

    /// Result codes of the vendor calls: PSCI's numbering.
    pub const SUCCESS: i32 = 0;
    pub const NOT_SUPPORTED: i32 = -1;
    pub const INVALID_PARAMETERS: i32 = -2;
    /// The caller may not do this to that partition (it does not manage it).
    pub const DENIED: i32 = -3;
    /// Nothing was done: the partition is already as asked, or another stop or restart has it.
    pub const ALREADY: i32 = -4;

    /// `HV_PARTITION_INFO`'s items (its second argument).
    pub mod info {
        /// The partition's state: one of [`STOPPED`], [`RUNNING`], [`STOPPING`], [`RESTARTING`].
        pub const STATE: u32 = 0;
        /// Restarts since boot, whatever their cause.
        pub const RESTARTS: u32 = 1;
        /// Why it last stopped or restarted: one of the `CAUSE_*` values.
        pub const LAST_CAUSE: u32 = 2;
        /// The PC of its last fault (0: none).
        pub const FAULT_PC: u32 = 3;
        /// The guest-physical address its last fault accessed (0: none, or a fault without one).
        pub const FAULT_ADDRESS: u32 = 4;
        /// Entries into hv-static while its vCPUs ran, since boot (all vCPUs, modulo 2^64).
        pub const EXITS: u32 = 5;

        pub const STOPPED: u64 = 0;
        pub const RUNNING: u64 = 1;
        pub const STOPPING: u64 = 2;
        pub const RESTARTING: u64 = 3;

        pub const CAUSE_NONE: u64 = 0;
        pub const CAUSE_FAULT: u64 = 1;
        pub const CAUSE_WATCHDOG: u64 = 2;
        pub const CAUSE_RESET: u64 = 3;
        pub const CAUSE_POWER_OFF: u64 = 4;
        pub const CAUSE_MANAGER: u64 = 5;
    }

    /// `HV_PARTITION_CONTROL`'s operations (its second argument).
    pub mod control {
        /// Stop every vCPU of a running partition.
        pub const STOP: u32 = 0;
        /// Start a stopped partition from its images (RAM zeroed, as a restart).
        pub const START: u32 = 1;
        /// Restart a running partition from its images, or start a stopped one.
        pub const RESTART: u32 = 2;
    }
}

/// Every function ID docs/guest-abi.md lists, by the name its tables give it (a call with an SMC32 and an SMC64
/// form appears twice): what the document is checked against, and what a probe of the whole ABI calls.
pub const DOCUMENTED: &[(&str, u32)] = &[
    ("SMCCC_VERSION", smccc::SMCCC_VERSION),
    ("SMCCC_ARCH_FEATURES", smccc::SMCCC_ARCH_FEATURES),
    ("PSCI_VERSION", psci::PSCI_VERSION),
    ("PSCI_FEATURES", psci::PSCI_FEATURES),
    ("CPU_OFF", psci::CPU_OFF),
    ("CPU_SUSPEND", psci::CPU_SUSPEND_32),
    ("CPU_SUSPEND", psci::CPU_SUSPEND_64),
    ("CPU_ON", psci::CPU_ON_32),
    ("CPU_ON", psci::CPU_ON_64),
    ("AFFINITY_INFO", psci::AFFINITY_INFO_32),
    ("AFFINITY_INFO", psci::AFFINITY_INFO_64),
    ("SYSTEM_OFF", psci::SYSTEM_OFF),
    ("SYSTEM_RESET", psci::SYSTEM_RESET),
    ("HV_SCHED_FRAME", hv::HV_SCHED_FRAME),
    ("HV_SCHED_WINDOW", hv::HV_SCHED_WINDOW),
    ("HV_CPU_EXITS", hv::HV_CPU_EXITS),
    ("HV_CHANNEL_SIGNAL", hv::HV_CHANNEL_SIGNAL),
    ("HV_PARTITION_INFO", hv::HV_PARTITION_INFO),
    ("HV_PARTITION_CONTROL", hv::HV_PARTITION_CONTROL),
];
