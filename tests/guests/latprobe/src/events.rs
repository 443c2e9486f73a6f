//! Role `main` (and its helper, role `peer`): each event measured `events` times, then summarised in one line.
//!
//! What each figure brackets (all in nanoseconds of guest-visible time, which `-icount shift=0` makes
//! instructions executed by the whole machine, hypervisor included):
//!
//! - operations (`hvc`, `gicd`, `uart`): from a [`stamp`] that ends on a tick edge to a stamp taken after the
//!   operation returned, minus the same interval measured around nothing (the calibration printed first);
//! - interrupts (`timer`, `device`): from the instant the interrupt was due (the virtual timer's compare value, or
//!   the PL031 alarm programmed one second ahead) to the first instruction of latprobe's handler, which guest-rt
//!   calls after saving registers and acknowledging the interrupt at the GIC (the same code with and without the
//!   hypervisor, so the difference to the native run is the hypervisor's share); the vCPU busy-waits with IRQs
//!   unmasked, it does not sleep;
//! - `sgi`: from vCPU 0's stamp just before it writes the SGI (ICC_SGI1R_EL1 or GICD_SGIR) to vCPU 1's handler;
//!   vCPU 1 sleeps in WFI, and vCPU 0 goes to WFI at once to wait for the answer (an SGI back, not measured);
//! - `doorbell`: from the peer partition's stamp just before HV_CHANNEL_SIGNAL to this partition's handler, the
//!   stamp passed through the channel (every partition reads the same counter: hv-static keeps CNTVOFF at 0); the
//!   receiving vCPU sleeps in WFI.

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use guest_rt::gic::{Gic, Trigger, DEFAULT_PRIORITY};
use guest_rt::{arch, irq, println, Platform};
use pv_drivers::abi::hv;
use spin::Mutex;

use crate::channels::Channel;
use crate::clock::{self, stamp};
use crate::stats::{self, MAX_SAMPLES};

/// SGI vCPU 0 sends to vCPU 1 (measured), and the one vCPU 1 answers with.
pub const SGI_PING: u32 = 1;
pub const SGI_PONG: u32 = 2;

/// PL031 registers (ARM PrimeCell Real Time Clock PL031 TRM, §3.2).
mod pl031 {
    pub const DR: usize = 0x00;
    pub const MR: usize = 0x04;
    pub const IMSC: usize = 0x10;
    pub const ICR: usize = 0x1c;
}
/// PL011 UARTFR (PL011 TRM §3.3.3).
const UARTFR: usize = 0x18;
/// GICD_ISENABLER<n>: 32 INTIDs per word.
const GICD_ISENABLER: usize = 0x100;

/// How long before the RTC alarm the timer wakes the vCPU, which then busy-waits for the alarm.
const RTC_WAKE_EARLY_NS: u64 = 20_000;
const NS_PER_SECOND: u64 = 1_000_000_000;

/// No interrupt: the handler's INTIDs are unset until their events exist.
const NONE: u32 = u32::MAX;

// What the handler needs, set before IRQs are unmasked.
static TIMER_INTID: AtomicU32 = AtomicU32::new(NONE);
static RTC_INTID: AtomicU32 = AtomicU32::new(NONE);
static RTC_BASE: AtomicUsize = AtomicUsize::new(0);
/// The doorbell this vCPU takes, the channel the start stamp travels through, and (peer) the channel to ring back.
static BELL_INTID: AtomicU32 = AtomicU32::new(NONE);
static BELL_BASE: AtomicUsize = AtomicUsize::new(0);
static BELL_REPLY: AtomicU32 = AtomicU32::new(NONE);
static IS_PEER: AtomicBool = AtomicBool::new(false);
static MPIDR: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
/// vCPU 1 has set up its interrupts: measurements wait for it, so that none overlaps its start-up.
pub static SECONDARY_UP: AtomicBool = AtomicBool::new(false);

// One event in flight.
/// When it was due, or the sender's stamp (ns).
static DUE_NS: AtomicU64 = AtomicU64::new(0);
/// Its latency (ns), written by the handler before [`ARRIVED`].
static LATENCY: AtomicI64 = AtomicI64::new(0);
static ARRIVED: AtomicBool = AtomicBool::new(false);
/// The timer interrupt only wakes the vCPU (the RTC wait) instead of being measured.
static TIMER_WAKES: AtomicBool = AtomicBool::new(false);
static WOKE: AtomicBool = AtomicBool::new(false);

/// The samples of the measurement in progress (in bss: far too big for a vCPU's stack). A spin lock, not a critical
/// section: it is held through a whole measurement, whose interrupts must be taken meanwhile.
pub static SAMPLES: Mutex<[i32; MAX_SAMPLES]> = Mutex::new([0; MAX_SAMPLES]);

/// Every IRQ of every vCPU (IRQs masked). The stamp comes first, so that the handler's own code is not measured.
pub fn on_irq(intid: u32) {
    let t = stamp();
    let now = t.first_read_ns() as i64;
    let due = DUE_NS.load(Ordering::Acquire) as i64;
    if intid == TIMER_INTID.load(Ordering::Relaxed) {
        arch::timer::stop();
        if TIMER_WAKES.load(Ordering::Relaxed) {
            WOKE.store(true, Ordering::Release);
        } else {
            arrived(now - due);
        }
    } else if intid == RTC_INTID.load(Ordering::Relaxed) {
        write32(RTC_BASE.load(Ordering::Relaxed) + pl031::ICR, 1);
        arrived(now - due);
    } else if intid == SGI_PING {
        // vCPU 1: measured; answer so that vCPU 0 wakes.
        LATENCY.store(now - due, Ordering::Release);
        arch::write_barrier();
        guest_rt::gic::get().send_sgi(SGI_PONG as u8, 0, MPIDR[0].load(Ordering::Relaxed));
    } else if intid == SGI_PONG {
        ARRIVED.store(true, Ordering::Release);
    } else if intid == BELL_INTID.load(Ordering::Relaxed) {
        let base = BELL_BASE.load(Ordering::Relaxed);
        if IS_PEER.load(Ordering::Relaxed) {
            // SAFETY: the peer's own read-write channel, mapped for the partition's lifetime; 8-byte aligned.
            unsafe { core::ptr::write_volatile(base as *mut u64, t.start_ns()) };
            arch::write_barrier();
            if let Err(e) = hv::channel_signal(BELL_REPLY.load(Ordering::Relaxed)) {
                println!("latprobe: HV_CHANNEL_SIGNAL failed: {e}");
            }
        } else {
            // SAFETY: the peer's channel, mapped read-only here; the peer wrote it before ringing.
            let start = unsafe { core::ptr::read_volatile(base as *const u64) };
            arrived(now - start as i64);
        }
    }
}

fn arrived(latency: i64) {
    LATENCY.store(latency, Ordering::Release);
    ARRIVED.store(true, Ordering::Release);
}

fn write32(addr: usize, value: u32) {
    // SAFETY: `addr` is a register of a device from the partition's device tree, mapped for its lifetime.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

fn read32(addr: usize) -> u32 {
    // SAFETY: as for write32.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

/// The devices and channels role `main` found, and what to skip.
pub struct Main<'a> {
    pub platform: &'a Platform<'a>,
    pub gic: &'static Gic,
    pub events: usize,
    pub skip: &'a str,
    /// The channel this partition rings (`lat-req`) and the one the peer answers through (`lat-resp`).
    pub bell: Option<(Channel, Channel)>,
    pub native: bool,
}

/// Sets up vCPU 0's interrupts for the events that exist here; call before IRQs are unmasked.
pub fn setup_main(m: &Main) {
    if let Some(intid) = m.platform.timer_intid {
        TIMER_INTID.store(intid, Ordering::Relaxed);
        m.gic.enable_local(intid, DEFAULT_PRIORITY);
    }
    m.gic.enable_local(SGI_PONG, DEFAULT_PRIORITY);
    for (slot, &mpidr) in MPIDR.iter().zip(m.platform.cpus()) {
        slot.store(mpidr, Ordering::Relaxed);
    }
    if let Some(rtc) = m.platform.rtc {
        if let Some(intid) = rtc.intid {
            RTC_BASE.store(rtc.reg.base as usize, Ordering::Relaxed);
            RTC_INTID.store(intid, Ordering::Relaxed);
            write32(rtc.reg.base as usize + pl031::IMSC, 1);
            m.gic.enable_spi(intid, DEFAULT_PRIORITY);
        }
    }
    if let Some((_, resp)) = m.bell {
        BELL_INTID.store(resp.doorbell, Ordering::Relaxed);
        BELL_BASE.store(resp.base as usize, Ordering::Relaxed);
        m.gic.enable_spi_as(resp.doorbell, DEFAULT_PRIORITY, Trigger::Edge);
    }
}

/// Makes the virtual timer a wake-up only (role `window`); call before IRQs are unmasked.
pub fn setup_wake_timer(gic: &Gic, platform: &Platform) {
    if let Some(intid) = platform.timer_intid {
        TIMER_INTID.store(intid, Ordering::Relaxed);
        TIMER_WAKES.store(true, Ordering::Relaxed);
        gic.enable_local(intid, DEFAULT_PRIORITY);
    }
}

/// Sleeps in WFI until the virtual counter reaches `deadline` (IRQs must be unmasked; needs the timer's INTID,
/// from [`setup_wake_timer`] or [`setup_main`]).
pub fn sleep_until(deadline: u64) {
    if TIMER_INTID.load(Ordering::Relaxed) == NONE {
        return;
    }
    let measuring = TIMER_WAKES.swap(true, Ordering::Relaxed);
    WOKE.store(false, Ordering::Relaxed);
    arch::timer::set_deadline(deadline);
    irq::wait_until(|| WOKE.load(Ordering::Acquire));
    TIMER_WAKES.store(measuring, Ordering::Relaxed);
}

/// vCPU 1 of role `main`: takes the measured SGI in WFI, for good.
pub fn secondary(gic: &Gic) -> ! {
    gic.init_cpu();
    gic.enable_local(SGI_PING, DEFAULT_PRIORITY);
    arch::enable_irqs();
    SECONDARY_UP.store(true, Ordering::Release);
    guest_rt::rt::idle()
}

/// Role `peer`: answers each `lat-req` doorbell with a stamp in `lat-resp` and a ring back, for good.
pub fn peer(gic: &Gic, req: Channel, resp: Channel) -> ! {
    IS_PEER.store(true, Ordering::Relaxed);
    BELL_INTID.store(req.doorbell, Ordering::Relaxed);
    BELL_BASE.store(resp.base as usize, Ordering::Relaxed);
    BELL_REPLY.store(resp.index, Ordering::Relaxed);
    gic.enable_spi_as(req.doorbell, DEFAULT_PRIORITY, Trigger::Edge);
    arch::enable_irqs();
    guest_rt::rt::idle()
}

/// Runs every measurement, printing one line each. IRQs must be unmasked.
pub fn run(m: &Main) {
    let mut buf = SAMPLES.lock();
    let n = m.events.min(MAX_SAMPLES);
    let buf = &mut buf[..n];

    // Operations, calibrated against an empty interval.
    let k = {
        measure_op(buf, 0, || {});
        stats::summarize(buf).map_or(0, |s| s.median)
    };
    println!("latprobe: stamp calibration {k} ns (median of {n} empty intervals, subtracted from operations)");
    if m.native {
        println!("lat: hvc skipped (no hypervisor)");
    } else if !skipped(m, "hvc") {
        measure_op(buf, k, || {
            let _ = hv::cpu_exits();
        });
        report("hvc", buf);
    }
    match (m.platform.gic, m.platform.rtc.and_then(|r| r.intid)) {
        _ if skipped(m, "gicd") => {}
        (Some(info), Some(intid)) => {
            // Enables the RTC's SPI again: a write the vGIC must decode, check against the partition's INTIDs and
            // apply (nothing changes: it is enabled already).
            let reg = info.distributor.base as usize + GICD_ISENABLER + 4 * (intid / 32) as usize;
            let bit = 1 << (intid % 32);
            measure_op(buf, k, || write32(reg, bit));
            report("gicd", buf);
        }
        _ => println!("lat: gicd skipped (no GIC or no SPI of its own: pass the PL031 through)"),
    }
    match m.platform.uart {
        _ if skipped(m, "uart") => {}
        Some(uart) => {
            let reg = uart.base as usize + UARTFR;
            measure_op(buf, k, || {
                let _ = read32(reg);
            });
            report("uart", buf);
        }
        None => println!("lat: uart skipped (no PL011)"),
    }

    // Interrupts.
    if TIMER_INTID.load(Ordering::Relaxed) == NONE {
        println!("lat: timer skipped (no timer in the device tree)");
    } else if !skipped(m, "timer") {
        measure_timer(buf);
        report("timer", buf);
    }
    if m.platform.cpus().len() < 2 {
        println!("lat: sgi skipped (one vCPU)");
    } else if !skipped(m, "sgi") {
        measure_sgi(m.gic, buf);
        report("sgi", buf);
    }
    match m.bell {
        _ if m.native => println!("lat: doorbell skipped (no hypervisor)"),
        _ if skipped(m, "doorbell") => {}
        Some((req, _)) => {
            measure_doorbell(req, buf);
            report("doorbell", buf);
        }
        None => println!("lat: doorbell skipped (no channels lat-req and lat-resp)"),
    }
    if RTC_INTID.load(Ordering::Relaxed) == NONE {
        println!("lat: device skipped (no PL031 with an interrupt)");
    } else if !skipped(m, "device") {
        let retries = measure_rtc(buf);
        if retries > 0 {
            println!("latprobe: {retries} RTC alarm(s) fired at once (second boundary crossed) and were taken again");
        }
        report("device", buf);
    }
}

fn skipped(m: &Main, event: &str) -> bool {
    let skip = m.skip.split(',').any(|s| s == event);
    if skip {
        println!("lat: {event} skipped (skip={})", m.skip);
    }
    skip
}

fn report(event: &str, buf: &mut [i32]) {
    stats::report(event, buf);
}

/// Each sample: `op` bracketed by two stamps, minus `calibration`.
fn measure_op(buf: &mut [i32], calibration: i64, mut op: impl FnMut()) {
    for slot in buf.iter_mut() {
        let start = stamp();
        op();
        let end = stamp();
        *slot = stats::sample(end.first_read_ns() as i64 - start.start_ns() as i64 - calibration);
    }
}

/// Busy-waits (IRQs unmasked) for the handler's report of the event in flight. No spin-loop hint: QEMU's round
/// robin under `-icount` treats YIELD as "run another CPU", which would put other CPUs' instructions into the
/// measured time.
#[allow(clippy::missing_spin_loop)]
fn spin_until_arrived() -> i64 {
    while !ARRIVED.load(Ordering::Acquire) {}
    LATENCY.load(Ordering::Acquire)
}

/// The virtual timer, due a few hundred nanoseconds ahead (the offset varies, so the phase of the busy-wait loop
/// does too).
fn measure_timer(buf: &mut [i32]) {
    TIMER_WAKES.store(false, Ordering::Relaxed);
    for (i, slot) in buf.iter_mut().enumerate() {
        ARRIVED.store(false, Ordering::Relaxed);
        let due = arch::timer::now() + 20 + (i % 7) as u64;
        DUE_NS.store(clock::ticks_to_ns(due), Ordering::Release);
        arch::timer::set_deadline(due);
        *slot = stats::sample(spin_until_arrived());
    }
}

/// vCPU 0 → vCPU 1; the answer wakes vCPU 0 from WFI.
fn measure_sgi(gic: &Gic, buf: &mut [i32]) {
    let target = MPIDR[1].load(Ordering::Relaxed);
    for slot in buf.iter_mut() {
        ARRIVED.store(false, Ordering::Relaxed);
        let start = stamp();
        DUE_NS.store(start.start_ns(), Ordering::Release);
        gic.send_sgi(SGI_PING as u8, 1, target);
        irq::wait_until(|| ARRIVED.load(Ordering::Acquire));
        *slot = stats::sample(LATENCY.load(Ordering::Acquire));
    }
}

/// Rings the peer, which stamps and rings back; the ring back is measured.
fn measure_doorbell(req: Channel, buf: &mut [i32]) {
    for slot in buf.iter_mut() {
        ARRIVED.store(false, Ordering::Relaxed);
        if let Err(e) = hv::channel_signal(req.index) {
            println!("latprobe: HV_CHANNEL_SIGNAL failed: {e}");
            return;
        }
        irq::wait_until(|| ARRIVED.load(Ordering::Acquire));
        *slot = stats::sample(LATENCY.load(Ordering::Acquire));
    }
}

/// The PL031's alarm one second ahead (its resolution): the virtual timer wakes the vCPU shortly before, then it
/// busy-waits. QEMU must run the RTC on the virtual clock (`-rtc clock=vm`), or the alarm follows the host's time.
/// Returns how many alarms fired at once because a second boundary fell between reading DR and writing MR.
fn measure_rtc(buf: &mut [i32]) -> u64 {
    let base = RTC_BASE.load(Ordering::Relaxed);
    let mut retries = 0;
    let mut i = 0;
    while i < buf.len() {
        ARRIVED.store(false, Ordering::Relaxed);
        WOKE.store(false, Ordering::Relaxed);
        TIMER_WAKES.store(true, Ordering::Relaxed);
        let now = read32(base + pl031::DR);
        let start = stamp();
        write32(base + pl031::MR, now.wrapping_add(1));
        let due = start.start_ns() + NS_PER_SECOND;
        DUE_NS.store(due, Ordering::Release);
        arch::timer::set_deadline(clock::ns_to_ticks(due - RTC_WAKE_EARLY_NS));
        irq::wait_until(|| WOKE.load(Ordering::Acquire) || ARRIVED.load(Ordering::Acquire));
        let latency = spin_until_arrived();
        arch::timer::stop();
        if latency < 0 {
            retries += 1;
            if retries > 100 {
                println!(
                    "latprobe: the RTC alarm keeps firing early: is QEMU's RTC on the virtual clock (-rtc clock=vm)?"
                );
                return retries;
            }
            continue;
        }
        buf[i] = stats::sample(latency);
        i += 1;
    }
    TIMER_WAKES.store(false, Ordering::Relaxed);
    retries
}
