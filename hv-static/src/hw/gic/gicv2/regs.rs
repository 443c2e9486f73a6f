//! The GICv2 frames hv-static drives, as tock-registers blocks: the distributor (GICD), the CPU interface (GICC)
//! and the virtual interface control (GICH), with register and field names as in the GICv2 architecture
//! specification (Arm IHI 0048B). The macro checks every offset against the sizes before it, so a wrong offset
//! or a missing gap fails to build. Each block declares the registers the driver uses and the gaps between them,
//! and ends after the last one: it never reaches past its frame.

use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Distributor control. Bit 0 forwards interrupts to the CPU interfaces: Group 0 without the Security
    /// Extensions, Group 1 in the Non-secure view of a GIC that has them.
    pub GICD_CTLR [
        EnableGrp0 OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt controller type.
    pub GICD_TYPER [
        /// The number of 32-INTID lines, minus 1.
        ITLinesNumber OFFSET(0) NUMBITS(5) []
    ],
    /// Software generated interrupt: which CPU interfaces, which SGI (TargetListFilter 0: the list).
    pub GICD_SGIR [
        CPUTargetList OFFSET(16) NUMBITS(8) [],
        SGIINTID OFFSET(0) NUMBITS(4) []
    ],
    /// CPU interface control, its bits named as without the Security Extensions. In the Non-secure view of a GIC
    /// that has them, bit 0 enables Group 1 and bit 9 is EOImodeNS: setting bits 0, 9 and 10 enables the
    /// interface, with priority drop (GICC_EOIR) split from deactivation (GICC_DIR), in either view.
    pub GICC_CTLR [
        EnableGrp0 OFFSET(0) NUMBITS(1) [],
        EOImodeS OFFSET(9) NUMBITS(1) [],
        EOImodeNS OFFSET(10) NUMBITS(1) []
    ],
    /// Priority mask: interrupts of a priority value below it are signalled.
    pub GICC_PMR [
        Priority OFFSET(0) NUMBITS(8) []
    ],
    /// Virtual interface control.
    pub GICH_HCR [
        /// The virtual CPU interface is on.
        En OFFSET(0) NUMBITS(1) [],
        /// Underflow interrupt: a maintenance interrupt while at most one list register holds an interrupt.
        UIE OFFSET(1) NUMBITS(1) []
    ],
    /// VGIC type.
    pub GICH_VTR [
        /// The number of list registers, minus 1.
        ListRegs OFFSET(0) NUMBITS(6) []
    ],
}

register_structs! {
    /// The distributor. The one-bit-per-INTID arrays hold 32 registers and the one-byte-per-INTID arrays 1,024
    /// bytes, which includes the reserved word after INTID 1019's byte (INTIDs 1020-1023 are special and have no
    /// priority nor target): indexed modulo a power of two, they need no bounds check (`mmio::word`,
    /// `mmio::entry`).
    pub Gicd {
        (0x000 => pub ctlr: ReadWrite<u32, GICD_CTLR::Register>),
        (0x004 => pub typer: ReadOnly<u32, GICD_TYPER::Register>),
        (0x008 => _reserved0),
        (0x100 => pub isenabler: [ReadWrite<u32>; 32]),
        (0x180 => pub icenabler: [ReadWrite<u32>; 32]),
        (0x200 => pub ispendr: [ReadWrite<u32>; 32]),
        (0x280 => pub icpendr: [ReadWrite<u32>; 32]),
        (0x300 => pub isactiver: [ReadWrite<u32>; 32]),
        (0x380 => pub icactiver: [ReadWrite<u32>; 32]),
        // Byte-accessible: hv-static writes one INTID's priority or targets without touching its neighbours'.
        (0x400 => pub ipriorityr: [ReadWrite<u8>; 1024]),
        (0x800 => pub itargetsr: [ReadWrite<u8>; 1024]),
        (0xC00 => _reserved1),
        (0xF00 => pub sgir: WriteOnly<u32, GICD_SGIR::Register>),
        (0xF04 => @END),
    },

    /// The CPU interface. GICC_DIR lies in the frame's second 4 KiB page.
    pub Gicc {
        (0x0000 => pub ctlr: ReadWrite<u32, GICC_CTLR::Register>),
        (0x0004 => pub pmr: ReadWrite<u32, GICC_PMR::Register>),
        (0x0008 => _reserved0),
        (0x000C => pub iar: ReadOnly<u32>),
        (0x0010 => pub eoir: WriteOnly<u32>),
        (0x0014 => _reserved1),
        (0x1000 => pub dir: WriteOnly<u32>),
        (0x1004 => @END),
    },

    /// The virtual interface control. The list registers, GICH_VMCR and GICH_APR are read and written whole: the
    /// vGIC (`vgic::lr`) encodes the list registers, and the others are a vCPU's state, saved and restored as is.
    pub Gich {
        (0x000 => pub hcr: ReadWrite<u32, GICH_HCR::Register>),
        (0x004 => pub vtr: ReadOnly<u32, GICH_VTR::Register>),
        (0x008 => pub vmcr: ReadWrite<u32>),
        (0x00C => _reserved0),
        (0x030 => pub elrsr0: ReadOnly<u32>),
        (0x034 => _reserved1),
        (0x0F0 => pub apr: ReadWrite<u32>),
        (0x0F4 => _reserved2),
        (0x100 => pub lr: [ReadWrite<u32>; 64]),
        (0x200 => @END),
    }
}
