//! The virtual switches in the generated configuration: `SystemConfig::networks` (every `[[network]]`, in config
//! order, with the switch ports on it) and `SystemConfig::net_ports` (one per partition attachment, numbered in
//! partition order, then attachment order: the index a `VirtioDevice::Net` names).
//!
//! Port numbers are global rather than per switch so that hv-static can size one inbox table for all of them;
//! each switch lists its own ports.

use crate::config::System;
use crate::units::hex;

/// One switch port of a partition: (network, partition, attachment index within the partition).
struct Port {
    network: usize,
    partition: usize,
}

fn ports(system: &System) -> Vec<Port> {
    system
        .partitions
        .iter()
        .enumerate()
        .flat_map(|(p, part)| part.networks.iter().map(move |a| Port { network: a.network, partition: p }))
        .collect()
}

/// Number of partition ports over all switches.
pub fn num_ports(system: &System) -> usize {
    ports(system).len()
}

/// The global port number of partition `partition`'s `attachment`-th network.
pub fn port_of(system: &System, partition: usize, attachment: usize) -> usize {
    system.partitions[..partition].iter().map(|p| p.networks.len()).sum::<usize>() + attachment
}

/// The `NetworkConfig`s, in `System::networks` order.
pub fn system_networks(system: &System) -> Vec<String> {
    let ports = ports(system);
    system
        .networks
        .iter()
        .enumerate()
        .map(|(n, net)| {
            let members: Vec<String> =
                ports.iter().enumerate().filter(|(_, p)| p.network == n).map(|(i, _)| i.to_string()).collect();
            format!("NetworkConfig {{ ports: &[{}], uplink: {} }}", members.join(", "), net.uplink)
        })
        .collect()
}

/// The `NetPortConfig`s, in global port order. `virtio` is filled by the caller's device numbering: the port's
/// device is the partition's `disks.len() + attachment`-th transport.
pub fn system_ports(system: &System, virtio_base: &[usize]) -> Vec<String> {
    ports(system)
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let attachment = i - port_of(system, p.partition, 0);
            let virtio = virtio_base[p.partition] + system.partitions[p.partition].disks.len() + attachment;
            format!("NetPortConfig {{ network: {}, partition: {}, virtio: {virtio} }}", p.network, p.partition)
        })
        .collect()
}

/// The `Option<HostNetConfig>`: the board's network device and the switch it is the uplink of, `None` unless a
/// network has `uplink = true` and a partition joins it (frames from outside would have nowhere to go; the
/// network is warned about). Without it hv-static carries no network driver.
pub fn host_net(system: &System) -> String {
    let Some(network) = system.uplink_network() else { return "None".into() };
    if !system.partitions.iter().any(|p| p.networks.iter().any(|a| a.network == network)) {
        return "None".into();
    }
    let bus = system.board.virtio_mmio.expect("validated: uplinks only on boards with a network device of their own");
    format!(
        "Some(HostNetConfig {{ mmio_base: {}, mmio_stride: {}, mmio_count: {}, intid_base: {}, network: {network} }})",
        hex(bus.base),
        hex(bus.stride),
        bus.count,
        bus.intid_base
    )
}

/// `[0x52, 0x54, ...]`.
pub fn mac_literal(mac: &[u8; 6]) -> String {
    let bytes: Vec<String> = mac.iter().map(|b| format!("{b:#04x}")).collect();
    format!("[{}]", bytes.join(", "))
}
