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

impl<'de> Deserialize<'de> for NumOrStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumOrStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string such as \"64MiB\" or \"0x40000000\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumOrStr, E> {
                Ok(NumOrStr::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumOrStr, E> {
                i64::try_from(v).map(NumOrStr::Int).map_err(|_| E::custom("integer too large"))
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
    ("board", &["name", "gic_version", "ram_size"]),
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
            "passthrough",
            "dt_overlay",
            "budget",
            "period",
            "disks",
            "networks",
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
