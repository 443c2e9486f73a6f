//! The kinds of things a system plan names, shared by the board descriptions, the image builder and hv-static:
//! one definition each, so a variant added on one side exists on the other (issue 16).

/// Version of the GIC architecture the board and every partition use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GicVersion {
    V2,
    V3,
}

impl GicVersion {
    /// The number used in configs and on QEMU's `gic-version=` option.
    pub const fn number(self) -> u32 {
        match self {
            GicVersion::V2 => 2,
            GicVersion::V3 => 3,
        }
    }

    /// The version with the given number (2 or 3).
    pub const fn from_number(n: i64) -> Option<GicVersion> {
        match n {
            2 => Some(GicVersion::V2),
            3 => Some(GicVersion::V3),
            _ => None,
        }
    }
}

/// Kind of console UART, which selects hv-static's driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartKind {
    /// Arm PrimeCell PL011.
    Pl011,
    /// A 16550-compatible UART (on Allwinner SoCs a Synopsys DesignWare APB UART, `snps,dw-apb-uart`): its 8-bit
    /// registers lie `1 << reg_shift` bytes apart and are accessed 32 bits wide (`reg-io-width = <4>`).
    Ns16550 { reg_shift: u32 },
    /// The Cadence UART of Xilinx Zynq UltraScale+ and Zynq-7000 SoCs (`cdns,uart-r1p12`, `xlnx,xuartps`).
    Cadence,
}

/// How the hypervisor starts the board's other CPUs (the board's boot firmware decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuStart {
    /// PSCI `CPU_ON` through SMC: QEMU virt's built-in firmware, U-Boot's PSCI, Trusted Firmware.
    Psci,
    /// The boot loader parks the other CPUs in WFI, each polling a flags register and jumping to the address it
    /// holds once it is non-zero (the protocol of Arm's Versatile Express boot monitor, which QEMU's boot stub
    /// follows). The register is cleared through `clear` (writing ones clears bits) and set through `set`; an SGI
    /// then wakes the CPU. There is no context argument: a CPU started this way finds itself by its MPIDR.
    SysFlags { set: u64, clear: u64 },
    /// The boot loader parks the other CPUs (AArch64, at EL2) in a spin table: each waits in WFE, reading its
    /// 64-bit release address and jumping to the address it holds once it is non-zero (Linux's arm64
    /// `enable-method = "spin-table"`). CPU n's (MPIDR affinity 0 = n) is `release_base + 8 * n` (the Raspberry
    /// Pi 4's firmware and QEMU's `raspi4b`: 0xd8, 0xe0, 0xe8, 0xf0). There is no context argument, and no firmware
    /// answers SMC calls: nothing else may be asked of it.
    SpinTable { release_base: u64 },
}

/// How much hv-static says on its console; each level includes the ones before it. Partition output is never
/// filtered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Only what went wrong: partition faults, boot failures.
    Error,
    /// Also what may go wrong: configuration mismatches noticed at boot.
    Warn,
    /// Also the boot banner, partitions starting, stopping and restarting, console focus changes.
    Info,
    /// Also per-event detail useful when bringing up a board.
    Debug,
}

impl LogLevel {
    /// Every level, least verbose first.
    pub const ALL: [LogLevel; 4] = [LogLevel::Error, LogLevel::Warn, LogLevel::Info, LogLevel::Debug];

    /// As configs write it.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }

    pub fn from_name(name: &str) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// What happens when a partition faults (a stage-2 or unhandled-trap fault, or its watchdog expires).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPolicy {
    /// Stop every vCPU of the partition; the others keep running.
    Stop,
    /// Start the partition again from its images, RAM scrubbed, every device reset, unless it has already been
    /// restarted `max_restarts` times within the last `window_ns`: then stop it, as `Stop` would.
    Restart {
        /// Restarts allowed within any `window_ns` (1 ..= [`MAX_RESTARTS`]).
        max_restarts: u32,
        /// The window the budget counts restarts in, in nanoseconds.
        window_ns: u64,
        /// How long the partition stays down before its restart begins, in nanoseconds.
        delay_ns: u64,
    },
}

/// The largest restart budget: hv-static keeps the times of the last this many restarts per partition.
pub const MAX_RESTARTS: u32 = 32;

impl FaultPolicy {
    /// As configs write it.
    pub fn name(self) -> &'static str {
        match self {
            FaultPolicy::Stop => "stop",
            FaultPolicy::Restart { .. } => "restart",
        }
    }
}

/// Every variant and field spelled out: a new one is a compile error here until it is baked.
#[cfg(feature = "bake")]
mod bake {
    use super::{CpuStart, FaultPolicy, GicVersion, LogLevel, UartKind};
    use crate::bake::{Bake, Expr};
    use alloc::vec;

    impl Bake for GicVersion {
        fn bake(&self) -> Expr {
            Expr::atom(match self {
                GicVersion::V2 => "GicVersion::V2",
                GicVersion::V3 => "GicVersion::V3",
            })
        }
    }

    impl Bake for UartKind {
        fn bake(&self) -> Expr {
            match *self {
                UartKind::Pl011 => Expr::atom("UartKind::Pl011"),
                UartKind::Ns16550 { reg_shift } => {
                    Expr::strukt("UartKind::Ns16550", vec![("reg_shift", reg_shift.bake())])
                }
                UartKind::Cadence => Expr::atom("UartKind::Cadence"),
            }
        }
    }

    impl Bake for CpuStart {
        fn bake(&self) -> Expr {
            match *self {
                CpuStart::Psci => Expr::atom("CpuStart::Psci"),
                CpuStart::SysFlags { set, clear } => {
                    Expr::strukt("CpuStart::SysFlags", vec![("set", set.bake()), ("clear", clear.bake())])
                }
                CpuStart::SpinTable { release_base } => {
                    Expr::strukt("CpuStart::SpinTable", vec![("release_base", release_base.bake())])
                }
            }
        }
    }

    impl Bake for LogLevel {
        fn bake(&self) -> Expr {
            Expr::atom(match self {
                LogLevel::Error => "LogLevel::Error",
                LogLevel::Warn => "LogLevel::Warn",
                LogLevel::Info => "LogLevel::Info",
                LogLevel::Debug => "LogLevel::Debug",
            })
        }
    }

    impl Bake for FaultPolicy {
        fn bake(&self) -> Expr {
            match *self {
                FaultPolicy::Stop => Expr::atom("FaultPolicy::Stop"),
                FaultPolicy::Restart { max_restarts, window_ns, delay_ns } => Expr::strukt(
                    "FaultPolicy::Restart",
                    vec![
                        ("max_restarts", max_restarts.bake()),
                        ("window_ns", window_ns.bake()),
                        ("delay_ns", delay_ns.bake()),
                    ],
                ),
            }
        }
    }
}
