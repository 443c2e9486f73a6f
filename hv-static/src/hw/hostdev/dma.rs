//! virtio-drivers' [`Hal`] for hv-static: DMA memory for the virtqueues of the board's disk and network device
//! from a static pool, and buffers shared in place.
//!
//! Why this suffices, and why it is safe to give the device these addresses:
//! - hv-static's own map is an identity map (`arch/*/mmu.rs`): a pointer's value is its physical address, which is
//!   what the device is given;
//! - the pool and every buffer the driver shares (the disk's request header, data and status, in `blk`'s static
//!   driver state; the network device's receive and transmit buffers, statics of `net`) lie in the hypervisor's own
//!   image, which no partition maps: a partition can neither see nor change what the device reads or writes
//!   ([`share`] checks it);
//! - that memory is mapped normal write-back cacheable, and no cache maintenance is done: the only board with such
//!   devices is QEMU `virt`, whose device models access guest memory coherently.
//!
//! [`share`]: Hal::share

use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};

use spin::Mutex;
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

use crate::config::SYSTEM;

/// Pages in the pool, from the configuration: a virtqueue of up to 128 entries takes two, whether the transport
/// uses the legacy layout (one contiguous ring) or the modern one (driver and device areas); the board disk's
/// driver has one queue, the network device's two. An image without either device has no pool at all.
const POOL_PAGES: usize =
    if SYSTEM.host_disk.is_some() { 2 } else { 0 } + if SYSTEM.host_net.is_some() { 4 } else { 0 };

const _: () = assert!(POOL_PAGES <= u32::BITS as usize, "the page map is one u32");

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[u8; POOL_PAGES * PAGE_SIZE]>);

// SAFETY: the pool's bytes are only reached through pointers `dma_alloc` hands out, each page to one owner at a
// time (`PAGES` under its lock never hands out a page twice before it is freed).
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([0; POOL_PAGES * PAGE_SIZE]));
/// Which pages are handed out (bit n: page n). A map rather than a bump pointer: probing opens a device, then
/// drops it when it is not one of ours, possibly while another device keeps its queues.
static PAGES: Mutex<u32> = Mutex::new(0);

/// The first run of `pages` free pages in `used`, if there is one.
fn free_run(used: u32, pages: usize) -> Option<usize> {
    if pages == 0 || pages > POOL_PAGES {
        return None;
    }
    let run = run_mask(pages);
    (0..=POOL_PAGES - pages).find(|&first| used & run << first == 0)
}

/// `pages` low bits set.
const fn run_mask(pages: usize) -> u32 {
    if pages >= 32 {
        u32::MAX
    } else {
        (1 << pages) - 1
    }
}

/// The [`Hal`] the drivers of the board's devices are instantiated with.
pub struct DmaPool;

// SAFETY: `dma_alloc` returns page-aligned, zeroed ranges of the static pool that nothing else uses until
// `dma_dealloc`; the identity map makes a pointer's value its physical address, so `share` returns the buffer's
// own address and `unshare` has nothing to copy back (module docs: the device is coherent).
unsafe impl Hal for DmaPool {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let mut used = PAGES.lock();
        let Some(first) = free_run(*used, pages) else {
            // Physical address 0 makes virtio-drivers fail with DmaError.
            return (0, NonNull::dangling());
        };
        *used |= run_mask(pages) << first;
        // SAFETY: pages `first..first + pages` lie inside the pool (`free_run`) and are ours alone until freed.
        let start = unsafe {
            let start = POOL.0.get().cast::<u8>().add(first * PAGE_SIZE);
            ptr::write_bytes(start, 0, pages * PAGE_SIZE);
            start
        };
        #[allow(clippy::expect_used, reason = "a pointer into a static is never null")]
        let start = NonNull::new(start).expect("the pool is a static");
        (address(start), start)
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        #[allow(clippy::expect_used, reason = "a pointer into a static is never null")]
        let base = address(NonNull::new(POOL.0.get().cast::<u8>()).expect("the pool is a static"));
        let Some(first) = paddr.checked_sub(base).map(|off| off as usize / PAGE_SIZE) else { return -1 };
        if first + pages > POOL_PAGES {
            return -1;
        }
        *PAGES.lock() &= !(run_mask(pages) << first);
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // Only the PCI transport asks; the identity map would make it the address itself.
        #[allow(clippy::expect_used, reason = "only the PCI transport asks, and the board's devices use MMIO")]
        let mapped = NonNull::new(ptr::with_exposed_provenance_mut(paddr as usize)).expect("MMIO at address 0");
        mapped
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let pa = address(buffer.cast());
        let end = pa + buffer.len() as u64;
        // A buffer outside the hypervisor's image would be a broken invariant of this driver (see module docs).
        assert!(
            SYSTEM.image_base <= pa && end <= SYSTEM.image_base + SYSTEM.image_size,
            "board device DMA buffer {pa:#x}..{end:#x} outside the hypervisor"
        );
        pa
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// The physical address of `ptr`: its value, under the identity map.
fn address(ptr: NonNull<u8>) -> PhysAddr {
    ptr.as_ptr().expose_provenance() as PhysAddr
}
