//! Entry, the two roles, and the doorbell exchange between them (see the crate docs for the output).

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use guest_rt::gic::{self, Trigger, DEFAULT_PRIORITY};
use guest_rt::{arch, bootargs, irq, println, rt, Platform};

use crate::call::hvc_status;
use crate::ids::{HV_CHANNEL_SIGNAL, SUCCESS};
use crate::tree::{Channel, Facts};
use crate::vendor::Me;
use crate::{boot, cpus, memory, psci, report, tree, vendor};

guest_rt::entry!(main);

/// Doorbell interrupts taken, and the INTID of the first channel's doorbell.
static DOORBELLS: AtomicU32 = AtomicU32::new(0);
static BELL: AtomicU32 = AtomicU32::new(0);
/// The word of the first channel the other side writes before it rings, and the value it writes: a doorbell
/// taken when that word already holds it is "the caller's writes ... visible ... by the time their doorbell is
/// pending". Earlier rings (the vendor checks ring the channel too) find the word still zero.
static WATCH_WORD: AtomicU32 = AtomicU32::new(0);
static WATCH_VALUE: AtomicU32 = AtomicU32::new(0);
static SEEN: AtomicU32 = AtomicU32::new(0);
/// The first channel, for the interrupt handler.
static CHANNEL_BASE: AtomicUsize = AtomicUsize::new(0);

/// What `main` writes into word 0 of the first channel before ringing, and `peer` into word 1 before answering.
const HELLO: u32 = 0xAB10_0001;
const ANSWER: u32 = 0xAB10_0002;
/// What `main` writes into word 2 of the first channel when it has printed all but its doorbell checks: the
/// peer's turn (see [`wait_for_turn`]).
const GO: u32 = 0xAB10_0003;
/// The words of the first channel the two sides use: the zeroed-at-boot check leaves them out.
pub const PROTOCOL_WORDS: u64 = 3;
/// How long `main` waits for the peer's answer: the peer prints all its checks first, half the time descheduled,
/// on QEMU's TCG.
const EXCHANGE_MS: u64 = 60_000;

/// The peer prints nothing until `main` has printed all but its last few lines. hv-static queues each partition's
/// console output in a 2 KiB ring and drops whole lines when it overflows; two partitions printing a line per
/// check at once on a busy 2-core host overflowed it now and then (the UART's transmit interrupt follows one
/// partition at a time), and a dropped line is a check nobody saw. Polls the first channel's word 2, quietly; gives
/// up after a minute (the run then shows why).
fn wait_for_turn(platform: &Platform) {
    let Some(base) = tree::first_channel(platform.dtb) else { return };
    let go = Shared(Channel { base, size: 4 * PROTOCOL_WORDS, writable: false, intid: 0 });
    within(EXCHANGE_MS, || go.read(2) == GO);
}

fn main(platform: &'static Platform<'static>) -> ! {
    let role = platform.bootarg("role").unwrap_or("main");
    if role == "peer" {
        wait_for_turn(platform);
    }
    println!("abiprobe: partition {}, role {role}", platform.partition_name);
    let facts = tree::check(platform.dtb);
    let vcpus = platform.cpus().len() as u32;
    memory::check(&facts, platform.dtb, vcpus);
    report::section("boot");
    boot::registers("vCPU 0");
    let me = Me {
        id: facts.partition_id.unwrap_or(0),
        other: number(platform, "peer"),
        absent: number(platform, "partitions").unwrap_or(0x7FFF_FFFF),
        channels: facts.channels().len() as u32,
    };
    match role {
        "main" => {
            psci::versions();
            psci::unknown_ids();
            psci::smc_conduit();
            psci::register_widths(platform.cpus().first().copied().unwrap_or(0), me.id, me.channels);
            vendor::outside_cyclic(&me);
            cpus::lifecycle(platform.cpus());
            exchange(platform, &facts, Side::Ring);
        }
        "peer" => {
            let frame_us = number(platform, "frame_us").map(u64::from);
            vendor::inside_cyclic(frame_us, number(platform, "windows"));
            report::section("vendor");
            vendor::cpu_exits();
            vendor::channel_signal(&me);
            vendor::partition_info(&me);
            vendor::partition_control(&me);
            vendor::unknown();
            exchange(platform, &facts, Side::Answer);
        }
        other => report::holds(format_args!("role"), false, format_args!("{other:?}"), "main or peer"),
    }
    report::summary();
    rt::idle()
}

/// A `key=N` bootarg (decimal).
fn number(platform: &Platform, key: &str) -> Option<u32> {
    bootargs::parse::<u32>(platform.bootargs, key).and_then(Result::ok)
}

/// Spins until `done()` or `ms` milliseconds of the virtual counter have passed; whether `done()` held.
pub fn within(ms: u64, done: impl Fn() -> bool) -> bool {
    let deadline = arch::timer::now() + guest_rt::timer::ticks_for_ms(arch::timer::frequency(), ms);
    loop {
        if done() {
            return true;
        }
        if arch::timer::now() > deadline {
            return false;
        }
        core::hint::spin_loop();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Writes [`HELLO`], rings, and waits for the answer and the peer's ring.
    Ring,
    /// Waits for the ring and [`HELLO`], writes [`ANSWER`], rings back.
    Answer,
}

/// `HV_CHANNEL_SIGNAL` row: "the doorbell of every other member of the partition's *n*-th channel ... is made
/// pending, whichever CPU that member runs on, or until its next window", and "The caller's writes to the channel
/// made before the call are visible to the other members by the time their doorbell is pending".
fn exchange(platform: &Platform, facts: &Facts, side: Side) {
    report::section("doorbell");
    let Some(&channel) = facts.channels().first() else {
        report::holds(format_args!("a channel for the doorbell exchange"), false, format_args!("none"), "one");
        return;
    };
    let Some(info) = platform.gic else {
        report::holds(format_args!("a GIC for the doorbell"), false, format_args!("none"), "one");
        return;
    };
    let (watch, value) = match side {
        Side::Ring => (1, ANSWER),
        Side::Answer => (0, HELLO),
    };
    WATCH_WORD.store(watch, Ordering::Relaxed);
    WATCH_VALUE.store(value, Ordering::Relaxed);
    CHANNEL_BASE.store(channel.base as usize, Ordering::Relaxed);
    let gic = gic::init(&info);
    gic.init_cpu();
    irq::set_handler(on_irq);
    BELL.store(channel.intid, Ordering::Relaxed);
    gic.enable_spi_as(channel.intid, DEFAULT_PRIORITY, Trigger::Edge);
    arch::enable_irqs();
    let word = |i: u64| Shared(channel).read(i);
    match side {
        Side::Ring => {
            report::hex(format_args!("channel 0 word 1 before the exchange"), word(1).into(), 0);
            Shared(channel).write(2, GO);
            Shared(channel).write(0, HELLO);
            report::status(format_args!("HV_CHANNEL_SIGNAL(0) to the peer"), ring(), SUCCESS);
            let answered = within(EXCHANGE_MS, || SEEN.load(Ordering::Acquire) != 0);
            report::holds(
                format_args!("a doorbell (INTID {}) with the peer's answer visible", channel.intid),
                answered,
                format_args!("word {:#x}, {} doorbell(s)", word(1), DOORBELLS.load(Ordering::Acquire)),
                "the answer in word 1 when the doorbell is taken",
            );
        }
        Side::Answer => {
            let rung = within(EXCHANGE_MS, || SEEN.load(Ordering::Acquire) != 0);
            report::holds(
                format_args!("a doorbell (INTID {}) with main's hello visible", channel.intid),
                rung,
                format_args!("word {:#x}, {} doorbell(s)", word(0), DOORBELLS.load(Ordering::Acquire)),
                "the hello in word 0 when the doorbell is taken",
            );
            Shared(channel).write(1, ANSWER);
            report::status(format_args!("HV_CHANNEL_SIGNAL(0) back to main"), ring(), SUCCESS);
        }
    }
}

fn ring() -> i32 {
    hvc_status(HV_CHANNEL_SIGNAL, [0; 3])
}

fn on_irq(intid: u32) {
    if intid == BELL.load(Ordering::Relaxed) {
        DOORBELLS.fetch_add(1, Ordering::Release);
        let word = CHANNEL_BASE.load(Ordering::Relaxed) + 4 * WATCH_WORD.load(Ordering::Relaxed) as usize;
        // SAFETY: the first channel's word 0 or 1, mapped for the partition's lifetime (see `Shared`).
        let value = unsafe { core::ptr::with_exposed_provenance::<u32>(word).read_volatile() };
        if value == WATCH_VALUE.load(Ordering::Relaxed) {
            SEEN.store(1, Ordering::Release);
        }
    } else {
        println!("abiprobe: unexpected irq {intid}");
        gic::get().disable(intid);
    }
}

/// The first words of a channel (read-write for the side that writes them).
struct Shared(Channel);

impl Shared {
    fn at(&self, i: u64) -> *mut u32 {
        core::ptr::with_exposed_provenance_mut::<u32>((self.0.base + 4 * i) as usize)
    }

    fn read(&self, i: u64) -> u32 {
        // SAFETY: the device tree maps the channel (its `reg`, at least a page) into the partition for its lifetime;
        // words 0 to 2 only; the other member writes them concurrently, hence volatile.
        unsafe { self.at(i).read_volatile() }
    }

    fn write(&self, i: u64, v: u32) {
        // SAFETY: as in `read`; each side writes only its own word of the first channel, which the config makes
        // read-write for both.
        unsafe { self.at(i).write_volatile(v) }
    }
}
