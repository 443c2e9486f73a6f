//! The guest-physical map every partition sees (docs/guest-abi.md, "Memory map"), modelled on QEMU's `virt`.

/// Default base of partition RAM.
pub const RAM: u64 = 0x4000_0000;
/// Emulated GIC distributor.
pub const GICD: u64 = 0x0800_0000;
pub const GICD_SIZE: u64 = 0x1_0000;
/// Size of the distributor as the GICv2 binding's `reg` gives it.
pub const GICD_SIZE_V2: u64 = 0x1000;
/// GICv2 CPU interface: the hardware's virtual CPU interface is mapped here.
pub const GICC: u64 = 0x0801_0000;
pub const GICC_SIZE: u64 = 0x2000;
/// Emulated GICv3 redistributors, [`GICR_STRIDE`] per vCPU.
pub const GICR: u64 = 0x080A_0000;
pub const GICR_STRIDE: u64 = 0x2_0000;
/// Emulated PL011 console.
pub const UART: u64 = 0x0900_0000;
pub const UART_SIZE: u64 = 0x1000;
/// The console's interrupt: SPI 1.
pub const UART_SPI: u32 = 1;
/// Emulated SP805 watchdog (with `watchdog = true`): in the page after the console's, which QEMU `virt` leaves
/// empty, so no board device a partition may be given sits there.
pub const WATCHDOG: u64 = 0x0900_1000;
pub const WATCHDOG_SIZE: u64 = 0x1000;
/// Frequency of the watchdog's counting clock (`wdog_clk`): Linux's `sp805_wdt` loads `rate / 2 * timeout - 1`
/// into the 32-bit counter, so 1 MHz allows timeouts up to ~71 minutes at microsecond resolution.
pub const WATCHDOG_CLOCK_HZ: u32 = 1_000_000;
/// Emulated PL061 GPIO controller of a partition that maps channels: each of its first [`GPIO_CHANNELS`] channels
/// gets two lines, a doorbell input and a ring output, so that stock Linux (`gpio-pl061` and the GPIO character
/// device) waits for and rings doorbells from user space. The page is reserved in every partition.
pub const GPIO: u64 = 0x0900_2000;
pub const GPIO_SIZE: u64 = 0x1000;
/// Channels with GPIO lines: a PL061 has 8 lines, two per channel.
pub const GPIO_CHANNELS: usize = 4;
/// Frequency of the fixed clock the PL011 binding refers to.
pub const APB_PCLK_HZ: u32 = 24_000_000;
/// The device tree sits in the last [`DTB_REGION`] bytes of RAM and may use all of them.
pub const DTB_REGION: u64 = 2 << 20;
/// virtio-mmio transports (QEMU `virt`'s window): the partition's n-th PV device (its disks, then its networks,
/// in the order the config attaches them) at `VIRTIO_MMIO + n * VIRTIO_MMIO_STRIDE`.
pub const VIRTIO_MMIO: u64 = 0x0a00_0000;
/// Size of one transport's registers (virtio 1.2, 4.2.2: configuration space ends at 0x100 + its size).
pub const VIRTIO_MMIO_STRIDE: u64 = 0x200;
/// Transports a partition can have: the window is `VIRTIO_MMIO_SLOTS * VIRTIO_MMIO_STRIDE` (16 KiB).
pub const VIRTIO_MMIO_SLOTS: u64 = 32;
/// Shared-memory channels are mapped from here up, each [`CHANNEL_ALIGN`]-aligned, around RAM and devices.
pub const CHANNELS: u64 = 0x1000_0000;
pub const CHANNEL_ALIGN: u64 = 0x1_0000;
/// PV devices' and channel doorbells' interrupts are the partition's free SPIs from this one up (QEMU `virt`
/// starts its virtio-mmio transports' at SPI 16 too).
pub const PV_FIRST_SPI: u32 = 16;
/// Interrupt IDs the emulated distributor implements: SGIs, PPIs and 256 SPIs (INTIDs 0 to 287).
pub const VGIC_INTIDS: u32 = 288;
