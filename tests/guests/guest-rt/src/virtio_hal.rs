//! virtio-drivers' [`Hal`] for a guest-rt guest (feature `virtio`): the MMU is off (guest-rt never turns it on), so a pointer's value
//! is its physical address (guest-physical under hv-static), which is also what the device is given. DMA memory for
//! the rings comes from a static, page-aligned pool in the guest's bss; buffers are shared in place.
//!
//! With the MMU off the guest's accesses are uncached, so nothing needs cleaning or invalidating; the transport's
//! `dma-coherent` says the device side keeps its own view coherent.

use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};

use spin::Mutex;
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

/// Pages in the pool. A small virtqueue takes 2 (a legacy transport's ring or a modern one's driver and device
/// areas), a network device 4 (receive and transmit queues): room for four network devices kept open, and a
/// device that fails half-way may strand a queue's pages.
const POOL_PAGES: usize = 20;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[u8; POOL_PAGES * PAGE_SIZE]>);

// SAFETY: the pool's bytes are only reached through pointers handed out by `DmaPool::dma_alloc`, each range to one
// owner at a time (the `Bump` under `STATE` never hands out a page twice before it is freed).
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([0; POOL_PAGES * PAGE_SIZE]));
/// A spin lock, not a critical section: only guest code opening or dropping a device takes it, never an interrupt
/// handler, so IRQs need not be masked, and allocating need not wait for another vCPU's console output.
static STATE: Mutex<Bump> = Mutex::new(Bump::new(POOL_PAGES));

/// A bump allocator of pages that starts over once everything it handed out has been freed: a guest that opens
/// devices one at a time (and drops each) reuses the pool; one that keeps them holds their pages for good.
#[derive(Debug)]
struct Bump {
    pages: usize,
    next: usize,
    live: usize,
}

impl Bump {
    const fn new(pages: usize) -> Self {
        Self { pages, next: 0, live: 0 }
    }

    /// The index of the first of `count` free contiguous pages, or `None` when the pool is exhausted.
    fn alloc(&mut self, count: usize) -> Option<usize> {
        let first = self.next;
        self.next = first.checked_add(count).filter(|&end| count > 0 && end <= self.pages)?;
        self.live += count;
        Some(first)
    }

    fn free(&mut self, count: usize) {
        self.live = self.live.checked_sub(count).expect("guest-rt: freed more DMA pages than allocated");
        if self.live == 0 {
            self.next = 0;
        }
    }
}

/// The [`Hal`] virtio-drivers is instantiated with.
pub struct DmaPool;

// SAFETY: `dma_alloc` returns page-aligned, zeroed ranges of the static pool that no one else uses until
// `dma_dealloc` (see `Bump`), and identity-maps them, as the MMU is off; `mmio_phys_to_virt`, `share` and `unshare`
// are the identity for the same reason, and buffers need no copying or cache maintenance (module docs).
unsafe impl Hal for DmaPool {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let Some(first) = STATE.lock().alloc(pages) else {
            // Physical address 0 tells virtio-drivers the allocation failed.
            return (0, NonNull::dangling());
        };
        // SAFETY: `first + pages <= POOL_PAGES`, so the range lies inside the pool, and it is ours alone until
        // freed.
        let start = unsafe {
            let start = POOL.0.get().cast::<u8>().add(first * PAGE_SIZE);
            ptr::write_bytes(start, 0, pages * PAGE_SIZE);
            start
        };
        let start = NonNull::new(start).expect("the pool is a static");
        (address(start), start)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        STATE.lock().free(pages);
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        let addr = usize::try_from(paddr).expect("guest-rt: MMIO address beyond the address space");
        NonNull::new(ptr::with_exposed_provenance_mut(addr)).expect("guest-rt: MMIO at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        address(buffer.cast())
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// The physical address of `ptr`: its value, with the MMU off.
fn address(ptr: NonNull<u8>) -> PhysAddr {
    ptr.as_ptr().expose_provenance() as PhysAddr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_hands_out_disjoint_pages_and_starts_over_when_all_are_freed() {
        let mut bump = Bump::new(4);
        assert_eq!(bump.alloc(1), Some(0));
        assert_eq!(bump.alloc(2), Some(1));
        assert_eq!(bump.alloc(2), None, "only one page left");
        assert_eq!(bump.alloc(0), None);
        bump.free(1);
        assert_eq!(bump.alloc(1), Some(3), "no reuse while pages are live");
        bump.free(2);
        bump.free(1);
        assert_eq!(bump.alloc(4), Some(0));
    }

    #[test]
    fn pool_pages_are_aligned_and_zeroed() {
        let (paddr, vaddr) = DmaPool::dma_alloc(2, BufferDirection::Both);
        assert_eq!(paddr % PAGE_SIZE as u64, 0);
        assert_eq!(paddr, address(vaddr));
        // SAFETY: two pages were just allocated at `vaddr` and are freed right after.
        unsafe {
            assert!(core::slice::from_raw_parts(vaddr.as_ptr(), 2 * PAGE_SIZE).iter().all(|&b| b == 0));
            assert_eq!(DmaPool::dma_dealloc(paddr, vaddr, 2), 0);
        }
    }
}
