//! The GICv3 frames hv-static drives, as tock-registers blocks: the distributor (GICD) and a redistributor's
//! RD_base and SGI_base frames (GICR), with register and field names as in the GICv3 architecture specification
//! (Arm IHI 0069). The macro checks every offset against the sizes before it, so a wrong offset or a missing gap
//! fails to build. Each block declares the registers the driver uses and the gaps between them, and ends after the
//! last one: it never reaches past its frame.

use core::marker::PhantomData;

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite};
use tock_registers::{register_bitfields, register_structs, RegisterLongName};

register_bitfields! {u32,
    /// Distributor control, in the layout of a GIC with a single security state (GICD_CTLR.DS set), which QEMU's
    /// virt board has.
    pub GICD_CTLR [
        EnableGrp0 OFFSET(0) NUMBITS(1) [],
        EnableGrp1 OFFSET(1) NUMBITS(1) [],
        /// Affinity routing: SPIs go where GICD_IROUTER<n> says, to a CPU named by its MPIDR.
        ARE OFFSET(4) NUMBITS(1) [],
        /// Register write pending: a write to GICD_CTLR or a clear-enable register is still taking effect.
        RWP OFFSET(31) NUMBITS(1) []
    ],
    /// Interrupt controller type.
    pub GICD_TYPER [
        /// The number of 32-INTID lines, minus 1.
        ITLinesNumber OFFSET(0) NUMBITS(5) []
    ],
    /// Redistributor power management: a CPU's redistributor is asleep until its CPU says it is awake.
    pub GICR_WAKER [
        ProcessorSleep OFFSET(1) NUMBITS(1) [],
        ChildrenAsleep OFFSET(2) NUMBITS(1) []
    ],
}

register_bitfields! {u64,
    /// Redistributor type.
    pub GICR_TYPER [
        /// This redistributor's CPU: Aff3.Aff2.Aff1.Aff0.
        Affinity_Value OFFSET(32) NUMBITS(32) [],
        /// The last redistributor of its series of frames.
        Last OFFSET(4) NUMBITS(1) []
    ],
    /// Where SPI n goes under affinity routing: the CPU with these affinities (Interrupt_Routing_Mode 0).
    pub GICD_IROUTER [
        Aff3 OFFSET(32) NUMBITS(8) [],
        Interrupt_Routing_Mode OFFSET(31) NUMBITS(1) [],
        Aff2 OFFSET(16) NUMBITS(8) [],
        Aff1 OFFSET(8) NUMBITS(8) [],
        Aff0 OFFSET(0) NUMBITS(8) []
    ],
}

/// A 64-bit register accessed as two 32-bit halves, the low word first (`A` is the halves' access type). These
/// are the accesses the driver made before it had register maps, on the one architecture GICv3 is built for
/// (AArch64); whether to replace them by single 64-bit accesses is a change of behaviour, left out of the move to
/// typed registers. Through tock-registers' `Readable` and `Writeable` the register is still read and written
/// as one 64-bit value with named fields.
#[repr(C)]
pub struct Split64<R: RegisterLongName, A> {
    low: A,
    high: A,
    reg: PhantomData<R>,
}

impl<R: RegisterLongName, A: Readable<T = u32>> Readable for Split64<R, A> {
    type T = u64;
    type R = R;

    #[inline]
    fn get(&self) -> u64 {
        let low = self.low.get();
        let high = self.high.get();
        u64::from(low) | u64::from(high) << 32
    }
}

impl<R: RegisterLongName, A: Writeable<T = u32>> Writeable for Split64<R, A> {
    type T = u64;
    type R = R;

    #[inline]
    fn set(&self, value: u64) {
        self.low.set(value as u32);
        self.high.set((value >> 32) as u32);
    }
}

register_structs! {
    /// The distributor. The one-bit-per-INTID arrays hold 32 registers; GICD_IPRIORITYR<n> holds 1,024 bytes and
    /// GICD_IROUTER<n> 1,024 entries from 0x6000, indexed by INTID: both include reserved space (the word after
    /// INTID 1019's priority; the routes of the private INTIDs 0-31 and the special 1020-1023), and indexed modulo
    /// a power of two they need no bounds check (`mmio::word`, `mmio::entry`).
    pub Gicd {
        (0x0000 => pub ctlr: ReadWrite<u32, GICD_CTLR::Register>),
        (0x0004 => pub typer: ReadOnly<u32, GICD_TYPER::Register>),
        (0x0008 => _reserved0),
        (0x0080 => pub igroupr: [ReadWrite<u32>; 32]),
        (0x0100 => pub isenabler: [ReadWrite<u32>; 32]),
        (0x0180 => pub icenabler: [ReadWrite<u32>; 32]),
        (0x0200 => pub ispendr: [ReadWrite<u32>; 32]),
        (0x0280 => pub icpendr: [ReadWrite<u32>; 32]),
        (0x0300 => pub isactiver: [ReadWrite<u32>; 32]),
        (0x0380 => pub icactiver: [ReadWrite<u32>; 32]),
        // Byte-accessible: hv-static writes one INTID's priority without touching its neighbours'.
        (0x0400 => pub ipriorityr: [ReadWrite<u8>; 1024]),
        (0x0800 => _reserved1),
        (0x6000 => pub irouter: [Split64<GICD_IROUTER::Register, ReadWrite<u32>>; 1024]),
        (0x8000 => @END),
    },

    /// A redistributor's RD_base frame: what identifies it, and its power state.
    pub GicrRd {
        (0x0000 => _reserved0),
        (0x0008 => pub typer: Split64<GICR_TYPER::Register, ReadOnly<u32>>),
        (0x0010 => _reserved1),
        (0x0014 => pub waker: ReadWrite<u32, GICR_WAKER::Register>),
        (0x0018 => @END),
    },

    /// A redistributor's SGI_base frame: its CPU's private interrupts (SGIs and PPIs, INTIDs 0-31), in the same
    /// places as the distributor's registers for INTIDs 0-31.
    pub GicrSgi {
        (0x0000 => _reserved0),
        (0x0080 => pub igroupr0: ReadWrite<u32>),
        (0x0084 => _reserved1),
        (0x0100 => pub isenabler0: ReadWrite<u32>),
        (0x0104 => _reserved2),
        (0x0180 => pub icenabler0: ReadWrite<u32>),
        (0x0184 => _reserved3),
        (0x0300 => pub isactiver0: ReadWrite<u32>),
        (0x0304 => _reserved4),
        (0x0380 => pub icactiver0: ReadWrite<u32>),
        (0x0384 => _reserved5),
        (0x0400 => pub ipriorityr: [ReadWrite<u8>; 32]),
        (0x0420 => @END),
    },

    /// One redistributor: RD_base, then SGI_base 64 KiB on. Without GICv4's virtual-LPI frames after them, the
    /// redistributors lie 128 KiB apart (`GICR_STRIDE` in the driver).
    pub Gicr {
        (0x0_0000 => pub rd: GicrRd),
        (0x0_0018 => _reserved0),
        (0x1_0000 => pub sgi: GicrSgi),
        (0x1_0420 => @END),
    }
}
