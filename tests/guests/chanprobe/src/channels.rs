//! The partition's channels, read from its device tree: the `hv-static,channel` children of `/hypervisor`
//! (docs/guest-abi.md), in device-tree order, which is the index `HV_CHANNEL_SIGNAL` takes.

use core::fmt;

use fdt::node::FdtNode;
use fdt::Fdt;

/// Channels a probe keeps; further ones are ignored.
pub const MAX_CHANNELS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channel<'a> {
    /// Its position among the partition's channels: what `HV_CHANNEL_SIGNAL` takes.
    pub index: u32,
    /// The channel's name in the config.
    pub label: &'a str,
    pub base: u64,
    pub size: u64,
    pub writable: bool,
    /// The doorbell's INTID (an SPI), when the node has a GIC SPI specifier.
    pub doorbell: Option<u32>,
    /// The partition's position in the channel's member list (`hv-static,member`, ABI 1.5), which picks its half
    /// of a message ring.
    pub member: Option<u32>,
}

impl fmt::Display for Channel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "channel {} `{}` at {:#x} size {:#x} {}",
            self.index,
            self.label,
            self.base,
            self.size,
            if self.writable { "rw" } else { "r" }
        )?;
        match self.doorbell {
            Some(intid) => write!(f, " doorbell {intid}"),
            None => write!(f, " no doorbell"),
        }
    }
}

/// The channels found, in device-tree order.
#[derive(Clone, Copy, Debug)]
pub struct Channels<'a> {
    list: [Option<Channel<'a>>; MAX_CHANNELS],
    count: usize,
}

impl<'a> Channels<'a> {
    /// Reads `/hypervisor/channel@*` from `dtb`; none when it is not a device tree or has no `/hypervisor`.
    pub fn parse(dtb: &'a [u8]) -> Self {
        let mut list = [None; MAX_CHANNELS];
        let mut count = 0;
        let Ok(fdt) = Fdt::new(dtb) else { return Self { list, count } };
        let nodes = fdt.find_node("/hypervisor").into_iter().flat_map(|h| h.children());
        for node in nodes.filter(|n| n.compatible().is_some_and(|c| c.all().any(|c| c == "hv-static,channel"))) {
            let Some(channel) = channel(node, count as u32) else { continue };
            if count < MAX_CHANNELS {
                list[count] = Some(channel);
                count += 1;
            }
        }
        Self { list, count }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Channel<'a>> {
        self.list[..self.count].iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn by_label(&self, label: &str) -> Option<&Channel<'a>> {
        self.iter().find(|c| c.label == label)
    }
}

fn be(bytes: &[u8]) -> Option<u64> {
    match bytes.len() {
        4 => Some(u64::from(u32::from_be_bytes(bytes.try_into().ok()?))),
        8 => Some(u64::from_be_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

/// One channel node; `None` without a usable `reg`.
fn channel<'a>(node: FdtNode<'_, 'a>, index: u32) -> Option<Channel<'a>> {
    let reg = node.raw_reg()?.next()?;
    let str_prop = |name| node.property(name).and_then(|p| p.as_str());
    // `<0 (INTID - 32) flags>`: an SPI.
    let doorbell = node.property("interrupts").and_then(|p| {
        let cells = p.value.get(..8)?;
        let (kind, number) = (be(&cells[..4])?, be(&cells[4..])?);
        (kind == 0).then(|| u32::try_from(number + 32).ok()).flatten()
    });
    Some(Channel {
        index,
        label: str_prop("label").unwrap_or(""),
        base: be(reg.address)?,
        size: be(reg.size)?,
        writable: str_prop("access") == Some("rw"),
        doorbell,
        member: node.property("hv-static,member").and_then(|p| be(p.value)).and_then(|m| u32::try_from(m).ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree shaped like the one hv-static's image builder writes for a partition with `channels`
    /// (label, IPA, size, access, INTID).
    fn tree(channels: &[(&str, u64, u64, &str, u32)]) -> Vec<u8> {
        let mut w = vm_fdt::FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        let hv = w.begin_node("hypervisor").unwrap();
        w.property_string("compatible", "hv-static,hypervisor").unwrap();
        if !channels.is_empty() {
            w.property_u32("#address-cells", 2).unwrap();
            w.property_u32("#size-cells", 2).unwrap();
            w.property_null("ranges").unwrap();
        }
        for &(label, ipa, size, access, intid) in channels {
            let n = w.begin_node(&format!("channel@{ipa:x}")).unwrap();
            w.property_string("compatible", "hv-static,channel").unwrap();
            w.property_array_u64("reg", &[ipa, size]).unwrap();
            w.property_array_u32("interrupts", &[0, intid - 32, 1]).unwrap();
            w.property_string("access", access).unwrap();
            w.property_string("label", label).unwrap();
            w.end_node(n).unwrap();
        }
        w.end_node(hv).unwrap();
        w.end_node(root).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn reads_every_channel_in_order() {
        let dtb = tree(&[("ping", 0x1000_0000, 0x1_0000, "rw", 50), ("pong", 0x1001_0000, 0x1000, "r", 51)]);
        let c = Channels::parse(&dtb);
        let all: Vec<_> = c.iter().copied().collect();
        assert_eq!(
            all,
            [
                Channel {
                    index: 0,
                    label: "ping",
                    base: 0x1000_0000,
                    size: 0x1_0000,
                    writable: true,
                    doorbell: Some(50),
                    member: None,
                },
                Channel {
                    index: 1,
                    label: "pong",
                    base: 0x1001_0000,
                    size: 0x1000,
                    writable: false,
                    doorbell: Some(51),
                    member: None,
                },
            ]
        );
        assert_eq!(c.by_label("pong").map(|c| c.index), Some(1));
        assert_eq!(
            all[1].to_string(),
            "channel 1 `pong` at 0x10010000 size 0x1000 r doorbell 51",
            "the line chanprobe prints"
        );
    }

    #[test]
    fn no_channels() {
        assert_eq!(Channels::parse(&tree(&[])).len(), 0);
        assert_eq!(Channels::parse(b"not a device tree").len(), 0);
    }
}
