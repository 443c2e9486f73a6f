//! Board descriptions for hv-static's host tools.
//!
//! A board is plain data: where its RAM, console UART and interrupt controller live, how many CPUs it has, where a
//! boot loader places the hypervisor image and, for boards QEMU emulates, the command line that boots it. One
//! module per board holds one `static` [`Board`]; [`Board::by_name`] finds it by the name configs use.
//!
//! Design rules:
//! - Facts only. Policy (which CPUs a system uses, how partitions are laid out) belongs to the image builder.
//! - `no_std` + `alloc`: the data is usable from anywhere; only the QEMU command line needs `alloc`.
//! - A fact that differs with the GIC version is stored per version, never computed from the other one.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::{format, string::String, vec::Vec};

pub mod qemu_virt_aarch64;

/// Every board this crate describes, in the order hints list them.
pub static BOARDS: &[&Board] = &[&qemu_virt_aarch64::BOARD];

/// 1 KiB, 1 MiB and 1 GiB, for writing sizes readably.
pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// Instruction set the board's CPUs run the hypervisor in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// ARMv8-A, hypervisor at EL2 in AArch64.
    Aarch64,
}

impl Arch {
    /// The name used in target triples and tool names.
    pub const fn name(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The Rust target bare-metal guests are built for.
    pub const fn rust_target(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64-unknown-none",
        }
    }

    /// The Rust target the hypervisor is built for: without FP/SIMD registers, so a trap never disturbs a
    /// partition's FP state (the equivalent of Linux's and Xen's `-mgeneral-regs-only`).
    pub const fn hv_rust_target(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64-unknown-none-softfloat",
        }
    }
}

/// Version of the GIC architecture.
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

/// An interrupt as the GIC device-tree binding names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Irq {
    /// Shared peripheral interrupt n (INTID 32 + n).
    Spi(u32),
    /// Private peripheral interrupt n (INTID 16 + n).
    Ppi(u32),
}

impl Irq {
    /// The GIC interrupt ID.
    pub const fn intid(self) -> u32 {
        match self {
            Irq::Spi(n) => 32 + n,
            Irq::Ppi(n) => 16 + n,
        }
    }
}

/// Kind of console UART, which selects the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartKind {
    /// Arm PrimeCell PL011.
    Pl011,
}

/// A console UART of the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart {
    /// The name configs use for it (`[hypervisor] console = "uart0"`).
    pub name: &'static str,
    pub kind: UartKind,
    pub base: u64,
    pub size: u64,
    pub irq: Irq,
}

/// GICv3 frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicV3Frames {
    /// Distributor (64 KiB).
    pub gicd: u64,
    /// First redistributor; CPU n's frames start at `gicr + n * gicr_stride`.
    pub gicr: u64,
    /// Size of one CPU's redistributor frames (RD_base + SGI_base: 128 KiB).
    pub gicr_stride: u64,
}

/// GICv2 frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicV2Frames {
    /// Distributor.
    pub gicd: u64,
    /// CPU interface.
    pub gicc: u64,
    /// Virtual interface control (the hypervisor's list registers).
    pub gich: u64,
    /// Virtual CPU interface (mapped into partitions).
    pub gicv: u64,
}

/// The board's interrupt controller, per supported version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gic {
    /// The version used when a config does not choose one.
    pub default_version: GicVersion,
    /// GICv3 frames, when the board can have a GICv3.
    pub v3: Option<GicV3Frames>,
    /// GICv2 frames, when the board can have a GICv2.
    pub v2: Option<GicV2Frames>,
    /// Virtual interface maintenance interrupt, as a PPI number's INTID (25 on most boards).
    pub maintenance_intid: u32,
}

impl Gic {
    /// Whether the board can have a GIC of this version.
    pub const fn supports(&self, version: GicVersion) -> bool {
        match version {
            GicVersion::V2 => self.v2.is_some(),
            GicVersion::V3 => self.v3.is_some(),
        }
    }

    /// The versions the board supports, oldest first.
    pub fn versions(&self) -> Vec<GicVersion> {
        [GicVersion::V2, GicVersion::V3]
            .into_iter()
            .filter(|v| self.supports(*v))
            .collect()
    }
}

/// Generic timer PPIs (as INTIDs), as the `arm,armv8-timer` binding orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerIrqs {
    pub secure_phys: u32,
    pub nonsecure_phys: u32,
    pub virt: u32,
    pub hyp_phys: u32,
}

/// How QEMU emulates the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Qemu {
    /// The emulator binary.
    pub binary: &'static str,
    /// The Debian package that provides it.
    pub package: &'static str,
    /// `-M` machine name.
    pub machine: &'static str,
    /// Machine options always given (`-M machine,opt,opt`).
    pub machine_options: &'static [&'static str],
    /// Whether the machine takes `gic-version=N`.
    pub gic_version_option: bool,
    /// `-cpu` model for a GICv3 system (its CPU interface must be the system-register one).
    pub cpu_gicv3: &'static str,
    /// `-cpu` model for a GICv2 system.
    pub cpu_gicv2: &'static str,
}

/// What the image builder passes to [`Board::qemu_args`].
#[derive(Clone, Copy, Debug)]
pub struct QemuRun<'a> {
    pub gic: GicVersion,
    /// `-smp`.
    pub cpus: u32,
    /// `-m`, in bytes.
    pub ram_size: u64,
    /// `-kernel`.
    pub kernel: &'a str,
}

/// A board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// The name configs use (`[board] name = "..."`).
    pub name: &'static str,
    /// One line for hints and listings.
    pub description: &'static str,
    pub arch: Arch,
    /// Start of RAM.
    pub ram_base: u64,
    /// RAM size the board is used with (on QEMU: the `-m` given).
    pub ram_size: u64,
    /// Largest RAM the board can have.
    pub max_ram_size: u64,
    /// Number of CPUs the board can have; CPU n has MPIDR affinity n.
    pub max_cpus: u32,
    /// Console UARTs; the first is the default hypervisor console.
    pub uarts: &'static [Uart],
    pub gic: Gic,
    pub timer: TimerIrqs,
    /// Where the boot loader places the hypervisor image (RAM base + the arm64 Image `text_offset`).
    pub hv_load_addr: u64,
    /// Default room for the hypervisor image including its bss.
    pub hv_budget: u64,
    /// How QEMU emulates this board, when it does.
    pub qemu: Option<Qemu>,
}

impl Board {
    /// The board with this name.
    pub fn by_name(name: &str) -> Option<&'static Board> {
        BOARDS.iter().copied().find(|b| b.name == name)
    }

    /// Names of all boards, for hints.
    pub fn names() -> Vec<&'static str> {
        BOARDS.iter().map(|b| b.name).collect()
    }

    /// End of RAM (exclusive) for a RAM size.
    pub const fn ram_end(&self, ram_size: u64) -> u64 {
        self.ram_base + ram_size
    }

    /// The arm64 Image `text_offset` the hypervisor image must carry so a boot loader places it at
    /// [`Board::hv_load_addr`].
    pub const fn hv_text_offset(&self) -> u64 {
        self.hv_load_addr - self.ram_base
    }

    /// The UART with this name.
    pub fn uart(&self, name: &str) -> Option<&'static Uart> {
        self.uarts.iter().find(|u| u.name == name)
    }

    /// The default console UART.
    pub fn default_uart(&self) -> &'static Uart {
        &self.uarts[0]
    }

    /// MPIDR of physical CPU `index`.
    pub const fn cpu_mpidr(&self, index: u32) -> u64 {
        index as u64
    }

    /// QEMU's `-cpu` model for a GIC version.
    pub fn qemu_cpu(&self, gic: GicVersion) -> Option<&'static str> {
        self.qemu.map(|q| match gic {
            GicVersion::V3 => q.cpu_gicv3,
            GicVersion::V2 => q.cpu_gicv2,
        })
    }

    /// The QEMU command line (program first) that boots `run.kernel` on this board, or `None` when QEMU does not
    /// emulate it.
    pub fn qemu_args(&self, run: &QemuRun<'_>) -> Option<Vec<String>> {
        let q = self.qemu?;
        let mut machine = String::from(q.machine);
        for opt in q.machine_options {
            machine.push(',');
            machine.push_str(opt);
        }
        if q.gic_version_option {
            machine.push_str(&format!(",gic-version={}", run.gic.number()));
        }
        let cpu = match run.gic {
            GicVersion::V3 => q.cpu_gicv3,
            GicVersion::V2 => q.cpu_gicv2,
        };
        let args = [
            q.binary.into(),
            "-M".into(),
            machine,
            "-cpu".into(),
            cpu.into(),
            "-smp".into(),
            format!("{}", run.cpus),
            "-m".into(),
            qemu_size(run.ram_size),
            "-nographic".into(),
            "-kernel".into(),
            run.kernel.into(),
        ];
        Some(args.into_iter().collect())
    }
}

/// A size as QEMU's `-m` takes it: `1G`, `512M`, or `K` for odd sizes.
pub fn qemu_size(bytes: u64) -> String {
    if bytes.is_multiple_of(GIB) {
        format!("{}G", bytes / GIB)
    } else if bytes.is_multiple_of(MIB) {
        format!("{}M", bytes / MIB)
    } else {
        format!("{}K", bytes.div_ceil(KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_finds_every_board_and_nothing_else() {
        for b in BOARDS {
            assert_eq!(Board::by_name(b.name), Some(*b));
        }
        assert_eq!(Board::by_name("qemu-virt"), None);
        assert_eq!(Board::names(), ["qemu-virt-aarch64"]);
    }

    #[test]
    fn irq_numbers() {
        assert_eq!(Irq::Spi(1).intid(), 33);
        assert_eq!(Irq::Ppi(9).intid(), 25);
    }

    #[test]
    fn qemu_sizes() {
        assert_eq!(qemu_size(GIB), "1G");
        assert_eq!(qemu_size(1536 * MIB), "1536M");
        assert_eq!(qemu_size(4 * GIB), "4G");
        assert_eq!(qemu_size(3 * KIB), "3K");
    }

    #[test]
    fn gic_version_numbers() {
        assert_eq!(GicVersion::from_number(2), Some(GicVersion::V2));
        assert_eq!(GicVersion::from_number(3), Some(GicVersion::V3));
        assert_eq!(GicVersion::from_number(4), None);
        assert_eq!(GicVersion::V3.number(), 3);
    }
}
