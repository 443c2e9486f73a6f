//! The two channels of the doorbell measurement, read from the partition's device tree: the `hv-static,channel`
//! children of `/hypervisor` (docs/guest-abi.md), whose position in device-tree order is the index
//! `HV_CHANNEL_SIGNAL` takes.

use fdt::Fdt;

/// One of the partition's channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channel {
    /// What `HV_CHANNEL_SIGNAL` takes to ring the other members.
    pub index: u32,
    pub base: u64,
    /// The doorbell's INTID (an SPI).
    pub doorbell: u32,
}

fn be(bytes: &[u8]) -> Option<u64> {
    match bytes.len() {
        4 => Some(u64::from(u32::from_be_bytes(bytes.try_into().ok()?))),
        8 => Some(u64::from_be_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

/// The channel labelled `label` (its name in the config), if the partition has it with a doorbell.
pub fn find(dtb: &[u8], label: &str) -> Option<Channel> {
    let fdt = Fdt::new(dtb).ok()?;
    let nodes = fdt.find_node("/hypervisor")?.children();
    let channels = nodes.filter(|n| n.compatible().is_some_and(|c| c.all().any(|c| c == "hv-static,channel")));
    for (index, node) in channels.enumerate() {
        if node.property("label").and_then(|p| p.as_str()) != Some(label) {
            continue;
        }
        let base = be(node.raw_reg()?.next()?.address)?;
        // `<0 (INTID - 32) flags>`: an SPI.
        let cells = node.property("interrupts")?.value.get(..8)?;
        let (kind, number) = (be(&cells[..4])?, be(&cells[4..])?);
        let doorbell = u32::try_from(number + 32).ok().filter(|_| kind == 0)?;
        return Some(Channel { index: u32::try_from(index).ok()?, base, doorbell });
    }
    None
}
