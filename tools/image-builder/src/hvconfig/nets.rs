//! The virtual switches in the generated configuration: `SystemConfig::networks` (every `[[network]]`, in config
//! order, with the switch ports on it) and `SystemConfig::net_ports` (one per partition attachment, numbered in
//! partition order, then attachment order: the index a `VirtioDevice::Net` names).
//!
//! Port numbers are global rather than per switch so that hv-static can size one inbox table for all of them;
//! each switch lists its own ports.

use bumpalo::Bump;
use hv_plan::plan::{HostNetConfig, NetPortConfig, NetworkConfig};

use crate::config::System;

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

/// The global port number of partition `partition`'s `attachment`-th network.
pub fn port_of(system: &System, partition: usize, attachment: usize) -> usize {
    system.partitions[..partition].iter().map(|p| p.networks.len()).sum::<usize>() + attachment
}

/// The switches, in `System::networks` order.
pub fn system_networks<'a>(arena: &'a Bump, system: &System) -> Vec<NetworkConfig<'a>> {
    let ports = ports(system);
    system
        .networks
        .iter()
        .enumerate()
        .map(|(n, net)| {
            let members: Vec<usize> =
                ports.iter().enumerate().filter(|(_, p)| p.network == n).map(|(i, _)| i).collect();
            NetworkConfig { ports: arena.alloc_slice_copy(&members), uplink: net.uplink }
        })
        .collect()
}

/// The ports, in global port order. `virtio` is filled by the caller's device numbering: the port's device is the
/// partition's `disks.len() + attachment`-th transport.
pub fn system_ports(system: &System, virtio_base: &[usize]) -> Vec<NetPortConfig> {
    ports(system)
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let attachment = i - port_of(system, p.partition, 0);
            let virtio = virtio_base[p.partition] + system.partitions[p.partition].disks.len() + attachment;
            NetPortConfig { network: p.network, partition: p.partition, virtio }
        })
        .collect()
}

/// The board's network device and the switch it is the uplink of, `None` unless a network has `uplink = true` and
/// a partition joins it (frames from outside would have nowhere to go; the network is warned about). Without it
/// hv-static carries no network driver.
pub fn host_net(system: &System) -> Option<HostNetConfig> {
    let network = system.uplink_network()?;
    if !system.partitions.iter().any(|p| p.networks.iter().any(|a| a.network == network)) {
        return None;
    }
    let bus = system.board.virtio_mmio.expect("validated: uplinks only on boards with a network device of their own");
    Some(HostNetConfig {
        mmio_base: bus.base,
        mmio_stride: bus.stride,
        mmio_count: bus.count,
        intid_base: bus.intid_base,
        network,
    })
}
