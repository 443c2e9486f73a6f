//! `probe=heartbeat`: the victim. Beats every `period_ms` on its virtual timer and prints each beat with the
//! counter value it was taken at, so a test sees any beat that came late (or never); counts the doorbells of its
//! first channel, which an attacker floods, and prints how often it entered the hypervisor (`HV_CPU_EXITS`).

use core::sync::atomic::{AtomicU64, Ordering};

use guest_rt::gic::{self, Trigger, DEFAULT_PRIORITY};
use guest_rt::{arch, irq, println, timer, Platform};

static BEATS: AtomicU64 = AtomicU64::new(0);
static DOORBELLS: AtomicU64 = AtomicU64::new(0);
static TIMER: AtomicU64 = AtomicU64::new(0);
static DOORBELL: AtomicU64 = AtomicU64::new(u64::MAX);

pub fn run(platform: &'static Platform<'static>, period_ms: u64) -> ! {
    let info = platform.gic.expect("hostile: heartbeat needs a GIC");
    let timer_intid = platform.timer_intid.expect("hostile: heartbeat needs a timer");
    let gic = gic::init(&info);
    gic.init_cpu();
    gic.enable_local(timer_intid, DEFAULT_PRIORITY);
    TIMER.store(timer_intid.into(), Ordering::Relaxed);
    let (channels, count) = crate::channels::parse(platform.dtb);
    let doorbell = channels.iter().take(count as usize).find_map(|c| c.doorbell);
    if let Some(intid) = doorbell {
        DOORBELL.store(intid.into(), Ordering::Relaxed);
        gic.enable_spi_as(intid, DEFAULT_PRIORITY, Trigger::Edge);
    }
    let frequency = arch::timer::frequency();
    println!(
        "heartbeat: period {period_ms} ms = {} ticks at {frequency} Hz, doorbell {doorbell:?}",
        timer::ticks_for_ms(frequency, period_ms)
    );
    irq::set_handler(on_irq);
    arch::enable_irqs();
    timer::start_periodic(period_ms);
    guest_rt::rt::idle()
}

fn on_irq(intid: u32) {
    let intid = u64::from(intid);
    if intid == TIMER.load(Ordering::Relaxed) {
        let now = arch::timer::now();
        timer::rearm();
        let n = BEATS.fetch_add(1, Ordering::Relaxed) + 1;
        // Entries into hv-static on this vCPU so far (this call included): a storm elsewhere must not show here.
        let exits = pv_drivers::abi::hv::cpu_exits().unwrap_or(0);
        println!("beat {n} at {now} doorbells {} exits {exits}", DOORBELLS.load(Ordering::Relaxed));
    } else if intid == DOORBELL.load(Ordering::Relaxed) {
        DOORBELLS.fetch_add(1, Ordering::Relaxed);
    } else {
        println!("heartbeat: unexpected irq {intid}");
    }
}
