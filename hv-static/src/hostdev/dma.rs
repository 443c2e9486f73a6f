//! virtio-drivers' [`Hal`] for hv-static: DMA memory for the board disk's virtqueue from a static pool, and
//! buffers shared in place.
//!
//! Why this suffices, and why it is safe to give the device these addresses:
//! - hv-static's own map is an identity map (`arch/*/mmu.rs`): a pointer's value is its physical address, which is
//!   what the device is given;
//! - the pool and every buffer the driver shares (the request header and status on the stack, and the sector
//!   bounce buffer of `pv_drivers`' virtio-blk device, also on the stack) lie in the hypervisor's own image, which
//!   no partition maps: a partition can neither see nor change what the device reads or writes ([`share`] checks
//!   it);
//! - that memory is mapped normal write-back cacheable, and no cache maintenance is done: the only board with such
//!   a disk is QEMU `virt`, whose device models access guest memory coherently.
//!
//! [`share`]: Hal::share

use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};

use spin::Mutex;
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

use crate::config::SYSTEM;

/// Pages in the pool: one virtqueue of virtio-drivers' block driver (16 entries) takes two, whether the transport
/// uses the legacy layout (one contiguous ring) or the modern one (driver and device areas). Probing opens one
/// device at a time and drops it before the next, so two pages are all the driver ever holds.
const POOL_PAGES: usize = 2;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[u8; POOL_PAGES * PAGE_SIZE]>);

// SAFETY: the pool's bytes are only reached through pointers `dma_alloc` hands out, each page to one owner at a
// time (`Pages` under its lock never hands out a page twice before it is freed).
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([0; POOL_PAGES * PAGE_SIZE]));
static PAGES: Mutex<Pages> = Mutex::new(Pages { next: 0, live: 0 });

/// A bump allocator over the pool's pages that starts over once everything it handed out has been freed (a probed
/// device that is not the board's disk gives its queue back before the next one is opened).
struct Pages {
    next: usize,
    live: usize,
}

/// The [`Hal`] the board disk's driver is instantiated with.
pub struct DmaPool;

// SAFETY: `dma_alloc` returns page-aligned, zeroed ranges of the static pool that nothing else uses until
// `dma_dealloc`; the identity map makes a pointer's value its physical address, so `share` returns the buffer's
// own address and `unshare` has nothing to copy back (module docs: the device is coherent).
unsafe impl Hal for DmaPool {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let mut state = PAGES.lock();
        let first = state.next;
        let Some(end) = first.checked_add(pages).filter(|&end| pages > 0 && end <= POOL_PAGES) else {
            // Physical address 0 makes virtio-drivers fail with DmaError.
            return (0, NonNull::dangling());
        };
        state.next = end;
        state.live += pages;
        // SAFETY: `first..end` lies inside the pool and is ours alone until freed.
        let start = unsafe {
            let start = POOL.0.get().cast::<u8>().add(first * PAGE_SIZE);
            ptr::write_bytes(start, 0, pages * PAGE_SIZE);
            start
        };
        let start = NonNull::new(start).expect("the pool is a static");
        (address(start), start)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        let mut state = PAGES.lock();
        state.live = state.live.saturating_sub(pages);
        if state.live == 0 {
            state.next = 0;
        }
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // Only the PCI transport asks; the identity map would make it the address itself.
        NonNull::new(ptr::with_exposed_provenance_mut(paddr as usize)).expect("MMIO at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let pa = address(buffer.cast());
        let end = pa + buffer.len() as u64;
        // A buffer outside the hypervisor's image would be a broken invariant of this driver (see module docs).
        assert!(
            SYSTEM.image_base <= pa && end <= SYSTEM.image_base + SYSTEM.image_size,
            "board disk DMA buffer {pa:#x}..{end:#x} outside the hypervisor"
        );
        pa
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// The physical address of `ptr`: its value, under the identity map.
fn address(ptr: NonNull<u8>) -> PhysAddr {
    ptr.as_ptr().expose_provenance() as PhysAddr
}
