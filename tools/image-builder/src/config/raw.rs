//! The config file as written: every key, with the span it came from. Unknown keys are refused here
//! (`deny_unknown_fields`); everything else is checked in `validate`, which can say which field is wrong and why.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// A value that is an integer or a string (sizes and addresses: `67108864`, `"64MiB"`, `"0x4000_0000"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumOrStr {
    Int(i64),
    Str(String),
}

/// What a size or address may be, in the words diagnostics use.
pub const NUM_OR_STR: &str = "a whole number or text such as \"64MiB\" or \"0x4000_0000\"";

/// The message for a size or address written as a whole number outside what one can hold: `v` when it still
/// fits 64 bits (in quotes it is accepted), else its digits.
fn out_of_range(v: Result<u64, String>) -> String {
    match v {
        Ok(v) => format!(
            "the number {v} is too large for a whole number here (at most 2^63-1, {}): write it in quotes instead: \"{}\"",
            i64::MAX,
            crate::units::hex(v)
        ),
        Err(digits) if digits.starts_with('-') => {
            format!("the number {digits} is too small: sizes and addresses cannot be negative")
        }
        Err(digits) => {
            format!("the number {digits} is too large: sizes and addresses are at most 2^64-1 ({})", u64::MAX)
        }
    }
}

impl<'de> Deserialize<'de> for NumOrStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumOrStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(NUM_OR_STR)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumOrStr, E> {
                Ok(NumOrStr::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumOrStr, E> {
                i64::try_from(v).map(NumOrStr::Int).map_err(|_| E::custom(out_of_range(Ok(v))))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<NumOrStr, E> {
                i64::try_from(v)
                    .map(NumOrStr::Int)
                    .map_err(|_| E::custom(out_of_range(u64::try_from(v).map_err(|_| v.to_string()))))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<NumOrStr, E> {
                i64::try_from(v)
                    .map(NumOrStr::Int)
                    .map_err(|_| E::custom(out_of_range(u64::try_from(v).map_err(|_| v.to_string()))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NumOrStr, E> {
                Ok(NumOrStr::Str(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub board: Spanned<RawBoard>,
    pub hypervisor: Option<Spanned<RawHypervisor>>,
    #[serde(default, rename = "pool")]
    pub pools: Vec<Spanned<RawPool>>,
    #[serde(default, rename = "partition")]
    pub partitions: Vec<Spanned<RawPartition>>,
    /// Virtio block devices partitions attach (`disks = [...]`).
    #[serde(default, rename = "disk")]
    pub disks: Vec<Spanned<RawDisk>>,
    /// Virtual switches partitions join with a virtio network device each (`networks = [...]`).
    #[serde(default, rename = "network")]
    pub networks: Vec<Spanned<RawNetwork>>,
    /// Shared-memory regions between partitions, each with a doorbell interrupt.
    #[serde(default, rename = "channel")]
    pub channels: Vec<Spanned<RawChannel>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDisk {
    pub name: Spanned<String>,
    /// A raw image file, relative to the config file: the disk's contents (exclusive with `size`).
    pub image: Option<Spanned<String>>,
    /// An empty disk of this size (exclusive with `image`).
    pub size: Option<Spanned<NumOrStr>>,
    /// `"ram"` (default) or `"host"` (a slice of the board's own disk).
    pub backing: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub name: Spanned<String>,
    /// Whether the board's network device joins the switch.
    pub uplink: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    pub name: Spanned<String>,
    pub size: Spanned<NumOrStr>,
    pub partitions: Spanned<Vec<Spanned<RawChannelMember>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannelMember {
    pub partition: Spanned<String>,
    /// `"r"` or `"rw"` (default).
    pub access: Option<Spanned<String>>,
}

/// A partition's `disks` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDiskAttachment {
    pub disk: Spanned<String>,
    /// `"ro"` or `"rw"` (default).
    pub access: Option<Spanned<String>>,
}

/// A partition's `networks` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetworkAttachment {
    pub network: Spanned<String>,
    /// `"52:54:00:12:34:56"`; derived from the network's and the partition's names when absent.
    pub mac: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBoard {
    pub name: Spanned<String>,
    pub gic_version: Option<Spanned<i64>>,
    pub ram_size: Option<Spanned<NumOrStr>>,
    /// The user's boot image for a board whose U-Boot comes inside one (the ZCU102's `BOOT.BIN`), relative to the
    /// config file: `build --sdcard` puts it on the card.
    pub boot_image: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHypervisor {
    pub console: Option<Spanned<String>>,
    pub log_level: Option<Spanned<String>>,
    pub memory_budget: Option<Spanned<NumOrStr>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    pub name: Spanned<String>,
    pub cpus: Spanned<Vec<Spanned<i64>>>,
    pub scheduler: Option<Spanned<String>>,
    /// What a guest's WFI does: `"trap"` (the CPU sleeps in the hypervisor until the vCPU's next interrupt) or
    /// `"native"` (the guest's WFI runs on the hardware, as Xen's `vwfi=native`).
    pub wfi: Option<Spanned<String>>,
    /// Cyclic pools: the period the table repeats with (`"10ms"`).
    pub major_frame: Option<Spanned<String>>,
    /// Cyclic pools: the table, as windows of one major frame.
    pub windows: Option<Spanned<Vec<Spanned<RawWindow>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    pub partition: Spanned<String>,
    pub start: Spanned<String>,
    pub duration: Spanned<String>,
    /// CPUs of the pool the window gives to the partition; default: every CPU one of its vCPUs is pinned to.
    pub cpus: Option<Spanned<Vec<Spanned<i64>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPartition {
    pub name: Spanned<String>,
    pub pool: Spanned<String>,
    pub vcpus: Spanned<Vec<Spanned<i64>>>,
    pub memory: Spanned<RawMemory>,
    pub kernel: Spanned<String>,
    /// Path of an initial ramdisk, relative to the config file.
    pub ramdisk: Option<Spanned<String>>,
    pub bootargs: Option<Spanned<String>>,
    pub console: Option<Spanned<bool>>,
    pub on_fault: Option<Spanned<String>>,
    /// With `on_fault = "restart"`: restarts allowed within `restart_window`, then the partition is stopped.
    pub max_restarts: Option<Spanned<i64>>,
    pub restart_window: Option<Spanned<String>>,
    /// With `on_fault = "restart"`: how long the partition stays down before it restarts.
    pub restart_delay: Option<Spanned<String>>,
    /// Board device-tree paths of the devices passed through to the partition.
    pub passthrough: Option<Spanned<Vec<Spanned<String>>>>,
    /// Path of a compiled device-tree overlay merged into the partition's tree, relative to the config file.
    pub dt_overlay: Option<Spanned<String>>,
    /// In a cyclic pool scheduled by budget: CPU time the partition gets every `period` on each of its CPUs.
    pub budget: Option<Spanned<String>>,
    pub period: Option<Spanned<String>>,
    /// `[[disk]]`s the partition attaches, each a virtio block device.
    pub disks: Option<Spanned<Vec<Spanned<RawDiskAttachment>>>>,
    /// `[[network]]`s the partition joins, each with a virtio network device.
    pub networks: Option<Spanned<Vec<Spanned<RawNetworkAttachment>>>>,
    /// Whether the partition has an emulated SP805 watchdog.
    pub watchdog: Option<Spanned<bool>>,
    /// Names of the partitions it may observe and control through the manager calls.
    pub manages: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMemory {
    pub size: Spanned<NumOrStr>,
    pub ipa: Option<Spanned<NumOrStr>>,
    pub pa: Option<Spanned<NumOrStr>>,
}

/// The keys each table accepts, for "did you mean" hints on unknown keys.
pub const KEYS: &[(&str, &[&str])] = &[
    ("", &["board", "hypervisor", "pool", "partition", "channel", "disk", "network"]),
    ("board", &["name", "gic_version", "ram_size", "boot_image"]),
    ("hypervisor", &["console", "log_level", "memory_budget"]),
    ("pool", &["name", "cpus", "scheduler", "wfi", "major_frame", "windows"]),
    ("pool.windows", &["partition", "start", "duration", "cpus"]),
    (
        "partition",
        &[
            "name",
            "pool",
            "vcpus",
            "memory",
            "kernel",
            "ramdisk",
            "bootargs",
            "console",
            "on_fault",
            "max_restarts",
            "restart_window",
            "restart_delay",
            "passthrough",
            "dt_overlay",
            "budget",
            "period",
            "disks",
            "networks",
            "watchdog",
            "manages",
        ],
    ),
    ("partition.memory", &["size", "ipa", "pa"]),
    ("partition.disks", &["disk", "access"]),
    ("partition.networks", &["network", "mac"]),
    ("disk", &["name", "image", "size", "backing"]),
    ("network", &["name", "uplink"]),
    ("channel", &["name", "size", "partitions"]),
    ("channel.partitions", &["partition", "access"]),
];

/// The tables written as lists, by index-free path: `[[pool]]` tables, `windows = [{ ... }, ...]` and the like.
pub const LISTS: &[&str] = &[
    "pool",
    "partition",
    "disk",
    "network",
    "channel",
    "pool.windows",
    "partition.disks",
    "partition.networks",
    "channel.partitions",
];

/// A correct line for each key, by index-free path, for hints on keys of the wrong type or missing.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("board", "[board]"),
    ("hypervisor", "[hypervisor]"),
    ("pool", "[[pool]]"),
    ("partition", "[[partition]]"),
    ("disk", "[[disk]]"),
    ("network", "[[network]]"),
    ("channel", "[[channel]]"),
    ("board.name", "name = \"qemu-virt-aarch64\""),
    ("board.gic_version", "gic_version = 3"),
    ("board.ram_size", "ram_size = \"1GiB\""),
    ("board.boot_image", "boot_image = \"zcu102/BOOT.BIN\""),
    ("hypervisor.console", "console = \"uart0\""),
    ("hypervisor.log_level", "log_level = \"info\""),
    ("hypervisor.memory_budget", "memory_budget = \"2MiB\""),
    ("pool.name", "name = \"rt\""),
    ("pool.cpus", "cpus = [0, 1]"),
    ("pool.scheduler", "scheduler = \"pinned\""),
    ("pool.wfi", "wfi = \"native\""),
    ("pool.major_frame", "major_frame = \"10ms\""),
    ("pool.windows", "windows = [{ partition = \"hello0\", start = \"0ms\", duration = \"5ms\" }]"),
    ("pool.windows.partition", "partition = \"hello0\""),
    ("pool.windows.start", "start = \"0ms\""),
    ("pool.windows.duration", "duration = \"5ms\""),
    ("pool.windows.cpus", "cpus = [0]"),
    ("partition.name", "name = \"hello0\""),
    ("partition.pool", "pool = \"rt\""),
    ("partition.vcpus", "vcpus = [0]"),
    ("partition.memory", "memory = { size = \"64MiB\" }"),
    ("partition.kernel", "kernel = \"hello\""),
    ("partition.ramdisk", "ramdisk = \"rootfs.cpio.gz\""),
    ("partition.bootargs", "bootargs = \"quiet\""),
    ("partition.console", "console = true"),
    ("partition.on_fault", "on_fault = \"stop\""),
    ("partition.max_restarts", "max_restarts = 3"),
    ("partition.restart_window", "restart_window = \"60s\""),
    ("partition.restart_delay", "restart_delay = \"100ms\""),
    ("partition.passthrough", "passthrough = [\"/pl031@9010000\"]"),
    ("partition.dt_overlay", "dt_overlay = \"extra.dtbo\""),
    ("partition.budget", "budget = \"2ms\""),
    ("partition.period", "period = \"10ms\""),
    ("partition.disks", "disks = [{ disk = \"rootfs\", access = \"ro\" }]"),
    ("partition.networks", "networks = [{ network = \"lan\", mac = \"52:54:00:12:34:56\" }]"),
    ("partition.watchdog", "watchdog = true"),
    ("partition.manages", "manages = [\"hello1\"]"),
    ("partition.memory.size", "size = \"64MiB\""),
    ("partition.memory.ipa", "ipa = \"0x4000_0000\""),
    ("partition.memory.pa", "pa = \"0x4800_0000\""),
    ("partition.disks.disk", "disk = \"rootfs\""),
    ("partition.disks.access", "access = \"ro\""),
    ("partition.networks.network", "network = \"lan\""),
    ("partition.networks.mac", "mac = \"52:54:00:12:34:56\""),
    ("disk.name", "name = \"rootfs\""),
    ("disk.image", "image = \"rootfs.img\""),
    ("disk.size", "size = \"64MiB\""),
    ("disk.backing", "backing = \"ram\""),
    ("network.name", "name = \"lan\""),
    ("network.uplink", "uplink = false"),
    ("channel.name", "name = \"ctl\""),
    ("channel.size", "size = \"64KiB\""),
    ("channel.partitions", "partitions = [{ partition = \"hello0\", access = \"rw\" }]"),
    ("channel.partitions.partition", "partition = \"hello0\""),
    ("channel.partitions.access", "access = \"r\""),
];
