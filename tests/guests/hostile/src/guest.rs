//! Reads the bootargs and runs the probe they name (see the crate docs).

use guest_rt::{arch, bootargs, println, Platform};
use pv_drivers::abi::psci;

use crate::args::parse_hex;
use crate::memory::{self, Kind};
use crate::{
    calls, channels, flood, fpregs, gicd, gpregs, guarded, heartbeat, lifecycle, manager, mmio, unsyndromed, Args, Then,
};

guest_rt::entry!(main);

fn main(platform: &'static Platform<'static>) -> ! {
    guarded::install();
    let cmdline = platform.bootargs;
    let args = Args::parse(cmdline);
    let probe = bootargs::get(cmdline, "probe").unwrap_or("");
    println!("hostile: partition {} probe {probe:?} (vcpus {})", platform.partition_name, platform.cpus().len());
    let (list, channel_count) = channels::parse(platform.dtb);
    match probe {
        "heartbeat" => heartbeat::run(platform, args.period_ms),
        "gicd" => match platform.gic {
            Some(gic) => {
                let only = bootargs::get(cmdline, "range")
                    .and_then(|r| r.split_once('-'))
                    .and_then(|(a, b)| Some((parse_hex(a)?, parse_hex(b)?)));
                gicd::run(&args, &gic, platform.cpus().len(), only)
            }
            None => println!("hostile: gicd: no GIC in the device tree"),
        },
        "mmio" => mmio::run(&args, platform),
        "unsyndromed" => match platform.gic {
            Some(gic) => unsyndromed::run(&args, &gic),
            None => println!("hostile: unsyndromed: no GIC in the device tree"),
        },
        "calls" => calls::run(&args, platform.cpus(), channel_count, platform.partition_id.unwrap_or(u32::MAX)),
        "flood" => flood::run(&args, platform),
        "fpregs" => fpregs::run(&args, cmdline),
        "gpregs" => gpregs::run(&args, cmdline),
        "lifecycle" => lifecycle::run(&args, platform, (channel_count > 0).then_some(list[0].base)),
        "manager" => manager::run(platform),
        "memory" => {
            let kind = bootargs::get(cmdline, "access").and_then(Kind::parse).unwrap_or(Kind::Read);
            let hex = |key| bootargs::get(cmdline, key).and_then(parse_hex);
            memory::run(platform, kind, hex("addr"), hex("sweep"), hex("step").unwrap_or(1 << 30));
        }
        "quiet" => {
            // The attacker's stand-in for the baseline: busy like an attacker, but never traps.
            println!("hostile: quiet");
            loop {
                core::hint::black_box(arch::timer::now());
            }
        }
        other => {
            println!(
                "hostile: unknown probe {other:?} (heartbeat, gicd, mmio, calls, flood, fpregs, gpregs, lifecycle, manager, \
                 memory, unsyndromed, quiet)"
            )
        }
    }
    match args.then {
        Then::Off => {
            let e = psci::system_off();
            panic!("SYSTEM_OFF returned {e}");
        }
        _ => guest_rt::rt::idle(),
    }
}
