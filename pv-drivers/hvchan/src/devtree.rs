//! The partition's channels, as Linux shows its device tree under `/proc/device-tree` (guest ABI 1.5,
//! docs/guest-abi.md): a root `sram@IPA` node (`compatible = "mmio-sram"`) per channel, whose `channel@0` child
//! carries the channel's `label`, `hv-static,access` and `hv-static,member`.
//!
//! Every property is a file of raw bytes. They come from the hypervisor's image builder, but are read as
//! untrusted input all the same: a malformed node is reported and skipped, never a panic.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Properties longer than this are malformed (the longest honest one is a label).
const PROPERTY_MAX: u64 = 4096;

/// How the partition maps a channel (`hv-static,access`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `"r"`: a write is a stage-2 fault that stops the partition, so hvchan never writes such a channel.
    ReadOnly,
    /// `"rw"`.
    ReadWrite,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "r",
            Self::ReadWrite => "rw",
        }
    }
}

/// One channel the partition maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelNode {
    /// The channel's name in the system's config.
    pub label: String,
    /// Its guest-physical address.
    pub ipa: u64,
    /// Its size in bytes.
    pub size: u64,
    pub access: Access,
    /// This partition's position in the channel's member list, from 0: its ring is half `member`.
    pub member: u32,
    /// The `sram@IPA` node's directory.
    pub node: PathBuf,
}

impl ChannelNode {
    /// The sysfs file Linux's sram driver exports the channel as: the device is named after the node's
    /// translated address (`10000000.sram`), and the exported partition after the child's (`channel@0`: the same).
    pub fn sram_file(&self, sysfs: &Path) -> PathBuf {
        let name = format!("{:x}.sram", self.ipa);
        sysfs.join("bus/platform/devices").join(&name).join(&name)
    }

    /// The GPIO line that fires when another member rings the channel.
    pub fn doorbell_line(&self) -> String {
        format!("{}.doorbell", self.label)
    }

    /// The GPIO line whose rising edge rings the other members.
    pub fn ring_line(&self) -> String {
        format!("{}.ring", self.label)
    }
}

/// Why a node that looks like a channel was skipped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {what}", path.display())]
    Malformed { path: PathBuf, what: String },
}

/// What a scan of the device tree found: the channels, by address, and the nodes it had to skip.
#[derive(Debug, Default)]
pub struct Scan {
    pub channels: Vec<ChannelNode>,
    pub skipped: Vec<NodeError>,
}

impl Scan {
    pub fn by_label(&self, label: &str) -> Option<&ChannelNode> {
        self.channels.iter().find(|c| c.label == label)
    }
}

/// Reads every channel under `root` (`/proc/device-tree`). A tree without channels, or without a root at all (not
/// a device-tree system), is an empty scan. The result is sorted by address: directory order is not device-tree
/// order.
pub fn scan(root: &Path) -> Scan {
    let mut scan = Scan::default();
    let Ok(entries) = fs::read_dir(root) else { return scan };
    let (address_cells, size_cells) = (cells(root, "#address-cells", 2), cells(root, "#size-cells", 1));
    let mut nodes: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("sram@")))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    nodes.sort();
    for node in nodes {
        match channel(&node, address_cells, size_cells) {
            Ok(Some(c)) => scan.channels.push(c),
            Ok(None) => {}
            Err(e) => scan.skipped.push(e),
        }
    }
    scan.channels.sort_by_key(|c| c.ipa);
    scan
}

/// The channel at `node`, `None` when it is some other SRAM (no `hv-static,member` in its `channel@0`).
fn channel(node: &Path, address_cells: u32, size_cells: u32) -> Result<Option<ChannelNode>, NodeError> {
    let child = node.join("channel@0");
    if !child.join("hv-static,member").exists() {
        return Ok(None);
    }
    let malformed = |what: &str| NodeError::Malformed { path: node.to_path_buf(), what: what.to_owned() };
    let compatible = property(node, "compatible")?;
    if !compatible.split(|&b| b == 0).any(|c| c == b"mmio-sram") {
        return Err(malformed("not compatible with \"mmio-sram\""));
    }
    let reg = property(node, "reg")?;
    let (ipa, sram_size) = reg_entry(&reg, address_cells, size_cells).ok_or_else(|| malformed("bad reg"))?;
    // The child's address and size are in the sram node's own cells (1 and 1 in the contract).
    let child_reg = property(&child, "reg")?;
    let (offset, size) = reg_entry(&child_reg, cells(node, "#address-cells", 1), cells(node, "#size-cells", 1))
        .ok_or_else(|| malformed("bad channel@0/reg"))?;
    if offset != 0 || size == 0 || size > sram_size {
        return Err(malformed("channel@0/reg is not <0 SIZE> inside the sram node"));
    }
    let label = string(&child, "label")?;
    if label.is_empty() {
        return Err(malformed("empty label"));
    }
    let access = match string(&child, "hv-static,access")?.as_str() {
        "r" => Access::ReadOnly,
        "rw" => Access::ReadWrite,
        _ => return Err(malformed("hv-static,access is neither \"r\" nor \"rw\"")),
    };
    let member = u32_property(&child, "hv-static,member")?.ok_or_else(|| malformed("bad hv-static,member"))?;
    Ok(Some(ChannelNode { label, ipa, size, access, member, node: node.to_path_buf() }))
}

/// The raw bytes of property `name` of `node`, refused when longer than any honest one.
fn property(node: &Path, name: &str) -> Result<Vec<u8>, NodeError> {
    let path = node.join(name);
    let read = |path: &Path| -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        fs::File::open(path)?.take(PROPERTY_MAX + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    match read(&path) {
        Ok(bytes) if bytes.len() as u64 > PROPERTY_MAX => {
            Err(NodeError::Malformed { path, what: "longer than any property hvchan reads".into() })
        }
        Ok(bytes) => Ok(bytes),
        Err(source) => Err(NodeError::Read { path, source }),
    }
}

/// A string property: UTF-8, NUL-terminated, no NUL inside.
fn string(node: &Path, name: &str) -> Result<String, NodeError> {
    let bytes = property(node, name)?;
    let malformed = || NodeError::Malformed { path: node.join(name), what: "not one NUL-terminated string".into() };
    let text = bytes.strip_suffix(&[0]).ok_or_else(malformed)?;
    if text.contains(&0) {
        return Err(malformed());
    }
    String::from_utf8(text.to_vec()).map_err(|_| malformed())
}

/// A one-cell property, `None` when it is not exactly 4 bytes.
fn u32_property(node: &Path, name: &str) -> Result<Option<u32>, NodeError> {
    let bytes = property(node, name)?;
    Ok(<[u8; 4]>::try_from(bytes.as_slice()).ok().map(u32::from_be_bytes))
}

/// `#address-cells` or `#size-cells` of `node`, or `default` when absent or malformed.
fn cells(node: &Path, name: &str, default: u32) -> u32 {
    u32_property(node, name).ok().flatten().filter(|&c| c == 1 || c == 2).unwrap_or(default)
}

/// The first (address, size) of a `reg` in these cells.
fn reg_entry(reg: &[u8], address_cells: u32, size_cells: u32) -> Option<(u64, u64)> {
    // One or two cells each (`cells` allows no more), so a u64 holds them.
    let number = |bytes: &[u8]| {
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .fold(0u64, |acc, cell| acc << 32 | u64::from(cell))
    };
    let (a, s) = (4 * address_cells as usize, 4 * size_cells as usize);
    let entry = reg.get(..a + s)?;
    Some((number(&entry[..a]), number(&entry[a..])))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testdir::TempDir;

    /// Writes a property file.
    pub fn prop(node: &Path, name: &str, value: &[u8]) {
        fs::create_dir_all(node).unwrap();
        fs::write(node.join(name), value).unwrap();
    }

    fn cells_of(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    /// A channel node as hv-static's image builder writes it for Linux (ABI 1.5), under `root`.
    pub fn channel_node(root: &Path, label: &str, ipa: u64, size: u32, access: &str, member: u32) {
        let node = root.join(format!("sram@{ipa:x}"));
        prop(&node, "compatible", b"mmio-sram\0");
        prop(&node, "reg", &cells_of(&[(ipa >> 32) as u32, ipa as u32, 0, size]));
        prop(&node, "#address-cells", &cells_of(&[1]));
        prop(&node, "#size-cells", &cells_of(&[1]));
        prop(&node, "ranges", &cells_of(&[0, (ipa >> 32) as u32, ipa as u32, size]));
        let child = node.join("channel@0");
        prop(&child, "reg", &cells_of(&[0, size]));
        prop(&child, "export", b"");
        prop(&child, "label", format!("{label}\0").as_bytes());
        prop(&child, "hv-static,access", format!("{access}\0").as_bytes());
        prop(&child, "hv-static,member", &cells_of(&[member]));
    }

    /// A root like a partition's: two-cell addresses and sizes.
    pub fn root(dir: &Path) -> PathBuf {
        let root = dir.join("device-tree");
        prop(&root, "#address-cells", &cells_of(&[2]));
        prop(&root, "#size-cells", &cells_of(&[2]));
        prop(&root, "compatible", b"hv-static,partition\0");
        root
    }

    #[test]
    fn finds_each_channel_with_its_access_member_and_file() {
        let dir = TempDir::new("dt");
        let root = root(dir.path());
        channel_node(&root, "pong", 0x1001_0000, 0x1000, "r", 1);
        channel_node(&root, "ping", 0x1000_0000, 0x1_0000, "rw", 0);
        // Some other SRAM, not a channel: ignored.
        prop(&root.join("sram@2000000"), "compatible", b"mmio-sram\0");
        let scan = scan(&root);
        assert!(scan.skipped.is_empty(), "{:?}", scan.skipped);
        let got: Vec<_> = scan.channels.iter().map(|c| (c.label.as_str(), c.ipa, c.size, c.access, c.member)).collect();
        assert_eq!(
            got,
            [("ping", 0x1000_0000, 0x1_0000, Access::ReadWrite, 0), ("pong", 0x1001_0000, 0x1000, Access::ReadOnly, 1)]
        );
        let ping = scan.by_label("ping").unwrap();
        assert_eq!(
            ping.sram_file(Path::new("/sys")),
            Path::new("/sys/bus/platform/devices/10000000.sram/10000000.sram")
        );
        assert_eq!((ping.doorbell_line(), ping.ring_line()), ("ping.doorbell".into(), "ping.ring".into()));
    }

    #[test]
    fn malformed_nodes_are_skipped_and_said() {
        let dir = TempDir::new("dt-bad");
        let root = root(dir.path());
        let bad = |label: &str, ipa: u64, damage: &dyn Fn(&Path)| {
            channel_node(&root, label, ipa, 0x1000, "rw", 0);
            damage(&root.join(format!("sram@{ipa:x}")));
        };
        bad("a", 0x1000_0000, &|n| prop(&n.join("channel@0"), "label", b"no terminator"));
        bad("b", 0x1001_0000, &|n| prop(&n.join("channel@0"), "hv-static,access", b"rwx\0"));
        bad("c", 0x1002_0000, &|n| prop(&n.join("channel@0"), "hv-static,member", &[0, 0, 1]));
        bad("d", 0x1003_0000, &|n| prop(n, "reg", &[0; 7]));
        bad("e", 0x1004_0000, &|n| prop(&n.join("channel@0"), "reg", &cells_of(&[0, 0x2000])));
        bad("f", 0x1005_0000, &|n| prop(n, "compatible", b"other\0"));
        bad("g", 0x1006_0000, &|n| prop(&n.join("channel@0"), "label", &vec![b'x'; 5000]));
        bad("h", 0x1007_0000, &|n| fs::remove_file(n.join("channel@0/label")).unwrap());
        bad("i", 0x1008_0000, &|n| prop(&n.join("channel@0"), "label", b"a\0b\0"));
        channel_node(&root, "fine", 0x1009_0000, 0x1000, "rw", 1);
        let scan = scan(&root);
        assert_eq!(scan.channels.len(), 1);
        assert_eq!(scan.skipped.len(), 9, "{:#?}", scan.skipped);
        let all: String = scan.skipped.iter().map(|e| format!("{e}\n")).collect();
        assert!(all.contains("sram@10010000: hv-static,access is neither"), "{all}");
        assert!(all.contains("not compatible"), "{all}");
    }

    #[test]
    fn no_tree_no_channels() {
        let scan = scan(Path::new("/nonexistent/hvchan/device-tree"));
        assert!(scan.channels.is_empty() && scan.skipped.is_empty());
    }

    #[test]
    fn reg_cells() {
        assert_eq!(reg_entry(&cells_of(&[0, 0x1000_0000, 0, 0x1000]), 2, 2), Some((0x1000_0000, 0x1000)));
        assert_eq!(reg_entry(&cells_of(&[1, 2]), 1, 1), Some((1, 2)));
        assert_eq!(reg_entry(&cells_of(&[1, 2, 3]), 2, 2), None);
        assert_eq!(reg_entry(&cells_of(&[1, 2, 3, 4]), 2, 2), Some((0x1_0000_0002, 0x3_0000_0004)));
    }
}
