//! `probe=flood`: floods from two vCPUs at once. SGI storms to its own vCPUs (to the other, to itself, to all
//! others, and raw SGI register writes of random bits); `HV_CHANNEL_SIGNAL` doorbell floods at its first channel,
//! which it shares with the victim (and calls with channel indices it does not have); console floods written
//! straight to UARTDR from both vCPUs together: ANSI escapes, fake `[hv]` and `[victim]` lines, every control
//! character, C1 controls, bidirectional overrides, bytes that are not UTF-8, and a line far longer than the
//! hypervisor's line buffer. Interrupts and doorbells must coalesce, the console must never block, and the
//! hypervisor must attribute every byte to this partition.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use guest_rt::dt::GicVersion;
use guest_rt::gic::{self, DEFAULT_PRIORITY};
use guest_rt::{arch, irq, println, smp, Platform, MAX_CPUS};
use pv_drivers::abi::hv;

use crate::conduit::{self, Via};
use crate::lcg::Lcg;
use crate::oracle::id;
use crate::{access, Args, Then};

static SGIS_SENT: AtomicU64 = AtomicU64::new(0);
static SGIS_TAKEN: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static RINGS_OK: AtomicU64 = AtomicU64::new(0);
static RINGS_REFUSED: AtomicU64 = AtomicU64::new(0);
static RINGS_WRONG: AtomicU64 = AtomicU64::new(0);
static CONSOLE_BYTES: AtomicU64 = AtomicU64::new(0);
/// vCPUs that finished each stage; the stages are run in step.
static ARRIVED: AtomicUsize = AtomicUsize::new(0);

struct Setup {
    count: u64,
    seed: u64,
    then: Then,
    uart: usize,
    gicd: usize,
    #[cfg_attr(target_arch = "arm", allow(dead_code))]
    v3: bool,
    mpidrs: [u64; 2],
    cpus: usize,
    /// `skip=sgi,bell,console`: floods left out.
    skip_sgi: bool,
    skip_bell: bool,
    skip_console: bool,
}

static SETUP: spin::Once<Setup> = spin::Once::new();

/// What the console flood writes, over and over.
const NASTY: &[&[u8]] = &[
    b"\x1b[2J\x1b[H\x1b[31mscreen cleared, now red\x1b[0m\n",
    b"[hv] partition 'victim' vcpu 0 fault: data abort (write) at IPA 0x0 (PC 0x0)\n",
    b"\n[victim] beat 99999 at 0 doorbells 0\n",
    b"fake\r[hv] hv-static panicked: forged\n",
    b"\x1b]0;window title set by a partition\x07\n",
    b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f\n",
    b"\x9b31m raw C1 CSI, \xc2\x9b32m encoded C1 CSI\n",
    "\u{202e}desrever\u{2066} isolate \u{200f}\n".as_bytes(),
    b"\xff\xfe\xc3\x28 not UTF-8\n",
    b"\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08[hv] backspaced over the prefix\n",
    b"\x1b[1A\x1b[2K[hv] rewrote the line above\n",
];
/// A line this long is split by the hypervisor's 160-byte line buffer.
const LONG_LINE: usize = 1000;

pub fn run(args: &Args, platform: &'static Platform<'static>) -> ! {
    let info = platform.gic.expect("hostile: flood needs a GIC");
    let cpus = platform.cpus();
    let setup = SETUP.call_once(|| Setup {
        count: args.count,
        seed: args.seed,
        then: args.then,
        uart: platform.uart.map_or(0, |u| u.base as usize),
        gicd: info.distributor.base as usize,
        v3: info.version == GicVersion::V3,
        mpidrs: [cpus[0], cpus.get(1).copied().unwrap_or(cpus[0])],
        cpus: cpus.len().min(2),
        skip_sgi: skips(platform.bootargs, "sgi"),
        skip_bell: skips(platform.bootargs, "bell"),
        skip_console: skips(platform.bootargs, "console"),
    });
    gic::init(&info);
    irq::set_handler(on_irq);
    init_cpu();
    println!("hostile: flood from {} vCPU(s), {} rounds, seed {}", setup.cpus, setup.count, setup.seed);
    if setup.cpus > 1 {
        if let Err(e) = smp::start_cpu(1, setup.mpidrs[1], secondary) {
            println!("hostile: flood CPU_ON cpu1 failed: {e}");
        }
    }
    work(0)
}

fn skips(cmdline: &str, what: &str) -> bool {
    guest_rt::bootargs::get(cmdline, "skip").is_some_and(|list| list.split(',').any(|w| w == what))
}

fn secondary(cpu: usize) -> ! {
    init_cpu();
    work(cpu)
}

fn init_cpu() {
    let gic = gic::get();
    gic.init_cpu();
    for sgi in 0..16 {
        gic.enable_local(sgi, DEFAULT_PRIORITY);
    }
    arch::enable_irqs();
}

fn on_irq(intid: u32) {
    if intid < 16 {
        SGIS_TAKEN[arch::cpu_index() % MAX_CPUS].fetch_add(1, Ordering::Relaxed);
    }
}

/// Waits until every vCPU has finished stage `stage` (1, 2, ...).
fn rendezvous(stage: usize) {
    let setup = SETUP.get().expect("set up");
    ARRIVED.fetch_add(1, Ordering::AcqRel);
    while ARRIVED.load(Ordering::Acquire) < stage * setup.cpus {
        core::hint::spin_loop();
    }
}

fn work(cpu: usize) -> ! {
    let setup = SETUP.get().expect("set up");
    let mut rng = Lcg::new(setup.seed.wrapping_add(cpu as u64));
    let other = (cpu + 1) % setup.cpus;
    rendezvous(1);
    sgi_storm(setup, &mut rng, cpu, other);
    rendezvous(2);
    doorbell_flood(setup, &mut rng);
    rendezvous(3);
    console_flood(setup, cpu);
    rendezvous(4);
    if cpu == 0 {
        // Give the last SGIs time to arrive.
        let until = arch::timer::now() + arch::timer::frequency() / 100;
        while arch::timer::now() < until {
            core::hint::spin_loop();
        }
        println!(
            "hostile: flood sgis sent {}, taken cpu0 {} cpu1 {}",
            SGIS_SENT.load(Ordering::Relaxed),
            SGIS_TAKEN[0].load(Ordering::Relaxed),
            SGIS_TAKEN[1].load(Ordering::Relaxed)
        );
        println!(
            "hostile: flood doorbells rung {}, refused {} (bad index), wrong answers {}",
            RINGS_OK.load(Ordering::Relaxed),
            RINGS_REFUSED.load(Ordering::Relaxed),
            RINGS_WRONG.load(Ordering::Relaxed)
        );
        println!("hostile: flood done (console {} bytes)", CONSOLE_BYTES.load(Ordering::Relaxed));
    }
    if setup.then == Then::Repeat {
        loop {
            sgi_storm(setup, &mut rng, cpu, other);
            doorbell_flood(setup, &mut rng);
        }
    }
    guest_rt::rt::idle()
}

fn sgi_storm(setup: &Setup, rng: &mut Lcg, cpu: usize, other: usize) {
    if setup.skip_sgi {
        return;
    }
    let gic = gic::get();
    for i in 0..setup.count {
        let sgi = (i % 16) as u8;
        gic.send_sgi(sgi, other, setup.mpidrs[other]);
        gic.send_sgi(sgi, cpu, setup.mpidrs[cpu]);
        raw_sgi(setup, rng.next());
        SGIS_SENT.fetch_add(3, Ordering::Relaxed);
    }
}

/// An SGI register write of random bits: ICC_SGI1R_EL1 (any affinity, range selector, IRM) on GICv3, GICD_SGIR
/// (any target filter and list) on GICv2.
fn raw_sgi(setup: &Setup, bits: u64) {
    #[cfg(target_arch = "aarch64")]
    if setup.v3 {
        guest_rt::arch::gicv3::send_sgi(bits);
        return;
    }
    access::store(setup.gicd + 0xF00, 4, bits);
}

fn doorbell_flood(setup: &Setup, rng: &mut Lcg) {
    if setup.skip_bell {
        return;
    }
    for i in 0..setup.count {
        let ok = hv::channel_signal(0);
        match ok {
            Ok(()) => RINGS_OK.fetch_add(1, Ordering::Relaxed),
            Err(_) => RINGS_WRONG.fetch_add(1, Ordering::Relaxed),
        };
        if i % 8 == 0 {
            // Indices this partition does not have (it has one channel), and garbage above the low word, which a
            // 32-bit call ignores (`1 << 32` rings channel 0).
            let index = rng.pick(&[1u64, 2, 0xFFFF_FFFF, 0x7FFF_FFFF, 1 << 32 | 1, 1 << 32]);
            let r = conduit::call(Via::Hvc, [u64::from(id::HV_CHANNEL_SIGNAL), index, rng.next(), rng.next()]);
            let expected = if index as u32 == 0 { 0 } else { -2 };
            match r[0] as u32 as i32 {
                s if s != expected => RINGS_WRONG.fetch_add(1, Ordering::Relaxed),
                0 => RINGS_OK.fetch_add(1, Ordering::Relaxed),
                _ => RINGS_REFUSED.fetch_add(1, Ordering::Relaxed),
            };
        }
    }
}

fn console_flood(setup: &Setup, cpu: usize) {
    if setup.uart == 0 || setup.skip_console {
        return;
    }
    let put = |b: u8| {
        access::store(setup.uart, 4, u64::from(b));
        CONSOLE_BYTES.fetch_add(1, Ordering::Relaxed);
    };
    let rounds = (setup.count / 100).max(1);
    for round in 0..rounds {
        for (i, line) in NASTY.iter().enumerate() {
            if (i + cpu).is_multiple_of(2) || round % 2 == 1 {
                line.iter().for_each(|&b| put(b));
            }
        }
    }
    for i in 0..LONG_LINE {
        put(b'A' + (i % 26) as u8);
    }
    put(b'\n');
}
