//! One entry of the device table: a virtio-blk or virtio-net device behind its virtio-mmio transport.
//!
//! An enum rather than `dyn`: the transports differ in their queue count (a const generic), the table is a static
//! sized by the config, and a match costs nothing next to a trap.

use pv_drivers::virtio::blk::VirtioBlk;
use pv_drivers::virtio::net::VirtioNet;
use pv_drivers::virtio::{Effects, Error, GuestMemory, MmioTransport};

use super::disk::PhysDisk;
use super::net::SwitchPort;

pub type Blk = MmioTransport<VirtioBlk<PhysDisk>>;
/// virtio-net has a receive and a transmit queue.
pub type Net = MmioTransport<VirtioNet<SwitchPort>, 2>;

pub enum Dev {
    Blk(Blk),
    Net(Net),
}

/// Forwards a transport method to whichever device this is.
macro_rules! each {
    ($self:expr, $d:ident => $body:expr) => {
        match $self {
            Dev::Blk($d) => $body,
            Dev::Net($d) => $body,
        }
    };
}

impl Dev {
    pub fn read(&self, offset: u64, size: u8) -> u32 {
        each!(self, d => d.read(offset, size))
    }

    pub fn write<M: GuestMemory>(&mut self, offset: u64, size: u8, value: u32, mem: &mut M) -> Effects {
        each!(self, d => d.write(offset, size, value, mem))
    }

    pub fn run_pending<M: GuestMemory>(&mut self, mem: &mut M) -> Effects {
        each!(self, d => d.run_pending(mem))
    }

    pub fn status(&self) -> u32 {
        each!(self, d => d.status())
    }

    pub fn last_error(&self) -> Option<Error> {
        each!(self, d => d.last_error())
    }

    pub fn interrupt_level(&self) -> bool {
        each!(self, d => d.interrupt_level())
    }

    /// What the guest knows it as, for the hypervisor's log.
    pub fn kind(&self) -> &'static str {
        match self {
            Dev::Blk(_) => "virtio-blk",
            Dev::Net(_) => "virtio-net",
        }
    }
}
