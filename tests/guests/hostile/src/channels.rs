//! The partition's shared-memory channels, from its device tree: the `hv-static,channel` children of
//! `/hypervisor` in device-tree order (the index `HV_CHANNEL_SIGNAL` takes), with their region and doorbell.

use fdt::Fdt;

pub const MAX: usize = 4;

#[derive(Clone, Copy, Debug, Default)]
pub struct Channel {
    pub base: u64,
    pub size: u64,
    /// The doorbell's INTID (an SPI).
    pub doorbell: Option<u32>,
}

/// Up to [`MAX`] channels and how many the tree has.
pub fn parse(dtb: &[u8]) -> ([Channel; MAX], u32) {
    let mut list = [Channel::default(); MAX];
    let mut count = 0u32;
    let Ok(fdt) = Fdt::new(dtb) else { return (list, 0) };
    let nodes = fdt.find_node("/hypervisor").into_iter().flat_map(|h| h.children());
    for node in nodes.filter(|n| n.compatible().is_some_and(|c| c.all().any(|c| c == "hv-static,channel"))) {
        let reg = node.property("reg").map_or(&[][..], |p| p.value);
        let cell = |i: usize| reg.get(i * 8..i * 8 + 8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
        let irq = node.property("interrupts").map_or(&[][..], |p| p.value);
        let word = |i: usize| irq.get(i * 4..i * 4 + 4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes);
        let doorbell = match (word(0), word(1)) {
            (Some(0), Some(spi)) => Some(spi + 32),
            _ => None,
        };
        if let (Some(base), Some(size)) = (cell(0), cell(1)) {
            if (count as usize) < MAX {
                list[count as usize] = Channel { base, size, doorbell };
            }
        }
        count += 1;
    }
    (list, count)
}
