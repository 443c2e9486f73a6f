//! GICv2 (IHI 0048B): memory-mapped distributor and CPU interface. Under hv-static the CPU interface is the
//! hardware's virtual one and the distributor is emulated; natively both are QEMU's.

use core::sync::atomic::{AtomicU8, Ordering};

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

use crate::dt::GicInfo;
use crate::{arch, MAX_CPUS};

register_structs! {
    /// The distributor registers guest-rt uses (§4.1.2). Arrays cover INTIDs 0..1019; GICD_TYPER says how many
    /// exist.
    GicdRegs {
        (0x000 => ctlr: ReadWrite<u32>),
        (0x004 => typer: ReadOnly<u32>),
        (0x008 => _reserved0),
        (0x100 => isenabler: [ReadWrite<u32>; 32]),
        (0x180 => icenabler: [ReadWrite<u32>; 32]),
        (0x200 => _reserved1),
        (0x400 => ipriorityr: [ReadWrite<u32>; 255]),
        (0x7fc => _reserved2),
        (0x800 => itargetsr: [ReadWrite<u32>; 255]),
        (0xbfc => _reserved3),
        (0xc00 => icfgr: [ReadWrite<u32>; 64]),
        (0xd00 => _reserved4),
        (0xf00 => sgir: WriteOnly<u32>),
        (0xf04 => @END),
    },
    /// The CPU interface registers (§4.1.3).
    GiccRegs {
        (0x00 => ctlr: ReadWrite<u32>),
        (0x04 => pmr: ReadWrite<u32>),
        (0x08 => _bpr),
        (0x0c => iar: ReadOnly<u32>),
        (0x10 => eoir: WriteOnly<u32>),
        (0x14 => @END),
    }
}

/// GICD_CTLR / GICC_CTLR enable bit (Group 0 without security extensions, Group 1 in the non-secure view).
const ENABLE: u32 = 1;

pub struct GicV2 {
    distributor: usize,
    cpu_interface: usize,
    /// Each vCPU's CPU-interface bit for GICD_SGIR's target list, learnt by the vCPU itself.
    target_mask: [AtomicU8; MAX_CPUS],
}

impl GicV2 {
    pub fn new(info: &GicInfo) -> Self {
        Self {
            distributor: info.distributor.base as usize,
            cpu_interface: info.per_cpu.base as usize,
            target_mask: [const { AtomicU8::new(0) }; MAX_CPUS],
        }
    }

    fn gicd(&self) -> &GicdRegs {
        // SAFETY: the base is the distributor from the device tree, mapped for the guest's lifetime; registers are
        // only accessed through volatile cells.
        unsafe { &*(self.distributor as *const GicdRegs) }
    }

    fn gicc(&self) -> &GiccRegs {
        // SAFETY: as for gicd(), for the CPU interface (banked per vCPU by the hardware).
        unsafe { &*(self.cpu_interface as *const GiccRegs) }
    }

    pub fn init_distributor(&self) {
        self.gicd().ctlr.set(ENABLE);
    }

    pub fn init_cpu(&self) {
        // GICD_ITARGETSR0..7 are banked and read back the reading CPU's own interface bit (§4.3.12); a
        // uniprocessor GIC may read zero, where the index is the only sensible guess.
        let cpu = arch::cpu_index();
        let own = self.gicd().itargetsr[..8].iter().map(|r| r.get() as u8).find(|&m| m != 0);
        self.target_mask[cpu].store(own.unwrap_or(1 << cpu), Ordering::Release);
        self.gicc().pmr.set(0xff);
        self.gicc().ctlr.set(ENABLE);
    }

    pub fn enable_local(&self, intid: u32, priority: u8) {
        let reg = &self.gicd().ipriorityr[(intid / 4) as usize];
        reg.set(super::with_byte(reg.get(), intid, priority));
        self.gicd().isenabler[0].set(1 << intid);
    }

    /// Group 0 like the SGIs and PPIs (IGROUPR keeps its reset value): without security extensions that is the
    /// group GICD_CTLR and GICC_CTLR bit 0 enable, signalled as IRQ. Configured before it is enabled.
    pub fn enable_spi(&self, intid: u32, priority: u8, trigger: super::Trigger) {
        let gicd = self.gicd();
        super::check_spi(gicd.typer.get(), intid);
        let word = (intid / 4) as usize;
        let reg = &gicd.ipriorityr[word];
        reg.set(super::with_byte(reg.get(), intid, priority));
        let reg = &gicd.icfgr[(intid / 16) as usize];
        let cfg = super::with_trigger(reg.get(), intid, trigger);
        if reg.get() != cfg {
            reg.set(cfg);
        }
        let reg = &gicd.itargetsr[word];
        reg.set(super::with_byte(reg.get(), intid, self.own_target_mask()));
        if gicd.ctlr.get() & ENABLE == 0 {
            gicd.ctlr.set(ENABLE);
        }
        gicd.isenabler[(intid / 32) as usize].set(1 << (intid % 32));
    }

    /// GICD_ICENABLER0 is banked, so an SGI/PPI is disabled for the calling vCPU only.
    pub fn disable(&self, intid: u32) {
        self.gicd().icenabler[(intid / 32) as usize].set(1 << (intid % 32));
    }

    /// The calling vCPU's CPU-interface bit (1 << interface number), as init_cpu learnt it.
    fn own_target_mask(&self) -> u8 {
        let cpu = arch::cpu_index();
        target_mask_or_guess(self.target_mask[cpu].load(Ordering::Acquire), cpu)
    }

    /// Returns (raw IAR, INTID).
    pub fn acknowledge(&self) -> (u32, u32) {
        let iar = self.gicc().iar.get();
        (iar, iar & 0x3ff)
    }

    pub fn end(&self, iar: u32) {
        self.gicc().eoir.set(iar);
    }

    pub fn send_sgi(&self, sgi: u8, cpu: usize) {
        // A target that has not run init_cpu yet gets the index-based guess.
        let mask = target_mask_or_guess(self.target_mask[cpu].load(Ordering::Acquire), cpu);
        arch::write_barrier();
        self.gicd().sgir.set(sgir(sgi, mask));
    }
}

/// A vCPU's learnt CPU-interface bit, or `1 << cpu` (interface number = vCPU index) when there is none yet.
const fn target_mask_or_guess(learnt: u8, cpu: usize) -> u8 {
    match learnt {
        0 => 1 << cpu,
        mask => mask,
    }
}

/// GICD_SGIR for `sgi` to the CPU interfaces in `targets` (TargetListFilter 0: use the list).
pub const fn sgir(sgi: u8, targets: u8) -> u32 {
    (targets as u32) << 16 | (sgi as u32 & 0xf)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sgir_encodes_target_list_and_id() {
        assert_eq!(super::sgir(1, 0b10), 0x0002_0001);
        assert_eq!(super::sgir(15, 0x80), 0x0080_000f);
    }
}
