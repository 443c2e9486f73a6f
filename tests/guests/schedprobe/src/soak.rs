//! Role `soak`: a heartbeat on every vCPU's virtual timer, with optional cross-CPU traffic between the beats, for
//! long runs that look for lost timer interrupts and stuck list registers (issue 14). Each beat is printed with the
//! counter value it was taken at, so a test can check that the numbers are consecutive and that no gap between two
//! beats is much longer than the period.
//!
//! Bootargs: `tick_ms=N` the period (default 10); `ticks=N` beats per vCPU before it stops (default: forever);
//! `sgi=on` makes every vCPU send SGI 1 to the next vCPU of the partition in a loop between its beats;
//! `ring_us=N` makes vCPU 0 ring every channel of the partition (`HV_CHANNEL_SIGNAL`) every N microseconds;
//! `poll=on` makes a vCPU without traffic to send spin instead of sleeping in WFI; `mask_every=N` makes each vCPU,
//! after every N-th beat, mask its timer at the GIC (GICD/GICR_ICENABLER, not PSTATE) across a deadline and unmask
//! it again, as a guest does around a section its timer must not interrupt: a GIC signals an interrupt that went
//! pending while it was disabled as soon as it is enabled, so the beat after must come at once. Every vCPU of the
//! partition is started and beats; the doorbells of the partition's channels are taken on vCPU 0.
//!
//! A vCPU that spins (traffic or `poll=on`) also watches its own timer: when its deadline has passed and the vCPU
//! has kept running with IRQs unmasked for [`STUCK_US`] since, without the interrupt arriving, the interrupt is
//! stuck somewhere between the timer and the vCPU, and it says so (`soak: cpu<i> STUCK ...`, again at every
//! doubling of the time). Time the vCPU did not run (another partition's window, its own interrupt handlers) does
//! not count: only consecutive counter reads less than [`RUNNING_US`] apart do.
//!
//! Output: `soak: <v> vCPU(s), tick <ms> ms, <k> doorbell(s), sgi <on|off>, ring_us <N|off>, poll <on|off>,
//! mask_every <N|off>`; per beat `soak: cpu<i> tick <n> at <counter> exits <entries into the hypervisor from this
//! vCPU so far>`; when a vCPU reaches `ticks`, `soak: cpu<i> done ticks=<n> max_gap=<ticks> stuck=<count>
//! max_overdue_us=<us> masked=<sections> sgis=<taken> bells=<taken>`, and once every vCPU has, `soak: all done`.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use guest_rt::gic::{self, Trigger, DEFAULT_PRIORITY};
use guest_rt::timer::{self, ticks_for_us};
use guest_rt::{arch, bootargs, irq, println, smp, Platform, MAX_CPUS};
use pv_drivers::abi::hv;

/// The SGI the traffic loop sends.
const SGI: u32 = 1;
const DEFAULT_TICK_MS: u64 = 10;
/// Channels whose doorbells are taken; more are ignored.
const MAX_DOORBELLS: usize = 8;
/// How long a due timer interrupt may stay undelivered while the vCPU runs before it is reported stuck (and again
/// at every doubling of that time).
const STUCK_US: u64 = 100_000;
/// Two counter reads of the watching loop at most this far apart mean the vCPU ran in between.
const RUNNING_US: u64 = 100;

struct Setup {
    tick_ms: u64,
    period: u64,
    limit: Option<u64>,
    timer_intid: u32,
    sgi: bool,
    poll: bool,
    mask_every: Option<u64>,
    ring_ticks: Option<u64>,
    channels: u32,
    mpidrs: [u64; MAX_CPUS],
    cpus: usize,
}

static SETUP: spin::Once<Setup> = spin::Once::new();
static TICKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static LAST: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The virtual timer's current deadline, per vCPU.
static DEADLINE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(u64::MAX) }; MAX_CPUS];
static STUCK: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// Set by the beat after which the vCPU masks its timer at the GIC for a while (`mask_every`).
static MASK_DUE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
static MASKED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The longest running time a due timer interrupt waited, in ticks.
static MAX_OVERDUE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static MAX_GAP: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static SGIS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static BELLS: AtomicU64 = AtomicU64::new(0);
static DONE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
static FINISHED: AtomicUsize = AtomicUsize::new(0);
static DOORBELLS: [AtomicU32; MAX_DOORBELLS] = [const { AtomicU32::new(0) }; MAX_DOORBELLS];

pub fn run(platform: &'static Platform<'static>, frequency: u64) -> ! {
    let cmdline = platform.bootargs;
    let Some(info) = platform.gic else {
        println!("soak: no GIC in the device tree");
        guest_rt::rt::idle()
    };
    let Some(timer_intid) = platform.timer_intid else {
        println!("soak: no timer in the device tree");
        guest_rt::rt::idle()
    };
    let cpus = platform.cpus();
    let mut mpidrs = [0; MAX_CPUS];
    for (slot, &m) in mpidrs.iter_mut().zip(cpus) {
        *slot = m;
    }
    let (doorbells, channels) = doorbells(platform.dtb);
    let ring_us = number(cmdline, "ring_us");
    let tick_ms = number(cmdline, "tick_ms").unwrap_or(DEFAULT_TICK_MS);
    let setup = SETUP.call_once(|| Setup {
        tick_ms,
        period: timer::ticks_for_ms(frequency, tick_ms),
        limit: number(cmdline, "ticks"),
        timer_intid,
        sgi: bootargs::get(cmdline, "sgi") == Some("on") && cpus.len() > 1,
        poll: bootargs::get(cmdline, "poll") == Some("on"),
        mask_every: number(cmdline, "mask_every"),
        ring_ticks: ring_us.map(|us| ticks_for_us(frequency, us)),
        channels,
        mpidrs,
        cpus: cpus.len().min(MAX_CPUS),
    });
    let gic = gic::init(&info);
    irq::set_handler(on_irq);
    for (slot, &intid) in DOORBELLS.iter().zip(doorbells.iter().flatten()) {
        slot.store(intid, Ordering::Relaxed);
    }
    println!(
        "soak: {} vCPU(s), tick {} ms, {} doorbell(s), sgi {}, ring_us {}, poll {}, mask_every {}",
        setup.cpus,
        setup.tick_ms,
        doorbells.iter().flatten().count(),
        if setup.sgi { "on" } else { "off" },
        OrOff(ring_us),
        if setup.poll { "on" } else { "off" },
        OrOff(setup.mask_every),
    );
    init_cpu(setup);
    for intid in doorbells.iter().flatten() {
        gic.enable_spi_as(*intid, DEFAULT_PRIORITY, Trigger::Edge);
    }
    for (cpu, &mpidr) in cpus.iter().enumerate().skip(1).take(MAX_CPUS - 1) {
        if let Err(e) = smp::start_cpu(cpu, mpidr, secondary) {
            println!("soak: CPU_ON cpu{cpu} failed: {e}");
        }
    }
    work(0)
}

fn secondary(cpu: usize) -> ! {
    let setup = SETUP.get().expect("vCPU 0 sets up before starting the others");
    init_cpu(setup);
    work(cpu)
}

fn init_cpu(setup: &Setup) {
    let gic = gic::get();
    gic.init_cpu();
    gic.enable_local(SGI, DEFAULT_PRIORITY);
    gic.enable_local(setup.timer_intid, DEFAULT_PRIORITY);
}

/// Beats until the limit, generating the traffic asked for in between; then reports and sleeps.
fn work(cpu: usize) -> ! {
    let setup = SETUP.get().expect("set up");
    let start = arch::timer::now();
    LAST[cpu].store(start, Ordering::Relaxed);
    DEADLINE[cpu].store(start.saturating_add(setup.period), Ordering::Relaxed);
    arch::timer::set_deadline(start.saturating_add(setup.period));
    arch::enable_irqs();
    let next = (cpu + 1) % setup.cpus;
    let mut next_ring = arch::timer::now();
    let ringer = cpu == 0 && setup.ring_ticks.is_some() && setup.channels > 0;
    let mut watch = Watch::new();
    if setup.sgi || ringer || setup.poll {
        while !DONE[cpu].load(Ordering::Acquire) {
            if MASK_DUE[cpu].load(Ordering::Acquire) {
                masked_section(cpu, setup);
            }
            if setup.sgi {
                gic::get().send_sgi(SGI as u8, next, setup.mpidrs[next]);
            }
            if let (0, Some(period)) = (cpu, setup.ring_ticks) {
                let now = arch::timer::now();
                if now >= next_ring {
                    for index in 0..setup.channels {
                        let _ = hv::channel_signal(index);
                    }
                    next_ring = now.saturating_add(period);
                }
            }
            // A little room between SGIs, so the target also runs its own code.
            let until = arch::timer::now().saturating_add(ticks_for_us(arch::timer::frequency(), 20));
            while watch.check(cpu) < until {
                core::hint::spin_loop();
            }
        }
    } else {
        loop {
            irq::wait_until(|| DONE[cpu].load(Ordering::Acquire) || MASK_DUE[cpu].load(Ordering::Acquire));
            if DONE[cpu].load(Ordering::Acquire) {
                break;
            }
            masked_section(cpu, setup);
        }
    }
    println!(
        "soak: cpu{cpu} done ticks={} max_gap={} stuck={} max_overdue_us={} masked={} sgis={} bells={}",
        TICKS[cpu].load(Ordering::Relaxed),
        MAX_GAP[cpu].load(Ordering::Relaxed),
        STUCK[cpu].load(Ordering::Relaxed),
        guest_rt::timer::us_for_ticks(arch::timer::frequency(), MAX_OVERDUE[cpu].load(Ordering::Relaxed)),
        MASKED[cpu].load(Ordering::Relaxed),
        SGIS[cpu].load(Ordering::Relaxed),
        if cpu == 0 { BELLS.load(Ordering::Relaxed) } else { 0 }
    );
    if FINISHED.fetch_add(1, Ordering::AcqRel) + 1 == setup.cpus {
        println!("soak: all done");
    }
    guest_rt::rt::idle()
}

fn on_irq(intid: u32) {
    let cpu = smp::cpu_index();
    let Some(setup) = SETUP.get() else { return };
    if intid == setup.timer_intid {
        let now = arch::timer::now();
        // The next deadline on the grid (missed ones skipped): moving it also lowers the timer's level.
        let deadline = timer::next_deadline(DEADLINE[cpu].load(Ordering::Relaxed), setup.period, now);
        DEADLINE[cpu].store(deadline, Ordering::Relaxed);
        arch::timer::set_deadline(deadline);
        let gap = now.wrapping_sub(LAST[cpu].swap(now, Ordering::Relaxed));
        MAX_GAP[cpu].fetch_max(gap, Ordering::Relaxed);
        let n = TICKS[cpu].fetch_add(1, Ordering::Relaxed) + 1;
        // Entries into the hypervisor from this vCPU so far: a gap between beats full of them is an interrupt storm,
        // one without them a vCPU that did not run.
        let exits = hv::cpu_exits().unwrap_or(0);
        println!("soak: cpu{cpu} tick {n} at {now} exits {exits}");
        if setup.limit == Some(n) {
            arch::timer::stop();
            DEADLINE[cpu].store(u64::MAX, Ordering::Relaxed);
            DONE[cpu].store(true, Ordering::Release);
        } else if setup.mask_every.is_some_and(|m| n.is_multiple_of(m)) {
            MASK_DUE[cpu].store(true, Ordering::Release);
        }
    } else if intid == SGI {
        SGIS[cpu].fetch_add(1, Ordering::Relaxed);
    } else if DOORBELLS.iter().any(|d| d.load(Ordering::Relaxed) == intid) {
        BELLS.fetch_add(1, Ordering::Relaxed);
    } else {
        println!("soak: unexpected irq {intid} on cpu{cpu}");
        gic::get().disable(intid);
    }
}

/// Masks the timer at the GIC (IRQs stay unmasked at the CPU), lets a deadline pass, unmasks it: the timer
/// interrupt went pending meanwhile and must be taken as soon as it is enabled again. Called between beats, never
/// from the timer's own handler (while that runs, the interrupt is active and could not go pending anyway).
fn masked_section(cpu: usize, setup: &Setup) {
    MASK_DUE[cpu].store(false, Ordering::Relaxed);
    let gic = gic::get();
    let frequency = arch::timer::frequency();
    gic.disable(setup.timer_intid);
    let soon = arch::timer::now().saturating_add(ticks_for_us(frequency, 300));
    DEADLINE[cpu].store(soon, Ordering::Relaxed);
    arch::timer::set_deadline(soon);
    // Until the timer's output is up (its status bit), plus a little for the interrupt to reach the GIC; at most
    // 50 ms, should the emulator be very late.
    let give_up = soon.saturating_add(ticks_for_us(frequency, 50_000));
    while !timer_fired() && arch::timer::now() < give_up {
        core::hint::spin_loop();
    }
    let past = arch::timer::now().saturating_add(ticks_for_us(frequency, 200));
    while arch::timer::now() < past {
        core::hint::spin_loop();
    }
    MASKED[cpu].fetch_add(1, Ordering::Relaxed);
    gic.enable_local(setup.timer_intid, DEFAULT_PRIORITY);
}

/// CNTV_CTL.ISTATUS: the virtual timer's condition is met (its interrupt is asserted unless IMASK is set).
fn timer_fired() -> bool {
    const ISTATUS: u64 = 1 << 2;
    let ctl: u64;
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads this vCPU's own timer control register; no side effects.
    unsafe {
        core::arch::asm!("mrs {}, cntv_ctl_el0", out(reg) ctl, options(nomem, nostack));
    }
    #[cfg(target_arch = "arm")]
    {
        let v: u32;
        // SAFETY: as above, through CP15 (CNTV_CTL).
        unsafe { core::arch::asm!("mrc p15, 0, {}, c14, c3, 1", out(reg) v, options(nomem, nostack)) };
        ctl = v.into();
    }
    #[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
    {
        ctl = ISTATUS;
    }
    ctl & ISTATUS != 0
}

/// Watches the calling vCPU's timer from its spinning loop (see the module docs).
struct Watch {
    last: u64,
    /// Running time, in ticks, since the current deadline passed without the interrupt.
    overdue: u64,
    /// The next `overdue` at which to report (doubling from [`STUCK_US`]).
    report_at: u64,
    running: u64,
    stuck: u64,
}

impl Watch {
    fn new() -> Self {
        let frequency = arch::timer::frequency();
        let stuck = ticks_for_us(frequency, STUCK_US);
        Self {
            last: arch::timer::now(),
            overdue: 0,
            report_at: stuck,
            running: ticks_for_us(frequency, RUNNING_US),
            stuck,
        }
    }

    /// Reads the counter, accounts the time since the last read, reports a stuck interrupt; returns the counter.
    fn check(&mut self, cpu: usize) -> u64 {
        let now = arch::timer::now();
        let ran = now.wrapping_sub(self.last);
        self.last = now;
        let deadline = DEADLINE[cpu].load(Ordering::Relaxed);
        if now < deadline {
            MAX_OVERDUE[cpu].fetch_max(self.overdue, Ordering::Relaxed);
            self.overdue = 0;
            self.report_at = self.stuck;
            return now;
        }
        // Time the vCPU did not run (descheduled, or in a handler) neither counts nor starts the count over.
        if ran <= self.running {
            self.overdue += ran;
        }
        if self.overdue > self.report_at {
            self.report_at = self.report_at.saturating_mul(2);
            if self.overdue <= 2 * self.stuck {
                STUCK[cpu].fetch_add(1, Ordering::Relaxed);
            }
            println!(
                "soak: cpu{cpu} STUCK: timer due at {deadline} not taken after {} us of running (now {now}, tick {})",
                guest_rt::timer::us_for_ticks(arch::timer::frequency(), self.overdue),
                TICKS[cpu].load(Ordering::Relaxed) + 1
            );
        }
        now
    }
}

/// A positive number in the bootargs.
fn number(cmdline: &str, key: &str) -> Option<u64> {
    match bootargs::parse::<u64>(cmdline, key) {
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => {
            println!("soak: bad {key} in bootargs {cmdline:?}, ignored");
            None
        }
        None => None,
    }
}

/// An optional number for the banner: the number, or `off`.
struct OrOff(Option<u64>);

impl core::fmt::Display for OrOff {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("off"),
        }
    }
}

/// The doorbell INTIDs of the partition's channels (`/hypervisor/channel@*`, docs/guest-abi.md) and how many
/// channels there are (the indices `HV_CHANNEL_SIGNAL` takes).
fn doorbells(dtb: &[u8]) -> ([Option<u32>; MAX_DOORBELLS], u32) {
    let mut out = [None; MAX_DOORBELLS];
    let mut count = 0u32;
    let Ok(fdt) = fdt::Fdt::new(dtb) else { return (out, 0) };
    let nodes = fdt.find_node("/hypervisor").into_iter().flat_map(|h| h.children());
    for node in nodes.filter(|n| n.compatible().is_some_and(|c| c.all().any(|c| c == "hv-static,channel"))) {
        // `<0 (INTID - 32) flags>`: an SPI.
        let intid = node.property("interrupts").and_then(|p| {
            let cells = p.value.get(..8)?;
            let kind = u32::from_be_bytes(cells[..4].try_into().ok()?);
            let number = u32::from_be_bytes(cells[4..8].try_into().ok()?);
            (kind == 0).then_some(number + 32)
        });
        if let Some(slot) = out.get_mut(count as usize) {
            *slot = intid;
        }
        count += 1;
    }
    (out, count)
}
