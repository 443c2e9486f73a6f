//! `probe=mmio`: the partition's other emulated devices get the `gicd` treatment: every offset of its PL011, of its
//! SP805 watchdog and PL061 doorbell lines (when the partition has them: `watchdog = true`, a channel), and of each
//! of its virtio-mmio transports, at every width and alignment, read and written with all ones, alternating bits
//! and zero, `passes` times. Writes reach the registers in any order and with any value (queue addresses outside
//! RAM, DRIVER_OK before FEATURES_OK, notifications of queues that do not exist, the watchdog armed and locked,
//! every line driven and ringing); the device may refuse or break, but only itself.

use guest_rt::dt::Region;
use guest_rt::{println, Platform};

use crate::gicd::sweep;
use crate::{guarded, Args};

pub fn run(args: &Args, platform: &Platform) {
    let mut regions = [None; 3 + guest_rt::dt::MAX_VIRTIO_MMIO];
    regions[0] = platform.uart;
    regions[1] = platform.watchdog.map(|d| d.reg);
    regions[2] = platform.gpio.map(|d| d.reg);
    for (slot, d) in regions[3..].iter_mut().zip(platform.virtio_mmio()) {
        *slot = Some(d.reg);
    }
    let regions: &[Option<Region>] = &regions;
    let n = regions.iter().flatten().count();
    println!(
        "hostile: mmio sweeping {n} device window(s) (console{}{} and virtio-mmio), {} pass(es)",
        if platform.watchdog.is_some() { ", watchdog" } else { "" },
        if platform.gpio.is_some() { ", gpio" } else { "" },
        args.passes
    );
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
    // The sweep armed the watchdog (WdogControl all ones) and locked it: unlock it, stop it and clear its
    // interrupt, so that it does not expire while the rest of the storm runs.
    if let Some(wdog) = platform.watchdog {
        let base = wdog.reg.base as usize;
        crate::access::store(base + 0xc00, 4, 0x1acc_e551);
        crate::access::store(base + 0x8, 4, 0);
        crate::access::store(base + 0xc, 4, 1);
        crate::access::store(base + 0xc00, 4, 1);
    }
    println!();
    println!(
        "hostile: mmio done ({accesses} accesses in {} pass(es), {} guest faults)",
        args.passes,
        guarded::faults()
    );
}
