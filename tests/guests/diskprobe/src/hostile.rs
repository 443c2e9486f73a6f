//! `mode=hostile`: a driver that attacks the first virtio-blk device with hand-built, malformed virtqueues and
//! reports what the device did. virtio-drivers never builds a bad ring, so this module drives the virtio-mmio
//! version 2 registers (virtio 1.2 §4.2.2) and a split virtqueue (§2.7) itself.
//!
//! Each attack is something a buggy or malicious guest can do and that a device serving several partitions must
//! survive without touching memory outside the partition (§2.1.2: the device answers with DEVICE_NEEDS_RESET):
//! 1. a data buffer outside the partition's RAM that the device is asked to write (VIRTIO_BLK_T_IN): a device that
//!    does not check descriptor addresses writes sector 0 over another partition or the hypervisor;
//! 2. a descriptor chain that loops (0 -> 1 -> 0): a device that follows `next` blindly never stops;
//! 3. `avail.idx` moved by more than the queue size: a device that trusts it processes ring slots the driver never
//!    filled, and over and over.
//!
//! Between attacks the device is reset and brought up again; finally a well-formed read of sector 0 through the
//! same hand-built queue shows that a reset brings the device back. Output lines all start with `hostile: `.
//!
//! Memory: the rings, the request header, the data buffer and the status byte live in one static, 4 KiB-aligned
//! buffer in the guest's RAM; with the MMU off its addresses are guest-physical and given to the device as is. It
//! is ordinary memory accessed with volatile loads and stores (so the compiler neither drops nor merges them), and
//! ordered against the device with explicit `dsb` barriers: ring contents before `avail.idx`, `avail.idx` before
//! the QueueNotify write, and `used.idx` before the used element and status byte it publishes. Registers are read
//! and written with single volatile 32-bit accesses, which hv-static traps and emulates.

use core::cell::UnsafeCell;
use core::fmt;
use core::ptr;

use guest_rt::dt::{Device, Region};
use guest_rt::{arch, println, timer};

/// Entries in the hand-built queue.
pub const QUEUE_SIZE: u16 = 8;
/// Default target of the out-of-partition buffer: where hv-static itself lives on QEMU `virt` boards.
pub const DEFAULT_EVIL: u64 = 0x4020_0000;
/// How long the device gets to answer a notification or a reset.
const WAIT_MS: u64 = 300;

const SECTOR_SIZE: u32 = 512;
/// "virt", little-endian.
const MAGIC: u32 = 0x7472_6976;
const BLOCK_DEVICE: u32 = 2;
/// VIRTIO_F_VERSION_1 (feature bit 32) in the upper feature word.
const VERSION_1_HIGH: u32 = 1;

/// virtio-mmio register offsets (§4.2.2).
mod reg {
    pub const MAGIC: usize = 0x000;
    pub const VERSION: usize = 0x004;
    pub const DEVICE_ID: usize = 0x008;
    pub const DEVICE_FEATURES: usize = 0x010;
    pub const DEVICE_FEATURES_SEL: usize = 0x014;
    pub const DRIVER_FEATURES: usize = 0x020;
    pub const DRIVER_FEATURES_SEL: usize = 0x024;
    pub const QUEUE_SEL: usize = 0x030;
    pub const QUEUE_NUM_MAX: usize = 0x034;
    pub const QUEUE_NUM: usize = 0x038;
    pub const QUEUE_READY: usize = 0x044;
    pub const QUEUE_NOTIFY: usize = 0x050;
    pub const STATUS: usize = 0x070;
    pub const QUEUE_DESC_LOW: usize = 0x080;
    pub const QUEUE_DRIVER_LOW: usize = 0x090;
    pub const QUEUE_DEVICE_LOW: usize = 0x0a0;
}

/// Device status bits (§2.1).
mod status {
    pub const ACKNOWLEDGE: u32 = 1;
    pub const DRIVER: u32 = 2;
    pub const DRIVER_OK: u32 = 4;
    pub const FEATURES_OK: u32 = 8;
    pub const NEEDS_RESET: u32 = 0x40;
}

/// Descriptor flags (§2.7.5).
pub const DESC_NEXT: u16 = 1;
pub const DESC_WRITE: u16 = 2;
/// virtio-blk request type "read" (§5.2.6): the device writes the data buffer.
pub const BLK_T_IN: u32 = 0;

/// Where the areas of a split virtqueue of `size` entries lie, in bytes from the descriptor table, packed as
/// tightly as §2.7 allows (descriptors 16-byte, available ring 2-byte, used ring 4-byte aligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    size: usize,
    /// The available ring: flags, idx, `size` head indexes, used_event.
    pub avail: usize,
    /// The used ring: flags, idx, `size` elements of (id: u32, len: u32), avail_event.
    pub used: usize,
    /// First byte past the used ring.
    pub end: usize,
}

impl Layout {
    pub const fn new(size: u16) -> Self {
        let size = size as usize;
        let avail = 16 * size;
        let used = (avail + 6 + 2 * size).next_multiple_of(4);
        Self { size, avail, used, end: used + 6 + 8 * size }
    }

    /// Descriptor `index` in the table.
    pub const fn desc(&self, index: u16) -> usize {
        16 * (index as usize % self.size)
    }

    /// `avail.idx`.
    pub const fn avail_idx(&self) -> usize {
        self.avail + 2
    }

    /// The available-ring slot the driver's running index `idx` names.
    pub const fn avail_slot(&self, idx: u16) -> usize {
        self.avail + 4 + 2 * (idx as usize % self.size)
    }

    /// `used.idx`.
    pub const fn used_idx(&self) -> usize {
        self.used + 2
    }

    /// The used element the device's running index `idx` names.
    pub const fn used_elem(&self, idx: u16) -> usize {
        self.used + 4 + 8 * (idx as usize % self.size)
    }
}

/// A descriptor table entry as the device reads it (§2.7.5): addr, len, flags, next, little-endian.
pub fn descriptor(addr: u64, len: u32, flags: u16, next: u16) -> [u8; 16] {
    let mut d = [0; 16];
    d[..8].copy_from_slice(&addr.to_le_bytes());
    d[8..12].copy_from_slice(&len.to_le_bytes());
    d[12..14].copy_from_slice(&flags.to_le_bytes());
    d[14..].copy_from_slice(&next.to_le_bytes());
    d
}

/// A virtio-blk request header (§5.2.6): type, reserved, sector.
pub fn request_header(kind: u32, sector: u64) -> [u8; 16] {
    let mut h = [0; 16];
    h[..4].copy_from_slice(&kind.to_le_bytes());
    h[8..].copy_from_slice(&sector.to_le_bytes());
    h
}

/// The address the out-of-partition buffer uses, and whether `evil` had to be replaced: a 512-byte buffer at
/// `evil` must not overlap the partition's RAM (natively, QEMU's RAM holds 0x4020_0000), else the "attack" would
/// just be a read into the guest's own memory. The replacement is the first address past RAM.
pub fn pick_evil(evil: u64, ram: Region) -> (u64, bool) {
    let end = evil.saturating_add(u64::from(SECTOR_SIZE));
    if end <= ram.base || evil >= ram.end() {
        (evil, false)
    } else {
        (ram.end(), true)
    }
}

const LAYOUT: Layout = Layout::new(QUEUE_SIZE);
/// Offsets in [`DMA`]: the rings fill the first page, then the request's header, status byte and data.
const HEADER: usize = 4096;
const STATUS_BYTE: usize = HEADER + 16;
const DATA: usize = HEADER + 512;
const DMA_BYTES: usize = DATA + SECTOR_SIZE as usize;
const _: () = assert!(LAYOUT.end <= HEADER);

#[repr(C, align(4096))]
struct Dma(UnsafeCell<[u32; DMA_BYTES / 4]>);

// SAFETY: only `run` reaches the buffer, once, from the boot vCPU (guest.rs calls it for one device).
unsafe impl Sync for Dma {}

static DMA: Dma = Dma(UnsafeCell::new([0; DMA_BYTES / 4]));

/// Orders all memory accesses (normal and device) before the barrier against those after it, for both the CPU
/// and the compiler (the asm is not `nomem`).
fn barrier() {
    #[cfg(target_os = "none")]
    // SAFETY: a barrier instruction (`dsb sy` exists in ARMv7-A and ARMv8-A); it touches no memory or registers.
    unsafe {
        core::arch::asm!("dsb sy", options(nostack, preserves_flags))
    };
    #[cfg(not(target_os = "none"))]
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
}

/// Volatile, naturally aligned accesses at byte offsets of [`DMA`] (the MMU is off, so memory is Device memory
/// to the CPU and an unaligned access would fault).
mod dma {
    use core::ptr;

    use super::{DMA, DMA_BYTES};

    fn at<T>(offset: usize) -> *mut T {
        assert!(offset + size_of::<T>() <= DMA_BYTES && offset.is_multiple_of(align_of::<T>()));
        // SAFETY: `offset` and the access's size lie inside the static (checked above).
        unsafe { DMA.0.get().cast::<u8>().add(offset).cast() }
    }

    /// The guest-physical address of `offset`: the pointer's value, with the MMU off.
    pub fn phys(offset: usize) -> u64 {
        at::<u8>(offset).expose_provenance() as u64
    }

    pub fn read<T: Copy>(offset: usize) -> T {
        // SAFETY: in bounds and aligned (`at`); the buffer is plain data that only this module and the device use.
        unsafe { ptr::read_volatile(at(offset)) }
    }

    pub fn write<T: Copy>(offset: usize, value: T) {
        // SAFETY: as for `read`.
        unsafe { ptr::write_volatile(at(offset), value) }
    }

    /// Writes `bytes` (a multiple of 4 long, at a 4-aligned offset) as 32-bit words.
    pub fn write_bytes(offset: usize, bytes: &[u8]) {
        for (i, word) in bytes.chunks_exact(4).enumerate() {
            write(offset + 4 * i, u32::from_le_bytes(word.try_into().unwrap()));
        }
    }
}

/// Why the device could not be brought up.
#[derive(Clone, Copy, Debug)]
enum BringUpError {
    Magic(u32),
    Version(u32),
    DeviceId(u32),
    NoVersion1,
    FeaturesRejected(u32),
    QueueInUse,
    QueueTooSmall(u32),
    ResetTimeout(u32),
}

impl fmt::Display for BringUpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Magic(m) => write!(f, "magic {m:#x}, not a virtio-mmio transport"),
            Self::Version(v) => write!(f, "transport version {v}, need 2 (modern)"),
            Self::DeviceId(d) => write!(f, "device id {d}, not a block device"),
            Self::NoVersion1 => f.write_str("VIRTIO_F_VERSION_1 not offered"),
            Self::FeaturesRejected(s) => write!(f, "FEATURES_OK did not stick (status {s:#04x})"),
            Self::QueueInUse => f.write_str("queue 0 already ready after reset"),
            Self::QueueTooSmall(max) => write!(f, "QueueNumMax {max} < {QUEUE_SIZE}"),
            Self::ResetTimeout(s) => write!(f, "status still {s:#04x} after reset"),
        }
    }
}

/// What the device did after a notification: its status, and whether it returned a buffer.
struct Outcome {
    status: u32,
    used: bool,
}

impl Outcome {
    fn needs_reset(&self) -> &'static str {
        if self.status & status::NEEDS_RESET != 0 {
            "yes"
        } else {
            "no"
        }
    }
}

/// `no`, or `yes (id <i>, len <l>)` for the used element at the device's running index.
struct UsedElem(Option<u16>);

impl fmt::Display for UsedElem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("no"),
            Some(idx) => {
                let elem = LAYOUT.used_elem(idx);
                write!(f, "yes (id {}, len {})", dma::read::<u32>(elem), dma::read::<u32>(elem + 4))
            }
        }
    }
}

/// Polls `done` for up to [`WAIT_MS`]; whether it became true.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let deadline = arch::timer::now().saturating_add(timer::ticks_for_ms(arch::timer::frequency(), WAIT_MS));
    while arch::timer::now() < deadline {
        if done() {
            return true;
        }
        core::hint::spin_loop();
    }
    done()
}

/// The transport's registers and the driver's view of queue 0.
struct Driver {
    base: usize,
    /// The next `avail.idx` to publish.
    avail_idx: u16,
    /// The last `used.idx` seen.
    used_idx: u16,
}

impl Driver {
    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `base` is a virtio-mmio register window from the device tree (0x200 bytes, mapped for the guest's
        // lifetime, MMU off) and `offset` one of `reg`'s, below 0x100 and 4-aligned.
        unsafe { ptr::read_volatile(ptr::with_exposed_provenance::<u32>(self.base + offset)) }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as for `read`.
        unsafe { ptr::write_volatile(ptr::with_exposed_provenance_mut::<u32>(self.base + offset), value) }
    }

    fn status(&self) -> u32 {
        self.read(reg::STATUS)
    }

    fn add_status(&self, bits: u32) {
        self.write(reg::STATUS, self.status() | bits);
    }

    /// Writes 0 to Status and waits for it to read back 0 (§4.2.3.1).
    fn reset(&mut self) -> Result<(), BringUpError> {
        self.write(reg::STATUS, 0);
        if !wait_for(|| self.status() == 0) {
            return Err(BringUpError::ResetTimeout(self.status()));
        }
        self.avail_idx = 0;
        self.used_idx = 0;
        Ok(())
    }

    /// The driver initialisation of §3.1.1 with queue 0 of [`QUEUE_SIZE`] entries in [`DMA`], zeroed.
    fn bring_up(&mut self) -> Result<(), BringUpError> {
        match (self.read(reg::MAGIC), self.read(reg::VERSION), self.read(reg::DEVICE_ID)) {
            (MAGIC, 2, BLOCK_DEVICE) => {}
            (MAGIC, 2, id) => return Err(BringUpError::DeviceId(id)),
            (MAGIC, version, _) => return Err(BringUpError::Version(version)),
            (magic, _, _) => return Err(BringUpError::Magic(magic)),
        }
        self.reset()?;
        self.add_status(status::ACKNOWLEDGE | status::DRIVER);
        self.write(reg::DEVICE_FEATURES_SEL, 1);
        if self.read(reg::DEVICE_FEATURES) & VERSION_1_HIGH == 0 {
            return Err(BringUpError::NoVersion1);
        }
        // Accept VERSION_1 alone: no indirect descriptors, no event index, nothing block-specific.
        self.write(reg::DRIVER_FEATURES_SEL, 0);
        self.write(reg::DRIVER_FEATURES, 0);
        self.write(reg::DRIVER_FEATURES_SEL, 1);
        self.write(reg::DRIVER_FEATURES, VERSION_1_HIGH);
        self.add_status(status::FEATURES_OK);
        let s = self.status();
        if s & status::FEATURES_OK == 0 {
            return Err(BringUpError::FeaturesRejected(s));
        }
        self.write(reg::QUEUE_SEL, 0);
        if self.read(reg::QUEUE_READY) != 0 {
            return Err(BringUpError::QueueInUse);
        }
        let max = self.read(reg::QUEUE_NUM_MAX);
        if max < u32::from(QUEUE_SIZE) {
            return Err(BringUpError::QueueTooSmall(max));
        }
        self.write(reg::QUEUE_NUM, u32::from(QUEUE_SIZE));
        for offset in (0..LAYOUT.end.next_multiple_of(4)).step_by(4) {
            dma::write(offset, 0u32);
        }
        barrier();
        for (low, area) in
            [(reg::QUEUE_DESC_LOW, 0), (reg::QUEUE_DRIVER_LOW, LAYOUT.avail), (reg::QUEUE_DEVICE_LOW, LAYOUT.used)]
        {
            let addr = dma::phys(area);
            self.write(low, addr as u32);
            self.write(low + 4, (addr >> 32) as u32);
        }
        self.write(reg::QUEUE_READY, 1);
        self.add_status(status::DRIVER_OK);
        Ok(())
    }

    fn set_desc(&self, index: u16, addr: u64, len: u32, flags: u16, next: u16) {
        dma::write_bytes(LAYOUT.desc(index), &descriptor(addr, len, flags, next));
    }

    /// Puts a read of sector 0 in the header and descriptors 0 (header) -> 1 (`data_addr`) -> 2 (status byte).
    fn build_read(&self, data_addr: u64) {
        dma::write_bytes(HEADER, &request_header(BLK_T_IN, 0));
        dma::write(STATUS_BYTE, 0xffu8);
        self.set_desc(0, dma::phys(HEADER), 16, DESC_NEXT, 1);
        self.set_desc(1, data_addr, SECTOR_SIZE, DESC_WRITE | DESC_NEXT, 2);
        self.set_desc(2, dma::phys(STATUS_BYTE), 1, DESC_WRITE, 0);
    }

    /// Publishes the chain at `head` with `avail.idx` moved to `new_idx` (normally one past the driver's index),
    /// notifies queue 0, and waits for a used buffer or DEVICE_NEEDS_RESET.
    fn publish(&mut self, head: u16, new_idx: u16) -> Outcome {
        dma::write(LAYOUT.avail_slot(self.avail_idx), head);
        barrier();
        dma::write(LAYOUT.avail_idx(), new_idx);
        self.avail_idx = new_idx;
        barrier();
        self.write(reg::QUEUE_NOTIFY, 0);
        let seen = self.used_idx;
        let used = || dma::read::<u16>(LAYOUT.used_idx()) != seen;
        wait_for(|| used() || self.status() & status::NEEDS_RESET != 0);
        let used = used();
        barrier();
        if used {
            self.used_idx = self.used_idx.wrapping_add(1);
        }
        Outcome { status: self.status(), used }
    }
}

/// Runs the attacks on the first virtio-blk transport of `devices`; whether there was one. `evil` is the
/// out-of-partition buffer's address, moved past `ram` if it lies inside it.
pub fn run(devices: &[Device], ram: Region, evil: u64) -> bool {
    let Some(base) = devices.iter().find_map(|d| {
        let base = usize::try_from(d.reg.base).ok().filter(|&b| b != 0)?;
        let driver = Driver { base, avail_idx: 0, used_idx: 0 };
        (driver.read(reg::MAGIC) == MAGIC && driver.read(reg::DEVICE_ID) == BLOCK_DEVICE).then_some(base)
    }) else {
        return false;
    };
    let (evil, moved) = pick_evil(evil, ram);
    println!(
        "hostile: virtio-blk at {base:#x}, partition RAM {:#x}..{:#x}, out-of-partition buffer at {evil:#x}{}",
        ram.base,
        ram.end(),
        if moved { " (evil= was inside RAM: moved past it)" } else { "" }
    );
    if let Err(e) = attack(&mut Driver { base, avail_idx: 0, used_idx: 0 }, evil) {
        println!("hostile: bring-up failed: {e}");
    }
    println!("hostile: done");
    true
}

fn attack(d: &mut Driver, evil: u64) -> Result<(), BringUpError> {
    d.bring_up()?;
    println!("hostile: device up, queue 0 of {QUEUE_SIZE} at {:#x}, status {:#04x}", dma::phys(0), d.status());

    // 1. The device is asked to write sector 0 outside the partition.
    d.build_read(evil);
    let o = d.publish(0, d.avail_idx.wrapping_add(1));
    println!(
        "hostile: out-of-partition buffer -> status {:#04x} (needs reset: {}), used ring advanced: {}",
        o.status,
        o.needs_reset(),
        UsedElem(o.used.then(|| d.used_idx.wrapping_sub(1)))
    );

    // 2. A well-formed read whose chain comes back to its head: 0 -> 1 -> 0.
    d.bring_up()?;
    d.build_read(dma::phys(DATA));
    d.set_desc(1, dma::phys(DATA), SECTOR_SIZE, DESC_WRITE | DESC_NEXT, 0);
    let o = d.publish(0, d.avail_idx.wrapping_add(1));
    println!("hostile: looping chain -> status {:#04x} (needs reset: {})", o.status, o.needs_reset());

    // 3. Valid chains in every slot, but `avail.idx` claims QUEUE_SIZE + 1 of them.
    d.bring_up()?;
    d.build_read(dma::phys(DATA));
    for slot in 0..QUEUE_SIZE {
        dma::write(LAYOUT.avail_slot(slot), 0u16);
    }
    let o = d.publish(0, d.avail_idx.wrapping_add(QUEUE_SIZE + 1));
    println!("hostile: avail index jump -> status {:#04x} (needs reset: {})", o.status, o.needs_reset());

    // 4. The same queue, well-formed: the device must work again after a reset.
    d.bring_up()?;
    d.build_read(dma::phys(DATA));
    let o = d.publish(0, d.avail_idx.wrapping_add(1));
    if o.used {
        println!("hostile: after reset a valid read completed with status {}", dma::read::<u8>(STATUS_BYTE));
    } else {
        println!(
            "hostile: after reset a valid read did not complete: status {:#04x} (needs reset: {})",
            o.status,
            o.needs_reset()
        );
    }
    // Leave the device reset, so that it no longer uses the static buffer.
    d.reset()
}

/// `mode=stale`, in a partition whose `on_fault` is `"restart"`, on its first virtio-blk device. Which run this is
/// comes from hv-static itself (`HV_PARTITION_INFO` of the partition's own restart count):
/// - the first run brings queue 0 up in [`DMA`], reads sector 0 through it, publishes a second read without
///   notifying (`stale: queue up at 0x<a>, one request left published`), then faults;
/// - the next run, before any initialisation, reads Status and QueueReady (both must be 0: `stale: after the restart
///   status 0x<s>, queue 0 ready <r>`), publishes the same request at the same addresses and notifies: the device
///   must ignore the previous run's queue (`stale: previous run's queue ignored: used index 0, status 0x0`), then
///   comes up again and serves a read (`stale: device works after the restart`).
pub fn stale(devices: &[Device], partition: Option<u32>) -> bool {
    let Some(base) = devices.iter().find_map(|d| {
        let base = usize::try_from(d.reg.base).ok().filter(|&b| b != 0)?;
        let driver = Driver { base, avail_idx: 0, used_idx: 0 };
        (driver.read(reg::MAGIC) == MAGIC && driver.read(reg::DEVICE_ID) == BLOCK_DEVICE).then_some(base)
    }) else {
        return false;
    };
    let restarts = partition.map(|p| pv_drivers::abi::hv::partition_info(p, pv_drivers::abi::hv::info::RESTARTS));
    let mut d = Driver { base, avail_idx: 0, used_idx: 0 };
    match restarts {
        Some(Ok(0)) => {
            if let Err(e) = d.bring_up() {
                println!("stale: bring-up failed: {e}");
                return true;
            }
            d.build_read(dma::phys(DATA));
            let o = d.publish(0, 1);
            println!("stale: first read -> used {}, status {:#04x}", o.used, o.status);
            // A second request, published but not notified: what a run that dies mid-I/O leaves behind.
            dma::write(LAYOUT.avail_slot(1), 0u16);
            barrier();
            dma::write(LAYOUT.avail_idx(), 2u16);
            println!("stale: queue up at {:#x}, one request left published", dma::phys(0));
            // SAFETY: the write faults (nothing is mapped at guest-physical 0x10); the partition restarts.
            unsafe { ptr::write_volatile(ptr::without_provenance_mut::<u32>(0x10), 0) };
            println!("stale: the write to 0x10 did not fault");
        }
        Some(Ok(_)) => {
            d.write(reg::QUEUE_SEL, 0);
            println!("stale: after the restart status {:#04x}, queue 0 ready {}", d.status(), d.read(reg::QUEUE_READY));
            // The previous run's request again, where it was, and a kick: nothing may come of it.
            d.build_read(dma::phys(DATA));
            dma::write(LAYOUT.avail_slot(0), 0u16);
            barrier();
            dma::write(LAYOUT.avail_idx(), 1u16);
            barrier();
            d.write(reg::QUEUE_NOTIFY, 0);
            wait_for(|| dma::read::<u16>(LAYOUT.used_idx()) != 0);
            println!(
                "stale: previous run's queue ignored: used index {}, status {:#04x}",
                dma::read::<u16>(LAYOUT.used_idx()),
                d.status()
            );
            match d.bring_up() {
                Ok(()) => {
                    d.build_read(dma::phys(DATA));
                    let o = d.publish(0, 1);
                    if o.used && dma::read::<u8>(STATUS_BYTE) == 0 {
                        println!("stale: device works after the restart");
                    } else {
                        println!("stale: read after the restart -> used {}, status {:#04x}", o.used, o.status);
                    }
                }
                Err(e) => println!("stale: bring-up after the restart failed: {e}"),
            }
        }
        other => println!("stale: cannot tell which run this is ({other:?})"),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_packs_the_areas_as_the_spec_aligns_them() {
        let l = Layout::new(8);
        assert_eq!((l.avail, l.used, l.end), (128, 152, 222), "avail: 6 + 2*8 = 22 bytes, used padded to 4");
        assert_eq!((l.avail_idx(), l.avail_slot(0), l.avail_slot(7), l.avail_slot(9)), (130, 132, 146, 134));
        assert_eq!((l.used_idx(), l.used_elem(0), l.used_elem(7), l.used_elem(8)), (154, 156, 212, 156));
        assert_eq!((l.desc(0), l.desc(2)), (0, 32));
        let l = Layout::new(256);
        assert_eq!((l.avail, l.used, l.end), (4096, 4616, 4616 + 6 + 2048), "Linux's layout for 256 entries");
        let l = Layout::new(1);
        assert_eq!((l.avail, l.used, l.end), (16, 24, 38));
    }

    #[test]
    fn descriptor_is_little_endian_addr_len_flags_next() {
        let d = descriptor(0x1122_3344_5566_7788, 0x200, DESC_WRITE | DESC_NEXT, 0x0102);
        assert_eq!(d, [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0x02, 0, 0, 3, 0, 0x02, 0x01]);
    }

    #[test]
    fn request_header_is_type_reserved_sector() {
        assert_eq!(request_header(BLK_T_IN, 0x0102), [0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(request_header(1, 0)[..4], [1, 0, 0, 0]);
    }

    #[test]
    fn evil_buffer_never_overlaps_ram() {
        let ram = Region { base: 0x4000_0000, size: 0x1000_0000 };
        assert_eq!(pick_evil(0x4020_0000, ram), (0x5000_0000, true), "natively hv-static's address is guest RAM");
        assert_eq!(pick_evil(0x3fff_fe00, ram), (0x3fff_fe00, false), "ends right at RAM");
        assert_eq!(pick_evil(0x3fff_fe01, ram), (0x5000_0000, true), "last byte in RAM");
        assert_eq!(pick_evil(0x5000_0000, ram), (0x5000_0000, false));
        assert_eq!(pick_evil(0, ram), (0, false));
        let partition = Region { base: 0x8000_0000, size: 0x100_0000 };
        assert_eq!(pick_evil(DEFAULT_EVIL, partition), (DEFAULT_EVIL, false), "under hv-static");
    }
}
