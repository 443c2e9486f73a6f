//! `probe=mmio`: the partition's other emulated devices get the `gicd` treatment: every offset of its PL011 and of
//! each of its virtio-mmio transports, at every width and alignment, read and written with all ones, alternating
//! bits and zero, `passes` times. Writes reach the virtio transport's registers in any order and with any value
//! (queue addresses outside RAM, DRIVER_OK before FEATURES_OK, notifications of queues that do not exist); the
//! device may refuse or break, but only itself.

use guest_rt::dt::Region;
use guest_rt::{println, Platform};

use crate::gicd::sweep;
use crate::{guarded, Args};

pub fn run(args: &Args, platform: &Platform) {
    let mut regions = [None; 1 + guest_rt::dt::MAX_VIRTIO_MMIO];
    regions[0] = platform.uart;
    for (slot, d) in regions[1..].iter_mut().zip(platform.virtio_mmio()) {
        *slot = Some(d.reg);
    }
    let regions: &[Option<Region>] = &regions;
    let n = regions.iter().flatten().count();
    println!("hostile: mmio sweeping {n} device window(s) (console and virtio-mmio), {} pass(es)", args.passes);
    let mut accesses = 0;
    for pass in 0..args.passes {
        for r in regions.iter().flatten() {
            accesses += sweep(*r, pass);
        }
    }
    // The console may have been left in any state: enable it again (UARTCR: UARTEN, TXE, RXE), and end the line
    // the sweep's writes to UARTDR left open.
    if let Some(uart) = platform.uart {
        crate::access::store(uart.base as usize + 0x30, 4, 0x301);
    }
    println!();
    println!(
        "hostile: mmio done ({accesses} accesses in {} pass(es), {} guest faults)",
        args.passes,
        guarded::faults()
    );
}
