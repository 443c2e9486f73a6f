//! Board descriptions for hv-static's host tools.
//!
//! A board is plain data: where its RAM, console UART and interrupt controller live, how many CPUs it has, where a
//! boot loader places the hypervisor image and its device tree and, for boards QEMU emulates, the command line that boots it. One
//! module per board holds one `static` [`Board`]; [`Board::by_name`] finds it by the name configs use.
//!
//! Design rules:
//! - Facts only. Policy (which CPUs a system uses, how partitions are laid out) belongs to the image builder.
//! - `no_std` + `alloc`: the data is usable from anywhere; only the QEMU command line needs `alloc`.
//! - A fact that differs with the GIC version is stored per version, never computed from the other one.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::{format, string::String, vec::Vec};

pub mod facts;
pub mod orangepi_pc;
pub mod qemu_virt;
pub mod qemu_virt_a15;
pub mod qemu_virt_aarch64;
pub mod rpi4;
pub mod tree;
pub mod vexpress_a15;
pub mod xlnx_versal_virt;
pub mod xlnx_zcu102;

/// Every board this crate describes, in the order hints list them.
pub static BOARDS: &[&Board] = &[
    &qemu_virt_aarch64::BOARD,
    &qemu_virt_a15::BOARD,
    &xlnx_zcu102::BOARD,
    &xlnx_versal_virt::BOARD,
    &rpi4::BOARD,
    &orangepi_pc::BOARD,
    &vexpress_a15::BOARD,
];

/// 1 KiB, 1 MiB and 1 GiB, for writing sizes readably.
pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// Instruction set the board's CPUs run the hypervisor in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// ARMv8-A, hypervisor at EL2 in AArch64; partitions boot as an arm64 `Image`.
    Aarch64,
    /// ARMv7-A with the virtualization extensions (Cortex-A15, A7), hypervisor in Hyp mode; partitions boot as an
    /// ARM `zImage`.
    Aarch32,
}

impl Arch {
    /// The name used in target triples and tool names.
    pub const fn name(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64",
            Arch::Aarch32 => "aarch32",
        }
    }

    /// What to call the architecture in messages.
    pub const fn description(self) -> &'static str {
        match self {
            Arch::Aarch64 => "AArch64 (ARMv8-A)",
            Arch::Aarch32 => "ARMv7-A (AArch32)",
        }
    }

    /// The Rust target bare-metal guests are built for.
    pub const fn rust_target(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64-unknown-none",
            Arch::Aarch32 => "armv7a-none-eabi",
        }
    }

    /// The Rust target the hypervisor is built for: without FP/SIMD registers, so a trap never disturbs a
    /// partition's FP state (the equivalent of Linux's and Xen's `-mgeneral-regs-only`). `armv7a-none-eabi` is
    /// already soft-float.
    pub const fn hv_rust_target(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64-unknown-none-softfloat",
            Arch::Aarch32 => "armv7a-none-eabi",
        }
    }
}

pub use hv_plan::system::{CpuStart, GicVersion, UartKind};

/// An interrupt as the GIC device-tree binding names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Irq {
    /// Shared peripheral interrupt n (INTID 32 + n).
    Spi(u32),
    /// Private peripheral interrupt n (INTID 16 + n).
    Ppi(u32),
}

impl Irq {
    /// The GIC interrupt ID.
    pub const fn intid(self) -> u32 {
        match self {
            Irq::Spi(n) => 32 + n,
            Irq::Ppi(n) => 16 + n,
        }
    }
}

/// A console UART of the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart {
    /// The name configs use for it (`[hypervisor] console = "uart0"`).
    pub name: &'static str,
    /// Its node in the board's device tree. The UART the hypervisor uses as its console is never passed through.
    pub path: &'static str,
    pub kind: UartKind,
    pub base: u64,
    pub size: u64,
    pub irq: Irq,
}

/// A range of MMIO addresses (host-physical).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mmio {
    pub base: u64,
    pub size: u64,
}

impl Mmio {
    /// End (exclusive).
    pub const fn end(&self) -> u64 {
        self.base + self.size
    }

    pub const fn overlaps(&self, base: u64, size: u64) -> bool {
        self.base < base.saturating_add(size) && base < self.end()
    }
}

/// The value of an extra property of a passthrough device's node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropValue {
    /// No value (`gpio-controller;`).
    Empty,
    /// One cell (`#gpio-cells = <2>;`).
    U32(u32),
    /// One string.
    Str(&'static str),
}

/// An input clock of a passthrough device, as its binding names it. The partition's device tree feeds it from a
/// fixed clock of this frequency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// The `clock-names` entry (`"apb_pclk"`).
    pub name: &'static str,
    pub hz: u32,
}

/// A device that may be passed through to one partition: mapped into its stage 2 at guest-physical = host-physical,
/// its interrupts routed to it, and its node copied into the partition's device tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    /// The node's path in the board's device tree, which configs use to name the device (`"/pl031@9010000"`,
    /// `"/axi/serial@ff010000"`). The partition's tree gets the node under its root, by its node name: a
    /// partition's tree has no bus nodes.
    pub path: &'static str,
    /// What it is, for listings.
    pub description: &'static str,
    /// MMIO regions, in `reg` order; 4 KiB-aligned, so stage 2 can map them.
    pub regs: &'static [Mmio],
    /// Shared peripheral interrupts, as INTIDs (32 + the SPI number), in `interrupts` order; all level-high.
    pub spis: &'static [u32],
    /// `compatible`, most specific first.
    pub compatible: &'static [&'static str],
    /// `clocks` / `clock-names`, in order (empty: the binding takes none).
    pub clocks: &'static [Clock],
    /// Other properties of the node, as the binding wants them.
    pub props: &'static [(&'static str, PropValue)],
    /// Whether the device can master DMA (read and write memory by itself). Stage 2 does not translate a device's
    /// accesses, and hv-static drives no SMMU yet: a partition given such a device can reach all of memory, so the
    /// image builder warns about it.
    pub dma: bool,
}

impl Device {
    /// The node's name: the last component of its path.
    pub fn node_name(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }
}

/// A part of the board the hypervisor keeps for itself: never passed through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reserved {
    /// Its node in the board's device tree.
    pub path: &'static str,
    /// What it is (`"the GIC"`).
    pub what: &'static str,
    /// Why a partition cannot have it, one sentence.
    pub why: &'static str,
    /// Every MMIO range it occupies.
    pub regs: &'static [Mmio],
}

impl Reserved {
    /// The board's interrupt controller at `path`, occupying `regs`: every board reserves it, for the same reason.
    pub const fn gic(path: &'static str, regs: &'static [Mmio]) -> Reserved {
        Reserved {
            path,
            what: "the GIC",
            why:
                "hv-static owns the interrupt controller: every partition gets an emulated distributor, through which \
                  it enables and routes its passed-through interrupts",
            regs,
        }
    }
}

/// Why a device-tree path cannot be passed through (see [`Board::passthrough`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotPassthrough {
    /// It is the UART the hypervisor writes its console to.
    Console(&'static Uart),
    /// The hypervisor keeps it.
    Reserved(&'static Reserved),
    /// The board lists no device at this path.
    Unknown,
}

/// GICv3 frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicV3Frames {
    /// Distributor (64 KiB).
    pub gicd: u64,
    /// First redistributor; CPU n's frames start at `gicr + n * gicr_stride`.
    pub gicr: u64,
    /// Size of one CPU's redistributor frames (RD_base + SGI_base: 128 KiB).
    pub gicr_stride: u64,
}

/// GICv2 frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicV2Frames {
    /// Distributor.
    pub gicd: u64,
    /// CPU interface.
    pub gicc: u64,
    /// Virtual interface control (the hypervisor's list registers).
    pub gich: u64,
    /// Virtual CPU interface (mapped into partitions).
    pub gicv: u64,
}

/// The board's interrupt controller, per supported version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gic {
    /// The version used when a config does not choose one.
    pub default_version: GicVersion,
    /// GICv3 frames, when the board can have a GICv3.
    pub v3: Option<GicV3Frames>,
    /// GICv2 frames, when the board can have a GICv2.
    pub v2: Option<GicV2Frames>,
    /// Virtual interface maintenance interrupt, as a PPI number's INTID (25 on most boards).
    pub maintenance_intid: u32,
}

impl Gic {
    /// Whether the board can have a GIC of this version.
    pub const fn supports(&self, version: GicVersion) -> bool {
        match version {
            GicVersion::V2 => self.v2.is_some(),
            GicVersion::V3 => self.v3.is_some(),
        }
    }

    /// The versions the board supports, oldest first.
    pub fn versions(&self) -> Vec<GicVersion> {
        [GicVersion::V2, GicVersion::V3].into_iter().filter(|v| self.supports(*v)).collect()
    }
}

/// Generic timer PPIs (as INTIDs), as the `arm,armv8-timer` binding orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerIrqs {
    pub secure_phys: u32,
    pub nonsecure_phys: u32,
    pub virt: u32,
    pub hyp_phys: u32,
}

impl TimerIrqs {
    /// The PPIs Arm's Server Base System Architecture recommends and every board here uses: 13, 14, 11 and 10
    /// (INTIDs 29, 30, 27, 26).
    pub const SBSA: TimerIrqs = TimerIrqs {
        secure_phys: Irq::Ppi(13).intid(),
        nonsecure_phys: Irq::Ppi(14).intid(),
        virt: Irq::Ppi(11).intid(),
        hyp_phys: Irq::Ppi(10).intid(),
    };
}

/// How QEMU emulates the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Qemu {
    /// The emulator binary.
    pub binary: &'static str,
    /// The Debian package that provides it.
    pub package: &'static str,
    /// `-M` machine name.
    pub machine: &'static str,
    /// Machine options always given (`-M machine,opt,opt`).
    pub machine_options: &'static [&'static str],
    /// Whether the machine takes `gic-version=N`.
    pub gic_version_option: bool,
    /// `-cpu` model for a GICv3 system (its CPU interface must be the system-register one).
    pub cpu_gicv3: &'static str,
    /// `-cpu` model for a GICv2 system.
    pub cpu_gicv2: &'static str,
    /// Whether QEMU boots the hypervisor image directly (`-kernel`). When false the board boots as the real one
    /// does, through its U-Boot ([`Board::uboot`]) from a disk, and [`Board::qemu_args`] has no command line.
    pub kernel_boot: bool,
    /// Whether QEMU's `-kernel` boot hands the image a device tree of its own making, with `-append`'s text as
    /// `/chosen/bootargs` (the `virt` machines). Without one (vexpress passes ATAGs) hv-static gets no command line,
    /// so the image builder's `hv-static.preloaded` word could not reach it and the images are not preloaded.
    pub kernel_dtb: bool,
    /// Which of `-cpu`, `-smp` and `-m` the machine takes: an SoC model fixes its CPUs, some fix their RAM too.
    pub shape: QemuShape,
    /// Whether the machine has the ARM Security Extensions as a switch (`-M ...,secure=on|off`) that a run may set:
    /// with them on the CPUs start in Secure SVC mode, with them off in Hyp mode, and hv-static boots either way
    /// (see [`Board::qemu_set_secure`]). `machine_options` gives the default.
    pub secure_option: bool,
    /// Further options every command line for the board ends with (after `-nographic`).
    pub extra_args: &'static [&'static str],
    /// The board's UARTs in the order QEMU connects them to its `-serial` options, as device-tree paths: the
    /// first is the console (`-nographic` puts it on stdio). A UART passed through to a partition is a later one;
    /// [`Board::qemu_serial_args`] gives it a file to write to.
    pub serials: &'static [&'static str],
    /// The device tree QEMU is given (`-dtb`) when its model builds none: a path under `/usr/lib/linux-image-*/` of
    /// Debian's arm64 kernel package (the arm64 Linux fixture keeps it, in `tests/fixtures/cache/arm64/dtbs/`).
    pub dtb: Option<&'static str>,
    /// Whether the machine needs the newer QEMU of Debian's bookworm-backports (`binary` of the packages
    /// `tests/fixtures/fetch-qemu-backports.sh` unpacks into the fixture cache) rather than the system's QEMU 7.2.
    pub backports: bool,
}

/// Which of the machine's properties a QEMU command line chooses. A SoC model builds its own CPUs: QEMU either
/// refuses or silently ignores `-cpu` (and, where the count is fixed, `-smp`), so the command line gives only what
/// the model honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QemuShape {
    /// `-cpu`, `-smp` and `-m` as the system wants (`virt`).
    Free,
    /// The CPU model is the SoC's; `-smp` and `-m` choose how many CPUs and how much RAM (`xlnx-zcu102`: up to four
    /// Cortex-A53s).
    FixedCpuModel,
    /// CPU model and count are the SoC's; `-m` chooses the RAM (`xlnx-versal-virt`: two Cortex-A72s).
    FixedCpus,
    /// Nothing is chosen: QEMU refuses any other `-cpu`, `-smp` or `-m` (`orangepi-pc`).
    Fixed,
}

/// Where the boot loader puts the board's device tree when it boots the hypervisor image. The image builder keeps
/// the hypervisor, its payload and every partition clear of it: hv-static reads that tree at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootDtb {
    /// QEMU's direct kernel boot (`-kernel`, hw/arm/boot.c) of an arm64 Image: the tree goes where an initrd would
    /// go, at RAM base + min(RAM size / 2, 128 MiB), or at the end of the image (its load address + the header's
    /// `image_size`, or the file size when larger) when that is higher, rounded up to 2 MiB. QEMU writes a 1 MiB
    /// blob there (and its boot stub at RAM base, below the image).
    Qemu,
    /// QEMU's direct kernel boot of a raw 32-bit image (an ARM zImage: QEMU 7.2 reads no header of it): QEMU loads
    /// the file at RAM base + 64 KiB ([`BootDtb::QEMU_RAW32_LOAD_OFFSET`]) and puts the tree at RAM base +
    /// min(RAM size / 2, 128 MiB), or right after the loaded file when that is higher, rounded up to 4 KiB; a
    /// 1 MiB blob. The image then moves itself up to its link address, so the tree must lie above the image's end
    /// there too: once the file reaches past the 128 MiB mark there is no room (the tree would follow the loaded
    /// file, inside the moved image).
    QemuRaw32,
    /// U-Boot's `bootz`/`booti` with `fdt_high` unset: it copies the tree, with `CONFIG_SYS_FDT_PAD` (12 KiB) of room
    /// to grow, to the highest 4 KiB-aligned free address below RAM base + `bootm_size` (the environment variable
    /// of that name, which the stored environment must keep). The region is the 2 MiB below that mark.
    UBootBootm { bootm_size: u64 },
}

impl BootDtb {
    /// QEMU puts an initrd (and so the tree) at least this far above RAM base, when RAM is at least twice as large.
    pub const QEMU_INITRD_OFFSET: u64 = 128 * MIB;
    /// Alignment of the tree, and the room the builder keeps for it.
    pub const QEMU_ALIGN: u64 = 2 * MIB;
    /// Where QEMU loads a raw 32-bit image above RAM base (hw/arm/boot.c's `KERNEL_LOAD_ADDR`).
    pub const QEMU_RAW32_LOAD_OFFSET: u64 = 64 * KIB;
    /// The size of the blob QEMU's `virt` writes (its `FDT_MAX_SIZE`).
    pub const QEMU_BLOB_SIZE: u64 = MIB;

    /// The region the tree may occupy, for RAM at `ram_base` of `ram_size` bytes and a boot image that occupies
    /// `image` once it lies at its link address (the hypervisor's load address and the whole image size). The
    /// region is 2 MiB-aligned; it may end beyond RAM when the image leaves no room, and for
    /// [`BootDtb::QemuRaw32`] it may overlap `image` when the image is too large (both are errors for the caller).
    pub const fn region(&self, ram_base: u64, ram_size: u64, image: Mmio) -> Mmio {
        let half = ram_size / 2;
        let above = if half < Self::QEMU_INITRD_OFFSET { half } else { Self::QEMU_INITRD_OFFSET };
        let initrd = ram_base.saturating_add(above);
        match self {
            BootDtb::Qemu => {
                let image_end = image.base.saturating_add(image.size);
                let base = if image_end > initrd { image_end } else { initrd };
                Mmio { base: align_up(base, Self::QEMU_ALIGN), size: Self::QEMU_ALIGN }
            }
            BootDtb::QemuRaw32 => {
                let loaded_end = ram_base.saturating_add(Self::QEMU_RAW32_LOAD_OFFSET).saturating_add(image.size);
                let blob = align_up(if loaded_end > initrd { loaded_end } else { initrd }, 4 * KIB);
                let base = blob / Self::QEMU_ALIGN * Self::QEMU_ALIGN;
                let end = align_up(blob.saturating_add(Self::QEMU_BLOB_SIZE), Self::QEMU_ALIGN);
                Mmio { base, size: end - base }
            }
            BootDtb::UBootBootm { bootm_size } => {
                let end = ram_base.saturating_add(*bootm_size) / Self::QEMU_ALIGN * Self::QEMU_ALIGN;
                Mmio { base: end.saturating_sub(Self::QEMU_ALIGN), size: Self::QEMU_ALIGN }
            }
        }
    }
}

/// `x` rounded up to a multiple of `align` (a power of two), saturating.
const fn align_up(x: u64, align: u64) -> u64 {
    x.saturating_add(align - 1) / align * align
}

/// Where a U-Boot build reads its saved environment from. A saved environment replaces the built-in default one
/// whole (it is not merged), so it must carry `bootcmd` and every variable that command uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UBootEnv {
    /// Memory-mapped NOR flash (`CONFIG_ENV_IS_IN_FLASH`): `size` bytes (`CONFIG_ENV_SIZE`) at `addr`
    /// (`CONFIG_ENV_ADDR`). Nothing on the disk changes it; on QEMU, `qemu_flash` is the flash device holding it.
    Flash { addr: u64, size: u64, qemu_flash: Option<QemuFlash> },
    /// A file in the boot partition (`CONFIG_ENV_IS_IN_FAT`) of `size` bytes.
    Fat { file: &'static str, size: u64 },
    /// Wherever the user's build of U-Boot keeps it ([`UBootFirmware::InUserFile`]): the card carries none, and
    /// U-Boot's distro boot finds `boot.scr`.
    Unknown,
}

impl UBootEnv {
    /// `CONFIG_ENV_SIZE`: the size of the stored environment, CRC included.
    pub const fn size(&self) -> u64 {
        match *self {
            UBootEnv::Flash { size, .. } | UBootEnv::Fat { size, .. } => size,
            UBootEnv::Unknown => 0,
        }
    }
}

/// A parallel NOR flash device of a QEMU board (`-drive if=pflash,unit=N,format=raw,file=F`). QEMU wants its file
/// exactly `size` bytes long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QemuFlash {
    pub unit: u32,
    pub base: u64,
    pub size: u64,
}

impl QemuFlash {
    /// QEMU options attaching `file` as this flash.
    pub fn qemu_args(&self, file: &str) -> Vec<String> {
        ["-drive".into(), format!("if=pflash,unit={},format=raw,file={file}", self.unit)].into_iter().collect()
    }
}

/// A board's virtio-mmio transports: `count` register blocks of `stride` bytes from `base` (QEMU `virt`: 32 of
/// `0x200` from `0x0a00_0000`, filled from the highest down as devices are given on QEMU's command line), transport
/// `n` raising the level-sensitive SPI with INTID `intid_base + n`. hv-static probes them at boot for the board's
/// own devices ([`Board::host_disk`], [`Board::host_net`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioMmioBus {
    pub base: u64,
    pub stride: u64,
    pub count: u32,
    /// INTID of transport 0's interrupt (QEMU `virt`: SPI 16, INTID 48).
    pub intid_base: u32,
}

impl VirtioMmioBus {
    /// The whole window.
    pub const fn region(&self) -> Mmio {
        Mmio { base: self.base, size: self.stride * self.count as u64 }
    }

    /// The INTIDs of the transports' interrupts, transport 0's first.
    pub const fn intids(&self) -> core::ops::Range<u32> {
        self.intid_base..self.intid_base + self.count
    }
}

/// The serial number (virtio-blk GET_ID, at most 20 bytes) of the board's own disk: hv-static uses the virtio-blk
/// device that reports it, and no other (a boot card on another transport is never written).
pub const HOST_DISK_SERIAL: &str = "hv-static-host-disk";

/// QEMU options attaching the raw image `file` as the board's own disk ([`Board::host_disk`]).
pub fn host_disk_qemu_args(file: &str) -> Vec<String> {
    [
        "-drive".into(),
        format!("if=none,format=raw,file={file},id=hostdisk"),
        "-device".into(),
        format!("virtio-blk-device,drive=hostdisk,serial={HOST_DISK_SERIAL}"),
    ]
    .into_iter()
    .collect()
}

/// QEMU options attaching the board's own network device ([`Board::host_net`]): a virtio-net device on QEMU's
/// user-mode network (slirp: the partitions on the uplink's switch reach the host as 10.0.2.2, its DNS as 10.0.2.3,
/// and are expected at 10.0.2.15). QEMU fills the transports from the highest as devices are given (image-builder
/// `run` gives this before [`host_disk_qemu_args`]: the network device in transport 31, the disk in 30);
/// hv-static finds each by its device ID (and the disk by its serial), whatever the slots.
pub fn host_net_qemu_args() -> Vec<String> {
    ["-netdev".into(), "user,id=uplink".into(), "-device".into(), "virtio-net-device,netdev=uplink".into()]
        .into_iter()
        .collect()
}

/// The disk a U-Boot build boots the hypervisor image from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootDisk {
    /// A virtio block device on virtio-mmio (QEMU: `-drive if=none,file=CARD,format=raw,id=sd
    /// -device virtio-blk-device,drive=sd`); U-Boot's `virtio` interface, found by `virtio scan`.
    VirtioMmio,
    /// The board's SD card slot (QEMU: `-drive if=sd,format=raw,file=CARD`); U-Boot's `mmc` interface, probed while
    /// U-Boot starts.
    Sd,
}

impl BootDisk {
    /// U-Boot's interface name (`load INTERFACE DEV:PART ...`).
    pub const fn uboot_interface(self) -> &'static str {
        match self {
            BootDisk::VirtioMmio => "virtio",
            BootDisk::Sd => "mmc",
        }
    }

    /// The U-Boot command that makes the disk visible when nothing has probed it yet (`None`: U-Boot already has).
    pub const fn uboot_init(self) -> Option<&'static str> {
        match self {
            BootDisk::VirtioMmio => Some("virtio scan"),
            BootDisk::Sd => None,
        }
    }

    /// QEMU options attaching the raw image `card` as this disk.
    pub fn qemu_args(self, card: &str) -> Vec<String> {
        match self {
            BootDisk::VirtioMmio => [
                "-drive".into(),
                format!("if=none,file={card},format=raw,id=sd"),
                "-device".into(),
                "virtio-blk-device,drive=sd".into(),
            ]
            .into_iter()
            .collect(),
            BootDisk::Sd => ["-drive".into(), format!("if=sd,format=raw,file={card}")].into_iter().collect(),
        }
    }
}

/// Where a U-Boot build runs from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UBootFirmware {
    /// QEMU loads it as the board's firmware (`-bios`).
    Bios,
    /// The SoC's boot ROM loads U-Boot's SPL from the boot disk, `offset` bytes in, and the SPL loads U-Boot proper
    /// from right after itself, as on the real board: the binary is written onto the card there, and the card is
    /// all QEMU is given.
    OnCard { offset: u64 },
    /// The SoC's own boot firmware, itself files in the card's boot partition, loads U-Boot from there too (the
    /// Raspberry Pi's VideoCore firmware, told by its `config.txt`): see [`BootFirmware`]. QEMU runs no such
    /// firmware, so a run does its part: U-Boot and the device tree, taken from the card, become `-kernel` and
    /// `-dtb`.
    Soc(&'static BootFirmware),
    /// U-Boot is inside a boot image the user builds and supplies, which the SoC's boot ROM loads from the boot
    /// partition (the Zynq UltraScale+'s `BOOT.BIN`: FSBL, PMU firmware, TF-A, U-Boot; Debian has no such chain).
    /// The card carries that file under `name` at the partition's root; QEMU runs no such boot ROM.
    InUserFile {
        /// Its name in the boot partition.
        name: &'static str,
        /// What it must hold, for messages.
        what: &'static str,
    },
}

/// A file a boot card carries from a Debian package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackageFile {
    /// The Debian package.
    pub package: &'static str,
    /// Where the package installs it.
    pub path: &'static str,
}

impl PackageFile {
    /// Its name on the card: the last component of [`PackageFile::path`].
    pub fn name(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }
}

/// A SoC's boot firmware that lives in the card's boot partition ([`UBootFirmware::Soc`]): what the image builder
/// writes there beside hv-static so that the firmware starts U-Boot, which starts hv-static.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootFirmware {
    /// What it is, for messages.
    pub what: &'static str,
    /// The firmware's own files, copied from Debian's packages to the root of the boot partition.
    pub files: &'static [PackageFile],
    /// U-Boot's name in the boot partition (what the configuration file tells the firmware to start).
    pub uboot_file: &'static str,
    /// The board's device tree the firmware loads and hands to U-Boot: a path under `/usr/lib/linux-image-*/` of
    /// Debian's arm64 kernel package (the arm64 Linux fixture keeps it), written to the boot partition under its
    /// file name.
    pub dtb: &'static str,
    /// The configuration file the firmware reads, and its lines (the image builder writes a comment above them).
    pub config_file: &'static str,
    pub config: &'static [&'static str],
    /// The UARTs (by [`Uart::name`]) the firmware, so configured, leaves wired to the board's serial header: a
    /// console elsewhere works in QEMU but is not seen on the real board.
    pub header_uarts: &'static [&'static str],
}

impl BootFirmware {
    /// The device tree's name in the boot partition.
    pub fn dtb_file(&self) -> &'static str {
        self.dtb.rsplit('/').next().unwrap_or(self.dtb)
    }
}

/// How U-Boot starts the hypervisor image, which decides where the boot script loads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootCommand {
    /// `booti` starts an arm64 `Image`: the script loads it to `kernel_addr_r` and `booti` moves it to RAM base +
    /// its `text_offset` ([`Board::hv_load_addr`]), then enters it at EL2 with `x0` = the device tree.
    Booti,
    /// `bootz` starts an ARM `zImage` where it lies (a zImage is position-independent), in Hyp mode with `r2` = the
    /// device tree: the script loads hv-static straight to its link address ([`Board::hv_load_addr`]), so it has
    /// nothing to move.
    Bootz,
}

impl BootCommand {
    /// The U-Boot command.
    pub const fn name(self) -> &'static str {
        match self {
            BootCommand::Booti => "booti",
            BootCommand::Bootz => "bootz",
        }
    }
}

/// A U-Boot build for the board, used to boot the hypervisor image from a disk: U-Boot loads the image from the
/// boot partition and starts it with `boot_command` (see [`BootCommand`]) and the device tree named by
/// `fdt_variable`. The values are those of the build's default environment (`printenv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UBoot {
    /// The U-Boot binary, where its Debian package installs it (for [`UBootFirmware::InUserFile`]: the build the
    /// user's image must carry, for messages).
    pub binary: &'static str,
    /// The directory of the fixture cache (`tests/fixtures/cache/`) a fetch script unpacks the package into when it
    /// is not installed (a package of another architecture than the host's), with the firmware's files
    /// ([`UBootFirmware::Soc`]) if any; `None` when the host's package manager installs it.
    pub fixture: Option<&'static str>,
    /// Where it runs from: QEMU's `-bios`, or written onto the card.
    pub firmware: UBootFirmware,
    /// The Debian package that provides it.
    pub package: &'static str,
    /// The U-Boot release these facts were read from.
    pub version: &'static str,
    /// `kernel_addr_r`: where the boot script loads an image that the boot command moves ([`BootCommand::Booti`]).
    pub kernel_addr_r: u64,
    /// `fdt_addr_r`, when the default environment defines it.
    pub fdt_addr_r: Option<u64>,
    /// `scriptaddr`: where distro boot loads `boot.scr`.
    pub scriptaddr: u64,
    /// The variable holding the address of the device tree to pass: `fdtcontroladdr` is U-Boot's own control tree
    /// (on QEMU, the board's tree QEMU generated), set at run time.
    pub fdt_variable: &'static str,
    /// The command that starts the image.
    pub boot_command: BootCommand,
    /// The disk U-Boot boots from; the boot partition is its first.
    pub disk: BootDisk,
    /// U-Boot's numbers the disk may have on its interface (`virtio 0`), tried in this order by the stored
    /// environment's boot command; the first is where a U-Boot that keeps its environment in FAT reads it from.
    pub disk_devices: &'static [u32],
    /// Where U-Boot reads its saved environment from.
    pub env: UBootEnv,
    /// The default environment's `bootdelay`, in seconds (the autoboot countdown).
    pub default_bootdelay: u32,
}

/// What the image builder passes to [`Board::qemu_args`].
#[derive(Clone, Copy, Debug)]
pub struct QemuRun<'a> {
    pub gic: GicVersion,
    /// `-smp`.
    pub cpus: u32,
    /// `-m`, in bytes.
    pub ram_size: u64,
    /// `-kernel`.
    pub kernel: &'a str,
}

/// A board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// The name configs use (`[board] name = "..."`).
    pub name: &'static str,
    /// One line for hints and listings.
    pub description: &'static str,
    pub arch: Arch,
    /// Start of RAM.
    pub ram_base: u64,
    /// RAM size the board is used with (on QEMU: the `-m` given).
    pub ram_size: u64,
    /// Largest RAM the board can have.
    pub max_ram_size: u64,
    /// Number of CPUs the board can have; CPU n has MPIDR affinity n.
    pub max_cpus: u32,
    /// Console UARTs; the first is the default hypervisor console.
    pub uarts: &'static [Uart],
    pub gic: Gic,
    pub timer: TimerIrqs,
    /// `compatible` of the cpu nodes in a partition's device tree (vCPUs run on the board's CPUs).
    pub cpu_compatible: &'static str,
    /// Where the hypervisor image lies while it runs, where it is linked: on AArch64 the boot loader places it
    /// there (RAM base + the arm64 Image `text_offset`); an ARMv7 image moves itself there from wherever the boot
    /// loader put it.
    pub hv_load_addr: u64,
    /// Default room for the hypervisor image including its bss.
    pub hv_budget: u64,
    /// Where the boot loader puts the board's device tree.
    pub boot_dtb: BootDtb,
    /// How QEMU emulates this board, when it does.
    pub qemu: Option<Qemu>,
    /// The U-Boot build that boots the hypervisor image from a disk, when there is one.
    pub uboot: Option<UBoot>,
    /// Devices that may be passed through to a partition, in the order hints list them.
    pub devices: &'static [Device],
    /// Parts of the board that are never passed through (besides the console UART, see [`Uart::path`]).
    pub reserved: &'static [Reserved],
    /// How the hypervisor starts the other CPUs.
    pub cpu_start: CpuStart,
    /// Whether the board has a block device of its own that hv-static keeps and slices among partitions (on QEMU
    /// `virt`, a virtio-blk device on virtio-mmio): the backing of a config's `backing = "host"` disks, whose
    /// writes persist.
    pub host_disk: bool,
    /// Whether the board has a network device of its own that hv-static keeps as the uplink of a virtual switch (on
    /// QEMU `virt`, a virtio-net device on virtio-mmio with `-netdev user`): a config's `uplink = true`.
    pub host_net: bool,
    /// The virtio-mmio transports hv-static probes for those devices (`None`: the board has none).
    pub virtio_mmio: Option<VirtioMmioBus>,
}

impl Board {
    /// The board with this name.
    pub fn by_name(name: &str) -> Option<&'static Board> {
        BOARDS.iter().copied().find(|b| b.name == name)
    }

    /// Names of all boards, for hints.
    pub fn names() -> Vec<&'static str> {
        BOARDS.iter().map(|b| b.name).collect()
    }

    /// End of RAM (exclusive) for a RAM size.
    pub const fn ram_end(&self, ram_size: u64) -> u64 {
        self.ram_base + ram_size
    }

    /// The arm64 Image `text_offset` the hypervisor image must carry so a boot loader places it at
    /// [`Board::hv_load_addr`].
    pub const fn hv_text_offset(&self) -> u64 {
        self.hv_load_addr - self.ram_base
    }

    /// The UART with this name.
    pub fn uart(&self, name: &str) -> Option<&'static Uart> {
        self.uarts.iter().find(|u| u.name == name)
    }

    /// The default console UART.
    pub fn default_uart(&self) -> &'static Uart {
        &self.uarts[0]
    }

    /// The passthrough-able device at a device-tree path, or why there is none when the hypervisor writes its
    /// console to `console`.
    pub fn passthrough(&self, path: &str, console: &Uart) -> Result<&'static Device, NotPassthrough> {
        if let Some(u) = self.uarts.iter().find(|u| u.path == path && u.name == console.name) {
            return Err(NotPassthrough::Console(u));
        }
        if let Some(r) = self.reserved.iter().find(|r| r.path == path) {
            return Err(NotPassthrough::Reserved(r));
        }
        self.devices.iter().find(|d| d.path == path).ok_or(NotPassthrough::Unknown)
    }

    /// MPIDR of physical CPU `index`.
    pub const fn cpu_mpidr(&self, index: u32) -> u64 {
        index as u64
    }

    /// QEMU's `-cpu` model for a GIC version.
    pub fn qemu_cpu(&self, gic: GicVersion) -> Option<&'static str> {
        self.qemu.map(|q| match gic {
            GicVersion::V3 => q.cpu_gicv3,
            GicVersion::V2 => q.cpu_gicv2,
        })
    }

    /// The QEMU command line (program first) that boots `run.kernel` on this board, or `None` when QEMU does not
    /// emulate it.
    pub fn qemu_args(&self, run: &QemuRun<'_>) -> Option<Vec<String>> {
        if !self.qemu?.kernel_boot {
            return None;
        }
        let mut args = self.qemu_machine_args(run)?;
        args.extend(["-kernel".into(), run.kernel.into()]);
        Some(args)
    }

    /// The QEMU command line (program first) that runs the board's U-Boot ([`Board::uboot`]) with the disk image
    /// `card` attached where that U-Boot looks for it (`run.kernel` is not used), or `None` when QEMU does not
    /// emulate the board or it has no U-Boot. U-Boot is QEMU's `-bios`, or already on the card.
    pub fn qemu_uboot_args(&self, run: &QemuRun<'_>, card: &str) -> Option<Vec<String>> {
        let u = self.uboot?;
        if let UBootFirmware::InUserFile { .. } = u.firmware {
            return None; // QEMU's model starts no boot ROM that would read the user's image.
        }
        let mut args = self.qemu_machine_args(run)?;
        if u.firmware == UBootFirmware::Bios {
            args.extend(["-bios".into(), u.binary.into()]);
        }
        args.extend(u.disk.qemu_args(card));
        Some(args)
    }

    /// The `-serial` options that put the hypervisor's `console` (a device-tree path) on stdio and connect each of
    /// `uarts` (in practice the UARTs passed through to partitions) to the file `file(path)` names. Empty when the
    /// console is QEMU's first serial and none of `uarts` is a later one (`-nographic`'s default does). Serials
    /// between them that nobody asked for get `null`.
    pub fn qemu_serial_args(&self, console: &str, uarts: &[&str], file: impl Fn(&str) -> String) -> Vec<String> {
        let serials = self.qemu.map_or(&[][..], |q| q.serials);
        let wanted = |s: &&str| *s == console || uarts.contains(s);
        let Some(last) = serials.iter().rposition(wanted).filter(|&i| i > 0) else {
            return Vec::new();
        };
        let mut args = Vec::new();
        for path in &serials[..=last] {
            let target = if *path == console {
                "mon:stdio".into()
            } else if uarts.contains(path) {
                format!("file:{}", file(path))
            } else {
                "null".into()
            };
            args.extend(["-serial".into(), target]);
        }
        args
    }

    /// Sets the Security Extensions switch (`secure=on|off`) on the `-M` option of a command line from
    /// [`Board::qemu_args`] or [`Board::qemu_uboot_args`]. Returns false, leaving `args` alone, when the board's
    /// QEMU model has no such switch ([`Qemu::secure_option`]) or `args` has no `-M`.
    pub fn qemu_set_secure(&self, args: &mut [String], secure: bool) -> bool {
        if !self.qemu.is_some_and(|q| q.secure_option) {
            return false;
        }
        let Some(i) = args.iter().position(|a| a == "-M") else { return false };
        let Some(machine) = args.get_mut(i + 1) else { return false };
        let kept: Vec<&str> = machine.split(',').filter(|o| !o.starts_with("secure=")).collect();
        *machine = format!("{},secure={}", kept.join(","), if secure { "on" } else { "off" });
        true
    }

    /// The QEMU command line up to (excluding) what it boots.
    fn qemu_machine_args(&self, run: &QemuRun<'_>) -> Option<Vec<String>> {
        let q = self.qemu?;
        let mut machine = String::from(q.machine);
        for opt in q.machine_options {
            machine.push(',');
            machine.push_str(opt);
        }
        if q.gic_version_option {
            machine.push_str(&format!(",gic-version={}", run.gic.number()));
        }
        let cpu = match run.gic {
            GicVersion::V3 => q.cpu_gicv3,
            GicVersion::V2 => q.cpu_gicv2,
        };
        let mut args: Vec<String> = [q.binary.into(), "-M".into(), machine].into_iter().collect();
        if q.shape == QemuShape::Free {
            args.extend(["-cpu".into(), cpu.into()]);
        }
        if matches!(q.shape, QemuShape::Free | QemuShape::FixedCpuModel) {
            args.extend(["-smp".into(), format!("{}", run.cpus)]);
        }
        if q.shape != QemuShape::Fixed {
            args.extend(["-m".into(), qemu_size(run.ram_size)]);
        }
        args.push("-nographic".into());
        args.extend(q.extra_args.iter().map(|a| String::from(*a)));
        Some(args)
    }
}

/// A size as QEMU's `-m` takes it: `1G`, `512M`, or `K` for odd sizes.
pub fn qemu_size(bytes: u64) -> String {
    if bytes.is_multiple_of(GIB) {
        format!("{}G", bytes / GIB)
    } else if bytes.is_multiple_of(MIB) {
        format!("{}M", bytes / MIB)
    } else {
        format!("{}K", bytes.div_ceil(KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_finds_every_board_and_nothing_else() {
        for b in BOARDS {
            assert_eq!(Board::by_name(b.name), Some(*b));
        }
        assert_eq!(Board::by_name("qemu-virt"), None);
        assert_eq!(
            Board::names(),
            [
                "qemu-virt-aarch64",
                "qemu-virt-a15",
                "xlnx-zcu102",
                "xlnx-versal-virt",
                "rpi4",
                "orangepi-pc",
                "vexpress-a15"
            ]
        );
    }

    /// Properties the partition's device tree writes itself for a passthrough node.
    const GENERATED: &[&str] =
        &["compatible", "reg", "interrupts", "interrupt-parent", "clocks", "clock-names", "phandle", "status"];

    /// `/name@unit` or `/bus/.../name@unit`, the unit address being the first region's base in lower-case hex.
    fn check_path(path: &str, base: u64) {
        let name = path.strip_prefix('/').unwrap_or_else(|| panic!("{path}: not absolute"));
        assert!(name.split('/').all(|c| !c.is_empty()), "{path}: an empty component");
        check_unit(path, base);
    }

    /// A node path whose last component's unit address is `base` in lower-case hex.
    fn check_unit(path: &str, base: u64) {
        assert!(path.starts_with('/'), "{path}: not absolute");
        let unit = path.rsplit('/').next().and_then(|n| n.split_once('@')).map(|(_, u)| u);
        assert_eq!(unit, Some(format!("{base:x}").as_str()), "{path}: unit address");
    }

    #[test]
    fn every_board_is_consistent() {
        for b in BOARDS {
            // hv-static maps RAM and the devices it drives in 1 GiB blocks at EL2 (`HypMap::fill`): no GiB may
            // hold both, whatever RAM size a config picks.
            let ram_gibs = b.ram_base / GIB..(b.ram_base + b.max_ram_size).div_ceil(GIB);
            let mut driven: Vec<Mmio> = b.uarts.iter().map(|u| Mmio { base: u.base, size: u.size }).collect();
            if let Some(v2) = b.gic.v2 {
                driven.extend([v2.gicd, v2.gicc, v2.gich].map(|base| Mmio { base, size: 8 * KIB }));
            }
            if let Some(v3) = b.gic.v3 {
                driven.push(Mmio { base: v3.gicd, size: 64 * KIB });
                driven.push(Mmio { base: v3.gicr, size: v3.gicr_stride * u64::from(b.max_cpus) });
            }
            driven.extend(b.virtio_mmio.map(|v| v.region()));
            if let CpuStart::SysFlags { set, clear } = b.cpu_start {
                driven.extend([set, clear].map(|base| Mmio { base, size: 4 }));
            }
            for m in driven {
                let gibs = m.base / GIB..=(m.end() - 1) / GIB;
                assert!(!gibs.clone().any(|g| ram_gibs.contains(&g)), "{}: a GiB of RAM holds {:#x}", b.name, m.base);
            }
            let mut paths: Vec<&str> = b.uarts.iter().map(|u| u.path).collect();
            // A console UART is never passed through: its node may sit anywhere in the board's tree, at an address a
            // bus translates (the Raspberry Pi 4's `/soc` puts 0x7E00_0000 at 0xFE00_0000).
            for u in b.uarts {
                assert!(u.path.starts_with('/') && u.path.contains('@'), "{}: not an absolute node path", u.path);
            }
            let reserved: Vec<Mmio> = b.reserved.iter().flat_map(|r| r.regs.iter().copied()).collect();
            for r in b.reserved {
                assert!(!r.regs.is_empty() && !r.why.is_empty(), "{}", r.path);
                paths.push(r.path);
            }
            for d in b.devices {
                assert!(!d.regs.is_empty(), "{}: no MMIO", d.path);
                check_path(d.path, d.regs[0].base);
                for m in d.regs {
                    assert!(m.size > 0 && m.base % (4 * KIB) == 0 && m.size % (4 * KIB) == 0, "{}", d.path);
                    assert!(!reserved.iter().any(|r| r.overlaps(m.base, m.size)), "{} in a reserved region", d.path);
                    for u in b.uarts.iter().filter(|u| u.path != d.path) {
                        assert!(!m.overlaps(u.base, u.size), "{} overlaps {}", d.path, u.name);
                    }
                    for e in b.devices.iter().filter(|e| e.path != d.path) {
                        assert!(!e.regs.iter().any(|r| r.overlaps(m.base, m.size)), "{} overlaps {}", d.path, e.path);
                    }
                }
                for &intid in d.spis {
                    assert!((32..1020).contains(&intid), "{}: INTID {intid} is not an SPI", d.path);
                    assert!(
                        !b.uarts.iter().any(|u| u.path != d.path && u.irq.intid() == intid),
                        "{}: INTID {intid} is a UART's",
                        d.path
                    );
                }
                assert!(!d.compatible.is_empty(), "{}", d.path);
                for (name, _) in d.props {
                    assert!(!GENERATED.contains(name), "{}: `{name}` is written by dom0-less", d.path);
                }
                assert!(d.clocks.iter().all(|c| c.hz > 0), "{}", d.path);
                paths.push(d.path);
            }
            let mut unique = paths.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), paths.len(), "{}: a path twice in {paths:?}", b.name);
        }
    }

    #[test]
    fn qemu_puts_its_device_tree_where_an_initrd_would_go() {
        let r = |ram_size: u64, image_end: u64| {
            let m =
                BootDtb::Qemu.region(0x4000_0000, ram_size, Mmio { base: 0x4020_0000, size: image_end - 0x4020_0000 });
            (m.base, m.size)
        };
        // 128 MiB above RAM base with 256 MiB of RAM or more, half of RAM below that.
        assert_eq!(r(GIB, 0x4040_0000), (0x4800_0000, 2 * MIB));
        assert_eq!(r(256 * MIB, 0x4040_0000), (0x4800_0000, 2 * MIB));
        assert_eq!(r(128 * MIB, 0x4040_0000), (0x4400_0000, 2 * MIB));
        // After a larger image, on the next 2 MiB boundary.
        assert_eq!(r(GIB, 0x4920_0000), (0x4920_0000, 2 * MIB));
        assert_eq!(r(GIB, 0x4920_1000), (0x4940_0000, 2 * MIB));
        // Absurd sizes saturate rather than wrap.
        assert!(r(GIB, u64::MAX).0 >= 0x4000_0000);
    }

    /// As measured with QEMU 7.2 (`info roms` after `-kernel` of a raw file on `qemu-system-arm -M virt`).
    #[test]
    fn qemu_puts_a_raw_32_bit_image_s_device_tree_after_the_initrd_mark_or_the_loaded_file() {
        let r = |ram_size: u64, image_size: u64| {
            let m = BootDtb::QemuRaw32.region(0x4000_0000, ram_size, Mmio { base: 0x4020_0000, size: image_size });
            (m.base, m.end())
        };
        // A 4-byte file, 1 GiB: the blob at 0x4800_0000 (1 MiB), kept as 2 MiB.
        assert_eq!(r(GIB, 4), (0x4800_0000, 0x4820_0000));
        // 128 MiB of RAM: half-way in.
        assert_eq!(r(128 * MIB, 4), (0x4400_0000, 0x4420_0000));
        // A file of 0x7f0_0000 bytes ends at 0x4800_0000 exactly: the blob stays there.
        assert_eq!(r(GIB, 0x7f0_0000), (0x4800_0000, 0x4820_0000));
        // A file of 0x8c0_0001 bytes: the blob at 0x48c1_1000, right after it; the region covers it in 2 MiB steps.
        assert_eq!(r(GIB, 0x8c0_0001), (0x48c0_0000, 0x48e0_0000));
        assert!(r(GIB, u64::MAX).0 >= 0x4000_0000);
    }

    #[test]
    fn only_qemu_virt_has_a_disk_and_a_network_device_to_share() {
        for b in BOARDS {
            let virt = b.qemu.is_some_and(|q| q.machine == "virt");
            assert_eq!((b.host_disk, b.host_net), (virt, virt), "{}", b.name);
            // hv-static finds those devices on the board's virtio-mmio transports, below RAM (device memory in its
            // own map).
            assert_eq!(b.virtio_mmio.is_some(), b.host_disk || b.host_net, "{}", b.name);
            if let Some(bus) = b.virtio_mmio {
                assert_eq!(bus.region(), Mmio { base: 0x0a00_0000, size: 0x4000 }, "{}", b.name);
                // Transport n raises SPI 16 + n (QEMU's hw/arm/virt.c), clear of every device that may be passed
                // through.
                assert_eq!(bus.intids(), 48..80, "{}", b.name);
                for d in b.devices {
                    assert!(d.spis.iter().all(|i| !bus.intids().contains(i)), "{}: {}", b.name, d.path);
                }
                assert!(bus.region().end() <= b.ram_base, "{}", b.name);
            }
        }
        assert!(HOST_DISK_SERIAL.len() <= 20, "virtio-blk serials are at most 20 bytes");
        assert_eq!(
            host_disk_qemu_args("out/x/host-disk.img").join(" "),
            "-drive if=none,format=raw,file=out/x/host-disk.img,id=hostdisk \
             -device virtio-blk-device,drive=hostdisk,serial=hv-static-host-disk"
        );
        assert_eq!(host_net_qemu_args().join(" "), "-netdev user,id=uplink -device virtio-net-device,netdev=uplink");
    }

    #[test]
    fn irq_numbers() {
        assert_eq!(Irq::Spi(1).intid(), 33);
        assert_eq!(Irq::Ppi(9).intid(), 25);
    }

    #[test]
    fn qemu_sizes() {
        assert_eq!(qemu_size(GIB), "1G");
        assert_eq!(qemu_size(1536 * MIB), "1536M");
        assert_eq!(qemu_size(4 * GIB), "4G");
        assert_eq!(qemu_size(3 * KIB), "3K");
    }

    #[test]
    fn gic_version_numbers() {
        assert_eq!(GicVersion::from_number(2), Some(GicVersion::V2));
        assert_eq!(GicVersion::from_number(3), Some(GicVersion::V3));
        assert_eq!(GicVersion::from_number(4), None);
        assert_eq!(GicVersion::V3.number(), 3);
    }
}
