//! Entry, bootargs and roles; the measurements are in [`crate::events`] and [`crate::window`].

use core::sync::atomic::Ordering;

use guest_rt::dt::NATIVE;
use guest_rt::gic::{self, Gic};
use guest_rt::{arch, bootargs, irq, println, rt, smp, Platform};
use pv_drivers::abi::psci;
use spin::Once;

use crate::events::{self, Main};
use crate::stats::MAX_SAMPLES;
use crate::{channels, clock};

const DEFAULT_EVENTS: usize = 10_000;
/// Channel labels of the doorbell measurement: `main` rings `lat-req`, `peer` answers through `lat-resp`.
const REQ: &str = "lat-req";
const RESP: &str = "lat-resp";

static GIC: Once<&'static Gic> = Once::new();

guest_rt::entry!(main);

fn main(platform: &'static Platform<'static>) -> ! {
    let cmdline = platform.bootargs;
    let role = bootargs::get(cmdline, "role").unwrap_or("main");
    let events = match bootargs::parse::<usize>(cmdline, "events") {
        None => DEFAULT_EVENTS,
        Some(Ok(n)) if (1..=MAX_SAMPLES).contains(&n) => n,
        Some(_) => {
            println!("latprobe: bad events in {cmdline:?} (1..={MAX_SAMPLES}), using {DEFAULT_EVENTS}");
            DEFAULT_EVENTS
        }
    };
    let frequency = arch::timer::frequency();
    let ns = clock::init(frequency);
    let gic_version = platform.gic.map(|g| g.version);
    println!(
        "latprobe: partition {}, role {role}, gic {}, counter {frequency} Hz ({ns} ns per tick), events {events}",
        platform.partition_name,
        gic_version.map_or("none", version_name),
    );
    let Some(info) = platform.gic else {
        println!("latprobe: no GIC in the device tree");
        finish(cmdline)
    };
    let gic = *GIC.call_once(|| gic::init(&info));
    gic.init_cpu();
    irq::set_handler(events::on_irq);

    match role {
        "main" => run_main(platform, gic, events),
        "peer" => match (channels::find(platform.dtb, REQ), channels::find(platform.dtb, RESP)) {
            (Some(req), Some(resp)) => {
                println!("latprobe: peer ready (doorbell {}, answers on channel {})", req.doorbell, resp.index);
                events::peer(gic, req, resp)
            }
            _ => println!("latprobe: peer needs channels {REQ} and {RESP}"),
        },
        "window" => {
            events::setup_wake_timer(gic, platform);
            crate::window::run(events, &mut events::SAMPLES.lock());
        }
        other => println!("latprobe: unknown role {other:?} (known: main, peer, window)"),
    }
    finish(cmdline)
}

/// `v2`/`v3`, as the bench expects it.
fn version_name(v: guest_rt::dt::GicVersion) -> &'static str {
    match v {
        guest_rt::dt::GicVersion::V2 => "v2",
        guest_rt::dt::GicVersion::V3 => "v3",
    }
}

fn run_main(platform: &'static Platform<'static>, gic: &'static Gic, events: usize) {
    let bell = match (channels::find(platform.dtb, REQ), channels::find(platform.dtb, RESP)) {
        (Some(req), Some(resp)) => Some((req, resp)),
        _ => None,
    };
    let m = Main {
        platform,
        gic,
        events,
        skip: bootargs::get(platform.bootargs, "skip").unwrap_or(""),
        bell,
        native: platform.partition_name == NATIVE,
    };
    events::setup_main(&m);
    arch::enable_irqs();
    if let Some(&mpidr) = platform.cpus().get(1) {
        let started = arch::timer::now();
        match smp::start_cpu(1, mpidr, secondary) {
            Ok(()) => {
                // Waits, asleep, so that no measurement overlaps its start-up. Not busy: under -icount QEMU gives
                // CPU 1 its turn only once this CPU idles, and a busy-wait here was seen never to end.
                let step = guest_rt::timer::ticks_for_us(arch::timer::frequency(), 100);
                for _ in 0..10_000 {
                    if events::SECONDARY_UP.load(Ordering::Acquire) {
                        break;
                    }
                    events::sleep_until(arch::timer::now() + step);
                }
                let took = clock::ticks_to_ns(arch::timer::now() - started);
                match events::SECONDARY_UP.load(Ordering::Acquire) {
                    true => println!("latprobe: vCPU 1 up {took} ns after CPU_ON"),
                    false => println!("latprobe: vCPU 1 not up {took} ns after CPU_ON"),
                }
            }
            Err(e) => println!("latprobe: CPU_ON for vCPU 1 failed: {e}"),
        }
    }
    events::run(&m);
}

fn secondary(_index: usize) -> ! {
    match GIC.get() {
        Some(gic) => events::secondary(gic),
        None => panic!("vCPU 1 started before the GIC was set up"),
    }
}

fn finish(cmdline: &str) -> ! {
    println!("latprobe: done");
    if bootargs::get(cmdline, "done") == Some("off") {
        let error = psci::system_off();
        panic!("SYSTEM_OFF returned {error}");
    }
    rt::idle()
}
