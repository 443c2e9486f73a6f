//! Entry, the walk over the virtio-mmio transports, and the output lines (see the crate docs).

use core::ptr::NonNull;

use guest_rt::dt::Device;
use guest_rt::{bootargs, println, rt, Platform};
use pv_drivers::abi::psci;
use virtio_drivers::device::blk::VirtIOBlk;
use virtio_drivers::transport::mmio::{MmioError, MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, DeviceTypeError, Transport};

use crate::check::{self, Failure};
use crate::config::{Config, Mode, HAMMER_BYTES};
use crate::hostile;
use guest_rt::virtio_hal::DmaPool;

guest_rt::entry!(main);

fn main(platform: &'static Platform<'static>) -> ! {
    let config = match Config::parse(platform.bootargs, platform.partition_name) {
        Ok(c) => {
            println!(
                "diskprobe: partition {}, mode {}, pattern {:#04x}, sectors {}",
                platform.partition_name, c.mode, c.pattern, c.sectors
            );
            Some(c)
        }
        Err(e) => {
            println!("diskprobe: bad bootargs: {e}; only listing disks");
            None
        }
    };
    let disks = match config {
        // Hand-built queues on the first block device only: virtio-drivers never builds a bad ring.
        Some(c) if c.mode == Mode::Hostile => {
            usize::from(hostile::run(platform.virtio_mmio(), platform.memory, c.evil))
        }
        Some(c) if c.mode == Mode::Stale => usize::from(hostile::stale(platform.virtio_mmio(), platform.partition_id)),
        _ => platform.virtio_mmio().iter().filter(|t| probe(t, config.as_ref())).count(),
    };
    if disks == 0 {
        println!("disk: no virtio-blk device");
    }
    println!("diskprobe: done");
    if bootargs::get(platform.bootargs, "done") == Some("off") {
        let error = psci::system_off();
        panic!("SYSTEM_OFF returned {error}");
    }
    rt::idle()
}

/// Opens the transport at `device` and, for a block device, runs the checks; whether it was a block device.
fn probe(device: &Device, config: Option<&Config>) -> bool {
    let base = device.reg.base;
    let (Ok(addr), Ok(size)) = (usize::try_from(base), usize::try_from(device.reg.size)) else {
        println!("disk: virtio-mmio at {base:#x}: beyond the address space");
        return false;
    };
    let Some(header) = NonNull::new(core::ptr::with_exposed_provenance_mut::<VirtIOHeader>(addr)) else {
        println!("disk: virtio-mmio at {base:#x}: address 0");
        return false;
    };
    // SAFETY: the device tree gives this partition a virtio-mmio register block of `size` bytes at `addr`,
    // mapped for the guest's lifetime (the MMU is off, so the address is used as is); this is the only transport
    // object for it, as each `reg` is probed once and the transport is dropped before the next.
    let transport = match unsafe { MmioTransport::new(header, size) } {
        Ok(t) => t,
        // An unused slot (QEMU's virt has 32 transports, hv-static fills only what it serves).
        Err(MmioError::InvalidDeviceID(DeviceTypeError::InvalidDeviceType(0))) => return false,
        Err(e) => {
            println!("disk: virtio-mmio at {base:#x}: {e}");
            return false;
        }
    };
    let kind = transport.device_type();
    if kind != DeviceType::Block {
        println!("disk: virtio-mmio at {base:#x}: {kind:?}, not a block device");
        return false;
    }
    let mut disk = match VirtIOBlk::<DmaPool, _>::new(transport) {
        Ok(disk) => disk,
        Err(e) => {
            println!("disk: virtio-blk at {base:#x}: {e}");
            return true;
        }
    };
    let capacity = disk.capacity();
    println!(
        "disk: virtio-blk at {base:#x} capacity {capacity} sectors, {}",
        if disk.readonly() { "ro" } else { "rw" }
    );
    if let Some(config) = config {
        run(&mut disk, config);
        report(check::out_of_range_read(&mut disk), "out-of-range read refused");
    }
    true
}

/// The mode's checks over the first `sectors` sectors (at most the whole disk).
fn run(disk: &mut impl check::Disk, config: &Config) {
    let capacity = disk.capacity();
    let sectors = config.sectors.min(capacity);
    if sectors < config.sectors {
        println!("disk: only {capacity} sectors, checking {capacity}");
    }
    let pattern = config.pattern;
    let verified = format_args!("verified {sectors} sectors (pattern {pattern:#04x})");
    match config.mode {
        Mode::Write => {
            let written = format_args!("wrote and verified {sectors} sectors (pattern {pattern:#04x})");
            report(check::write_and_verify(disk, pattern, sectors), written);
        }
        Mode::Verify => {
            report(check::verify(disk, pattern, sectors), verified);
        }
        Mode::ReadOnly => {
            if report(check::read_only(disk, sectors), "read-only as expected; write refused") && config.pattern_given {
                report(check::verify(disk, pattern, sectors), verified);
            }
        }
        Mode::Persist => match check::persist(disk, pattern, sectors) {
            Ok(check::Found::Blank) => {
                println!("disk: blank; wrote and verified {sectors} sectors (pattern {pattern:#04x})");
            }
            Ok(check::Found::Pattern) => {
                println!("disk: {verified}, written before this boot");
            }
            Err(failure) => println!("disk: {failure}"),
        },
        Mode::Hostile | Mode::Stale => unreachable!("these modes do not use virtio-drivers (see main)"),
        Mode::Hammer => hammer(disk, config.sectors),
    }
}

/// The hammer-mode buffer: one maximal request's data.
struct HammerBuf(core::cell::UnsafeCell<[u8; HAMMER_BYTES]>);

// SAFETY: only `hammer` touches it, on the partition's one CPU.
unsafe impl Sync for HammerBuf {}

static HAMMER: HammerBuf = HammerBuf(core::cell::UnsafeCell::new([0; HAMMER_BYTES]));

/// `rounds` maximal reads from sector 0, back to back; prints `disk: hammered <n> requests of <b> bytes` or the
/// first failure.
fn hammer(disk: &mut impl check::Disk, rounds: u64) {
    if disk.capacity() < (HAMMER_BYTES / 512) as u64 {
        return println!("disk: hammer needs {} sectors, the disk has {}", HAMMER_BYTES / 512, disk.capacity());
    }
    // SAFETY: the only reference to the buffer, made once (see `HammerBuf`).
    let buf = unsafe { &mut *HAMMER.0.get() };
    for round in 0..rounds {
        if let Err(e) = disk.read(0, buf) {
            return println!("disk: hammer request {round} failed: {e}");
        }
        if round % 10 == 9 {
            println!("disk: hammer {} requests", round + 1);
        }
    }
    println!("disk: hammered {rounds} requests of {HAMMER_BYTES} bytes");
}

/// Prints `disk: <success>` or `disk: <failure>`; whether the check passed.
fn report(result: Result<(), Failure>, success: impl core::fmt::Display) -> bool {
    match result {
        Ok(()) => {
            println!("disk: {success}");
            true
        }
        Err(failure) => {
            println!("disk: {failure}");
            false
        }
    }
}
