//! The checked system: what `validate` produces and every later step (layout, device trees, generated config)
//! consumes. Spans are kept where a later step can still find a problem (layout, kernel contents).

use std::path::PathBuf;

use board_support::{Board, Device, GicVersion, Uart};

use crate::diag::Span;

/// Limits on what one config may hold (docs/config.md, "Limits"). Each is far above what a real system of
/// hv-static needs (boards have at most 8 CPUs), and low enough that checking the largest config they allow takes
/// milliseconds. They are checked right after parsing, before any rule that compares items with each other.
pub mod limits {
    use crate::units::{KIB, TIB};

    /// `[[partition]]` tables.
    pub const PARTITIONS: usize = 64;
    /// Entries of a partition's `vcpus` (each needs a CPU of its own, so the board's CPU count bounds it anyway).
    pub const VCPUS: usize = 64;
    /// Entries of a pool's `cpus` and of a window's `cpus`.
    pub const CPUS: usize = 64;
    /// A cyclic pool's windows, written or synthesized from budgets.
    pub const WINDOWS: usize = 1024;
    /// Entries of a partition's `passthrough`.
    pub const PASSTHROUGH: usize = 64;
    /// `[[disk]]`, `[[network]]` and `[[channel]]` tables, each.
    pub const DISKS: usize = 256;
    pub const NETWORKS: usize = 256;
    pub const CHANNELS: usize = 256;
    /// Entries of a channel's `partitions` (each partition once).
    pub const CHANNEL_MEMBERS: usize = PARTITIONS;
    /// Entries of a partition's `manages` (each other partition once).
    pub const MANAGES: usize = PARTITIONS;
    /// Characters of a partition, pool, disk, network or channel name (a partition's prefixes its console lines).
    pub const NAME_LEN: usize = 32;
    /// Bytes of a file path (`kernel`, `ramdisk`, `dt_overlay`, a disk's `image`) or a passthrough device path:
    /// Linux's PATH_MAX.
    pub const PATH_LEN: usize = 4096;
    /// Bytes of a partition's `bootargs`: far beyond what a kernel reads (Linux: 2047 on arm64, 1023 on 32-bit
    /// arm, a warning), and small enough that the partition's device tree keeps inside its 2 MiB region.
    pub const BOOTARGS: usize = 64 * KIB as usize;
    /// A cyclic pool's major frame, written or the least common multiple of its periods, in nanoseconds.
    pub const MAJOR_FRAME: u64 = crate::schedule::MAX_SYNTH_FRAME;
    /// A disk's size: a RAM-backed disk is also bounded by board RAM, a host-backed one by the board's disk.
    pub const DISK_SIZE: u64 = TIB;
}

/// A validated system description.
#[derive(Clone, Debug)]
pub struct System {
    /// The config file's stem: names the output directory and is printed at boot.
    pub name: String,
    pub board: &'static Board,
    pub gic: GicVersion,
    /// RAM the board is used with.
    pub ram_size: u64,
    pub hypervisor: Hypervisor,
    pub pools: Vec<Pool>,
    pub partitions: Vec<Partition>,
    /// `[[disk]]` tables, in file order (partitions refer to them by index).
    pub disks: Vec<Disk>,
    /// `[[network]]` tables, in file order.
    pub networks: Vec<Network>,
    /// `[[channel]]` tables, in file order.
    pub channels: Vec<Channel>,
    /// `board.boot_image`: the user's boot image (a ZynqMP `BOOT.BIN`), resolved against the config's directory;
    /// only boards whose U-Boot comes inside one take it, and only a card needs it.
    pub boot_image: Option<PathBuf>,
}

/// What a partition may do with a disk or channel it attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

impl Access {
    /// As a disk attachment writes it: `"ro"`, `"rw"`.
    pub fn disk_name(self) -> &'static str {
        match self {
            Access::ReadOnly => "ro",
            Access::ReadWrite => "rw",
        }
    }

    /// As a channel member writes it (and the channel's device-tree node says it): `"r"`, `"rw"`.
    pub fn channel_name(self) -> &'static str {
        match self {
            Access::ReadOnly => "r",
            Access::ReadWrite => "rw",
        }
    }

    pub fn writable(self) -> bool {
        self == Access::ReadWrite
    }
}

/// Where a disk's sectors live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskBacking {
    /// Host-physical memory the layout reserves, filled from the image (or zeroed) at boot: writes last until the
    /// board is reset.
    Ram,
    /// A slice of the board's own block device ([`board_support::Board::host_disk`]): writes persist.
    Host,
}

impl DiskBacking {
    pub fn name(self) -> &'static str {
        match self {
            DiskBacking::Ram => "ram",
            DiskBacking::Host => "host",
        }
    }
}

/// A virtio block device's contents.
#[derive(Clone, Debug)]
pub struct Disk {
    pub name: String,
    /// The raw image the disk starts with; `None`: it starts zeroed.
    pub image: Option<PathBuf>,
    /// Bytes, a multiple of 512 (an image's size rounded up).
    pub size: u64,
    pub backing: DiskBacking,
    /// The `image = ...` or `size = ...` value, for problems the layout finds.
    pub span: Span,
}

/// A virtual switch: every partition that joins it gets a virtio network device on it.
#[derive(Clone, Debug)]
pub struct Network {
    pub name: String,
    /// Whether the board's network device ([`board_support::Board::host_net`]) is a port of the switch.
    pub uplink: bool,
}

/// A shared-memory region mapped into each member partition, with a doorbell interrupt per member.
#[derive(Clone, Debug)]
pub struct Channel {
    pub name: String,
    /// Bytes, a multiple of 4 KiB.
    pub size: u64,
    /// Member partitions, in the order the config lists them; any number of them may write.
    pub members: Vec<ChannelMember>,
    /// The `size = ...` value.
    pub size_span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelMember {
    /// Index into `System::partitions`.
    pub partition: usize,
    pub access: Access,
}

/// A disk a partition attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskAttachment {
    /// Index into `System::disks`.
    pub disk: usize,
    pub access: Access,
}

/// A network a partition joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkAttachment {
    /// Index into `System::networks`.
    pub network: usize,
    /// Its device's address: given, or derived from the network's and the partition's names.
    pub mac: [u8; 6],
}

/// `52:54:00:12:34:56`.
pub fn mac_string(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

#[derive(Clone, Debug)]
pub struct Hypervisor {
    pub console: &'static Uart,
    /// How much hv-static says on its console.
    pub log_level: LogLevel,
    /// Room for the hypervisor image and its bss, from the board's load address.
    pub budget: u64,
    pub budget_span: Option<Span>,
}

/// How much hv-static says on its console, and what a partition's fault does (defined in `hv-plan`).
pub use hv_plan::system::{FaultPolicy, LogLevel};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheduler {
    /// One vCPU per physical CPU, run to completion: no tick, no switching.
    Pinned,
    /// A fixed table of windows repeated every major frame (time partitioning).
    Cyclic,
}

impl Scheduler {
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Pinned => "pinned",
            Scheduler::Cyclic => "cyclic",
        }
    }
}

/// What a guest's WFI instruction does in a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wfi {
    /// Trapped: the CPU sleeps in the hypervisor until the vCPU has an interrupt to take.
    Trap,
    /// Executed by the hardware with no exit, like Xen's `vwfi=native`: lowest wake-up latency.
    Native,
}

impl Wfi {
    pub fn name(self) -> &'static str {
        match self {
            Wfi::Trap => "trap",
            Wfi::Native => "native",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Pool {
    pub name: String,
    /// Physical CPU indices, as written.
    pub cpus: Vec<u32>,
    pub scheduler: Scheduler,
    pub wfi: Wfi,
    /// The table of a cyclic pool (`None` for pinned pools).
    pub cyclic: Option<crate::schedule::CyclicSchedule>,
}

/// Where a partition's kernel comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelSource {
    /// A bare-metal guest of this workspace, by name (`hello` is the package `guest-hello`).
    Guest { name: String, package: String },
    /// A file: an arm64 Image (ARMv7 boards: an ARM zImage) or an ELF.
    File(PathBuf),
}

#[derive(Clone, Debug)]
pub struct Kernel {
    pub source: KernelSource,
    /// The `kernel = ...` value, for errors found once the kernel is built or read.
    pub span: Span,
}

/// A compiled device-tree overlay merged into the partition's generated tree.
#[derive(Clone, Debug)]
pub struct DtOverlay {
    pub path: PathBuf,
    /// The path as the config writes it.
    pub written: String,
    /// Parsed and checked; merging it can still fail (it may touch what the generator owns).
    pub overlay: dom0_less::Overlay,
    /// The `dt_overlay = ...` value.
    pub span: Span,
}

/// An initial ramdisk, loaded after the kernel and announced in `/chosen`.
#[derive(Clone, Debug)]
pub struct Ramdisk {
    pub path: PathBuf,
    /// The `ramdisk = ...` value.
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Memory {
    pub size: u64,
    /// Guest-physical base.
    pub ipa: u64,
    /// Host-physical base, when the config fixes it; otherwise the layout chooses.
    pub pa: Option<u64>,
    pub size_span: Span,
    pub pa_span: Option<Span>,
}

#[derive(Clone, Debug)]
pub struct Partition {
    pub name: String,
    /// Index in config order.
    pub id: u16,
    /// Index into `System::pools`.
    pub pool: usize,
    /// The physical CPU each vCPU is pinned to (vCPU i runs on `vcpus[i]`).
    pub vcpus: Vec<u32>,
    pub memory: Memory,
    pub kernel: Kernel,
    pub ramdisk: Option<Ramdisk>,
    pub bootargs: String,
    pub console: bool,
    pub on_fault: FaultPolicy,
    /// Devices passed through to the partition, as the config lists them: their MMIO is mapped at
    /// guest-physical = host-physical and their SPIs are the partition's alone.
    pub passthrough: Vec<&'static Device>,
    /// Extra device-tree content.
    pub dt_overlay: Option<DtOverlay>,
    /// Disks the partition attaches, in the order of its `disks`.
    pub disks: Vec<DiskAttachment>,
    /// Networks the partition joins, in the order of its `networks`.
    pub networks: Vec<NetworkAttachment>,
    /// Whether it has an emulated SP805 watchdog at `guest_map::WATCHDOG`.
    pub watchdog: bool,
    /// The partitions it manages (indices into `System::partitions`), in the order of its `manages`.
    pub manages: Vec<usize>,
    /// The partition's `name = ...`.
    pub name_span: Span,
}

impl Partition {
    /// INTIDs of the partition's passed-through interrupts, ascending, each once.
    pub fn spis(&self) -> Vec<u32> {
        let mut spis: Vec<u32> = self.passthrough.iter().flat_map(|d| d.spis.iter().copied()).collect();
        spis.sort_unstable();
        spis.dedup();
        spis
    }
}

impl System {
    /// Physical CPUs used by any pool, ascending.
    pub fn used_cpus(&self) -> Vec<u32> {
        let mut cpus: Vec<u32> = self.pools.iter().flat_map(|p| p.cpus.iter().copied()).collect();
        cpus.sort_unstable();
        cpus.dedup();
        cpus
    }

    /// QEMU's `-smp`: one more than the highest CPU any pool uses, at least 1.
    pub fn smp(&self) -> u32 {
        self.used_cpus().last().map_or(1, |c| c + 1)
    }

    /// The channels partition `index` maps, in file order, with its access.
    pub fn channels_of(&self, index: usize) -> Vec<(usize, Access)> {
        self.channels
            .iter()
            .enumerate()
            .filter_map(|(c, ch)| ch.members.iter().find(|m| m.partition == index).map(|m| (c, m.access)))
            .collect()
    }

    /// Whether the system has PV devices or channels.
    pub fn uses_pv(&self) -> bool {
        !self.disks.is_empty() || !self.networks.is_empty() || !self.channels.is_empty()
    }

    /// The network whose switch has the board's network device as its uplink (at most one: the board has one).
    pub fn uplink_network(&self) -> Option<usize> {
        self.networks.iter().position(|n| n.uplink)
    }
}
