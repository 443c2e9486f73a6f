//! GICv3 (IHI 0069): memory-mapped distributor and redistributors, system-register CPU interface
//! (`arch::gicv3`). Under hv-static distributor and redistributors are emulated.

use core::sync::atomic::{AtomicUsize, Ordering};

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

use crate::dt::{GicInfo, Region};
use crate::{arch, MAX_CPUS};

register_structs! {
    /// The distributor registers guest-rt uses (§12.9): with affinity routing it holds only SPI state. Arrays
    /// cover INTIDs 0..1019 (entries below 32 are RAZ/WI); GICD_TYPER says how many exist. `GICD_IROUTER<n>` is
    /// written as two words, low first, so a 32-bit-only emulation works too.
    GicdRegs {
        (0x000 => ctlr: ReadWrite<u32>),
        (0x004 => typer: ReadOnly<u32>),
        (0x008 => _reserved0),
        (0x080 => igroupr: [ReadWrite<u32>; 32]),
        (0x100 => isenabler: [ReadWrite<u32>; 32]),
        (0x180 => icenabler: [ReadWrite<u32>; 32]),
        (0x200 => _reserved1),
        (0x400 => ipriorityr: [ReadWrite<u32>; 255]),
        (0x7fc => _reserved2),
        (0xc00 => icfgr: [ReadWrite<u32>; 64]),
        (0xd00 => _reserved3),
        (0x6000 => irouter: [ReadWrite<u32>; 2 * 1024]),
        (0x8000 => @END),
    },
    /// RD_base frame of one redistributor (§12.10). GICR_TYPER is read as two words so a 32-bit-only emulation
    /// works too.
    RdRegs {
        (0x000 => _ctlr),
        (0x008 => typer_lo: ReadOnly<u32>),
        (0x00c => typer_hi: ReadOnly<u32>),
        (0x010 => _statusr),
        (0x014 => waker: ReadWrite<u32>),
        (0x018 => @END),
    },
    /// SGI_base frame, 64 KiB after RD_base: the banked SGI/PPI registers.
    SgiRegs {
        (0x000 => _reserved0),
        (0x080 => igroupr0: ReadWrite<u32>),
        (0x084 => _reserved1),
        (0x100 => isenabler0: ReadWrite<u32>),
        (0x104 => _reserved2),
        (0x180 => icenabler0: ReadWrite<u32>),
        (0x184 => _reserved3),
        (0x400 => ipriorityr: [ReadWrite<u32>; 8]),
        (0x420 => @END),
    }
}

/// GICD_CTLR: RWP (register write pending), ARE (affinity routing; ARE_NS in the non-secure view) and
/// EnableGrp1 (EnableGrp1NS/A). The same bit positions serve both security views.
const CTLR_RWP: u32 = 1 << 31;
const CTLR_ARE: u32 = 1 << 4;
const CTLR_ENABLE_GRP1: u32 = 1 << 1;
/// GICR_WAKER.ProcessorSleep and ChildrenAsleep.
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// GICR_TYPER.Last: the last redistributor of its region; VLPIS: GICv4 frames (four 64 KiB pages, not two).
const TYPER_LAST: u32 = 1 << 4;
const TYPER_VLPIS: u32 = 1 << 1;
const SGI_FRAME_OFFSET: usize = 0x1_0000;

pub struct GicV3 {
    distributor: usize,
    redistributors: Region,
    /// RD_base of each vCPU's redistributor, found by that vCPU in init_cpu.
    rd_base: [AtomicUsize; MAX_CPUS],
}

impl GicV3 {
    pub fn new(info: &GicInfo) -> Self {
        Self {
            distributor: info.distributor.base as usize,
            redistributors: info.per_cpu,
            rd_base: [const { AtomicUsize::new(0) }; MAX_CPUS],
        }
    }

    fn gicd(&self) -> &GicdRegs {
        // SAFETY: the distributor from the device tree, mapped for the guest's lifetime; volatile cells only.
        unsafe { &*(self.distributor as *const GicdRegs) }
    }

    fn rd(base: usize) -> &'static RdRegs {
        // SAFETY: `base` is a redistributor frame inside the device tree's redistributor region.
        unsafe { &*(base as *const RdRegs) }
    }

    fn sgi(&self) -> &SgiRegs {
        let base = self.rd_base[arch::cpu_index()].load(Ordering::Acquire);
        assert!(base != 0, "GICv3: init_cpu has not run on this vCPU");
        // SAFETY: the SGI frame of this vCPU's own redistributor, found by init_cpu.
        unsafe { &*((base + SGI_FRAME_OFFSET) as *const SgiRegs) }
    }

    fn wait_for_rwp(&self) {
        while self.gicd().ctlr.get() & CTLR_RWP != 0 {
            core::hint::spin_loop();
        }
    }

    /// Affinity routing first, then Group 1: changing ARE with a group enabled is unpredictable (§12.9.4).
    pub fn init_distributor(&self) {
        let ctlr = &self.gicd().ctlr;
        ctlr.set(ctlr.get() | CTLR_ARE);
        self.wait_for_rwp();
        ctlr.set(ctlr.get() | CTLR_ENABLE_GRP1);
        self.wait_for_rwp();
    }

    pub fn init_cpu(&self) {
        let mpidr = arch::mpidr();
        let base = self
            .find_redistributor(mpidr)
            .unwrap_or_else(|| panic!("GICv3: no redistributor for MPIDR {mpidr:#x} in {:#x?}", self.redistributors));
        self.rd_base[arch::cpu_index()].store(base, Ordering::Release);

        let waker = &Self::rd(base).waker;
        waker.set(waker.get() & !WAKER_PROCESSOR_SLEEP);
        while waker.get() & WAKER_CHILDREN_ASLEEP != 0 {
            core::hint::spin_loop();
        }
        // Group 1 for every SGI/PPI: with security disabled (QEMU without EL3) Group 0 would arrive as FIQ.
        self.sgi().igroupr0.set(u32::MAX);
        arch::gicv3::init_cpu_interface();
    }

    /// Walks the redistributor frames until one reports `mpidr`'s affinity in GICR_TYPER.
    fn find_redistributor(&self, mpidr: u64) -> Option<usize> {
        let wanted = typer_affinity(mpidr);
        let mut base = self.redistributors.base as usize;
        let end = self.redistributors.end() as usize;
        while base < end {
            let rd = Self::rd(base);
            let typer = rd.typer_lo.get();
            if rd.typer_hi.get() == wanted {
                return Some(base);
            }
            if typer & TYPER_LAST != 0 {
                return None;
            }
            base += if typer & TYPER_VLPIS != 0 { 0x4_0000 } else { 0x2_0000 };
        }
        None
    }

    pub fn enable_local(&self, intid: u32, priority: u8) {
        let sgi = self.sgi();
        let reg = &sgi.ipriorityr[(intid / 4) as usize];
        reg.set(super::with_byte(reg.get(), intid, priority));
        sgi.isenabler0.set(1 << intid);
    }

    /// Group 1, like the SGIs and PPIs; configured and routed before it is enabled.
    pub fn enable_spi(&self, intid: u32, priority: u8, trigger: super::Trigger) {
        let gicd = self.gicd();
        super::check_spi(gicd.typer.get(), intid);
        let (word, bit) = ((intid / 32) as usize, 1 << (intid % 32));
        let reg = &gicd.igroupr[word];
        reg.set(reg.get() | bit);
        let reg = &gicd.ipriorityr[(intid / 4) as usize];
        reg.set(super::with_byte(reg.get(), intid, priority));
        let reg = &gicd.icfgr[(intid / 16) as usize];
        let cfg = super::with_trigger(reg.get(), intid, trigger);
        if reg.get() != cfg {
            reg.set(cfg);
        }
        let route = irouter(arch::mpidr());
        gicd.irouter[2 * intid as usize].set(route as u32);
        gicd.irouter[2 * intid as usize + 1].set((route >> 32) as u32);
        if gicd.ctlr.get() & (CTLR_ARE | CTLR_ENABLE_GRP1) != CTLR_ARE | CTLR_ENABLE_GRP1 {
            self.init_distributor();
        }
        gicd.isenabler[word].set(bit);
    }

    /// SGIs/PPIs in the calling vCPU's redistributor, SPIs in the distributor; GICD_CTLR.RWP says when a
    /// distributor disable has taken effect (§12.9.4).
    pub fn disable(&self, intid: u32) {
        if intid < super::FIRST_SPI {
            self.sgi().icenabler0.set(1 << intid);
        } else {
            self.gicd().icenabler[(intid / 32) as usize].set(1 << (intid % 32));
            self.wait_for_rwp();
        }
    }

    /// Returns (raw IAR, INTID).
    pub fn acknowledge(&self) -> (u32, u32) {
        let iar = arch::gicv3::acknowledge();
        (iar, iar & 0xff_ffff)
    }

    pub fn end(&self, iar: u32) {
        arch::gicv3::end_of_interrupt(iar);
    }

    pub fn send_sgi(&self, sgi: u8, mpidr: u64) {
        arch::gicv3::send_sgi(sgi1r(sgi, mpidr));
    }
}

/// MPIDR affinity as GICR_TYPER[63:32] holds it: Aff3.Aff2.Aff1.Aff0, one byte each.
pub const fn typer_affinity(mpidr: u64) -> u32 {
    (((mpidr >> 8) & 0xff00_0000) | (mpidr & 0x00ff_ffff)) as u32
}

/// `GICD_IROUTER<n>` routing an SPI to the one CPU `mpidr` (§12.9.22): Aff3 in bits 39:32, Aff2.Aff1.Aff0 in 23:0
/// as in MPIDR, Interrupt_Routing_Mode (bit 31) 0. MPIDR's U and MT bits are not affinity.
pub const fn irouter(mpidr: u64) -> u64 {
    mpidr & 0xff_00ff_ffff
}

/// ICC_SGI1R_EL1 for `sgi` to the one CPU `mpidr` (§12.2.22): Aff3/Aff2/Aff1 select the cluster, RS the group of
/// 16 Aff0 values and TargetList the CPU within it.
pub const fn sgi1r(sgi: u8, mpidr: u64) -> u64 {
    let aff0 = mpidr & 0xff;
    let aff1 = (mpidr >> 8) & 0xff;
    let aff2 = (mpidr >> 16) & 0xff;
    let aff3 = (mpidr >> 32) & 0xff;
    (aff3 << 48) | ((aff0 >> 4) << 44) | (aff2 << 32) | ((sgi as u64 & 0xf) << 24) | (aff1 << 16) | (1 << (aff0 & 0xf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typer_affinity_packs_four_levels() {
        assert_eq!(typer_affinity(0x8000_0001), 0x0000_0001, "U and MT bits are not affinity");
        assert_eq!(typer_affinity(0x12_0034_5678), 0x1234_5678);
    }

    #[test]
    fn irouter_names_one_cpu() {
        assert_eq!(irouter(0x8000_0000), 0, "vCPU 0: IRM 0, no U/MT bits");
        assert_eq!(irouter(0x8000_0001), 1);
        assert_eq!(irouter(0x12_c134_5678), 0x12_0034_5678, "U (30) and MT (24) dropped, Aff3 kept");
    }

    #[test]
    fn sgi1r_targets_one_cpu() {
        assert_eq!(sgi1r(1, 0x8000_0001), 0x0100_0002);
        assert_eq!(sgi1r(0, 0x8000_0000), 0x0000_0001);
        // Aff0 = 0x13: range selector 1, target bit 3; Aff1 = 2, Aff2 = 3, Aff3 = 4.
        assert_eq!(sgi1r(15, 0x04_0003_0213), 0x0004_1003_0f02_0008);
    }
}
